//! [`SyncStore`] on SQLite: card sync error samples from pushes and acks.

use crate::SqliteStore;
use livecart_store::util::to_i64;
use livecart_store::{StoreError, SyncSample, SyncStore};
use rusqlite::params;

impl SyncStore for SqliteStore {
    fn sync_samples(
        &self,
        room_id: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<SyncSample>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT p.push_id, p.product_id, a.user_id, p.media_ms, a.displayed_media_ms
             FROM pushes p JOIN acks a ON a.push_id = p.push_id
             WHERE p.room_id = ?1 AND p.server_send_ms >= ?2 AND p.server_send_ms < ?3
               AND p.media_ms IS NOT NULL AND a.displayed_media_ms IS NOT NULL
             ORDER BY p.server_send_ms, a.user_id",
        )?;
        let rows = stmt.query_map(params![room_id, to_i64(from_ms), to_i64(to_ms)], |r| {
            let media: i64 = r.get(3)?;
            let shown: i64 = r.get(4)?;
            Ok(SyncSample {
                push_id: r.get(0)?,
                product_id: r.get(1)?,
                user_id: r.get(2)?,
                media_ms: media.max(0) as u64,
                displayed_media_ms: shown.max(0) as u64,
                error_ms: shown - media,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecart_store::prelude::*;
    use livecart_store::{Ack, Push, SyncSummary};

    #[test]
    fn sync_error_is_display_media_time_minus_event_media_time() {
        let store = SqliteStore::in_memory().unwrap();
        for (id, media) in [("p1", Some(10_000)), ("p2", Some(20_000)), ("p3", None)] {
            store
                .record_push(&Push {
                    push_id: id.into(),
                    room_id: "r".into(),
                    product_id: "sku".into(),
                    variant: None,
                    server_send_ms: 1_000,
                    media_ms: media,
                    source: "host".into(),
                })
                .unwrap();
        }
        let ack = |push: &str, shown: Option<u64>| Ack {
            push_id: push.into(),
            displayed_ms: Some(2_000),
            displayed_media_ms: shown,
            ..Ack::default()
        };
        store
            .record_acks(
                "r",
                "u1",
                &[ack("p1", Some(10_020)), ack("p2", Some(19_900))],
            )
            .unwrap();
        store
            .record_acks("r", "u2", &[ack("p1", None), ack("p3", Some(5))])
            .unwrap();
        let samples = store.sync_samples("r", 0, 10_000).unwrap();
        let errors: Vec<i64> = samples.iter().map(|s| s.error_ms).collect();
        assert_eq!(errors, [20, -100]);
        let summary = SyncSummary::of(&samples);
        assert_eq!(summary.displays, 2);
        assert_eq!(summary.max_ms, 100);
        assert_eq!(summary.within_33ms, 0.5);
        assert_eq!(SyncSummary::of(&[]).displays, 0);
    }
}
