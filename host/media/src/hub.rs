//! The stream hub: the only seam between ingest and packaging.
//!
//! An ingest (RTMP, RTMPS, RTSP, the demo source) first *claims* a room's publishing slot
//! with [`StreamHub::claim`] — that is where a second publisher is refused or replaces the
//! first — then, once it knows its codec parameters, *starts* a [`Session`] and sends
//! elementary-stream [`Frame`]s through its [`Publisher`]. Packaging watches the hub for new
//! sessions ([`StreamHub::watch`]) and [`Session::subscribe`]s to their frames. Dropping the
//! publisher ends the session; subscribers then see their channel close. An ingest that
//! refuses what its publisher sends (an unsupported codec, say) reports it through its lease
//! ([`PublishLease::refuse`]); packaging hears of it through [`StreamHub::refusals`] and
//! puts the reason in the room's media status.
//!
//! Frames are H.264 access units in AVC (length-prefixed) form and raw AAC frames, with
//! timestamps in nanoseconds from the session's first frame. Each session records the wall
//! clock of its media time zero, which is how media time maps to wallclock for the room.
//!
//! Delivery is bounded per subscriber: a subscriber that falls behind loses frames until the
//! next video keyframe (it is told through [`Frame::discont`]), and never slows the publisher
//! or other subscribers. The hub keeps the current GOP (from the last video keyframe), so a
//! new subscriber starts at once from a keyframe instead of waiting for the next one.

use crate::meter::{Change, IngestMeter, IngestStats, WINDOW};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};
use tokio::sync::{broadcast, mpsc, watch};

/// Frames buffered per subscriber before it starts dropping to the next keyframe.
pub const SUBSCRIBER_QUEUE: usize = 1024;
/// The GOP cache holds at most this many frames (a long-GOP source just isn't cached whole).
pub const GOP_CACHE_FRAMES: usize = 512;

/// What to do when a second publisher claims a room that is live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TakeoverPolicy {
    /// Refuse the newcomer; the live publisher keeps the room.
    #[default]
    Refuse,
    /// The newcomer replaces the live publisher, whose connection is told to stop.
    Replace,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HubError {
    #[error("room {0} already has a live publisher")]
    Busy(String),
    #[error("publishing slot was taken over by a newer publisher")]
    Replaced,
    #[error("the server is shutting down")]
    Closed,
}

/// The kind of an elementary stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    Video,
    Audio,
}

/// H.264 parameters: the `avcC` record (AVCDecoderConfigurationRecord) and the picture size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoParams {
    pub avcc: Bytes,
    pub width: u32,
    pub height: u32,
}

/// AAC parameters: the AudioSpecificConfig and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioParams {
    pub asc: Bytes,
    pub sample_rate: u32,
    pub channels: u32,
}

/// What a session carries. At least one of the two is present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    pub video: Option<VideoParams>,
    pub audio: Option<AudioParams>,
}

/// One access unit of one elementary stream.
#[derive(Clone, Debug)]
pub struct Frame {
    pub track: TrackKind,
    /// Presentation time, ns from the session's media time zero.
    pub pts: i64,
    /// Decode time, ns from the session's media time zero.
    pub dts: i64,
    /// A video sync sample (IDR). Always true for audio.
    pub keyframe: bool,
    /// Frames were lost before this one (the subscriber lagged); it is a video keyframe.
    pub discont: bool,
    pub data: Bytes,
}

/// One publish, from start to end. Packaging makes one period of it.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub room: String,
    /// Where it comes from, for logs and status: "rtmp 127.0.0.1:5123", "rtsp …", "demo".
    pub source: String,
    pub info: StreamInfo,
    /// Wall clock at media time zero.
    pub started: SystemTime,
    fanout: Mutex<Fanout>,
    ended: AtomicBool,
    /// How fast the publisher really sends (`meter.rs`).
    meter: Mutex<IngestMeter>,
}

#[derive(Debug, Default)]
struct Fanout {
    subscribers: Vec<Subscriber>,
    /// Frames since the last video keyframe (all frames, for audio-only sessions: none).
    gop: Vec<Frame>,
}

#[derive(Debug)]
struct Subscriber {
    tx: mpsc::Sender<Frame>,
    /// Dropping frames until the next video keyframe.
    lagging: bool,
}

/// A subscription to one session's frames. `recv` returns `None` when the session ends.
#[derive(Debug)]
pub struct Subscription {
    pub session: Arc<Session>,
    rx: mpsc::Receiver<Frame>,
}

impl Subscription {
    pub async fn recv(&mut self) -> Option<Frame> {
        self.rx.recv().await
    }

    /// Blocking receive, for GStreamer feeder threads (not inside a runtime).
    pub fn blocking_recv(&mut self) -> Option<Frame> {
        self.rx.blocking_recv()
    }
}

impl Session {
    /// Subscribe to the frames from now on. The first frame delivered to a new subscriber is
    /// a video keyframe when the session has video.
    pub fn subscribe(self: &Arc<Self>) -> Subscription {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        if !self.ended.load(Ordering::Acquire) {
            let mut fanout = lock(&self.fanout);
            let mut lagging = self.info.video.is_some();
            if !fanout.gop.is_empty() {
                // Replay the current GOP; it starts with a keyframe and fits the queue.
                for (i, f) in fanout.gop.iter().enumerate() {
                    let mut f = f.clone();
                    f.discont = i == 0;
                    let _ = tx.try_send(f);
                }
                lagging = false;
            }
            fanout.subscribers.push(Subscriber { tx, lagging });
        }
        Subscription {
            session: self.clone(),
            rx,
        }
    }

    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// The publisher's bitrate and speed over the last few seconds.
    pub fn ingest(&self) -> IngestStats {
        lock(&self.meter).stats()
    }

    /// Count the frame in the meter; warn once when the publisher falls behind real time.
    fn measure(&self, frame: &Frame) {
        let change = lock(&self.meter).record(frame.dts, frame.data.len(), Instant::now());
        match change {
            Change::BecameSlow(speed) => tracing::warn!(
                room = %self.room,
                session = self.id,
                source = %self.source,
                speed = format!("{speed:.2}"),
                "the publisher sends slower than real time ({:.0} % over {} s): viewers will stall; lower its bitrate or check its uplink",
                speed * 100.0,
                WINDOW.as_secs()
            ),
            Change::Recovered => {
                tracing::info!(room = %self.room, session = self.id, "the publisher is back to real time")
            }
            Change::None => {}
        }
    }

    fn deliver(&self, frame: &Frame) {
        self.measure(frame);
        let video_key = frame.track == TrackKind::Video && frame.keyframe;
        let has_video = self.info.video.is_some();
        let mut fanout = lock(&self.fanout);
        if has_video {
            if video_key {
                fanout.gop.clear();
            }
            if !fanout.gop.is_empty() || video_key {
                if fanout.gop.len() < GOP_CACHE_FRAMES {
                    fanout.gop.push(frame.clone());
                } else {
                    fanout.gop.clear();
                }
            }
        }
        fanout.subscribers.retain_mut(|sub| {
            if sub.lagging {
                // Resynchronise on a video keyframe (or on anything, for audio-only).
                if !video_key && has_video {
                    return !sub.tx.is_closed();
                }
                let mut f = frame.clone();
                f.discont = true;
                return match sub.tx.try_send(f) {
                    Ok(()) => {
                        sub.lagging = false;
                        true
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => true,
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                };
            }
            match sub.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(room = %self.room, session = self.id, "subscriber lagging; dropping to next keyframe");
                    sub.lagging = true;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        let mut fanout = lock(&self.fanout);
        fanout.subscribers.clear();
        fanout.gop.clear();
    }
}

/// The right to publish into a room, held from the publish request on.
#[derive(Debug)]
pub struct PublishLease {
    hub: Arc<HubInner>,
    room: String,
    token: u64,
    source: String,
    revoked: watch::Receiver<bool>,
}

impl PublishLease {
    pub fn room(&self) -> &str {
        &self.room
    }

    /// Resolves when a newer publisher has replaced this one.
    pub async fn revoked(&mut self) {
        while !*self.revoked.borrow_and_update() {
            if self.revoked.changed().await.is_err() {
                return;
            }
        }
    }

    pub fn is_revoked(&self) -> bool {
        *self.revoked.borrow()
    }

    /// Report that this publish is refused for `reason` (the ingest then ends it), so the
    /// room's media status can say why.
    pub fn refuse(&self, reason: &str) {
        self.hub.refused(&self.room, &self.source, reason);
    }

    /// Start the session: subscribers are told about it and frames may flow.
    pub fn start(self, info: StreamInfo) -> Result<Publisher, HubError> {
        let session = {
            let mut rooms = self.hub.lock();
            let slot = rooms.get_mut(&self.room).ok_or(HubError::Replaced)?;
            if slot.token != self.token {
                return Err(HubError::Replaced);
            }
            let session = Arc::new(Session {
                id: self.hub.next_id.fetch_add(1, Ordering::Relaxed),
                room: self.room.clone(),
                source: self.source.clone(),
                info,
                started: SystemTime::now(),
                fanout: Mutex::new(Fanout::default()),
                ended: AtomicBool::new(false),
                meter: Mutex::new(IngestMeter::default()),
            });
            slot.session = Some(session.clone());
            session
        };
        tracing::info!(room = %session.room, session = session.id, source = %session.source, "publish started");
        // Nobody watching is fine: the session still exists for `live()`.
        let _ = self.hub.watchers.send(session.clone());
        Ok(Publisher {
            lease: self,
            session,
        })
    }
}

impl Drop for PublishLease {
    fn drop(&mut self) {
        let mut rooms = self.hub.lock();
        if rooms.get(&self.room).is_some_and(|s| s.token == self.token)
            && let Some(session) = rooms.remove(&self.room).and_then(|s| s.session)
        {
            session.end();
            tracing::info!(room = %self.room, session = session.id, "publish ended");
        }
    }
}

/// Sends the frames of a started session. Dropping it ends the session.
#[derive(Debug)]
pub struct Publisher {
    lease: PublishLease,
    session: Arc<Session>,
}

impl Publisher {
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    pub fn send(&self, frame: Frame) {
        self.session.deliver(&frame);
    }

    pub fn is_revoked(&self) -> bool {
        self.lease.is_revoked()
    }

    /// See [`PublishLease::refuse`].
    pub fn refuse(&self, reason: &str) {
        self.lease.refuse(reason)
    }

    /// Resolves when a newer publisher has replaced this one.
    pub async fn revoked(&mut self) {
        self.lease.revoked().await
    }
}

/// A publish an ingest refused after claiming the room, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub room: String,
    /// The publisher, as the session's source would name it ("rtmp 1.2.3.4:5678").
    pub source: String,
    pub reason: String,
}

#[derive(Debug)]
struct Slot {
    token: u64,
    session: Option<Arc<Session>>,
    revoke: watch::Sender<bool>,
}

#[derive(Debug)]
struct HubInner {
    rooms: Mutex<HashMap<String, Slot>>,
    watchers: broadcast::Sender<Arc<Session>>,
    refusals: broadcast::Sender<Refusal>,
    next_id: AtomicU64,
    /// Set by [`StreamHub::close`]: no new publish.
    closed: AtomicBool,
}

impl HubInner {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        lock(&self.rooms)
    }

    fn refused(&self, room: &str, source: &str, reason: &str) {
        // Nobody listening (a tool without packaging) is fine.
        let _ = self.refusals.send(Refusal {
            room: room.to_owned(),
            source: source.to_owned(),
            reason: reason.to_owned(),
        });
    }
}

/// The in-process stream hub. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StreamHub {
    inner: Arc<HubInner>,
}

impl Default for StreamHub {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamHub {
    pub fn new() -> Self {
        let (watchers, _) = broadcast::channel(64);
        let (refusals, _) = broadcast::channel(64);
        StreamHub {
            inner: Arc::new(HubInner {
                rooms: Mutex::new(HashMap::new()),
                watchers,
                refusals,
                next_id: AtomicU64::new(1),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Claim a room's publishing slot for `source`.
    pub fn claim(
        &self,
        room: &str,
        source: &str,
        policy: TakeoverPolicy,
    ) -> Result<PublishLease, HubError> {
        let token = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (revoke, revoked) = watch::channel(false);
        let mut rooms = self.inner.lock();
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(HubError::Closed);
        }
        if let Some(old) = rooms.get(room) {
            match policy {
                TakeoverPolicy::Refuse => return Err(HubError::Busy(room.to_string())),
                TakeoverPolicy::Replace => {
                    tracing::info!(room, source, "publisher replaces the live one");
                    let _ = old.revoke.send(true);
                    if let Some(session) = &old.session {
                        session.end();
                    }
                }
            }
        }
        rooms.insert(
            room.to_string(),
            Slot {
                token,
                session: None,
                revoke,
            },
        );
        Ok(PublishLease {
            hub: self.inner.clone(),
            room: room.to_string(),
            token,
            source: source.to_string(),
            revoked,
        })
    }

    /// Shut the hub (a server draining): refuse every new claim, and end every session,
    /// so its subscribers see it end (packaging closes its period, recording completes)
    /// and its publisher, revoked, disconnects. Returns how many sessions were ended.
    pub fn close(&self) -> usize {
        let mut rooms = self.inner.lock();
        self.inner.closed.store(true, Ordering::Release);
        let mut ended = 0;
        for (room, slot) in rooms.drain() {
            let _ = slot.revoke.send(true);
            if let Some(session) = slot.session {
                session.end();
                ended += 1;
                tracing::info!(room, session = session.id, "publish ended: shutting down");
            }
        }
        ended
    }

    /// New sessions, as they start.
    pub fn watch(&self) -> broadcast::Receiver<Arc<Session>> {
        self.inner.watchers.subscribe()
    }

    /// Report a publish into `room` refused before it held the room (the room is busy or
    /// closed to streams), for the room's media status.
    pub fn refused(&self, room: &str, source: &str, reason: &str) {
        self.inner.refused(room, source, reason);
    }

    /// Refused publishes, as they are refused.
    pub fn refusals(&self) -> broadcast::Receiver<Refusal> {
        self.inner.refusals.subscribe()
    }

    /// The room's live session, if any.
    pub fn live(&self, room: &str) -> Option<Arc<Session>> {
        self.inner.lock().get(room).and_then(|s| s.session.clone())
    }

    /// Every live session.
    pub fn lives(&self) -> Vec<Arc<Session>> {
        self.inner
            .lock()
            .values()
            .filter_map(|s| s.session.clone())
            .filter(|s| !s.is_ended())
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> StreamInfo {
        StreamInfo {
            video: Some(VideoParams {
                avcc: Bytes::from_static(&[1, 0x42, 0, 0x1e]),
                width: 320,
                height: 180,
            }),
            audio: None,
        }
    }

    fn frame(pts: i64, keyframe: bool) -> Frame {
        Frame {
            track: TrackKind::Video,
            pts,
            dts: pts,
            keyframe,
            discont: false,
            data: Bytes::from_static(b"x"),
        }
    }

    #[tokio::test]
    async fn second_publisher_is_refused_or_replaces() {
        let hub = StreamHub::new();
        let first = hub.claim("r", "a", TakeoverPolicy::Refuse).unwrap();
        assert_eq!(
            hub.claim("r", "b", TakeoverPolicy::Refuse).unwrap_err(),
            HubError::Busy("r".into())
        );
        let mut watch = hub.watch();
        let pubr = first.start(info()).unwrap();
        let session = watch.recv().await.unwrap();
        let mut sub = session.subscribe();
        let _second = hub.claim("r", "b", TakeoverPolicy::Replace).unwrap();
        assert!(pubr.is_revoked());
        assert!(sub.recv().await.is_none(), "replaced session ends");
        drop(pubr);
        assert!(
            hub.claim("r", "c", TakeoverPolicy::Refuse).is_err(),
            "b still holds it"
        );
    }

    #[tokio::test]
    async fn a_refused_publish_is_announced_with_its_room_source_and_reason() {
        let hub = StreamHub::new();
        let mut refusals = hub.refusals();
        let lease = hub
            .claim("r", "rtmp 1.2.3.4:5", TakeoverPolicy::Refuse)
            .unwrap();
        lease.refuse("unsupported audio codec MP3");
        let publisher = hub
            .claim("q", "demo", TakeoverPolicy::Refuse)
            .unwrap()
            .start(info())
            .unwrap();
        publisher.refuse("bad SPS");
        let first = refusals.recv().await.unwrap();
        assert_eq!(
            first,
            Refusal {
                room: "r".into(),
                source: "rtmp 1.2.3.4:5".into(),
                reason: "unsupported audio codec MP3".into()
            }
        );
        assert_eq!(refusals.recv().await.unwrap().room, "q");
    }

    #[tokio::test]
    async fn a_closed_hub_ends_every_session_and_refuses_new_publishers() {
        let hub = StreamHub::new();
        let pubr = hub
            .claim("r", "a", TakeoverPolicy::Refuse)
            .unwrap()
            .start(info())
            .unwrap();
        let waiting = hub.claim("q", "b", TakeoverPolicy::Refuse).unwrap();
        let mut sub = pubr.session().subscribe();
        assert_eq!(hub.close(), 1);
        assert!(sub.recv().await.is_none(), "the session ended");
        assert!(pubr.is_revoked() && waiting.is_revoked());
        assert_eq!(
            hub.claim("r", "c", TakeoverPolicy::Replace).unwrap_err(),
            HubError::Closed
        );
        assert!(hub.live("r").is_none());
    }

    #[tokio::test]
    async fn subscribers_start_at_keyframes_and_resync_after_lag() {
        let hub = StreamHub::new();
        let pubr = hub
            .claim("r", "a", TakeoverPolicy::Refuse)
            .unwrap()
            .start(info())
            .unwrap();
        let mut sub = pubr.session().subscribe();
        pubr.send(frame(0, false));
        pubr.send(frame(1, true));
        pubr.send(frame(2, false));
        let f = sub.recv().await.unwrap();
        assert_eq!((f.pts, f.discont), (1, true));
        // A late subscriber gets the current GOP at once.
        let mut late = pubr.session().subscribe();
        let f = late.recv().await.unwrap();
        assert_eq!((f.pts, f.discont), (1, true));
        assert_eq!(late.recv().await.unwrap().pts, 2);
        assert_eq!(sub.recv().await.unwrap().pts, 2);
        drop(late);
        for i in 0..(SUBSCRIBER_QUEUE as i64 + 10) {
            pubr.send(frame(10 + i, false));
        }
        for _ in 0..SUBSCRIBER_QUEUE {
            assert!(sub.recv().await.is_some());
        }
        pubr.send(frame(50_000, false));
        pubr.send(frame(99_999, true));
        let f = sub.recv().await.unwrap();
        assert_eq!(
            (f.pts, f.discont),
            (99_999, true),
            "dropped to the next keyframe"
        );
        drop(pubr);
        assert!(sub.recv().await.is_none());
        assert!(hub.live("r").is_none());
    }
}
