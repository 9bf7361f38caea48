//! Card sync error: for every displayed card, how far the viewer's video was from the
//! moment the card belongs to. A push records the media time it happened at (`pushes.
//! media_ms`); a viewer's ack records the media time its playhead showed when the card
//! appeared (`acks.displayed_media_ms`). Their difference is what a viewer notices as a
//! card that comes too early or too late.

use super::commerce::to_i64;
use super::{SqliteStore, StoreError};
use rusqlite::params;
use serde::Serialize;

/// One display of a card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncSample {
    pub push_id: String,
    pub product_id: String,
    pub user_id: String,
    pub media_ms: u64,
    pub displayed_media_ms: u64,
    /// `displayed_media_ms - media_ms`: positive when the card came late.
    pub error_ms: i64,
}

/// Sync error over many displays.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SyncSummary {
    pub displays: usize,
    /// Percentiles of |error|, ms.
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
    /// Share of displays within one frame at 30 fps (33 ms) and within two (66 ms).
    pub within_33ms: f64,
    pub within_66ms: f64,
}

impl SyncSummary {
    pub fn of(samples: &[SyncSample]) -> SyncSummary {
        let mut abs: Vec<u64> = samples.iter().map(|s| s.error_ms.unsigned_abs()).collect();
        if abs.is_empty() {
            return SyncSummary::default();
        }
        abs.sort_unstable();
        let pct =
            |p: f64| abs[((p / 100.0 * abs.len() as f64).ceil() as usize).clamp(1, abs.len()) - 1];
        let share =
            |limit: u64| abs.iter().filter(|&&a| a <= limit).count() as f64 / abs.len() as f64;
        SyncSummary {
            displays: abs.len(),
            p50_ms: pct(50.0),
            p95_ms: pct(95.0),
            p99_ms: pct(99.0),
            max_ms: abs[abs.len() - 1],
            within_33ms: share(33),
            within_66ms: share(66),
        }
    }
}

/// Card sync error samples, read from the pushes and acks that [`AnalyticsStore`] records.
///
/// Contract: read-only; a sample is one ack (push × user) whose push and ack both carry a
/// media time, ordered by the push's send time, then user id.
///
/// [`AnalyticsStore`]: super::AnalyticsStore
pub trait SyncStore {
    /// Displays of the room's cards pushed in `[from_ms, to_ms)` that have both media
    /// times, oldest push first.
    fn sync_samples(
        &self,
        room_id: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<SyncSample>, StoreError>;
}

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
    use crate::store::prelude::*;
    use crate::store::{Ack, Push};

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
