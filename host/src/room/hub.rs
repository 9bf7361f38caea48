//! One live room: its state, its subscribers, and ordered, encode-once fan-out.
//!
//! Published messages travel through the room bus (`bus.rs`) and come back to
//! [`RoomHub::deliver`], which encodes each once and pushes it to every subscriber's outbox
//! while the room's lock is held, so all connections see frames in offset order. Frames
//! worth replaying (comments, cards, coupons, sales, system and moderation messages) get an
//! offset and go into a history bounded by age and count; a client that reconnects with
//! the history's epoch and an offset still inside it gets exactly what it missed, anyone
//! else a snapshot.
//! Like totals and online counts are state: coalesced, flushed at most twice a second.
//! Flash-sale stock is coalesced on the same beat, but sent as commerce frames (in history,
//! never dropped), so a storm of buys costs one frame per flush, not one per buy.

use super::bus::{Effect, Published, RoomBus};
use super::outbox::{Class, Frame, Outbox, StateSlot};
use super::presence::Presence;
use super::protocol::{
    CardView, CommentView, Moderation, Resume, ServerMsg, Snapshot, UserRef, encode,
};
use super::timeline::{InBandEvent, MediaTime, MediaTimeline};
use crate::auth::Role;
use aho_corasick::AhoCorasick;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long and how much history a room keeps for resume.
#[derive(Clone, Copy, Debug)]
pub struct HistoryLimits {
    pub max_age: Duration,
    pub max_frames: usize,
    /// Comments in a snapshot.
    pub snapshot_comments: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits {
            max_age: Duration::from_secs(120),
            max_frames: 10_000,
            snapshot_comments: 50,
        }
    }
}

/// Commerce state that lives in the store, read when a snapshot is built.
pub trait CommerceState: Send + Sync {
    fn coupons(&self, room: &str) -> Vec<serde_json::Value>;
    /// Every sale running at `now_ms`, in start order (several may overlap).
    fn flash_sales(&self, room: &str, now_ms: u64) -> Vec<serde_json::Value>;
    /// The room's product bag, as viewers get it ([`super::commerce::bag_view`]).
    fn bag(&self, room: &str) -> Vec<serde_json::Value>;
}

struct Entry {
    offset: u64,
    at: Instant,
    frame: Arc<Frame>,
}

struct State {
    title: String,
    live: bool,
    /// The last offset delivered (or the bus's floor before any): what a snapshot covers.
    last: u64,
    /// Every frame after `floor` is in `history`; what came before may be gone.
    floor: u64,
    /// The bus has delivered what it retained (see [`RoomHub::ready`]).
    ready: bool,
    history: VecDeque<Entry>,
    comments: VecDeque<CommentView>,
    pinned: Option<CardView>,
    subscribers: HashMap<u64, Arc<Outbox>>,
    /// Subscribers that count as online only while polled (long-poll sessions).
    polled: HashMap<u64, Arc<Presence>>,
    online_dirty: bool,
    /// The online count last flushed.
    online_sent: u32,
    /// Flash sales whose stock changed since the last flush.
    stock_dirty: BTreeSet<String>,
    muted: HashSet<String>,
    blocked_words: Vec<String>,
    blocked: Option<AhoCorasick>,
    /// The other nodes' counters for this room (cluster bus): likes and online, and when
    /// each last spoke.
    remote: HashMap<String, Remote>,
    /// The like total viewers last got.
    shown_likes: u64,
    flushes: u64,
}

struct Remote {
    likes: u64,
    online: u32,
    heard: Instant,
}

/// A node not heard from for this long no longer counts as online (its likes stay).
const REMOTE_ONLINE_TTL: Duration = Duration::from_secs(6);
/// Counters are announced when they change and every this many flushes (2 s by default).
const ANNOUNCE_EVERY: u64 = 4;

impl State {
    /// This node's connections counted online: every subscriber but the polled sessions
    /// nobody is polling (see `presence`).
    fn local_online(&self) -> u32 {
        let now = Instant::now();
        let away = self.polled.values().filter(|p| !p.is_online(now)).count();
        self.subscribers.len().saturating_sub(away) as u32
    }

    /// The room's connections across nodes.
    fn online(&self) -> u32 {
        let remote: u32 = self.remote.values().map(|r| r.online).sum();
        self.local_online().saturating_add(remote)
    }

    fn remote_likes(&self) -> u64 {
        self.remote.values().map(|r| r.likes).sum()
    }
}

/// A room's live state and subscribers.
pub struct RoomHub {
    pub id: String,
    pub merchant_id: String,
    bus: Arc<RoomBus>,
    epoch: String,
    ready_tx: tokio::sync::watch::Sender<bool>,
    limits: HistoryLimits,
    state: Mutex<State>,
    next_conn: AtomicU64,
    likes_pending: AtomicU64,
    /// Likes accepted on this node.
    likes_total: AtomicU64,
    timeline: Arc<dyn MediaTimeline>,
}

/// What a joining or lagging connection needs first.
pub enum CatchUp {
    /// Frames after the client's offset, from history.
    Replay(Vec<Arc<Frame>>),
    /// The current state; the frame's `offset` is the last one it covers.
    Snapshot(Arc<Frame>),
}

impl RoomHub {
    pub fn new(
        id: &str,
        merchant_id: &str,
        title: &str,
        live: bool,
        limits: HistoryLimits,
        bus: Arc<RoomBus>,
        timeline: Arc<dyn MediaTimeline>,
    ) -> Self {
        RoomHub {
            timeline,
            id: id.to_owned(),
            merchant_id: merchant_id.to_owned(),
            // A durable bus names the history (its offsets outlive this process); the
            // in-process one leaves it to the room.
            epoch: bus.epoch().unwrap_or_else(new_epoch),
            bus,
            ready_tx: tokio::sync::watch::channel(false).0,
            limits,
            state: Mutex::new(State {
                title: title.to_owned(),
                live,
                last: 0,
                floor: 0,
                ready: false,
                history: VecDeque::new(),
                comments: VecDeque::new(),
                pinned: None,
                subscribers: HashMap::new(),
                polled: HashMap::new(),
                online_dirty: false,
                online_sent: 0,
                stock_dirty: BTreeSet::new(),
                muted: HashSet::new(),
                blocked_words: Vec::new(),
                blocked: None,
                remote: HashMap::new(),
                shown_likes: 0,
                flushes: 0,
            }),
            next_conn: AtomicU64::new(1),
            likes_pending: AtomicU64::new(0),
            likes_total: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than losing the room, so keep serving with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the room's live video is now (see `timeline`).
    pub fn media_now(&self) -> Option<MediaTime> {
        self.timeline.now(&self.id)
    }

    /// Put an event into the room's live video stream (see `timeline`).
    pub fn add_media_event(&self, event: InBandEvent) {
        self.timeline.add_event(&self.id, event);
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Subscribe an outbox; returns its id and what it must receive first (a replay after
    /// `resume` when the history still covers it, else a snapshot).
    pub fn join(
        &self,
        outbox: Arc<Outbox>,
        resume: Option<&Resume>,
        commerce: &dyn CommerceState,
    ) -> (u64, CatchUp) {
        self.join_with(outbox, None, resume, commerce)
    }

    /// [`join`](Self::join) for a connection that counts as online only while its
    /// `presence` says so (a long-poll session); `None` counts while subscribed.
    pub fn join_with(
        &self,
        outbox: Arc<Outbox>,
        presence: Option<Arc<Presence>>,
        resume: Option<&Resume>,
        commerce: &dyn CommerceState,
    ) -> (u64, CatchUp) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        // Subscribed first, so the snapshot counts the joiner; the lock keeps any frame
        // from slipping in between.
        st.subscribers.insert(id, outbox);
        if let Some(p) = presence {
            st.polled.insert(id, p);
        }
        st.online_dirty = true;
        let catch_up = self.catch_up_locked(
            &mut st,
            resume.map(|r| (r.epoch.as_str(), r.offset)),
            commerce,
        );
        (id, catch_up)
    }

    /// Unsubscribe.
    pub fn leave(&self, id: u64) {
        let mut st = self.lock();
        st.polled.remove(&id);
        if st.subscribers.remove(&id).is_some() {
            st.online_dirty = true;
        }
    }

    /// What a connection that last saw `offset` needs to be current again.
    pub fn catch_up(&self, offset: u64, commerce: &dyn CommerceState) -> CatchUp {
        let mut st = self.lock();
        let epoch = self.epoch.clone();
        self.catch_up_locked(&mut st, Some((&epoch, offset)), commerce)
    }

    fn catch_up_locked(
        &self,
        st: &mut State,
        resume: Option<(&str, u64)>,
        commerce: &dyn CommerceState,
    ) -> CatchUp {
        self.trim(st);
        if let Some((epoch, offset)) = resume {
            // The history must hold every frame after `offset`, and `offset` must not be
            // from the future. Offsets may have gaps (a bus's sequence spans rooms), so
            // this compares with the floor, not with the oldest frame's offset.
            if epoch == self.epoch && st.floor <= offset && offset <= st.last {
                let frames = st
                    .history
                    .iter()
                    .filter(|e| e.offset > offset)
                    .map(|e| e.frame.clone())
                    .collect();
                return CatchUp::Replay(frames);
            }
        }
        CatchUp::Snapshot(self.snapshot_locked(st, commerce))
    }

    fn snapshot_locked(&self, st: &State, commerce: &dyn CommerceState) -> Arc<Frame> {
        let now = crate::store::now_ms();
        let sales = commerce.flash_sales(&self.id, now);
        let snap = Snapshot {
            room: self.id.clone(),
            title: st.title.clone(),
            live: st.live,
            epoch: self.epoch.clone(),
            offset: st.last,
            online: st.online(),
            likes: self.likes_total.load(Ordering::Relaxed) + st.remote_likes(),
            pinned: st.pinned.clone(),
            coupons: commerce.coupons(&self.id),
            // The latest-starting sale is the last of the running ones.
            flash_sale: sales.last().cloned(),
            flash_sales: sales,
            products: commerce.bag(&self.id),
            comments: st.comments.iter().cloned().collect(),
            server_ms: now,
        };
        let offset = snap.offset;
        Arc::new(Frame {
            text: encode(&ServerMsg::Snapshot(Box::new(snap))).into(),
            class: Class::Critical,
            author: None,
            // The last history offset the snapshot covers.
            offset: Some(offset),
        })
    }

    fn trim(&self, st: &mut State) {
        let now = Instant::now();
        while let Some(front) = st.history.front() {
            if st.history.len() > self.limits.max_frames
                || now.duration_since(front.at) > self.limits.max_age
            {
                if let Some(gone) = st.history.pop_front() {
                    st.floor = gone.offset;
                }
            } else {
                break;
            }
        }
    }

    /// Publish a message that is kept in history, through the room bus. `build` receives
    /// the offset (0 here; the delivering hub sets the real one).
    pub fn publish(
        &self,
        class: Class,
        author: Option<&str>,
        build: impl FnOnce(u64) -> ServerMsg,
    ) {
        self.publish_with(Effect::None, class, author, build(0));
    }

    fn publish_with(&self, effect: Effect, class: Class, author: Option<&str>, msg: ServerMsg) {
        self.bus.publish(
            &self.id,
            &Published {
                msg,
                class,
                author: author.map(Into::into),
                effect,
            },
        );
    }

    /// The bus has delivered everything it retained of the room (called by the bus):
    /// every frame after `floor` is in the history from now on.
    pub fn ready(&self, floor: u64) {
        let mut st = self.lock();
        st.floor = st.floor.max(floor);
        st.last = st.last.max(st.floor);
        st.ready = true;
        drop(st);
        self.ready_tx.send_replace(true);
    }

    /// Wait (at most `limit`) until the bus has delivered what it retained, so a joiner
    /// gets the room's history and state, not an empty room. The in-process bus is ready
    /// at once.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let mut rx = self.ready_tx.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Whether the bus has delivered what it retained.
    pub fn is_ready(&self) -> bool {
        self.lock().ready
    }

    /// Another node's counters for this room (called by the bus): shown at the next flush.
    pub fn remote_counters(&self, node: String, likes: u64, online: u32) {
        let mut st = self.lock();
        let before = st.remote.get(&node).map(|r| r.online);
        if before != Some(online) {
            st.online_dirty = true;
        }
        st.remote.insert(
            node,
            Remote {
                likes,
                online,
                heard: Instant::now(),
            },
        );
    }

    /// A message at `offset` that cannot be applied: later ones still must be newer.
    pub fn skip(&self, offset: u64) {
        let mut st = self.lock();
        st.last = st.last.max(offset);
    }

    /// Deliver a published message (called by the bus, in its order, with the room's
    /// sequence number as `offset` and the time the bus accepted it): apply its state
    /// change, encode it once, keep it in history and push it to every outbox, all under
    /// the room lock, so state and the frame announcing it are one step for joiners and
    /// every client sees frames in offset order. A message at or before the last offset
    /// (a bus redelivering) is ignored.
    pub fn deliver(&self, offset: u64, published_ms: u64, published: Published) {
        let mut st = self.lock();
        if offset <= st.last {
            return;
        }
        if !st.ready && st.history.is_empty() {
            // The first retained frame: nothing before it is known.
            st.floor = st.floor.max(offset - 1);
        }
        match published.effect {
            Effect::None => {}
            Effect::Comment(comment) => {
                st.comments.push_back(comment);
                while st.comments.len() > self.limits.snapshot_comments {
                    st.comments.pop_front();
                }
            }
            Effect::Pin(card) => st.pinned = Some(card),
            Effect::Forget(id) => st.comments.retain(|c| c.id != id),
        }
        st.last = offset;
        // Age from when the bus accepted it: frames replayed from a durable bus are as old
        // as they are, not as old as this node's copy.
        let age = Duration::from_millis(crate::store::now_ms().saturating_sub(published_ms));
        let at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        let frame = Arc::new(Frame {
            text: encode(&published.msg.with_offset(offset)).into(),
            class: published.class,
            author: published.author,
            offset: Some(offset),
        });
        st.history.push_back(Entry {
            offset,
            at,
            frame: frame.clone(),
        });
        self.trim(&mut st);
        for out in st.subscribers.values() {
            out.push(&frame);
        }
    }

    /// Broadcast a state frame (not kept in history).
    fn publish_state(st: &State, msg: &ServerMsg, slot: StateSlot) {
        let frame = Frame::new(encode(msg), Class::State(slot));
        for out in st.subscribers.values() {
            out.push(&frame);
        }
    }

    /// Publish a comment: to everyone, or only to its author when shadow-hidden.
    pub fn comment(&self, comment: CommentView, author_outbox: &Outbox, shadow: bool) {
        if shadow {
            // Only the sender sees it; it gets no offset and no place in history.
            let frame = Frame::chat(
                encode(&ServerMsg::Comment {
                    o: 0,
                    comment: comment.clone(),
                }),
                &comment.user.id,
            );
            author_outbox.push(&frame);
            return;
        }
        let author = comment.user.id.clone();
        let msg = ServerMsg::Comment {
            o: 0,
            comment: comment.clone(),
        };
        self.publish_with(Effect::Comment(comment), Class::Chat, Some(&author), msg);
    }

    /// A reply (a plugin answering a comment): never dropped, and kept among the
    /// snapshot's recent comments like the comment it answers.
    pub fn reply(&self, comment: CommentView) {
        let msg = ServerMsg::Comment {
            o: 0,
            comment: comment.clone(),
        };
        self.publish_with(Effect::Comment(comment), Class::Critical, None, msg);
    }

    /// A system line (a plugin's announcement): never dropped, and kept among the
    /// snapshot's recent comments (`kind: "system"`), so joiners see it in order.
    pub fn system_line(&self, text: String) {
        let line = CommentView {
            id: super::commerce::new_id("s"),
            user: UserRef {
                id: "system".into(),
                name: String::new(),
                role: Role::Host,
            },
            text: text.clone(),
            ts: crate::store::now_ms(),
            reply_to: None,
            kind: Some("system".into()),
        };
        let msg = ServerMsg::System {
            o: 0,
            id: line.id.clone(),
            text,
        };
        self.publish_with(Effect::Comment(line), Class::Critical, None, msg);
    }

    /// Show a product card; it stays pinned for snapshots.
    pub fn pin_card(&self, card: CardView) {
        let msg = ServerMsg::Product {
            o: 0,
            card: card.clone(),
        };
        self.publish_with(Effect::Pin(card), Class::Critical, None, msg);
    }

    /// Hide a comment for everyone (and from snapshots).
    pub fn hide_comment(&self, comment_id: String) {
        let msg = ServerMsg::Moderation {
            o: 0,
            action: Moderation::Hide {
                comment_id: comment_id.clone(),
            },
        };
        self.publish_with(Effect::Forget(comment_id), Class::Critical, None, msg);
    }

    /// Add taps; returns the pending count.
    pub fn add_likes(&self, n: u64) -> u64 {
        self.likes_pending.fetch_add(n, Ordering::Relaxed) + n
    }

    /// A flash sale's stock changed (someone bought): its state is read and announced at
    /// the next flush. A storm of buys is then one `stock` frame per flush to each viewer,
    /// and one store read, not one per buy (500 buys in a 10,000-viewer room would be 5
    /// million frames).
    pub fn stock_changed(&self, sale_id: &str) {
        self.lock().stock_dirty.insert(sale_id.to_owned());
    }

    /// The flash sales whose stock changed since the last call.
    pub fn take_stock_changes(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().stock_dirty)
            .into_iter()
            .collect()
    }

    /// Announce a flash sale's current stock: a commerce frame, kept in history and never
    /// dropped, unlike likes and counts; shown at once, not at a media time.
    pub fn publish_stock(&self, sale: serde_json::Value) {
        self.publish(Class::Critical, None, |o| ServerMsg::FlashSale {
            o,
            event: "stock".into(),
            sale,
            media_ms: None,
            period: None,
        });
    }

    /// Flush pending likes and a changed online count to everyone (called every 500 ms).
    /// Both are the room's across nodes: this node's plus what the others announced
    /// (this node announces its own here, when they change and every 2 s).
    /// Returns `(delta, total)` when likes were flushed.
    pub fn flush_state(&self) -> Option<(u64, u64)> {
        let delta = self.likes_pending.swap(0, Ordering::Relaxed);
        let local = self.likes_total.fetch_add(delta, Ordering::Relaxed) + delta;
        let mut st = self.lock();
        st.flushes += 1;
        let now = Instant::now();
        // A silent node's viewers are gone (its likes still count).
        let mut expired = false;
        for r in st.remote.values_mut() {
            if r.online > 0 && now.duration_since(r.heard) >= REMOTE_ONLINE_TTL {
                r.online = 0;
                expired = true;
            }
        }
        st.online_dirty |= expired;
        let total = local + st.remote_likes();
        if total != st.shown_likes {
            st.shown_likes = total;
            Self::publish_state(&st, &ServerMsg::Likes { total }, StateSlot::Likes);
        }
        // Polled sessions come and go without joining or leaving: compare counts too.
        let count = st.online();
        let online_changed = std::mem::take(&mut st.online_dirty) || count != st.online_sent;
        if online_changed {
            st.online_sent = count;
            Self::publish_state(&st, &ServerMsg::Online { count }, StateSlot::Online);
        }
        let announce = delta > 0 || online_changed || st.flushes.is_multiple_of(ANNOUNCE_EVERY);
        let local_online = st.local_online();
        drop(st);
        if announce {
            self.bus.publish_counters(&self.id, local, local_online);
        }
        (delta > 0).then_some((delta, total))
    }

    /// The room's like total across nodes.
    pub fn likes_total(&self) -> u64 {
        let st = self.lock();
        self.likes_total.load(Ordering::Relaxed) + st.remote_likes()
    }

    /// The room's connections counted online across nodes: every subscriber but the
    /// polled sessions nobody is polling (see `presence`), plus the other nodes' counts.
    pub fn online(&self) -> u32 {
        self.lock().online()
    }

    /// This node's connections counted online (see [`online`](Self::online)).
    pub fn local_online(&self) -> u32 {
        self.lock().local_online()
    }

    /// Every subscriber on this node, online or not.
    pub fn subscribers(&self) -> u32 {
        self.lock().subscribers.len() as u32
    }

    /// Whether the room's messages reach the other nodes now (see `RoomBus::connected`).
    pub fn bus_connected(&self) -> bool {
        self.bus.connected()
    }

    pub fn pinned_product(&self) -> Option<String> {
        self.lock().pinned.as_ref().map(|c| c.product.id.clone())
    }

    pub fn is_live(&self) -> bool {
        self.lock().live
    }

    pub fn set_live(&self, live: bool) {
        self.lock().live = live;
    }

    /// Moderation state.
    pub fn set_muted(&self, user_id: &str, muted: bool) {
        let mut st = self.lock();
        if muted {
            st.muted.insert(user_id.to_owned());
        } else {
            st.muted.remove(user_id);
        }
    }

    pub fn is_muted(&self, user_id: &str) -> bool {
        self.lock().muted.contains(user_id)
    }

    /// Add blocked words (case-insensitive); matching is one Aho-Corasick pass.
    pub fn block_words(&self, words: &[String]) {
        let mut st = self.lock();
        for w in words {
            let w = w.trim().to_lowercase();
            if !w.is_empty() && !st.blocked_words.contains(&w) {
                st.blocked_words.push(w);
            }
        }
        st.blocked = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&st.blocked_words)
            .ok();
    }

    /// Whether a comment contains a blocked word.
    pub fn is_blocked(&self, text: &str) -> bool {
        let st = self.lock();
        match &st.blocked {
            Some(ac) => ac.is_match(&text.to_lowercase()),
            None => false,
        }
    }
}

fn new_epoch() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}")
}
