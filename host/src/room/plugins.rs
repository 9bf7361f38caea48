//! The room's plugin worker: room events in, plugin actions applied.
//!
//! Connections hand events to a bounded channel and never wait: if the worker falls behind
//! (a slow plugin) events for plugins are dropped and counted, while chat and likes keep
//! flowing. The worker drains the channel into batches, runs them on a blocking thread
//! (`RoomPlugins::dispatch`, where every action passes the capability gate), records
//! faults, and applies the surviving actions: cards, coupons, messages, moderation, flash
//! sales, timers and AI questions, whose answers come back as events for the plugin that
//! asked.

use super::RoomDeps;
use super::commerce::{self, new_id};
use super::hub::RoomHub;
use super::outbox::Class;
use super::protocol::{CommentView, Moderation, ServerMsg, UserRef};
use crate::ai::{AiProvider, AiRequest, RetrievalAnswerer};
use crate::auth::Role;
use crate::plugin::bindings::{Action, RoomSnapshot};
use crate::plugin::model::{EventBody, EventRecord};
use crate::plugin::{CallReport, Fault, RoomEnv, RoomPlugins, RoomView};
use crate::store::{NewFlashSale, StoreCatalog};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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
}

/// The sending side of a room's plugin worker.
#[derive(Clone)]
pub struct PluginHandle {
    room_id: Arc<str>,
    tx: mpsc::Sender<Input>,
    next_id: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
    clock: Arc<dyn super::timeline::MediaTimeline>,
}

impl PluginHandle {
    fn record(&self, body: EventBody) -> EventRecord {
        EventRecord {
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

    /// Hand a room event to the plugins.
    pub fn event(&self, body: EventBody) {
        let record = self.record(body);
        self.send(Input::Event(record));
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
        self.send(Input::Reload);
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
pub fn start(deps: Arc<RoomDeps>, hub: Arc<RoomHub>) -> (PluginHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let handle = PluginHandle {
        room_id: hub.id.as_str().into(),
        tx,
        next_id: Arc::new(AtomicU64::new(1)),
        dropped: Arc::new(AtomicU64::new(0)),
        clock: deps.media.clone(),
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
        let mut plugins = self.load().await;
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
                match input {
                    Input::Event(e) => broadcast.push(e.to_wit()),
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
            tracing::info!(plugin = %report.plugin, level = line.level, "plugin log: {}", line.message);
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
                store
                    .claim_coupon(&c.coupon_id, &c.user_id, &key, crate::store::now_ms())
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Action::SystemMessage(text) => {
                hub.publish(Class::Critical, None, |o| ServerMsg::System { o, text });
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
                };
                hub.publish(Class::Critical, None, |o| ServerMsg::Comment { o, comment });
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
                    },
                )?;
            }
            Action::SetTimer(t) => {
                let handle = self.handle.clone();
                let (name, plugin_name) = (t.name.clone(), plugin.to_owned());
                let task = tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(u64::from(t.delay_ms)))
                        .await;
                    handle.deliver(&plugin_name, EventBody::TimerFired { name });
                });
                if let Some(old) = self.timers.insert((plugin.to_owned(), t.name), task) {
                    old.abort();
                }
            }
            Action::CancelTimer(name) => {
                if let Some(old) = self.timers.remove(&(plugin.to_owned(), name)) {
                    old.abort();
                }
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
