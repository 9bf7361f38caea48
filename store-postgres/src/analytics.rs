//! [`AnalyticsStore`] and [`SyncStore`] on PostgreSQL: pushes, acks and clicks (every
//! write idempotent by its key, an ack batch in one transaction), the per-minute numbers
//! in one query under the trait's attribution rules, and card sync error samples.

use crate::{PostgresStore, opt_u64_at, u64_at};
use livecart_store::util::to_i64;
use livecart_store::{
    Ack, AnalyticsStore, Click, MinuteRow, Push, StoreError, SyncSample, SyncStore, ratio,
};
use tokio_postgres::Row;

const PUSH_COLS: &str = "push_id, room_id, product_id, variant, server_send_ms, media_ms, source";

fn push_row(r: &Row) -> Result<Push, tokio_postgres::Error> {
    Ok(Push {
        push_id: r.try_get(0)?,
        room_id: r.try_get(1)?,
        product_id: r.try_get(2)?,
        variant: r.try_get(3)?,
        server_send_ms: u64_at(r, 4)?,
        media_ms: opt_u64_at(r, 5)?,
        source: r.try_get(6)?,
    })
}

impl AnalyticsStore for PostgresStore {
    fn record_push(&self, p: &Push) -> Result<bool, StoreError> {
        let p = p.clone();
        self.run(move |db| async move {
            let n = db
                .execute(
                    "INSERT INTO pushes (push_id, room_id, product_id, variant, server_send_ms,
                         media_ms, source)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (push_id) DO NOTHING",
                    &[
                        &p.push_id,
                        &p.room_id,
                        &p.product_id,
                        &p.variant,
                        &to_i64(p.server_send_ms),
                        &p.media_ms.map(to_i64),
                        &p.source,
                    ],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn push(&self, push_id: &str) -> Result<Option<Push>, StoreError> {
        let push_id = push_id.to_owned();
        self.run(move |db| async move {
            let row = db
                .query_opt(
                    &format!("SELECT {PUSH_COLS} FROM pushes WHERE push_id = $1"),
                    &[&push_id],
                )
                .await?;
            Ok(row.as_ref().map(push_row).transpose()?)
        })
    }

    fn pushes_of_room(
        &self,
        room_id: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<Push>, StoreError> {
        let room_id = room_id.to_owned();
        self.run(move |db| async move {
            let rows = db
                .query(
                    &format!(
                        "SELECT {PUSH_COLS} FROM pushes
                         WHERE room_id = $1 AND server_send_ms >= $2 AND server_send_ms < $3
                         ORDER BY server_send_ms, push_id"
                    ),
                    &[&room_id, &to_i64(from_ms), &to_i64(to_ms)],
                )
                .await?;
            Ok(rows.iter().map(push_row).collect::<Result<_, _>>()?)
        })
    }

    fn record_acks(&self, room_id: &str, user_id: &str, acks: &[Ack]) -> Result<(), StoreError> {
        if acks.is_empty() {
            return Ok(());
        }
        let (room_id, user_id, acks) = (room_id.to_owned(), user_id.to_owned(), acks.to_vec());
        self.run(move |mut db| async move {
            let tx = db.transaction().await?;
            let stmt = tx
                .prepare(
                    "INSERT INTO acks (push_id, user_id, room_id, variant, received_ms,
                         displayed_ms, displayed_media_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (push_id, user_id) DO UPDATE SET
                         variant = COALESCE(acks.variant, excluded.variant),
                         received_ms = COALESCE(acks.received_ms, excluded.received_ms),
                         displayed_ms = COALESCE(acks.displayed_ms, excluded.displayed_ms),
                         displayed_media_ms =
                             COALESCE(acks.displayed_media_ms, excluded.displayed_media_ms)",
                )
                .await?;
            for a in &acks {
                tx.execute(
                    &stmt,
                    &[
                        &a.push_id,
                        &user_id,
                        &room_id,
                        &a.variant,
                        &a.received_ms.map(to_i64),
                        &a.displayed_ms.map(to_i64),
                        &a.displayed_media_ms.map(to_i64),
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn record_click(&self, c: &Click) -> Result<bool, StoreError> {
        let c = c.clone();
        self.run(move |db| async move {
            let n = db
                .execute(
                    "INSERT INTO clicks (push_id, user_id, product_id, variant, at_ms)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (push_id, user_id) DO NOTHING",
                    &[
                        &c.push_id,
                        &c.user_id,
                        &c.product_id,
                        &c.variant,
                        &to_i64(c.at_ms),
                    ],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn analytics_by_minute(
        &self,
        merchant_id: &str,
        room_id: Option<&str>,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<MinuteRow>, StoreError> {
        let (merchant_id, room_id) = (merchant_id.to_owned(), room_id.map(str::to_owned));
        self.run(move |db| async move {
            let rows = db
                .query(
                    "WITH mr AS (SELECT id FROM rooms
                                 WHERE merchant_id = $1 AND ($2::TEXT IS NULL OR id = $2)),
                     mp AS (SELECT * FROM pushes WHERE room_id IN (SELECT id FROM mr)),
                     ev (ts, product_id, variant, pu, di, cl, cm, pr) AS (
                         SELECT server_send_ms, product_id, COALESCE(variant, ''), 1, 0, 0, 0, 0
                         FROM mp WHERE server_send_ms >= $3 AND server_send_ms < $4
                       UNION ALL
                         SELECT a.displayed_ms, p.product_id, COALESCE(a.variant, p.variant, ''),
                                0, 1, 0, 0, 0
                         FROM mp p JOIN acks a ON a.push_id = p.push_id
                         WHERE a.displayed_ms >= $3 AND a.displayed_ms < $4
                       UNION ALL
                         SELECT c.at_ms, c.product_id, COALESCE(c.variant, p.variant, ''),
                                0, 0, 1, 0, 0
                         FROM mp p JOIN clicks c ON c.push_id = p.push_id
                         WHERE c.at_ms >= $3 AND c.at_ms < $4
                       UNION ALL
                         SELECT k.claimed_ms, p.product_id, COALESCE(k.variant, p.variant, ''),
                                0, 0, 0, 1, 0
                         FROM mp p JOIN claims k ON k.push_id = p.push_id
                         WHERE k.claimed_ms >= $3 AND k.claimed_ms < $4
                       UNION ALL
                         SELECT o.created_ms, o.product_id, COALESCE(o.variant, p.variant, ''),
                                0, 0, 0, 0, 1
                         FROM orders o LEFT JOIN pushes p ON p.push_id = o.push_id
                         WHERE o.room_id IN (SELECT id FROM mr)
                           AND o.created_ms >= $3 AND o.created_ms < $4
                     )
                     SELECT (ts / 60000) * 60000 AS minute, product_id, variant,
                            SUM(pu)::BIGINT, SUM(di)::BIGINT, SUM(cl)::BIGINT, SUM(cm)::BIGINT,
                            SUM(pr)::BIGINT
                     FROM ev GROUP BY minute, product_id, variant
                     ORDER BY minute, product_id, variant",
                    &[&merchant_id, &room_id, &to_i64(from_ms), &to_i64(to_ms)],
                )
                .await?;
            let minute_row = |r: &Row| -> Result<MinuteRow, tokio_postgres::Error> {
                let displays = u64_at(r, 4)?;
                let clicks = u64_at(r, 5)?;
                let purchases = u64_at(r, 7)?;
                Ok(MinuteRow {
                    minute_ms: u64_at(r, 0)?,
                    product_id: r.try_get(1)?,
                    variant: r.try_get(2)?,
                    pushes: u64_at(r, 3)?,
                    displays,
                    clicks,
                    claims: u64_at(r, 6)?,
                    purchases,
                    ctr: ratio(clicks, displays),
                    conversion: ratio(purchases, clicks),
                })
            };
            Ok(rows.iter().map(minute_row).collect::<Result<_, _>>()?)
        })
    }
}

impl SyncStore for PostgresStore {
    fn sync_samples(
        &self,
        room_id: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<SyncSample>, StoreError> {
        let room_id = room_id.to_owned();
        self.run(move |db| async move {
            let rows = db
                .query(
                    "SELECT p.push_id, p.product_id, a.user_id, p.media_ms, a.displayed_media_ms
                     FROM pushes p JOIN acks a ON a.push_id = p.push_id
                     WHERE p.room_id = $1 AND p.server_send_ms >= $2 AND p.server_send_ms < $3
                       AND p.media_ms IS NOT NULL AND a.displayed_media_ms IS NOT NULL
                     ORDER BY p.server_send_ms, a.user_id",
                    &[&room_id, &to_i64(from_ms), &to_i64(to_ms)],
                )
                .await?;
            let sample = |r: &Row| -> Result<SyncSample, tokio_postgres::Error> {
                let media: i64 = r.try_get(3)?;
                let shown: i64 = r.try_get(4)?;
                Ok(SyncSample {
                    push_id: r.try_get(0)?,
                    product_id: r.try_get(1)?,
                    user_id: r.try_get(2)?,
                    media_ms: media.max(0) as u64,
                    displayed_media_ms: shown.max(0) as u64,
                    error_ms: shown - media,
                })
            };
            Ok(rows.iter().map(sample).collect::<Result<_, _>>()?)
        })
    }
}
