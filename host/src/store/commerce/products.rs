//! Products per merchant (soft-deleted), and [`StoreCatalog`], the catalog view plugins and
//! the AI host read them through.
//!
//! A product id is unique within its merchant only: two merchants may both have a `p1`, and
//! neither can read, replace or delete the other's.

use super::{random_hex, to_i64, to_u32, to_u64, with_fresh_ids};
use crate::catalog::{Catalog, Product};
use crate::store::{SqliteStore, Store, StoreError, now_ms};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use std::sync::Arc;

/// A stored product with its owner and last change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProductRecord {
    pub merchant_id: String,
    pub product: Product,
    pub updated_ms: u64,
}

const PRODUCT_COLS: &str =
    "id, title, price_cents, currency, image_url, buy_url, stock, description, faq, specs";

fn product_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Product> {
    let faq: String = r.get(8)?;
    let specs: String = r.get(9)?;
    Ok(Product {
        id: r.get(0)?,
        title: r.get(1)?,
        price_cents: to_u64(r.get(2)?),
        currency: r.get(3)?,
        image_url: r.get(4)?,
        buy_url: r.get(5)?,
        stock: to_u32(r.get(6)?),
        description: r.get(7)?,
        faq: serde_json::from_str(&faq).unwrap_or_default(),
        specs: serde_json::from_str(&specs).unwrap_or_default(),
    })
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

impl CatalogStore for SqliteStore {
    fn upsert_product(
        &self,
        merchant_id: &str,
        product: &Product,
    ) -> Result<ProductRecord, StoreError> {
        let now = now_ms();
        let faq = serde_json::to_string(&product.faq)?;
        let specs = serde_json::to_string(&product.specs)?;
        let write = |id: &str, upsert: bool| -> Result<(), StoreError> {
            let on_conflict = if upsert {
                "ON CONFLICT (merchant_id, id) DO UPDATE SET title = ?3, price_cents = ?4,
                     currency = ?5, image_url = ?6, buy_url = ?7, stock = ?8, description = ?9,
                     faq = ?10, specs = ?11, updated_ms = ?12, deleted = 0"
            } else {
                ""
            };
            self.conn()?.execute(
                &format!(
                    "INSERT INTO products (merchant_id, id, title, price_cents, currency,
                         image_url, buy_url, stock, description, faq, specs, created_ms,
                         updated_ms, deleted)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, 0)
                     {on_conflict}"
                ),
                params![
                    merchant_id,
                    id,
                    product.title,
                    to_i64(product.price_cents),
                    product.currency,
                    product.image_url,
                    product.buy_url,
                    i64::from(product.stock),
                    product.description,
                    faq,
                    specs,
                    to_i64(now),
                ],
            )?;
            Ok(())
        };
        let id = if product.id.is_empty() {
            with_fresh_ids(|| {
                let id = format!("p_{}", random_hex(5)?);
                write(&id, false)?;
                Ok(id)
            })?
        } else {
            write(&product.id, true)?;
            product.id.clone()
        };
        Ok(ProductRecord {
            merchant_id: merchant_id.to_owned(),
            product: Product {
                id,
                ..product.clone()
            },
            updated_ms: now,
        })
    }

    fn product(&self, merchant_id: &str, id: &str) -> Result<Option<Product>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                &format!(
                    "SELECT {PRODUCT_COLS} FROM products
                     WHERE merchant_id = ?1 AND id = ?2 AND deleted = 0"
                ),
                [merchant_id, id],
                product_row,
            )
            .optional()?)
    }

    fn products_limited(
        &self,
        merchant_id: &str,
        limit: usize,
    ) -> Result<Vec<Product>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {PRODUCT_COLS} FROM products
             WHERE merchant_id = ?1 AND deleted = 0 ORDER BY seq LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![merchant_id, limit], product_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_product(&self, merchant_id: &str, id: &str) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "UPDATE products SET deleted = 1, updated_ms = ?3
             WHERE merchant_id = ?1 AND id = ?2 AND deleted = 0",
            params![merchant_id, id, to_i64(now_ms())],
        )?;
        Ok(n == 1)
    }
}

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
