//! Products per merchant (soft-deleted).
//!
//! A product id is unique within its merchant only: two merchants may both have a `p1`, and
//! neither can read, replace or delete the other's.

use crate::{Product, StoreError};
use serde::Serialize;

/// A stored product with its owner and last change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProductRecord {
    pub merchant_id: String,
    pub product: Product,
    pub updated_ms: u64,
}

/// Each merchant's products.
///
/// Contract: products are scoped by merchant — `(merchant_id, id)` is the key, and no call
/// reads, replaces or deletes another merchant's product. Deletion is soft: a deleted
/// product is invisible to reads until an upsert with its id brings it back. Lists are in
/// creation order (a revived product keeps its place).
pub trait CatalogStore {
    /// Create or replace a merchant's product. An empty `product.id` gets a fresh one
    /// (`p_` and 10 hex digits); replacing a deleted product brings it back.
    fn upsert_product(
        &self,
        merchant_id: &str,
        product: &Product,
    ) -> Result<ProductRecord, StoreError>;

    /// One of the merchant's products; `None` for another merchant's or a deleted one.
    fn product(&self, merchant_id: &str, id: &str) -> Result<Option<Product>, StoreError>;

    /// The merchant's products in creation order.
    fn products(&self, merchant_id: &str) -> Result<Vec<Product>, StoreError> {
        self.products_limited(merchant_id, usize::MAX)
    }

    /// Up to `limit` of the merchant's products in creation order.
    fn products_limited(&self, merchant_id: &str, limit: usize)
    -> Result<Vec<Product>, StoreError>;

    /// Soft-delete one of the merchant's products. Returns whether it existed (and was
    /// not deleted already).
    fn delete_product(&self, merchant_id: &str, id: &str) -> Result<bool, StoreError>;
}
