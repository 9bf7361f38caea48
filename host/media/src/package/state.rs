//! Per-room media state: the live period the origin serves and the status that the room
//! status API shows (live or not, where from, the last pipeline error). Changes of a room
//! going live or off air are broadcast ([`MediaState::changes`]), so the host's rooms can
//! follow their video.

use super::events::{EventError, TimedEvent};
use super::ring::Period;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

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
    /// The last ended period and when it ended: its live manifests stay served (as ended)
    /// for [`ENDED_GRACE`], so players already on it play to its end instead of failing.
    ended: Option<(Arc<Period>, Instant)>,
    status: MediaStatus,
}

/// How long an ended live's manifests stay served at the live URLs.
pub const ENDED_GRACE: Duration = Duration::from_secs(60);

/// A room's video went live (a new period) or off air.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveChange {
    pub room: String,
    pub period: String,
    pub live: bool,
}

/// All rooms' media state. Cheap to share.
#[derive(Debug)]
pub struct MediaState {
    rooms: RwLock<HashMap<String, RoomMedia>>,
    changes: broadcast::Sender<LiveChange>,
}

impl MediaState {
    pub fn new() -> Arc<Self> {
        Arc::new(MediaState {
            rooms: RwLock::default(),
            changes: broadcast::channel(256).0,
        })
    }

    /// Rooms going live and off air, from now on. A receiver that falls more than 256
    /// changes behind loses the oldest (`RecvError::Lagged`); [`MediaState::live`] is the
    /// truth to resynchronise from.
    pub fn changes(&self) -> broadcast::Receiver<LiveChange> {
        self.changes.subscribe()
    }

    fn announce(&self, room: &str, period: &str, live: bool) {
        // No receiver is fine: nobody follows media (tests, benches).
        let _ = self.changes.send(LiveChange {
            room: room.to_string(),
            period: period.to_string(),
            live,
        });
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
        let (room_id, period_id) = (period.room.clone(), period.id.clone());
        room.live = Some(period);
        drop(rooms);
        self.announce(&room_id, &period_id, true);
    }

    /// The period ended; it stays reachable through the recordings.
    pub fn end_period(&self, room: &str, period_id: &str) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = rooms.get_mut(room)
            && r.live.as_ref().is_some_and(|p| p.id == period_id)
        {
            r.ended = r.live.take().map(|p| (p, Instant::now()));
            r.status.live = false;
            drop(rooms);
            self.announce(room, period_id, false);
        }
    }

    /// The room's packaging died: it is no longer live, and the status says why.
    pub fn abandon(&self, room: &str, why: &str) {
        let ended = {
            let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
            rooms.get_mut(room).and_then(|r| {
                r.status.live = false;
                let p = r.live.take()?;
                p.end(super::ring::PeriodEnd::Failed(why.to_string()));
                let id = p.id.clone();
                r.ended = Some((p, Instant::now()));
                Some(id)
            })
        };
        if let Some(period) = ended {
            self.announce(room, &period, false);
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

    /// The period the room's live URLs serve: the live one, else the one that ended less
    /// than [`ENDED_GRACE`] ago (its MPD then says how long it was).
    pub fn serving(&self, room: &str) -> Option<Arc<Period>> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        let r = rooms.get(room)?;
        r.live.clone().or_else(|| {
            r.ended
                .as_ref()
                .filter(|(_, at)| at.elapsed() < ENDED_GRACE)
                .map(|(p, _)| p.clone())
        })
    }

    /// Every room live now, with its period id.
    pub fn live_rooms(&self) -> Vec<(String, String)> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        rooms
            .iter()
            .filter_map(|(room, r)| r.live.as_ref().map(|p| (room.clone(), p.id.clone())))
            .collect()
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
        let mut changes = state.changes();
        state.start_period(period.clone(), "demo");
        assert!(state.status("r").live);
        state.abandon("r", "boom");
        let change = |live| LiveChange {
            room: "r".into(),
            period: "p1".into(),
            live,
        };
        assert_eq!(changes.try_recv().ok(), Some(change(true)));
        assert_eq!(changes.try_recv().ok(), Some(change(false)));
        // Ending an abandoned period again announces nothing.
        state.end_period("r", "p1");
        assert!(changes.try_recv().is_err());
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
