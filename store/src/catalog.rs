//! A product as merchants describe it: the record the catalog store keeps and plugins and
//! the AI host read.

use crate::skus::Sku;
use serde::{Deserialize, Serialize};

/// A product as merchants describe it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Product {
    pub id: String,
    pub title: String,
    pub price_cents: u64,
    pub currency: String,
    pub image_url: String,
    pub buy_url: String,
    pub stock: u32,
    pub description: String,
    pub faq: Vec<Faq>,
    /// Name and value pairs, e.g. `["size", "S, M, L"]`.
    pub specs: Vec<(String, String)>,
    /// Its variants (size, colour, ...), each with its own stock and optional price.
    pub skus: Vec<Sku>,
}

/// One question and answer about a product.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Faq {
    pub question: String,
    pub answer: String,
}
