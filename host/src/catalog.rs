//! The merchant's product catalog as plugins and the AI host read it.
//!
//! [`Catalog`] is the read interface; [`MemoryCatalog`] holds products in memory (loaded
//! from JSON by the local runner and the demo). The rooms' store implements the same trait.

pub use livecart_store::{Faq, Product};

/// Read access to one merchant's products.
pub trait Catalog: Send + Sync {
    /// One product by id.
    fn get(&self, product_id: &str) -> Option<Product>;
    /// Up to `limit` products in catalog order.
    fn list(&self, limit: usize) -> Vec<Product>;
}

/// Products held in memory, in insertion order.
#[derive(Clone, Debug, Default)]
pub struct MemoryCatalog {
    products: Vec<Product>,
}

impl MemoryCatalog {
    pub fn new(products: Vec<Product>) -> Self {
        MemoryCatalog { products }
    }

    /// Parse a JSON array of products.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        Ok(MemoryCatalog::new(serde_json::from_str(text)?))
    }
}

impl Catalog for MemoryCatalog {
    fn get(&self, product_id: &str) -> Option<Product> {
        self.products.iter().find(|p| p.id == product_id).cloned()
    }

    fn list(&self, limit: usize) -> Vec<Product> {
        self.products.iter().take(limit).cloned().collect()
    }
}
