//! [`ImageStore`] on PostgreSQL: each image a row of `images` (its bytes `BYTEA`). The
//! shop's row in `merchants` is locked while its count is checked, so two nodes cannot
//! both store the image past its limit; the same bytes again are the same row.

use crate::{PostgresStore, u64_at};
use livecart_store::util::{now_ms, to_i64};
use livecart_store::{ImageRecord, ImageStore, MAX_IMAGES, StoreError, check_image, image_id};

impl ImageStore for PostgresStore {
    fn put_image(
        &self,
        merchant_id: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<ImageRecord, StoreError> {
        let kind = check_image(content_type, bytes)?;
        let id = image_id(bytes);
        let (merchant_id, bytes) = (merchant_id.to_owned(), bytes.to_vec());
        self.run(move |mut db| async move {
            let tx = db.transaction().await?;
            tx.execute(
                "SELECT 1 FROM merchants WHERE id = $1 FOR UPDATE",
                &[&merchant_id],
            )
            .await?;
            if let Some(row) = tx
                .query_opt("SELECT created_ms FROM images WHERE id = $1", &[&id])
                .await?
            {
                let created_ms = u64_at(&row, 0)?;
                tx.commit().await?;
                return Ok(ImageRecord {
                    id,
                    content_type: kind.to_owned(),
                    size: bytes.len() as u64,
                    created_ms,
                });
            }
            let count = tx
                .query_one(
                    "SELECT COUNT(*) FROM images WHERE merchant_id = $1",
                    &[&merchant_id],
                )
                .await?;
            if u64_at(&count, 0)? >= MAX_IMAGES {
                return Err(StoreError::Invalid(format!(
                    "the shop already has {MAX_IMAGES} images, the most it may keep"
                )));
            }
            let now = now_ms();
            tx.execute(
                "INSERT INTO images (id, merchant_id, content_type, bytes, created_ms)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                &[&id, &merchant_id, &kind, &bytes, &to_i64(now)],
            )
            .await?;
            tx.commit().await?;
            Ok(ImageRecord {
                id,
                content_type: kind.to_owned(),
                size: bytes.len() as u64,
                created_ms: now,
            })
        })
    }

    fn image(&self, id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move {
            let row = db
                .query_opt(
                    "SELECT content_type, bytes FROM images WHERE id = $1",
                    &[&id],
                )
                .await?;
            Ok(match row {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
                None => None,
            })
        })
    }
}
