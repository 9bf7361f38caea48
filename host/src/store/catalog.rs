//! [`StoreCatalog`]: one merchant's products in the store, as the [`Catalog`] plugins and
//! the AI host read them. A store error reads as "no such product" (and is logged), since
//! a plugin's catalog call cannot fail.

use super::Store;
use crate::catalog::{Catalog, Product};
use std::sync::Arc;

/// One merchant's products in the store, as the [`Catalog`] plugins and the AI host read.
#[derive(Clone)]
pub struct StoreCatalog {
    pub store: Arc<dyn Store>,
    pub merchant_id: String,
}

impl StoreCatalog {
    pub fn new(store: Arc<dyn Store>, merchant_id: impl Into<String>) -> Self {
        StoreCatalog {
            store,
            merchant_id: merchant_id.into(),
        }
    }
}

impl Catalog for StoreCatalog {
    fn get(&self, product_id: &str) -> Option<Product> {
        self.store
            .product(&self.merchant_id, product_id)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, merchant = %self.merchant_id, "catalog read failed");
                None
            })
    }

    fn list(&self, limit: usize) -> Vec<Product> {
        self.store
            .products_limited(&self.merchant_id, limit)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, merchant = %self.merchant_id, "catalog read failed");
                Vec::new()
            })
    }
}
