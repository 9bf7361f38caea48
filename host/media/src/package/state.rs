//! Per-room media state: the live period the origin serves and the status that the room
//! status API shows (live or not, where from, the last pipeline error).

use super::events::{EventError, TimedEvent};
use super::ring::Period;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// What a room's media is doing, for the status API.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MediaStatus {
    /// Packaging a live publish now.
    pub live: bool,
    /// Where the live stream comes from ("rtmp 1.2.3.4:5678", "rtsp …", "demo").
    pub source: Option<String>,
    /// Current (or last) period id.
    pub period: Option<String>,
    /// Representations being served: "v0 1280x720", …
    pub renditions: Vec<String>,
    /// The last error, with its time (ms since the epoch).
    pub last_error: Option<String>,
    pub last_error_ms: Option<u64>,
    /// Periods started since the host started (reconnects show here).
    pub periods_started: u64,
}

#[derive(Debug, Default)]
struct RoomMedia {
    live: Option<Arc<Period>>,
    status: MediaStatus,
}

/// All rooms' media state. Cheap to share.
#[derive(Debug, Default)]
pub struct MediaState {
    rooms: RwLock<HashMap<String, RoomMedia>>,
}

impl MediaState {
    pub fn new() -> Arc<Self> {
        Arc::new(MediaState::default())
    }

    /// A new period goes live for its room.
    pub fn start_period(&self, period: Arc<Period>, source: &str) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        let room = rooms.entry(period.room.clone()).or_default();
        room.status.live = true;
        room.status.source = Some(source.to_string());
        room.status.period = Some(period.id.clone());
        room.status.renditions = period
            .tracks
            .iter()
            .map(|t| {
                let r = &t.rendition;
                match r.kind {
                    crate::hub::TrackKind::Video => format!("{} {}x{}", r.id, r.width, r.height),
                    crate::hub::TrackKind::Audio => format!("{} {} Hz", r.id, r.sample_rate),
                }
            })
            .collect();
        room.status.periods_started += 1;
        room.live = Some(period);
    }

    /// The period ended; it stays reachable through the recordings.
    pub fn end_period(&self, room: &str, period_id: &str) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = rooms.get_mut(room)
            && r.live.as_ref().is_some_and(|p| p.id == period_id)
        {
            r.live = None;
            r.status.live = false;
        }
    }

    /// The room's packaging died: it is no longer live, and the status says why.
    pub fn abandon(&self, room: &str, why: &str) {
        {
            let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = rooms.get_mut(room) {
                if let Some(p) = r.live.take() {
                    p.end(super::ring::PeriodEnd::Failed(why.to_string()));
                }
                r.status.live = false;
            }
        }
        self.error(room, why.to_string());
    }

    pub fn error(&self, room: &str, message: String) {
        tracing::error!(room, error = %message, "media pipeline error");
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        let r = rooms.entry(room.to_string()).or_default();
        r.status.last_error = Some(message);
        r.status.last_error_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_millis() as u64);
    }

    /// Add a timed event to the room's live period `period_id`; the packager puts it in-band
    /// in every video rung's next chunk that reaches its media time, and the period keeps it
    /// for the manifests and the recording.
    pub fn add_event(
        &self,
        room: &str,
        period_id: &str,
        event: TimedEvent,
    ) -> Result<(), EventError> {
        let period = self
            .live(room)
            .ok_or_else(|| EventError::NotLive(room.to_string()))?;
        if period.id != period_id || period.ended().is_some() {
            return Err(EventError::PeriodMismatch {
                live: period.id.clone(),
                got: period_id.to_string(),
            });
        }
        if period.availability_start().is_none() || period.origin_ns().is_none() {
            return Err(EventError::NotReady);
        }
        period.events.add(event).map(|_| ())
    }

    pub fn live(&self, room: &str) -> Option<Arc<Period>> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        rooms.get(room).and_then(|r| r.live.clone())
    }

    pub fn status(&self, room: &str) -> MediaStatus {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        rooms
            .get(room)
            .map(|r| r.status.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::ring::PeriodEnd;
    use std::time::Duration;

    #[test]
    fn abandoned_room_is_not_live_and_says_why() {
        let state = MediaState::new();
        let period = Arc::new(Period::new(
            "p1".into(),
            "r".into(),
            1,
            SystemTime::now(),
            Duration::from_secs(1),
            Duration::from_millis(200),
            vec![],
        ));
        state.start_period(period.clone(), "demo");
        assert!(state.status("r").live);
        state.abandon("r", "boom");
        assert!(state.live("r").is_none());
        let status = state.status("r");
        assert!(!status.live);
        assert_eq!(status.last_error.as_deref(), Some("boom"));
        assert_eq!(period.ended(), Some(PeriodEnd::Failed("boom".into())));
    }

    #[test]
    fn events_go_to_the_live_period_only() {
        use crate::package::events::{EventError, TimedEvent};
        let state = MediaState::new();
        let ev = |id: &str| TimedEvent {
            id: id.into(),
            media_ms: 1000,
            duration_ms: 0,
            payload: b"{}".to_vec(),
        };
        assert_eq!(
            state.add_event("r", "p1", ev("a")),
            Err(EventError::NotLive("r".into()))
        );
        let period = Arc::new(Period::new(
            "p1".into(),
            "r".into(),
            1,
            SystemTime::now(),
            Duration::from_secs(1),
            Duration::from_millis(200),
            vec![],
        ));
        state.start_period(period.clone(), "demo");
        assert_eq!(
            state.add_event("r", "p1", ev("a")),
            Err(EventError::NotReady)
        );
        period.set_origin(5);
        period.set_availability_start(SystemTime::now());
        state.add_event("r", "p1", ev("a")).unwrap();
        assert!(matches!(
            state.add_event("r", "p0", ev("b")),
            Err(EventError::PeriodMismatch { .. })
        ));
        period.end(PeriodEnd::Finished);
        assert!(matches!(
            state.add_event("r", "p1", ev("c")),
            Err(EventError::PeriodMismatch { .. })
        ));
        assert_eq!(period.events.list().len(), 1);
    }
}
