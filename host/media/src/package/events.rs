//! Timed events of a period: opaque payloads (JSON, e.g. a product push) stamped with a media
//! time, that the packager puts in-band. Media knows nothing about what they mean.
//!
//! An event's `media_ms` is on the period's presentation timeline: 0 is the start of
//! segment 1, i.e. [`Period::origin_ns`](super::ring::Period::origin_ns) on every track's
//! media timeline (wall clock − `availability_start()` on the broadcaster's side).
//!
//! [`PeriodEvents`] keeps the last [`MAX_EVENTS`] of a period (for manifests, the recording
//! and `events.json`), gives each a `u32` id unique within the period (the `emsg`/`Event`
//! id), and holds a queue per video track of events not yet in its stream: the sink takes
//! the due ones ([`PeriodEvents::take_due`]) for the chunk it is about to append.

use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// `schemeIdUri` of our events (MPD `InbandEventStream`/`EventStream`, `emsg`, HLS `CLASS`).
pub const SCHEME: &str = "urn:livecart:event:2026";
/// The scheme's `value`.
pub const VALUE: &str = "1";
/// Longest event id, bytes.
pub const MAX_ID: usize = 64;
/// Largest payload, bytes.
pub const MAX_PAYLOAD: usize = 4096;
/// Events a period keeps (the oldest go first).
pub const MAX_EVENTS: usize = 10_000;
/// In-stream delays kept for measurement.
const MAX_DELAYS: usize = 10_000;

/// An event as the host hands it in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedEvent {
    /// Caller's id (e.g. a push id): 1–64 characters of `[A-Za-z0-9_.:-]`, unique per period.
    pub id: String,
    /// Media time, ms from the period's presentation time zero.
    pub media_ms: u64,
    pub duration_ms: u32,
    /// A JSON document, at most [`MAX_PAYLOAD`] bytes.
    pub payload: Vec<u8>,
}

/// Why an event was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("room {0:?} is not live")]
    NotLive(String),
    /// The event names an ended period, or another one than the live period.
    #[error("period {got:?} is not live (the live period is {live:?})")]
    PeriodMismatch { live: String, got: String },
    /// The live period has no media timeline yet (no first segment).
    #[error("the live period has not started yet")]
    NotReady,
    #[error("event id must be 1 to 64 characters of [A-Za-z0-9_.:-]")]
    InvalidId,
    #[error("payload is {0} bytes, more than 4096")]
    PayloadTooLarge(usize),
    #[error("payload is not JSON: {0}")]
    PayloadNotJson(String),
    #[error("event {0:?} was already added to this period")]
    Duplicate(String),
}

/// A stored event.
#[derive(Debug)]
pub struct Event {
    pub id: String,
    /// Unique within the period, from 1: the `emsg` and MPD `Event` id.
    pub emsg_id: u32,
    pub media_ms: u64,
    pub duration_ms: u32,
    /// Valid JSON (checked on entry).
    pub payload: Bytes,
    /// When it was added, for the in-stream delay.
    pub added: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    log: VecDeque<Arc<Event>>,
    ids: HashMap<String, u32>,
    next: u32,
    /// Per video track id: events not yet in its stream, in arrival order.
    pending: Vec<(String, Vec<Arc<Event>>)>,
    /// add → in a chunk handed to the ring, per (event, video track).
    delays: VecDeque<(String, Duration)>,
}

/// The events of one period.
#[derive(Debug)]
pub struct PeriodEvents {
    inner: Mutex<Inner>,
    /// The last `emsg_id` added: the recorder follows it.
    added: watch::Sender<u32>,
}

impl PeriodEvents {
    /// Events for a period whose video tracks are `video` (ids); only they carry `emsg`s.
    pub fn new(video: impl IntoIterator<Item = String>) -> Self {
        let inner = Inner {
            pending: video.into_iter().map(|id| (id, Vec::new())).collect(),
            ..Inner::default()
        };
        PeriodEvents {
            inner: Mutex::new(inner),
            added: watch::channel(0).0,
        }
    }

    /// Check and store an event, queueing it for every video track.
    pub fn add(&self, ev: TimedEvent) -> Result<Arc<Event>, EventError> {
        let id_ok = (1..=MAX_ID).contains(&ev.id.len())
            && ev
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        if !id_ok {
            return Err(EventError::InvalidId);
        }
        if ev.payload.len() > MAX_PAYLOAD {
            return Err(EventError::PayloadTooLarge(ev.payload.len()));
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(&ev.payload)
            .map_err(|e| EventError::PayloadNotJson(e.to_string()))?;
        let mut g = lock(&self.inner);
        if g.ids.contains_key(&ev.id) {
            return Err(EventError::Duplicate(ev.id));
        }
        g.next += 1;
        let event = Arc::new(Event {
            emsg_id: g.next,
            id: ev.id,
            media_ms: ev.media_ms,
            duration_ms: ev.duration_ms,
            payload: Bytes::from(ev.payload),
            added: Instant::now(),
        });
        g.ids.insert(event.id.clone(), event.emsg_id);
        g.log.push_back(event.clone());
        while g.log.len() > MAX_EVENTS {
            if let Some(old) = g.log.pop_front() {
                g.ids.remove(&old.id);
            }
        }
        for (_, q) in &mut g.pending {
            q.push(event.clone());
            // Never in the stream yet (far future media time): bounded like the log.
            if q.len() > MAX_EVENTS {
                q.remove(0);
            }
        }
        let n = event.emsg_id;
        drop(g);
        self.added.send_replace(n);
        Ok(event)
    }

    /// The stored events, in the order they were added.
    pub fn list(&self) -> Vec<Arc<Event>> {
        lock(&self.inner).log.iter().cloned().collect()
    }

    /// Stored events with an `emsg_id` above `after`, in order.
    pub fn since(&self, after: u32) -> Vec<Arc<Event>> {
        let g = lock(&self.inner);
        g.log
            .iter()
            .filter(|e| e.emsg_id > after)
            .cloned()
            .collect()
    }

    /// Bumped to the newest `emsg_id` on every add.
    pub fn watch(&self) -> watch::Receiver<u32> {
        self.added.subscribe()
    }

    /// Take the events that video track `track` must carry in a chunk ending at `end_ns`
    /// (ns on the presentation timeline, i.e. from the origin): those whose media time is
    /// before the chunk's end, late ones included. Records their add → stream delay.
    pub fn take_due(&self, track: &str, end_ns: u64) -> Vec<Arc<Event>> {
        let mut g = lock(&self.inner);
        let Some((_, q)) = g.pending.iter_mut().find(|(id, _)| id == track) else {
            return Vec::new();
        };
        if q.is_empty() {
            return Vec::new();
        }
        let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(q)
            .into_iter()
            .partition(|e| u128::from(e.media_ms) * 1_000_000 < u128::from(end_ns));
        *q = rest;
        for e in &due {
            g.delays.push_back((track.to_string(), e.added.elapsed()));
        }
        while g.delays.len() > MAX_DELAYS {
            g.delays.pop_front();
        }
        due
    }

    /// Delays from [`PeriodEvents::add`] to the event's `emsg` being in a chunk handed to the
    /// ring, one per (event, video track) as (track id, delay), oldest first.
    pub fn in_stream_delays(&self) -> Vec<(String, Duration)> {
        lock(&self.inner).delays.iter().cloned().collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub fn ev(id: &str, media_ms: u64) -> TimedEvent {
        TimedEvent {
            id: id.into(),
            media_ms,
            duration_ms: 5000,
            payload: br#"{"product":"p-1"}"#.to_vec(),
        }
    }

    #[test]
    fn validates_and_numbers() {
        let e = PeriodEvents::new(["v0".to_string(), "v1".to_string()]);
        assert_eq!(e.add(ev("push-1", 100)).unwrap().emsg_id, 1);
        assert_eq!(e.add(ev("push-2", 200)).unwrap().emsg_id, 2);
        assert_eq!(
            e.add(ev("push-1", 300)).unwrap_err(),
            EventError::Duplicate("push-1".into())
        );
        for bad in ["", "a b", "a\"b", "é", &"x".repeat(65)] {
            assert_eq!(
                e.add(ev(bad, 1)).unwrap_err(),
                EventError::InvalidId,
                "{bad}"
            );
        }
        let mut big = ev("big", 1);
        big.payload = format!("\"{}\"", "x".repeat(MAX_PAYLOAD)).into_bytes();
        assert!(matches!(
            e.add(big).unwrap_err(),
            EventError::PayloadTooLarge(_)
        ));
        let mut junk = ev("junk", 1);
        junk.payload = b"{not json".to_vec();
        assert!(matches!(
            e.add(junk).unwrap_err(),
            EventError::PayloadNotJson(_)
        ));
        assert_eq!(e.list().len(), 2);
        assert_eq!(e.since(1)[0].id, "push-2");
        assert_eq!(*e.watch().borrow(), 2);
    }

    #[test]
    fn due_per_track_by_chunk_end() {
        let e = PeriodEvents::new(["v0".to_string(), "v1".to_string()]);
        e.add(ev("a", 1_000)).unwrap();
        e.add(ev("b", 1_500)).unwrap();
        // A chunk [0.8 s, 1.0 s) does not reach 1.0 s; [1.0, 1.2) does.
        assert!(e.take_due("v0", 1_000_000_000).is_empty());
        let due = e.take_due("v0", 1_200_000_000);
        assert_eq!(due.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a"]);
        assert!(e.take_due("v0", 1_200_000_000).is_empty(), "taken once");
        // The other rung gets its own copy; a late chunk takes everything past due.
        assert_eq!(e.take_due("v1", 9_000_000_000).len(), 2);
        assert!(
            e.take_due("a0", 9_000_000_000).is_empty(),
            "audio carries none"
        );
        assert_eq!(e.take_due("v0", 1_600_000_000)[0].id, "b");
        assert_eq!(e.in_stream_delays().len(), 4);
    }

    #[test]
    fn bounded() {
        let e = PeriodEvents::new(Vec::<String>::new());
        for i in 0..MAX_EVENTS + 5 {
            e.add(ev(&format!("e{i}"), i as u64)).unwrap();
        }
        let l = e.list();
        assert_eq!(l.len(), MAX_EVENTS);
        assert_eq!(l[0].id, "e5");
    }
}
