//! [`CatalogStore`] on SQLite: products per merchant, soft-deleted.
//!
//! A product id is unique within its merchant only: two merchants may both have a `p1`, and
//! neither can read, replace or delete the other's.

use crate::{SqliteStore, with_fresh_ids};
use livecart_store::util::{now_ms, random_id, to_i64, to_u32, to_u64};
use livecart_store::{CatalogStore, Product, ProductRecord, StoreError};
use rusqlite::{OptionalExtension, params};

pub(crate) const PRODUCT_COLS: &str =
    "id, title, price_cents, currency, image_url, buy_url, stock, description, faq, specs, skus";

pub(crate) fn product_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Product> {
    let faq: String = r.get(8)?;
    let specs: String = r.get(9)?;
    let skus: String = r.get(10)?;
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
        skus: serde_json::from_str(&skus).unwrap_or_default(),
    })
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
        let skus = serde_json::to_string(&product.skus)?;
        let write = |id: &str, upsert: bool| -> Result<(), StoreError> {
            let on_conflict = if upsert {
                "ON CONFLICT (merchant_id, id) DO UPDATE SET title = ?3, price_cents = ?4,
                     currency = ?5, image_url = ?6, buy_url = ?7, stock = ?8, description = ?9,
                     faq = ?10, specs = ?11, updated_ms = ?12, deleted = 0, skus = ?13"
            } else {
                ""
            };
            self.conn()?.execute(
                &format!(
                    "INSERT INTO products (merchant_id, id, title, price_cents, currency,
                         image_url, buy_url, stock, description, faq, specs, created_ms,
                         updated_ms, deleted, skus)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, 0, ?13)
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
                    skus,
                ],
            )?;
            Ok(())
        };
        let id = if product.id.is_empty() {
            with_fresh_ids(|| {
                let id = format!("p_{}", random_id(5)?);
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
