//! The room's plugin worker: room events in, plugin actions applied.
//!
//! Connections hand events to a bounded channel and never wait: if the worker falls behind
//! (a slow plugin) events for plugins are dropped and counted, while chat and likes keep
//! flowing. The worker drains the channel into batches, runs them on a blocking thread
//! (`RoomPlugins::dispatch`, where every action passes the capability gate), records
//! faults, and applies the surviving actions: cards, coupons, messages, moderation, flash
//! sales, timers and AI questions, whose answers come back as events for the plugin that
//! asked.
//!
//! A room's plugins run on one node at a time: the holder of the room's lease on the bus.
//! Every other node forwards its plugin inputs (events, reloads) to the holder over the
//! bus; the holder feeds them to its worker with its own. On taking the lease a worker
//! loads the room's plugins from the store (bindings, KV state) and re-arms the timers
//! they had armed, which are kept in the store too; on losing it, it drops them.

use super::RoomDeps;
use super::bus::RoomBus;
use super::commerce::{self, new_id};
use super::hub::RoomHub;
use super::outbox::Class;
use super::protocol::{CommentView, Moderation, ServerMsg, UserRef};
use crate::ai::{AiProvider, AiRequest, RetrievalAnswerer};
use crate::auth::Role;
use crate::plugin::bindings::{Action, RoomSnapshot};
use crate::plugin::model::{EventBody, EventRecord};
use crate::plugin::{CallReport, Fault, RoomEnv, RoomPlugins, RoomView};
use crate::store::{ClaimRequest, NewFlashSale, OfferedIn, StoreCatalog, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Events waiting for the worker before new ones are dropped.
const QUEUE: usize = 4096;
/// Events per batch.
const BATCH: usize = 256;

enum Input {
    Event(EventRecord),
    /// An event for one plugin only (timer, AI reply).
    Deliver(String, EventRecord),
    /// The registry changed: rebuild the room's plugins.
    Reload,
    /// This node took (`true`) or lost the room's lease.
    Lease(bool),
}

/// What a node without the lease sends the holder.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Forwarded {
    Event { record: EventRecord },
    Reload,
}

/// Timers a plugin armed are kept in the store's plugin KV under this suffix of the
/// plugin's name (plugin names cannot hold `#`), keyed by timer name, with the Unix
/// millisecond they fire at: a node that takes the room's lease re-arms them.
const TIMERS_SPACE: &str = "#timers";

/// The sending side of a room's plugin worker.
#[derive(Clone)]
pub struct PluginHandle {
    room_id: Arc<str>,
    tx: mpsc::Sender<Input>,
    next_id: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
    clock: Arc<dyn super::timeline::MediaTimeline>,
    /// This node holds the room's lease: its worker runs the plugins.
    held: Arc<AtomicBool>,
    bus: Arc<RoomBus>,
}

impl PluginHandle {
    fn record(&self, body: EventBody) -> EventRecord {
        EventRecord {
            seed: None,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            room: self.room_id.to_string(),
            time_ms: crate::store::now_ms(),
            media_ms: self.clock.now(&self.room_id).map(|m| m.ms),
            body,
        }
    }

    fn send(&self, input: Input) {
        if self.tx.try_send(input).is_err() {
            // Never block the caller (a connection or the fan-out) on plugins.
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hand a room event to the plugins, on whichever node runs them.
    pub fn event(&self, body: EventBody) {
        let record = self.record(body);
        if self.held.load(Ordering::Acquire) {
            self.send(Input::Event(record));
        } else {
            self.forward(&Forwarded::Event { record });
        }
    }

    fn forward(&self, input: &Forwarded) {
        match serde_json::to_vec(input) {
            Ok(bytes) => self.bus.forward(&self.room_id, bytes.into()),
            Err(e) => tracing::error!(room = %self.room_id, error = %e, "plugin input not encoded"),
        }
    }

    /// A forwarded input from another node (only the lease holder acts on it).
    fn forwarded(&self, payload: &[u8]) {
        match serde_json::from_slice::<Forwarded>(payload) {
            Ok(Forwarded::Event { mut record }) => {
                // Ids are per node: renumber, so the worker's are unique.
                record.id = self.next_id.fetch_add(1, Ordering::Relaxed);
                self.send(Input::Event(record));
            }
            Ok(Forwarded::Reload) => self.send(Input::Reload),
            Err(e) => tracing::warn!(room = %self.room_id, error = %e, "undecodable plugin input"),
        }
    }

    /// Whether this node runs the room's plugins now.
    pub fn holds_lease(&self) -> bool {
        self.held.load(Ordering::Acquire)
    }

    /// Take part in the election of the node that runs the room's plugins; dropping the
    /// subscription gives the lease up.
    pub fn compete(&self) -> livecart_bus::Subscription {
        let handle = self.clone();
        self.bus.lease(
            &self.room_id,
            Arc::new(move |held| {
                handle.held.store(held, Ordering::Release);
                // Must reach the worker: a lost `Lease` would leave it running or idle.
                let tx = handle.tx.clone();
                if let Err(mpsc::error::TrySendError::Full(input)) = tx.try_send(Input::Lease(held))
                    && let Ok(rt) = tokio::runtime::Handle::try_current()
                {
                    rt.spawn(async move { tx.send(input).await });
                }
            }),
        )
    }

    /// Aggregated likes.
    pub fn likes(&self, delta: u64, total: u64) {
        self.event(EventBody::Likes {
            delta: u32::try_from(delta).unwrap_or(u32::MAX),
            total,
        });
    }

    /// Rebuild the room's plugins from the registry (after enable, upgrade, rollback).
    pub fn reload(&self) {
        if self.held.load(Ordering::Acquire) {
            self.send(Input::Reload);
        } else {
            self.forward(&Forwarded::Reload);
        }
    }

    fn deliver(&self, plugin: &str, body: EventBody) {
        let record = self.record(body);
        self.send(Input::Deliver(plugin.to_owned(), record));
    }

    /// Events dropped because the worker was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// What plugins see of the room.
struct HubView(Weak<RoomHub>);

impl RoomView for HubView {
    fn snapshot(&self) -> RoomSnapshot {
        match self.0.upgrade() {
            Some(hub) => RoomSnapshot {
                room_id: hub.id.clone(),
                live: hub.is_live(),
                online: hub.online(),
                likes_total: hub.likes_total(),
                pinned_product: hub.pinned_product(),
            },
            None => RoomSnapshot {
                room_id: String::new(),
                live: false,
                online: 0,
                likes_total: 0,
                pinned_product: None,
            },
        }
    }
}

/// Start the worker for `hub`.
///
/// The worker idles until the room's lease is taken: call [`PluginHandle::compete`].
pub fn start(
    deps: Arc<RoomDeps>,
    hub: Arc<RoomHub>,
    bus: Arc<RoomBus>,
) -> (PluginHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let handle = PluginHandle {
        room_id: hub.id.as_str().into(),
        tx,
        next_id: Arc::new(AtomicU64::new(1)),
        dropped: Arc::new(AtomicU64::new(0)),
        clock: deps.media.clone(),
        held: Arc::new(AtomicBool::new(false)),
        bus,
    };
    let catalog = Arc::new(StoreCatalog::new(
        deps.store.clone(),
        hub.merchant_id.clone(),
    ));
    let ai: Arc<dyn AiProvider> = match &deps.ai {
        Some(ai) => ai.clone(),
        None => Arc::new(RetrievalAnswerer::new(catalog.clone())),
    };
    let worker = Worker {
        env: RoomEnv {
            seeds: Default::default(),
            room_id: hub.id.clone(),
            room: Arc::new(HubView(Arc::downgrade(&hub))),
            catalog,
            kv: deps.store.clone(),
        },
        ai,
        deps,
        hub: Arc::downgrade(&hub),
        handle: handle.clone(),
        timers: HashMap::new(),
        timer_changes: Vec::new(),
        forwarded: None,
    };
    (handle, tokio::spawn(worker.run(rx)))
}

struct Worker {
    deps: Arc<RoomDeps>,
    ai: Arc<dyn AiProvider>,
    hub: Weak<RoomHub>,
    env: RoomEnv,
    handle: PluginHandle,
    timers: HashMap<(String, String), JoinHandle<()>>,
    /// Timers armed or cancelled by the last applied actions, to write to the store.
    timer_changes: Vec<(String, String, Option<u64>)>,
    /// While holding the lease: what other nodes forward.
    forwarded: Option<livecart_bus::Subscription>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        for t in self.timers.values() {
            t.abort();
        }
    }
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Input>) {
        let mut plugins = RoomPlugins::new(self.env.clone());
        while let Some(first) = rx.recv().await {
            let mut inputs = vec![first];
            while inputs.len() < BATCH {
                match rx.try_recv() {
                    Ok(i) => inputs.push(i),
                    Err(_) => break,
                }
            }
            let mut broadcast = Vec::new();
            for input in inputs {
                let holding = self.forwarded.is_some();
                match input {
                    Input::Lease(true) if !holding => {
                        let handle = self.handle.clone();
                        self.forwarded = Some(self.handle.bus.subscribe_forwarded(
                            &self.env.room_id,
                            Arc::new(move |payload| handle.forwarded(&payload)),
                        ));
                        plugins = self.load().await;
                        self.rearm(&plugins).await;
                    }
                    Input::Lease(false) if holding => {
                        drop(
                            self.run_batch(plugins, None, std::mem::take(&mut broadcast))
                                .await,
                        );
                        self.forwarded = None;
                        // The timers stay in the store for the next holder.
                        for (_, t) in self.timers.drain() {
                            t.abort();
                        }
                        plugins = RoomPlugins::new(self.env.clone());
                    }
                    Input::Lease(_) => {}
                    // Another node runs the plugins now (or not yet here).
                    Input::Event(_) | Input::Reload | Input::Deliver(..) if !holding => {}
                    Input::Event(mut e) => {
                        // A forwarded like count carries its node's view of the total:
                        // the holder's may be newer (every node's announced counters).
                        if let (EventBody::Likes { total, .. }, Some(hub)) =
                            (&mut e.body, self.hub.upgrade())
                        {
                            *total = (*total).max(hub.likes_total());
                        }
                        broadcast.push(e.to_wit());
                    }
                    Input::Reload => {
                        // Events before the reload go to the plugins that were enabled.
                        drop(
                            self.run_batch(plugins, None, std::mem::take(&mut broadcast))
                                .await,
                        );
                        plugins = self.load().await;
                    }
                    Input::Deliver(name, e) => {
                        if let EventBody::TimerFired { name: timer } = &e.body {
                            // A fired timer is no longer armed: forget its task.
                            self.timers.remove(&(name.clone(), timer.clone()));
                            self.keep_timer(&name, timer, None).await;
                        }
                        plugins = self
                            .run_batch(plugins, None, std::mem::take(&mut broadcast))
                            .await;
                        plugins = self.run_batch(plugins, Some(name), vec![e.to_wit()]).await;
                    }
                }
            }
            plugins = self.run_batch(plugins, None, broadcast).await;
        }
    }

    async fn load(&self) -> RoomPlugins {
        let (deps, env) = (self.deps.clone(), self.env.clone());
        let loaded =
            tokio::task::spawn_blocking(move || deps.registry.load_room(&deps.engine, env)).await;
        match loaded {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                tracing::error!(room = %self.env.room_id, "loading plugins failed: {e}");
                RoomPlugins::new(self.env.clone())
            }
            Err(e) => {
                tracing::error!(room = %self.env.room_id, "plugin loader panicked: {e}");
                RoomPlugins::new(self.env.clone())
            }
        }
    }

    async fn run_batch(
        &mut self,
        mut plugins: RoomPlugins,
        only: Option<String>,
        events: Vec<crate::plugin::bindings::Event>,
    ) -> RoomPlugins {
        if events.is_empty() || plugins.slots().is_empty() {
            return plugins;
        }
        let deps = self.deps.clone();
        let result = tokio::task::spawn_blocking(move || {
            let reports = match &only {
                Some(name) => plugins.deliver(&deps.engine, name, &events),
                None => plugins.dispatch(&deps.engine, &events),
            };
            (plugins, reports)
        })
        .await;
        let (plugins, reports) = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(room = %self.env.room_id, "plugin dispatch panicked: {e}");
                return RoomPlugins::new(self.env.clone());
            }
        };
        for report in reports {
            self.absorb(report).await;
        }
        plugins
    }

    async fn absorb(&mut self, report: CallReport) {
        for line in &report.logs {
            tracing::info!(plugin = %report.plugin, room = %self.env.room_id, level = line.level, source = line.source.name(), "plugin log: {}", line.message);
        }
        if !report.logs.is_empty() {
            // Kept for the merchant (`GET /api/rooms/{room}/plugins/{name}/logs`).
            let (registry, room) = (self.deps.registry.clone(), self.env.room_id.clone());
            let (name, hash) = (report.plugin.to_string(), report.version.to_string());
            let lines = report.logs.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = registry.record_logs(&room, &name, &hash, &lines) {
                    tracing::warn!(room, plugin = name, "keeping plugin log lines failed: {e}");
                }
            })
            .await;
        }
        if let Some(fault) = &report.fault {
            let (registry, room) = (self.deps.registry.clone(), self.env.room_id.clone());
            let (name, hash, fault, disabled) = (
                report.plugin.to_string(),
                report.version.to_string(),
                fault.clone(),
                report.disabled,
            );
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = registry.record_fault(&room, &name, &hash, &fault, disabled) {
                    tracing::error!("recording a plugin fault failed: {e}");
                }
            })
            .await;
            return;
        }
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        let mut refused = Vec::new();
        for action in report.actions {
            if let Err(e) = self.apply(&hub, &report.plugin, action) {
                tracing::warn!(plugin = %report.plugin, room = %hub.id, "plugin action not applied: {e}");
                refused.push(Fault::Action(e.to_string()));
            }
        }
        for (plugin, timer, due) in std::mem::take(&mut self.timer_changes) {
            self.keep_timer(&plugin, &timer, due).await;
        }
        if !refused.is_empty() {
            // In the plugin's fault log, where its merchant looks; never disables it.
            let (registry, room) = (self.deps.registry.clone(), self.env.room_id.clone());
            let (name, hash) = (report.plugin.to_string(), report.version.to_string());
            let _ = tokio::task::spawn_blocking(move || {
                for fault in &refused {
                    if let Err(e) = registry.record_fault(&room, &name, &hash, fault, false) {
                        tracing::error!("recording a plugin fault failed: {e}");
                    }
                }
            })
            .await;
        }
    }

    /// Fire `timer` of `plugin` in `delay_ms`, replacing one of the same name.
    fn arm(&mut self, plugin: &str, timer: &str, delay_ms: u64) {
        let handle = self.handle.clone();
        let (name, plugin_name) = (timer.to_owned(), plugin.to_owned());
        let task = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            handle.deliver(&plugin_name, EventBody::TimerFired { name });
        });
        if let Some(old) = self
            .timers
            .insert((plugin.to_owned(), timer.to_owned()), task)
        {
            old.abort();
        }
    }

    /// Record an armed timer's due time (`None`: no longer armed) for the next holder.
    async fn keep_timer(&self, plugin: &str, timer: &str, due: Option<u64>) {
        let (store, room) = (self.deps.store.clone(), self.env.room_id.clone());
        let space = format!("{plugin}{TIMERS_SPACE}");
        let change = vec![(timer.to_owned(), due.map(|d| d.to_be_bytes().to_vec()))];
        let kept = tokio::task::spawn_blocking(move || store.apply(&space, &room, &change)).await;
        if !matches!(kept, Ok(Ok(()))) {
            tracing::warn!(room = %self.env.room_id, plugin, timer, "timer not kept in the store: it will not survive a move to another node");
        }
    }

    /// Re-arm the timers the room's plugins had armed (on this node or another).
    async fn rearm(&mut self, plugins: &RoomPlugins) {
        let names: Vec<String> = plugins
            .slots()
            .iter()
            .map(|s| s.name().to_owned())
            .collect();
        let (store, room) = (self.deps.store.clone(), self.env.room_id.clone());
        let loaded = tokio::task::spawn_blocking(move || {
            names
                .into_iter()
                .map(|name| {
                    let timers = store.load(&format!("{name}{TIMERS_SPACE}"), &room);
                    (name, timers)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let now = crate::store::now_ms();
        for (plugin, timers) in loaded {
            let Ok(timers) = timers else {
                tracing::warn!(room = %self.env.room_id, plugin, "armed timers not loaded");
                continue;
            };
            for (timer, due) in timers {
                let Ok(due) = <[u8; 8]>::try_from(due.as_slice()) else {
                    continue;
                };
                let delay = u64::from_be_bytes(due).saturating_sub(now);
                self.arm(&plugin, &timer, delay);
            }
        }
    }

    fn apply(&mut self, hub: &Arc<RoomHub>, plugin: &str, action: Action) -> anyhow::Result<()> {
        let store = &*self.deps.store;
        let source = format!("plugin:{plugin}");
        match action {
            Action::PushProduct(p) => {
                // No product-pushed event for plugin pushes: a plugin reacting to pushes
                // must not be able to loop on its own.
                commerce::push_card(store, hub, &p.product_id, p.style, p.duration_ms, &source)?;
            }
            Action::UnlockCoupon(id) => commerce::unlock_coupon(store, hub, &id)?,
            Action::IssueCoupon(c) => {
                let key = format!("{source}:{}", new_id("issue"));
                // An issue, so a locked coupon (a lottery prize) can be given; and only
                // one of this room's merchant, offered in this room.
                let request = ClaimRequest {
                    offered_in: Some(OfferedIn {
                        merchant_id: hub.merchant_id.to_string(),
                        room_id: hub.id.to_string(),
                    }),
                    ..ClaimRequest::new(&c.coupon_id, &c.user_id, &key, crate::store::now_ms())
                }
                .issue();
                store
                    .claim_coupons(std::slice::from_ref(&request))
                    .pop()
                    .unwrap_or_else(|| Err(StoreError::Commit("no result".into()).into()))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Action::SystemMessage(text) => {
                hub.system_line(text);
            }
            Action::Reply(r) => {
                let comment = CommentView {
                    id: new_id("c"),
                    user: UserRef {
                        id: source.clone(),
                        name: plugin.to_owned(),
                        role: Role::Host,
                    },
                    text: r.text,
                    ts: crate::store::now_ms(),
                    reply_to: Some(r.comment_id),
                    kind: None,
                };
                hub.reply(comment);
            }
            Action::PinComment(comment_id) => {
                hub.publish(Class::Critical, None, |o| ServerMsg::Moderation {
                    o,
                    action: Moderation::Pin { comment_id },
                });
            }
            Action::HideComment(comment_id) => hub.hide_comment(comment_id),
            Action::StartFlashSale(f) => {
                let now = crate::store::now_ms();
                commerce::start_flash_sale(
                    store,
                    hub,
                    NewFlashSale {
                        room_id: hub.id.clone(),
                        product_id: f.product_id,
                        price_cents: f.price_cents,
                        stock: f.stock,
                        per_user_limit: f.per_user_limit.max(1),
                        starts_ms: now,
                        ends_ms: now + u64::from(f.duration_ms),
                        signed_in_only: false,
                        // A product with SKUs: every SKU with its stock (a plugin's
                        // `stock` must then be 0 or their sum).
                        skus: Vec::new(),
                    },
                )?;
            }
            Action::SetTimer(t) => {
                let due = crate::store::now_ms() + u64::from(t.delay_ms);
                self.arm(plugin, &t.name, u64::from(t.delay_ms));
                self.timer_changes
                    .push((plugin.to_owned(), t.name, Some(due)));
            }
            Action::CancelTimer(name) => {
                if let Some(old) = self.timers.remove(&(plugin.to_owned(), name.clone())) {
                    old.abort();
                }
                self.timer_changes.push((plugin.to_owned(), name, None));
            }
            Action::AskAi(a) => {
                let (ai, handle, plugin) =
                    (self.ai.clone(), self.handle.clone(), plugin.to_owned());
                tokio::spawn(async move {
                    let req = AiRequest {
                        prompt: a.prompt,
                        context: a.context,
                        product_id: a.product_id,
                    };
                    let (answer, error) = match ai.answer(&req).await {
                        Ok(text) => (Some(text), None),
                        Err(e) => (None, Some(e.to_string())),
                    };
                    handle.deliver(
                        &plugin,
                        EventBody::AiReply {
                            request_id: a.request_id,
                            answer,
                            error,
                        },
                    );
                });
            }
            Action::Metric(m) => {
                tracing::info!(room = %hub.id, plugin, metric = %m.name, value = m.value, "plugin metric");
            }
        }
        Ok(())
    }
}
