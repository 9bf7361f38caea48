//! The merchant's product catalog (needs [`crate::Capability::CatalogRead`]).

use crate::Product;
use crate::bindings::livecart::plugin0_1_0::catalog as host;

/// One product by id.
pub fn get(product_id: &str) -> Option<Product> {
    host::get(product_id)
}

/// Up to `limit` products (the host caps it at 100), in catalog order.
pub fn list(limit: u32) -> Vec<Product> {
    host::list_products(limit)
}
