//! Who watched: each live of a room (from going live to leaving live, recorded by
//! [`RoomStore::set_room_status`]) and the room's audience per minute, from which a live's
//! peak and average concurrent viewers and its watch time are read.
//!
//! Each node reports what it saw of a room: viewer time (viewers × ms) added up as it
//! comes, and the most viewers it had at once in the minute. Nodes serve different viewers,
//! so a minute's watch time is the sum over nodes (exact) and its peak the sum of the
//! nodes' peaks (exact on one node; across nodes an upper bound, as their peaks need not
//! coincide).
//!
//! [`RoomStore::set_room_status`]: crate::RoomStore::set_room_status

use crate::StoreError;
use serde::Serialize;

/// One live of a room: from going live to leaving live (`None` while it still runs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Live {
    pub room_id: String,
    pub started_ms: u64,
    pub ended_ms: Option<u64>,
}

/// A room's audience in one minute, over every node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AudienceMinute {
    /// The minute's start, Unix ms.
    pub minute_ms: u64,
    /// Viewers × time watched in the minute, ms.
    pub viewer_ms: u64,
    /// The most viewers at once (see the module docs across nodes).
    pub peak: u32,
}

/// The most lives [`AudienceStore::lives`] returns.
pub const MAX_LIVES: usize = 100;

/// Lives and audience.
///
/// Contract: [`record_audience`](Self::record_audience) is additive for `viewer_ms` and
/// keeps the largest `peak` per room × minute × node, so a node may report a minute in
/// parts (every few seconds) and a retry of a part only over-counts that part. Lives are
/// written by `set_room_status` in the same step as the room's status: going live opens
/// one (unless one is open already), leaving live closes the open one.
pub trait AudienceStore {
    /// Add what node `node_id` saw of `room_id` in the minute starting at `minute_ms`.
    fn record_audience(
        &self,
        room_id: &str,
        node_id: &str,
        minute_ms: u64,
        viewer_ms: u64,
        peak: u32,
    ) -> Result<(), StoreError>;

    /// The room's minutes in `[from_ms, to_ms)`, oldest first, each over every node.
    fn audience(
        &self,
        room_id: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<AudienceMinute>, StoreError>;

    /// The room's lives, newest first, at most `limit` (capped at [`MAX_LIVES`]).
    fn lives(&self, room_id: &str, limit: usize) -> Result<Vec<Live>, StoreError>;
}
