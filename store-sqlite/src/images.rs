//! [`ImageStore`] on SQLite: each image a row of `images` (its bytes a BLOB), inserted at
//! most once per id, the shop's count checked in the same `BEGIN IMMEDIATE` transaction.

use crate::SqliteStore;
use livecart_store::util::{now_ms, to_i64, to_u64};
use livecart_store::{ImageRecord, ImageStore, MAX_IMAGES, StoreError, check_image, image_id};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

impl ImageStore for SqliteStore {
    fn put_image(
        &self,
        merchant_id: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<ImageRecord, StoreError> {
        let kind = check_image(content_type, bytes)?;
        let id = image_id(bytes);
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known: Option<i64> = tx
            .query_row("SELECT created_ms FROM images WHERE id = ?1", [&id], |r| {
                r.get(0)
            })
            .optional()?;
        let created_ms = match known {
            Some(at) => to_u64(at),
            None => {
                let count: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM images WHERE merchant_id = ?1",
                    [merchant_id],
                    |r| r.get(0),
                )?;
                if to_u64(count) >= MAX_IMAGES {
                    return Err(StoreError::Invalid(format!(
                        "the shop already has {MAX_IMAGES} images, the most it may keep"
                    )));
                }
                let now = now_ms();
                tx.execute(
                    "INSERT INTO images (id, merchant_id, content_type, bytes, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, merchant_id, kind, bytes, to_i64(now)],
                )?;
                now
            }
        };
        tx.commit()?;
        Ok(ImageRecord {
            id,
            content_type: kind.to_owned(),
            size: bytes.len() as u64,
            created_ms,
        })
    }

    fn image(&self, id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT content_type, bytes FROM images WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}
