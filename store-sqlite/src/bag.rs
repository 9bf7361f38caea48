//! [`BagStore`] on SQLite: each room's product bag as ordered rows of `room_products`,
//! replaced whole in one `BEGIN IMMEDIATE` transaction.

use crate::SqliteStore;
use crate::products::{PRODUCT_COLS, product_row};
use livecart_store::util::to_i64;
use livecart_store::{BagStore, Product, StoreError, check_bag};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

impl BagStore for SqliteStore {
    fn set_bag(&self, room_id: &str, product_ids: &[String]) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let merchant: String = tx
            .query_row(
                "SELECT merchant_id FROM rooms WHERE id = ?1",
                [room_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("room {room_id}")))?;
        {
            let mut exists = tx.prepare_cached(
                "SELECT 1 FROM products WHERE merchant_id = ?1 AND id = ?2 AND deleted = 0",
            )?;
            check_bag(product_ids, |id| Ok(exists.exists(params![merchant, id])?))?;
        }
        tx.execute("DELETE FROM room_products WHERE room_id = ?1", [room_id])?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO room_products (room_id, position, product_id) VALUES (?1, ?2, ?3)",
            )?;
            for (i, id) in product_ids.iter().enumerate() {
                insert.execute(params![room_id, to_i64(i as u64), id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn bag(&self, room_id: &str) -> Result<Vec<Product>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {PRODUCT_COLS} FROM room_products
             JOIN products ON products.id = room_products.product_id
             WHERE room_products.room_id = ?1 AND products.deleted = 0
               AND products.merchant_id = (SELECT merchant_id FROM rooms WHERE id = ?1)
             ORDER BY position"
        ))?;
        let rows = stmt.query_map([room_id], product_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
