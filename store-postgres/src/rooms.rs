//! [`RoomStore`] and [`CatalogStore`] on PostgreSQL: rooms with their stream keys and live
//! status, and each merchant's products (soft-deleted, keyed by merchant and id).

use crate::{PostgresStore, fresh_ids, opt_u64_at, u32_at, u64_at};
use livecart_store::util::{now_ms, random_id, to_i64};
use livecart_store::{
    CatalogStore, LatencyMode, Product, ProductRecord, Room, RoomStatus, RoomStore, StoreError,
    new_stream_key,
};
use tokio_postgres::{GenericClient, Row};

const ROOM_COLS: &str =
    "id, merchant_id, title, stream_key, status, created_ms, started_ms, ended_ms, latency_mode";

fn room_row(r: &Row) -> Result<Room, tokio_postgres::Error> {
    let status: String = r.try_get(4)?;
    Ok(Room {
        id: r.try_get(0)?,
        merchant_id: r.try_get(1)?,
        title: r.try_get(2)?,
        stream_key: r.try_get(3)?,
        status: RoomStatus::parse(&status),
        created_ms: u64_at(r, 5)?,
        started_ms: opt_u64_at(r, 6)?,
        ended_ms: opt_u64_at(r, 7)?,
        latency_mode: LatencyMode::parse(&r.try_get::<_, String>(8)?),
    })
}

async fn room_in(db: &impl GenericClient, id: &str) -> Result<Option<Room>, StoreError> {
    let row = db
        .query_opt(
            &format!("SELECT {ROOM_COLS} FROM rooms WHERE id = $1"),
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(room_row).transpose()?)
}

/// Insert an idle room with a fresh stream key; with `keep_existing` a room that already
/// has this id is left alone. Returns the room as stored.
async fn insert_room(
    db: &impl GenericClient,
    id: &str,
    merchant_id: &str,
    title: &str,
    keep_existing: bool,
) -> Result<Room, StoreError> {
    let on_conflict = if keep_existing {
        "ON CONFLICT (id) DO NOTHING"
    } else {
        ""
    };
    db.execute(
        &format!(
            "INSERT INTO rooms (id, merchant_id, title, stream_key, status, created_ms)
             VALUES ($1, $2, $3, $4, 'idle', $5) {on_conflict}"
        ),
        &[
            &id,
            &merchant_id,
            &title,
            &new_stream_key()?,
            &to_i64(now_ms()),
        ],
    )
    .await?;
    room_in(db, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("room {id}")))
}

impl RoomStore for PostgresStore {
    fn create_room(&self, merchant_id: &str, title: &str) -> Result<Room, StoreError> {
        let (merchant_id, title) = (merchant_id.to_owned(), title.to_owned());
        self.run(move |db| async move {
            fresh_ids!(
                insert_room(
                    &**db,
                    &format!("r_{}", random_id(5)?),
                    &merchant_id,
                    &title,
                    false
                )
                .await
            )
        })
    }

    fn ensure_room(&self, id: &str, merchant_id: &str, title: &str) -> Result<Room, StoreError> {
        let (id, merchant_id, title) = (id.to_owned(), merchant_id.to_owned(), title.to_owned());
        self.run(move |db| async move {
            if let Some(room) = room_in(&**db, &id).await? {
                return Ok(room);
            }
            fresh_ids!(insert_room(&**db, &id, &merchant_id, &title, true).await)
        })
    }

    fn room(&self, id: &str) -> Result<Option<Room>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move { room_in(&**db, &id).await })
    }

    fn rooms_of(&self, merchant_id: &str) -> Result<Vec<Room>, StoreError> {
        let merchant_id = merchant_id.to_owned();
        self.run(move |db| async move {
            let rows = db
                .query(
                    &format!("SELECT {ROOM_COLS} FROM rooms WHERE merchant_id = $1 ORDER BY seq"),
                    &[&merchant_id],
                )
                .await?;
            Ok(rows.iter().map(room_row).collect::<Result<_, _>>()?)
        })
    }

    fn room_by_stream_key(&self, key: &str) -> Result<Option<Room>, StoreError> {
        if key.is_empty() {
            return Ok(None);
        }
        let key = key.to_owned();
        self.run(move |db| async move {
            let row = db
                .query_opt(
                    &format!("SELECT {ROOM_COLS} FROM rooms WHERE stream_key = $1"),
                    &[&key],
                )
                .await?;
            Ok(row.as_ref().map(room_row).transpose()?)
        })
    }

    fn set_room_status(&self, id: &str, status: RoomStatus) -> Result<Room, StoreError> {
        let id = id.to_owned();
        self.run(move |mut db| async move {
            let now = to_i64(now_ms());
            let returning = format!("RETURNING {ROOM_COLS}");
            let tx = db.transaction().await?;
            let row = match status {
                RoomStatus::Idle => {
                    let sql = format!("UPDATE rooms SET status = 'idle' WHERE id = $1 {returning}");
                    tx.query_opt(&sql, &[&id]).await?
                }
                RoomStatus::Live => {
                    let sql = format!(
                        "UPDATE rooms SET status = 'live', started_ms = $2, ended_ms = NULL
                         WHERE id = $1 {returning}"
                    );
                    tx.query_opt(&sql, &[&id, &now]).await?
                }
                RoomStatus::Ended => {
                    let sql = format!(
                        "UPDATE rooms SET status = 'ended', ended_ms = $2 WHERE id = $1 {returning}"
                    );
                    tx.query_opt(&sql, &[&id, &now]).await?
                }
            };
            let room = row
                .as_ref()
                .map(room_row)
                .transpose()?
                .ok_or_else(|| StoreError::NotFound(format!("room {id}")))?;
            // The room's lives (audience.rs): going live opens one unless one is open (the
            // room's row, locked by the update, orders racing nodes), leaving live closes it.
            let lives = if status == RoomStatus::Live {
                "INSERT INTO room_lives (room_id, started_ms) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING"
            } else {
                "UPDATE room_lives SET ended_ms = $2 WHERE room_id = $1 AND ended_ms IS NULL"
            };
            tx.execute(lives, &[&id, &now]).await?;
            tx.commit().await?;
            Ok(room)
        })
    }

    fn rotate_stream_key(&self, id: &str) -> Result<Room, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move {
            let sql =
                format!("UPDATE rooms SET stream_key = $2 WHERE id = $1 RETURNING {ROOM_COLS}");
            let row = fresh_ids!(
                async {
                    Ok::<_, StoreError>(db.query_opt(&sql, &[&id, &new_stream_key()?]).await?)
                }
                .await
            )?;
            row.as_ref()
                .map(room_row)
                .transpose()?
                .ok_or_else(|| StoreError::NotFound(format!("room {id}")))
        })
    }

    fn set_latency_mode(&self, id: &str, mode: LatencyMode) -> Result<Room, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move {
            let sql =
                format!("UPDATE rooms SET latency_mode = $2 WHERE id = $1 RETURNING {ROOM_COLS}");
            let row = db.query_opt(&sql, &[&id, &mode.as_str()]).await?;
            row.as_ref()
                .map(room_row)
                .transpose()?
                .ok_or_else(|| StoreError::NotFound(format!("room {id}")))
        })
    }
}

pub(crate) const PRODUCT_COLS: &str =
    "id, title, price_cents, currency, image_url, buy_url, stock, description, faq, specs, skus";

pub(crate) fn product_row(r: &Row) -> Result<Product, tokio_postgres::Error> {
    let faq: String = r.try_get(8)?;
    let specs: String = r.try_get(9)?;
    let skus: String = r.try_get(10)?;
    Ok(Product {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        price_cents: u64_at(r, 2)?,
        currency: r.try_get(3)?,
        image_url: r.try_get(4)?,
        buy_url: r.try_get(5)?,
        stock: u32_at(r, 6)?,
        description: r.try_get(7)?,
        faq: serde_json::from_str(&faq).unwrap_or_default(),
        specs: serde_json::from_str(&specs).unwrap_or_default(),
        skus: serde_json::from_str(&skus).unwrap_or_default(),
    })
}

/// One of the merchant's products, not deleted.
pub(crate) async fn product_in(
    db: &impl GenericClient,
    merchant_id: &str,
    id: &str,
) -> Result<Option<Product>, StoreError> {
    let row = db
        .query_opt(
            &format!(
                "SELECT {PRODUCT_COLS} FROM products
                 WHERE merchant_id = $1 AND id = $2 AND NOT deleted"
            ),
            &[&merchant_id, &id],
        )
        .await?;
    Ok(row.as_ref().map(product_row).transpose()?)
}

/// Insert (or with `upsert`, replace and revive) one product row.
async fn write_product(
    db: &impl GenericClient,
    merchant_id: &str,
    id: &str,
    p: &Product,
    now: u64,
    upsert: bool,
) -> Result<(), StoreError> {
    let faq = serde_json::to_string(&p.faq)?;
    let specs = serde_json::to_string(&p.specs)?;
    let skus = serde_json::to_string(&p.skus)?;
    let on_conflict = if upsert {
        "ON CONFLICT (merchant_id, id) DO UPDATE SET title = $3, price_cents = $4,
             currency = $5, image_url = $6, buy_url = $7, stock = $8, description = $9,
             faq = $10, specs = $11, updated_ms = $12, deleted = FALSE, skus = $13"
    } else {
        ""
    };
    db.execute(
        &format!(
            "INSERT INTO products (merchant_id, id, title, price_cents, currency, image_url,
                 buy_url, stock, description, faq, specs, created_ms, updated_ms, deleted, skus)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, FALSE, $13)
             {on_conflict}"
        ),
        &[
            &merchant_id,
            &id,
            &p.title,
            &to_i64(p.price_cents),
            &p.currency,
            &p.image_url,
            &p.buy_url,
            &i64::from(p.stock),
            &p.description,
            &faq,
            &specs,
            &to_i64(now),
            &skus,
        ],
    )
    .await?;
    Ok(())
}

impl CatalogStore for PostgresStore {
    fn upsert_product(
        &self,
        merchant_id: &str,
        product: &Product,
    ) -> Result<ProductRecord, StoreError> {
        let (merchant_id, product) = (merchant_id.to_owned(), product.clone());
        self.run(move |db| async move {
            let now = now_ms();
            let id = if product.id.is_empty() {
                fresh_ids!(
                    async {
                        let id = format!("p_{}", random_id(5)?);
                        write_product(&**db, &merchant_id, &id, &product, now, false).await?;
                        Ok::<_, StoreError>(id)
                    }
                    .await
                )?
            } else {
                write_product(&**db, &merchant_id, &product.id, &product, now, true).await?;
                product.id.clone()
            };
            Ok(ProductRecord {
                merchant_id,
                product: Product { id, ..product },
                updated_ms: now,
            })
        })
    }

    fn product(&self, merchant_id: &str, id: &str) -> Result<Option<Product>, StoreError> {
        let (merchant_id, id) = (merchant_id.to_owned(), id.to_owned());
        self.run(move |db| async move { product_in(&**db, &merchant_id, &id).await })
    }

    fn products_limited(
        &self,
        merchant_id: &str,
        limit: usize,
    ) -> Result<Vec<Product>, StoreError> {
        let merchant_id = merchant_id.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |db| async move {
            let rows = db
                .query(
                    &format!(
                        "SELECT {PRODUCT_COLS} FROM products
                         WHERE merchant_id = $1 AND NOT deleted ORDER BY seq LIMIT $2"
                    ),
                    &[&merchant_id, &limit],
                )
                .await?;
            Ok(rows.iter().map(product_row).collect::<Result<_, _>>()?)
        })
    }

    fn delete_product(&self, merchant_id: &str, id: &str) -> Result<bool, StoreError> {
        let (merchant_id, id) = (merchant_id.to_owned(), id.to_owned());
        self.run(move |db| async move {
            let n = db
                .execute(
                    "UPDATE products SET deleted = TRUE, updated_ms = $3
                     WHERE merchant_id = $1 AND id = $2 AND NOT deleted",
                    &[&merchant_id, &id, &to_i64(now_ms())],
                )
                .await?;
            Ok(n == 1)
        })
    }
}
