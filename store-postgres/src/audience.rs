//! [`AudienceStore`] on PostgreSQL: the audience per room × minute × node in
//! `room_audience` (viewer time added, the largest peak kept, one upsert per report), and
//! each live in `room_lives` (written by `rooms.rs` with the room's status; a partial
//! unique index keeps one open live per room whatever the nodes race).

use crate::{PostgresStore, opt_u64_at, u32_at, u64_at};
use livecart_store::util::to_i64;
use livecart_store::{AudienceMinute, AudienceStore, Live, MAX_LIVES, StoreError};

impl AudienceStore for PostgresStore {
    fn record_audience(
        &self,
        room_id: &str,
        node_id: &str,
        minute_ms: u64,
        viewer_ms: u64,
        peak: u32,
    ) -> Result<(), StoreError> {
        let (room_id, node_id) = (room_id.to_owned(), node_id.to_owned());
        self.run(move |db| async move {
            db.execute(
                "INSERT INTO room_audience (room_id, minute_ms, node_id, viewer_ms, peak)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (room_id, minute_ms, node_id) DO UPDATE SET
                     viewer_ms = room_audience.viewer_ms + EXCLUDED.viewer_ms,
                     peak = GREATEST(room_audience.peak, EXCLUDED.peak)",
                &[
                    &room_id,
                    &to_i64(minute_ms),
                    &node_id,
                    &to_i64(viewer_ms),
                    &i64::from(peak),
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn audience(
        &self,
        room_id: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<AudienceMinute>, StoreError> {
        let room_id = room_id.to_owned();
        self.run(move |db| async move {
            let rows = db
                .query(
                    "SELECT minute_ms, SUM(viewer_ms)::BIGINT, SUM(peak)::BIGINT FROM room_audience
                     WHERE room_id = $1 AND minute_ms >= $2 AND minute_ms < $3
                     GROUP BY minute_ms ORDER BY minute_ms",
                    &[&room_id, &to_i64(from_ms), &to_i64(to_ms)],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(AudienceMinute {
                        minute_ms: u64_at(r, 0)?,
                        viewer_ms: u64_at(r, 1)?,
                        peak: u32_at(r, 2)?,
                    })
                })
                .collect()
        })
    }

    fn lives(&self, room_id: &str, limit: usize) -> Result<Vec<Live>, StoreError> {
        let room_id = room_id.to_owned();
        let limit = i64::try_from(limit.min(MAX_LIVES)).unwrap_or(0);
        self.run(move |db| async move {
            let rows = db
                .query(
                    "SELECT room_id, started_ms, ended_ms FROM room_lives WHERE room_id = $1
                     ORDER BY started_ms DESC LIMIT $2",
                    &[&room_id, &limit],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(Live {
                        room_id: r.try_get(0)?,
                        started_ms: u64_at(r, 1)?,
                        ended_ms: opt_u64_at(r, 2)?,
                    })
                })
                .collect()
        })
    }
}
