//! Live rooms: the WebSocket protocol, fan-out, commerce actions and plugins in rooms.
//!
//! - [`protocol`]: the versioned JSON messages (docs/protocol.md);
//! - [`outbox`]: a connection's bounded queue with priorities and coalescing;
//! - [`hub`]: one room's state, ordered encode-once fan-out, history for resume;
//! - [`bus`]: how published messages reach every hub of a room, numbered by the bus;
//! - [`conn`]: one connection's life, generic over any message sink and stream;
//! - [`commands`]: what each client message does, with its role check;
//! - [`commerce`]: claims, purchases, pushes and moderation on behalf of a connection;
//! - [`plugins`]: the room's plugin worker and how plugin actions are applied;
//! - [`ws`] and [`longpoll`]: the two transports, both running `conn::serve`;
//! - [`presence`]: when a joined long-poll session counts as online.
//!
//! [`Rooms`] owns the open rooms and starts each room's background tasks (like/online
//! flush, plugin worker) the first time someone joins.

pub mod audience;
pub mod bus;
pub mod commands;
pub mod commerce;
pub mod conn;
pub mod guests;
pub mod hub;
pub mod longpoll;
pub mod outbox;
pub mod plugins;
pub mod presence;
pub mod protocol;
pub mod timeline;
pub mod ws;

use crate::ai::AiProvider;
use crate::auth::TokenKey;
use crate::plugin::PluginEngine;
use crate::plugin::model::EventBody;
use crate::plugin::registry::Registry;
use crate::store::{CommitQueue, Store};
use bus::RoomBus;
use hub::{HistoryLimits, RoomHub};
use outbox::OutboxLimits;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Limits and timings for rooms and connections.
#[derive(Clone, Debug)]
pub struct RoomConfig {
    pub history: HistoryLimits,
    pub outbox: OutboxLimits,
    /// Largest client frame accepted, bytes.
    pub max_frame: usize,
    /// Longest comment, characters.
    pub max_comment_chars: usize,
    /// Client messages per second (sustained) and burst.
    pub msgs_per_sec: u32,
    pub msgs_burst: u32,
    /// Refused messages within `violation_window` after which a connection is closed.
    pub max_violations: u32,
    pub violation_window: Duration,
    /// Most taps one `like` message may carry.
    pub max_like_batch: u32,
    /// How often likes and online counts are flushed.
    pub flush_every: Duration,
    /// Time allowed for `hello` and `join`.
    pub handshake_timeout: Duration,
    /// How often every connection gets a server ping (with server time).
    pub ping_every: Duration,
    /// A long-poll session nobody polled for this long is closed.
    pub poll_idle: Duration,
    /// A long-poll session counts as online while polled and for this long after the
    /// last poll ended (see `presence`).
    pub poll_grace: Duration,
    /// Guests' claims and buys per device and per network (`guests.rs`).
    pub guests: guests::GuestLimits,
    /// Proxies (load balancers) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            history: HistoryLimits::default(),
            outbox: OutboxLimits::default(),
            max_frame: 4096,
            max_comment_chars: 500,
            msgs_per_sec: 20,
            msgs_burst: 40,
            max_violations: 50,
            violation_window: Duration::from_secs(60),
            max_like_batch: 1000,
            flush_every: Duration::from_millis(500),
            handshake_timeout: Duration::from_secs(10),
            ping_every: Duration::from_secs(25),
            poll_idle: Duration::from_secs(60),
            poll_grace: Duration::from_secs(5),
            guests: guests::GuestLimits::default(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Everything rooms need from the rest of the host.
#[derive(Clone)]
pub struct RoomDeps {
    pub store: Arc<dyn Store>,
    pub engine: Arc<PluginEngine>,
    pub registry: Arc<Registry>,
    /// An external AI provider; `None` answers from each merchant's own catalog.
    pub ai: Option<Arc<dyn AiProvider>>,
    pub tokens: TokenKey,
    pub config: RoomConfig,
    /// Where each room's live video is: stamps commerce and plugin events with media time.
    pub media: Arc<dyn timeline::MediaTimeline>,
}

/// Why a room could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("unknown room `{0}`")]
    Unknown(String),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// An open room: its hub and the handles of its background tasks.
pub struct OpenRoom {
    pub hub: Arc<RoomHub>,
    pub plugins: plugins::PluginHandle,
    _subscription: livecart_bus::Subscription,
    /// The room's plugin lease: this node runs the room's plugins while it holds it;
    /// taken away (given up) when the node drains.
    lease: Mutex<Option<livecart_bus::Subscription>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for OpenRoom {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The open rooms.
pub struct Rooms {
    pub deps: Arc<RoomDeps>,
    /// Every room's coupon claims and flash-sale buys, committed in batches.
    pub(crate) commits: CommitQueue,
    /// Guests' claims and buys on this node, per device and network.
    pub(crate) guests: guests::GuestThrottle,
    bus: Arc<RoomBus>,
    open: Mutex<HashMap<String, Arc<OpenRoom>>>,
    /// Set once when the node starts draining (SIGTERM): every connection is told to
    /// reconnect elsewhere and closed, and `/readyz` answers 503.
    draining: tokio::sync::watch::Sender<bool>,
}

impl Rooms {
    /// Rooms on one node, with the in-process bus.
    pub fn new(deps: RoomDeps) -> Self {
        Rooms::with_bus(deps, Arc::new(RoomBus::in_process()))
    }

    /// Rooms whose messages travel through `bus`.
    pub fn with_bus(deps: RoomDeps, bus: Arc<RoomBus>) -> Self {
        Rooms {
            commits: CommitQueue::new(deps.store.clone()),
            guests: guests::GuestThrottle::new(deps.config.guests),
            deps: Arc::new(deps),
            bus,
            open: Mutex::new(HashMap::new()),
            draining: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Start draining the node: every joined connection gets a `reconnect` frame and a
    /// 1001 close. Returns false if it was already draining.
    pub fn begin_drain(&self) -> bool {
        !self.draining.send_replace(true)
    }

    /// The room bus (for what other layers share across nodes: where media is).
    pub fn bus(&self) -> &Arc<RoomBus> {
        &self.bus
    }

    /// Give up every room's plugin lease, so other nodes take the plugins over now
    /// rather than when the leases expire (the end of a drain).
    pub fn release_leases(&self) {
        let open: Vec<_> = self.lock().values().cloned().collect();
        for room in open {
            drop(room.lease.lock().unwrap_or_else(|p| p.into_inner()).take());
        }
    }

    /// Whether the node is draining.
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Resolves once the node drains (at once if it already is).
    pub(crate) fn drained(&self) -> impl std::future::Future<Output = ()> + use<> {
        let mut rx = self.draining.subscribe();
        async move {
            let _ = rx.wait_for(|d| *d).await;
        }
    }

    /// The room, opened (with its tasks started) on first use. Must be called inside a
    /// tokio runtime.
    pub fn open(&self, room_id: &str) -> Result<Arc<OpenRoom>, RoomError> {
        if let Some(r) = self.lock().get(room_id) {
            return Ok(r.clone());
        }
        let record = self
            .deps
            .store
            .room(room_id)?
            .ok_or_else(|| RoomError::Unknown(room_id.to_owned()))?;
        let mut open = self.lock();
        if let Some(r) = open.get(room_id) {
            return Ok(r.clone());
        }
        let hub = Arc::new(RoomHub::new(
            &record.id,
            &record.merchant_id,
            &record.title,
            record.status == crate::store::RoomStatus::Live,
            self.deps.config.history,
            self.bus.clone(),
            self.deps.media.clone(),
        ));
        let subscription = self.bus.subscribe(room_id, Arc::downgrade(&hub));
        let (plugins, worker) = plugins::start(self.deps.clone(), hub.clone(), self.bus.clone());
        let lease = plugins.compete();
        let flusher = tokio::spawn(flush_loop(
            Arc::downgrade(&hub),
            plugins.clone(),
            self.deps.store.clone(),
            self.deps.config.flush_every,
        ));
        let room = Arc::new(OpenRoom {
            hub,
            plugins,
            _subscription: subscription,
            lease: Mutex::new(Some(lease)),
            tasks: vec![worker, flusher],
        });
        open.insert(room_id.to_owned(), room.clone());
        Ok(room)
    }

    /// Record a room's broadcast status and tell the room: its snapshots' `live`, and the
    /// plugins' stream-started/stopped events. Writes the store: call off the async
    /// threads (inside the runtime, e.g. `spawn_blocking`).
    pub fn set_status(
        &self,
        room_id: &str,
        status: crate::store::RoomStatus,
    ) -> Result<crate::store::Room, RoomError> {
        // Opened first: a room opened after the write would already think it is live.
        let open = self.open(room_id)?;
        let room = self.deps.store.set_room_status(room_id, status)?;
        let live = status == crate::store::RoomStatus::Live;
        if open.hub.is_live() != live {
            open.hub.set_live(live);
            open.plugins.event(if live {
                EventBody::StreamStarted {}
            } else {
                EventBody::StreamStopped {}
            });
        }
        Ok(room)
    }

    /// Open rooms and their connections, for `/metrics`.
    pub fn figures(&self) -> crate::metrics::RoomFigures {
        let open: Vec<_> = self.lock().values().cloned().collect();
        let mut f = crate::metrics::RoomFigures {
            open_rooms: open.len() as u64,
            ..Default::default()
        };
        for room in open {
            f.online += u64::from(room.hub.online());
            f.subscribers += u64::from(room.hub.subscribers());
            f.plugin_leases += u64::from(room.plugins.holds_lease());
        }
        f
    }

    /// The room if it is open.
    pub fn get(&self, room_id: &str) -> Option<Arc<OpenRoom>> {
        self.lock().get(room_id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<OpenRoom>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Flush likes, online counts and flash-sale stock every `every`; hand like deltas to the
/// plugins; meter the audience (`audience.rs`).
async fn flush_loop(
    hub: std::sync::Weak<RoomHub>,
    plugins: plugins::PluginHandle,
    store: Arc<dyn Store>,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut meter = audience::Meter::new(every);
    loop {
        tick.tick().await;
        let Some(hub) = hub.upgrade() else {
            return;
        };
        if let Some((delta, total)) = hub.flush_state() {
            plugins.likes(delta, total);
        }
        let reports = meter.sample(crate::store::now_ms(), hub.local_online());
        if !reports.is_empty() {
            let (store, room) = (store.clone(), hub.id.clone());
            tokio::task::spawn_blocking(move || {
                for r in reports {
                    let node = audience::node_id();
                    let written =
                        store.record_audience(&room, node, r.minute_ms, r.viewer_ms, r.peak);
                    if let Err(e) = written {
                        tracing::warn!(room = %room, "could not record the audience: {e}");
                    }
                }
            });
        }
        let changed = hub.take_stock_changes();
        if !changed.is_empty() {
            let store = store.clone();
            let sales = tokio::task::spawn_blocking(move || {
                changed
                    .iter()
                    .filter_map(|id| store.flash_sale(id).ok().flatten())
                    .filter_map(|sale| serde_json::to_value(sale).ok())
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            for sale in sales {
                hub.publish_stock(sale);
            }
        }
    }
}
