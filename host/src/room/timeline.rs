//! The live video's timeline as rooms see it: where the room's live video is at the
//! moment an event happens on the broadcaster's side, and a way to put an event into the
//! video stream at that moment.
//!
//! Media time is milliseconds on the live's presentation timeline (0 = the first frame of
//! its first segment, the time dash.js reports as the playhead within the period).
//! Product cards, coupon unlocks, flash-sale starts and plugin events carry it, and the
//! commerce ones also go in-band (DASH `emsg`, HLS `EXT-X-DATERANGE`), so a viewer can
//! show a card when its video reaches that moment, and a replay can show it again.
//!
//! Rooms know media only through this trait: the media layer implements it
//! (`crate::media::Media`), and rooms without video use [`NoMedia`].

/// A media position: the live (MPD Period id) it belongs to and the time within it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaTime {
    pub period: String,
    pub ms: u64,
}

/// An event to carry in the video stream.
#[derive(Clone, Debug)]
pub struct InBandEvent {
    /// Unique within the live: 1–64 characters of `[A-Za-z0-9_.:-]`.
    pub id: String,
    pub at: MediaTime,
    pub duration_ms: u32,
    /// Compact JSON, at most 4 KiB.
    pub payload: Vec<u8>,
}

/// Answers "where is this room's live video now" and takes events into it.
pub trait MediaTimeline: Send + Sync {
    /// The media time being ingested now, or `None` when the room is not live (or its
    /// first segment is not out yet).
    fn now(&self, room: &str) -> Option<MediaTime>;

    /// Put `event` into the room's live stream. Best effort: an event for a live that has
    /// ended meanwhile is dropped (viewers still get the WebSocket copy).
    fn add_event(&self, room: &str, event: InBandEvent);
}

/// No video: every room answers `None` and events go nowhere.
pub struct NoMedia;

impl MediaTimeline for NoMedia {
    fn now(&self, _room: &str) -> Option<MediaTime> {
        None
    }

    fn add_event(&self, _room: &str, _event: InBandEvent) {}
}
