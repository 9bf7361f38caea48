//! [`AudienceStore`] on SQLite: the audience per room × minute × node in
//! `room_audience` (viewer time added, the largest peak kept), and each live in
//! `room_lives` (written by `rooms.rs` with the room's status).

use crate::SqliteStore;
use livecart_store::util::{to_i64, to_u32, to_u64};
use livecart_store::{AudienceMinute, AudienceStore, Live, MAX_LIVES, StoreError};
use rusqlite::params;

impl AudienceStore for SqliteStore {
    fn record_audience(
        &self,
        room_id: &str,
        node_id: &str,
        minute_ms: u64,
        viewer_ms: u64,
        peak: u32,
    ) -> Result<(), StoreError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO room_audience (room_id, minute_ms, node_id, viewer_ms, peak)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (room_id, minute_ms, node_id) DO UPDATE SET
                     viewer_ms = viewer_ms + excluded.viewer_ms,
                     peak = MAX(peak, excluded.peak)",
            )?
            .execute(params![
                room_id,
                to_i64(minute_ms),
                node_id,
                to_i64(viewer_ms),
                i64::from(peak)
            ])?;
        Ok(())
    }

    fn audience(
        &self,
        room_id: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<AudienceMinute>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT minute_ms, SUM(viewer_ms), SUM(peak) FROM room_audience
             WHERE room_id = ?1 AND minute_ms >= ?2 AND minute_ms < ?3
             GROUP BY minute_ms ORDER BY minute_ms",
        )?;
        let rows = stmt.query_map(params![room_id, to_i64(from_ms), to_i64(to_ms)], |r| {
            Ok(AudienceMinute {
                minute_ms: to_u64(r.get(0)?),
                viewer_ms: to_u64(r.get(1)?),
                peak: to_u32(r.get(2)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn lives(&self, room_id: &str, limit: usize) -> Result<Vec<Live>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT room_id, started_ms, ended_ms FROM room_lives WHERE room_id = ?1
             ORDER BY started_ms DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit.min(MAX_LIVES)).unwrap_or(0);
        let rows = stmt.query_map(params![room_id, limit], |r| {
            Ok(Live {
                room_id: r.get(0)?,
                started_ms: to_u64(r.get(1)?),
                ended_ms: r.get::<_, Option<i64>>(2)?.map(to_u64),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
