//! Media time for room events: where the room's live video is at the moment an event
//! happens on the broadcaster's side, in milliseconds of the live's presentation timeline
//! (0 = the first frame of its first segment, the time dash.js reports as the playhead
//! within the period). Product cards, coupon unlocks, flash-sale starts and plugin events
//! carry it, so a viewer can hold a card until its video reaches that moment.
//!
//! Rooms know media only through this trait: the media layer implements it
//! (`crate::media::Media`), and rooms without video answer `None`.

/// A media position: the live (period) it belongs to and the time within it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaTime {
    pub period: String,
    pub ms: u64,
}

/// Answers "where is this room's live video now".
pub trait MediaClock: Send + Sync {
    /// The media time being ingested now, or `None` when the room is not live (or its
    /// first segment is not out yet).
    fn now(&self, room: &str) -> Option<MediaTime>;
}

/// No video: every room answers `None`.
pub struct NoMedia;

impl MediaClock for NoMedia {
    fn now(&self, _room: &str) -> Option<MediaTime> {
        None
    }
}
