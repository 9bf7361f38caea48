//! [`AnalyticsStore`] on SQLite: pushes, acks and clicks, and the per-minute numbers in one
//! query (the attribution rules are the trait's, in `livecart-store`).

use crate::SqliteStore;
use livecart_store::util::{to_i64, to_u64};
use livecart_store::{Ack, AnalyticsStore, Click, MinuteRow, Push, StoreError, ratio};
use rusqlite::{OptionalExtension, params};

impl AnalyticsStore for SqliteStore {
    fn record_push(&self, p: &Push) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "INSERT OR IGNORE INTO pushes (push_id, room_id, product_id, variant,
                 server_send_ms, media_ms, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                p.push_id,
                p.room_id,
                p.product_id,
                p.variant,
                to_i64(p.server_send_ms),
                p.media_ms.map(to_i64),
                p.source
            ],
        )?;
        Ok(n == 1)
    }

    fn push(&self, push_id: &str) -> Result<Option<Push>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT push_id, room_id, product_id, variant, server_send_ms, media_ms, source
                 FROM pushes WHERE push_id = ?1",
                [push_id],
                push_row,
            )
            .optional()?)
    }

    fn pushes_of_room(
        &self,
        room_id: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<Push>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT push_id, room_id, product_id, variant, server_send_ms, media_ms, source
             FROM pushes WHERE room_id = ?1 AND server_send_ms >= ?2 AND server_send_ms < ?3
             ORDER BY server_send_ms, push_id",
        )?;
        let rows = stmt.query_map(params![room_id, to_i64(from_ms), to_i64(to_ms)], push_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn record_acks(&self, room_id: &str, user_id: &str, acks: &[Ack]) -> Result<(), StoreError> {
        if acks.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO acks (push_id, user_id, room_id, variant, received_ms, displayed_ms,
                                   displayed_media_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (push_id, user_id) DO UPDATE SET
                     variant = COALESCE(acks.variant, excluded.variant),
                     received_ms = COALESCE(acks.received_ms, excluded.received_ms),
                     displayed_ms = COALESCE(acks.displayed_ms, excluded.displayed_ms),
                     displayed_media_ms =
                         COALESCE(acks.displayed_media_ms, excluded.displayed_media_ms)",
            )?;
            for a in acks {
                stmt.execute(params![
                    a.push_id,
                    user_id,
                    room_id,
                    a.variant,
                    a.received_ms.map(to_i64),
                    a.displayed_ms.map(to_i64),
                    a.displayed_media_ms.map(to_i64)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn record_click(&self, c: &Click) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "INSERT OR IGNORE INTO clicks (push_id, user_id, product_id, variant, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                c.push_id,
                c.user_id,
                c.product_id,
                c.variant,
                to_i64(c.at_ms)
            ],
        )?;
        Ok(n == 1)
    }

    fn analytics_by_minute(
        &self,
        merchant_id: &str,
        room_id: Option<&str>,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<MinuteRow>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "WITH mr AS (SELECT id FROM rooms WHERE merchant_id = ?1 AND (?2 IS NULL OR id = ?2)),
             mp AS (SELECT * FROM pushes WHERE room_id IN mr),
             ev (ts, product_id, variant, pu, di, cl, cm, pr) AS (
                 SELECT server_send_ms, product_id, COALESCE(variant, ''), 1, 0, 0, 0, 0
                 FROM mp WHERE server_send_ms >= ?3 AND server_send_ms < ?4
               UNION ALL
                 SELECT a.displayed_ms, p.product_id, COALESCE(a.variant, p.variant, ''),
                        0, 1, 0, 0, 0
                 FROM mp p JOIN acks a ON a.push_id = p.push_id
                 WHERE a.displayed_ms >= ?3 AND a.displayed_ms < ?4
               UNION ALL
                 SELECT c.at_ms, c.product_id, COALESCE(c.variant, p.variant, ''), 0, 0, 1, 0, 0
                 FROM mp p JOIN clicks c ON c.push_id = p.push_id
                 WHERE c.at_ms >= ?3 AND c.at_ms < ?4
               UNION ALL
                 SELECT k.claimed_ms, p.product_id, COALESCE(k.variant, p.variant, ''),
                        0, 0, 0, 1, 0
                 FROM mp p JOIN claims k ON k.push_id = p.push_id
                 WHERE k.claimed_ms >= ?3 AND k.claimed_ms < ?4
               UNION ALL
                 SELECT o.created_ms, o.product_id, COALESCE(o.variant, p.variant, ''),
                        0, 0, 0, 0, 1
                 FROM orders o LEFT JOIN pushes p ON p.push_id = o.push_id
                 WHERE o.room_id IN mr AND o.created_ms >= ?3 AND o.created_ms < ?4
             )
             SELECT (ts / 60000) * 60000 AS minute, product_id, variant,
                    SUM(pu), SUM(di), SUM(cl), SUM(cm), SUM(pr)
             FROM ev GROUP BY minute, product_id, variant
             ORDER BY minute, product_id, variant",
        )?;
        let rows = stmt.query_map(
            params![merchant_id, room_id, to_i64(from_ms), to_i64(to_ms)],
            |r| {
                let displays = to_u64(r.get(4)?);
                let clicks = to_u64(r.get(5)?);
                let purchases = to_u64(r.get(7)?);
                Ok(MinuteRow {
                    minute_ms: to_u64(r.get(0)?),
                    product_id: r.get(1)?,
                    variant: r.get(2)?,
                    pushes: to_u64(r.get(3)?),
                    displays,
                    clicks,
                    claims: to_u64(r.get(6)?),
                    purchases,
                    ctr: ratio(clicks, displays),
                    conversion: ratio(purchases, clicks),
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn push_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Push> {
    Ok(Push {
        push_id: r.get(0)?,
        room_id: r.get(1)?,
        product_id: r.get(2)?,
        variant: r.get(3)?,
        server_send_ms: to_u64(r.get(4)?),
        media_ms: r.get::<_, Option<i64>>(5)?.map(to_u64),
        source: r.get(6)?,
    })
}
