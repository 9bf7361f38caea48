//! Rooms: who owns them, their stream key for ingest, and their live status.

use crate::StoreError;
use crate::util::random_id;
use serde::{Deserialize, Serialize};

/// Where a room is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomStatus {
    Idle,
    Live,
    Ended,
}

impl RoomStatus {
    /// The stored (and serialized) name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomStatus::Idle => "idle",
            RoomStatus::Live => "live",
            RoomStatus::Ended => "ended",
        }
    }

    /// A stored name back; anything unknown reads as idle.
    pub fn parse(s: &str) -> RoomStatus {
        match s {
            "live" => RoomStatus::Live,
            "ended" => RoomStatus::Ended,
            _ => RoomStatus::Idle,
        }
    }
}

/// A live room of one merchant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Room {
    pub id: String,
    pub merchant_id: String,
    pub title: String,
    /// The secret an encoder (OBS) presents to publish into this room.
    pub stream_key: String,
    pub status: RoomStatus,
    pub created_ms: u64,
    /// When the room last went live.
    pub started_ms: Option<u64>,
    /// When the room last ended (cleared when it goes live again).
    pub ended_ms: Option<u64>,
    /// How viewers play the live: LL-DASH, or WebRTC with LL-DASH as the fallback.
    pub latency_mode: LatencyMode,
}

/// A room's playback path, set by the host in the console.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LatencyMode {
    /// LL-DASH (about a second behind live; HLS where MSE is missing).
    #[default]
    Standard,
    /// WebRTC (WHEP) for sub-second flash sales; the page falls back to LL-DASH.
    UltraLow,
}

impl LatencyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyMode::Standard => "standard",
            LatencyMode::UltraLow => "ultra-low",
        }
    }

    /// The stored text; anything unknown reads as `Standard`.
    pub fn parse(s: &str) -> LatencyMode {
        match s {
            "ultra-low" => LatencyMode::UltraLow,
            _ => LatencyMode::Standard,
        }
    }
}

/// A fresh stream key: `sk_` and 32 hex digits.
pub fn new_stream_key() -> Result<String, StoreError> {
    Ok(format!("sk_{}", random_id(16)?))
}

/// Rooms, their stream keys and their live status.
///
/// Contract: room ids and stream keys are unique; a stream key (`sk_` and 32 hex digits,
/// random) names exactly one room, and a rotated key stops working at once. Lookups of an
/// unknown (or empty) id or key are `Ok(None)`; changing an unknown room is
/// [`StoreError::NotFound`]. Changes return the room as stored afterwards.
pub trait RoomStore {
    /// Create an idle room (`r_` and 10 hex digits) with a fresh stream key.
    fn create_room(&self, merchant_id: &str, title: &str) -> Result<Room, StoreError>;

    /// The room `id`, created idle for `merchant_id` with `title` if it does not exist yet
    /// (the built-in demo room). An existing room is returned unchanged; concurrent calls
    /// create it once.
    fn ensure_room(&self, id: &str, merchant_id: &str, title: &str) -> Result<Room, StoreError>;

    /// One room by id.
    fn room(&self, id: &str) -> Result<Option<Room>, StoreError>;

    /// A merchant's rooms in creation order.
    fn rooms_of(&self, merchant_id: &str) -> Result<Vec<Room>, StoreError>;

    /// The room an encoder publishes into with this stream key (`None` for an empty key).
    fn room_by_stream_key(&self, key: &str) -> Result<Option<Room>, StoreError>;

    /// Move a room to `status`: going live stamps `started_ms` and clears `ended_ms`;
    /// ending stamps `ended_ms`; going idle changes neither.
    fn set_room_status(&self, id: &str, status: RoomStatus) -> Result<Room, StoreError>;

    /// Replace a room's stream key; the old one stops working at once.
    fn rotate_stream_key(&self, id: &str) -> Result<Room, StoreError>;

    /// Set how viewers play the room's live.
    fn set_latency_mode(&self, id: &str, mode: LatencyMode) -> Result<Room, StoreError>;
}
