//! Card sync error: for every displayed card, how far the viewer's video was from the
//! moment the card belongs to. A push records the media time it happened at (`pushes.
//! media_ms`); a viewer's ack records the media time its playhead showed when the card
//! appeared (`acks.displayed_media_ms`). Their difference is what a viewer notices as a
//! card that comes too early or too late.

use crate::StoreError;
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
/// [`AnalyticsStore`]: crate::AnalyticsStore
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
