//! [`BagStore`] on PostgreSQL: each room's product bag as ordered rows of `room_products`,
//! replaced whole in one transaction that locks the room's row, so two nodes setting the
//! same bag at once leave one of the two lists, never a mix.

use crate::PostgresStore;
use crate::rooms::{PRODUCT_COLS, product_row};
use livecart_store::{BagStore, Product, StoreError, check_bag};
use std::collections::HashSet;

impl BagStore for PostgresStore {
    fn set_bag(&self, room_id: &str, product_ids: &[String]) -> Result<(), StoreError> {
        let (room_id, ids) = (room_id.to_owned(), product_ids.to_vec());
        self.run(move |mut db| async move {
            let tx = db.transaction().await?;
            let merchant: String = tx
                .query_opt("SELECT merchant_id FROM rooms WHERE id = $1 FOR UPDATE", &[&room_id])
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("room {room_id}")))?
                .try_get(0)?;
            let known: HashSet<String> = tx
                .query(
                    "SELECT id FROM products WHERE merchant_id = $1 AND id = ANY($2) AND NOT deleted",
                    &[&merchant, &ids],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            check_bag(&ids, |id| Ok(known.contains(id)))?;
            tx.execute("DELETE FROM room_products WHERE room_id = $1", &[&room_id])
                .await?;
            let positions: Vec<i32> = (0..ids.len() as i32).collect();
            tx.execute(
                "INSERT INTO room_products (room_id, position, product_id)
                 SELECT $1, p, id FROM UNNEST($2::INT[], $3::TEXT[]) AS b(p, id)",
                &[&room_id, &positions, &ids],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn bag(&self, room_id: &str) -> Result<Vec<Product>, StoreError> {
        let room_id = room_id.to_owned();
        self.run(move |db| async move {
            let rows = db
                .query(
                    &format!(
                        "SELECT {PRODUCT_COLS} FROM room_products
                         JOIN products ON products.id = room_products.product_id
                         WHERE room_products.room_id = $1 AND NOT products.deleted
                           AND products.merchant_id =
                               (SELECT merchant_id FROM rooms WHERE id = $1)
                         ORDER BY position"
                    ),
                    &[&room_id],
                )
                .await?;
            Ok(rows.iter().map(product_row).collect::<Result<_, _>>()?)
        })
    }
}
