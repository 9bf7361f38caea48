//! One plugin enabled in one room: its warm instance, its KV space and its fault record.
//!
//! A [`PluginSlot`] turns a batch of events into a [`CallReport`]. It keeps the instance
//! warm between batches, but the instance is only a cache: after a trap it is dropped and
//! the next batch gets a fresh one, while the KV space (committed state) lives on in the
//! slot. Every returned action passes the capability gate before the report carries it.
//! The slot also keeps the plugin's accounts over time (`budget.rs`): its fault rate, its
//! CPU time per window and its armed timers; exceeding one disables it in the room.

use super::bindings::{Action, Event};
use super::budget::{ArmedTimers, CpuWindow, FaultWindow};
use super::engine::{CompiledPlugin, PluginEngine};
use super::env::RoomEnv;
use super::fault::Fault;
use super::gate;
use super::host::HostState;
use super::kv::KvSpace;
use super::limits::Limits;
use super::logsink::{LogLine, LogSource};
use super::warm::{Cell, Instance, WarmCache, lock};
use serde::Serialize;
use std::sync::{Arc, Mutex};

/// What one batch did.
#[derive(Debug, Serialize)]
pub struct CallReport {
    /// Plugin name.
    pub plugin: Arc<str>,
    /// Content hash of the version that ran.
    pub version: Arc<str>,
    /// Events in the batch.
    pub events: usize,
    /// Actions that passed the gate (empty when the call faulted).
    #[serde(skip)]
    pub actions: Vec<Action>,
    pub logs: Vec<LogLine>,
    /// Log lines over the per-call bound, counted and dropped.
    pub logs_dropped: usize,
    pub fault: Option<Fault>,
    /// Set when this fault disabled the plugin for the room.
    pub disabled: bool,
    /// Instructions used (fuel meter only).
    pub fuel: Option<u64>,
    /// Peak linear memory of the instance, bytes.
    pub peak_memory: usize,
    /// Whether this batch needed a fresh instance.
    pub cold_start: bool,
    /// Wall-clock time the call took, microseconds.
    pub cpu_us: u64,
    /// The random seeds the batch used, by event id (`random.rs`).
    pub seeds: Vec<(u64, u64)>,
}

/// A plugin version enabled in a room.
pub struct PluginSlot {
    plugin: Arc<CompiledPlugin>,
    /// Name and hash, shared by every report (no per-call allocation).
    label: (Arc<str>, Arc<str>),
    config: Arc<str>,
    env: RoomEnv,
    /// The instance (a cache the engine may empty while the slot is idle) or the parked
    /// KV space.
    cell: Cell,
    /// The slot's id in the engine's warm cache.
    id: u64,
    cache: Arc<WarmCache>,
    consecutive_faults: u32,
    faults: FaultWindow,
    cpu: CpuWindow,
    timers: ArmedTimers,
    disabled: Option<Fault>,
}

impl PluginSlot {
    /// Enable `plugin` with `config` (JSON text) in the room `env` describes, loading its KV
    /// space from the room's backend.
    pub fn new(
        engine: &PluginEngine,
        plugin: Arc<CompiledPlugin>,
        config: &str,
        env: RoomEnv,
    ) -> anyhow::Result<Self> {
        let entries = env.kv.load(&plugin.manifest.name, &env.room_id)?;
        Ok(PluginSlot {
            cell: Arc::new(Mutex::new(Instance::parked(KvSpace::new(
                engine.limits().kv.clone(),
                entries,
            )))),
            id: engine.warm_cache().new_id(),
            cache: engine.warm_cache().clone(),
            label: (
                Arc::from(plugin.manifest.name.as_str()),
                Arc::from(plugin.hash.as_str()),
            ),
            plugin,
            config: Arc::from(config),
            env,
            consecutive_faults: 0,
            faults: FaultWindow::default(),
            cpu: CpuWindow::default(),
            timers: ArmedTimers::default(),
            disabled: None,
        })
    }

    pub fn plugin(&self) -> &Arc<CompiledPlugin> {
        &self.plugin
    }

    pub fn name(&self) -> &str {
        &self.plugin.manifest.name
    }

    /// Why the plugin is disabled in this room, if it is.
    pub fn disabled(&self) -> Option<&Fault> {
        self.disabled.as_ref()
    }

    pub fn consecutive_faults(&self) -> u32 {
        self.consecutive_faults
    }

    /// Faults among the recent batches (the fault rate's window).
    pub fn recent_faults(&self) -> u32 {
        self.faults.faults()
    }

    /// Timers the plugin has armed in the room.
    pub fn armed_timers(&self) -> usize {
        self.timers.len()
    }

    pub fn is_warm(&self) -> bool {
        lock(&self.cell).warm.is_some()
    }

    /// Drop the warm instance; the next batch starts a fresh one. State is kept.
    pub fn cool(&mut self) {
        let mut inst = lock(&self.cell);
        inst.cool();
        self.cache.forget(self.id, &mut inst);
    }

    /// Replace the config; the instance is dropped so the plugin re-reads it.
    pub fn set_config(&mut self, config: &str) {
        self.config = Arc::from(config);
        self.cool();
    }

    /// Run one batch through the plugin. Never panics on guest behaviour: every failure is
    /// a [`Fault`] in the report.
    pub fn handle(&mut self, engine: &PluginEngine, events: &[Event]) -> CallReport {
        let cell = self.cell.clone();
        let mut inst = lock(&cell);
        let mut report = CallReport {
            plugin: self.label.0.clone(),
            version: self.label.1.clone(),
            events: events.len(),
            actions: Vec::new(),
            logs: Vec::new(),
            logs_dropped: 0,
            fault: None,
            disabled: false,
            fuel: None,
            peak_memory: 0,
            cold_start: inst.warm.is_none(),
            cpu_us: 0,
            seeds: Vec::new(),
        };
        if let Some(reason) = &self.disabled {
            report.fault = Some(reason.clone());
            return report;
        }
        crate::metrics::PLUGIN_CALLS.inc();
        if let Err(fault) = self.warm_up(engine, &mut inst) {
            return self.fail(&mut inst, report, fault, engine.limits());
        }
        let Some(warm) = inst.warm.as_mut() else {
            let fault = Fault::Instantiate("no instance".into());
            return self.fail(&mut inst, report, fault, engine.limits());
        };
        engine.arm(&mut warm.store);
        warm.store
            .data_mut()
            .random
            .begin(events.iter().map(|e| e.id));
        let started = std::time::Instant::now();
        let result = warm.bindings.handle(&mut warm.store, events);
        report.cpu_us = started.elapsed().as_micros() as u64;
        report.fuel = engine.fuel_used(&warm.store);
        report.peak_memory = warm.store.data().limiter.peak;
        if let Ok(mut sink) = warm.store.data().log.lock() {
            (report.logs, report.logs_dropped) = sink.take();
        }
        report.seeds = warm.store.data_mut().random.finish();
        // Seeds are the audit trail of a draw: logged ahead of the plugin's own lines and
        // never dropped by the log's bounds.
        for (i, (event, seed)) in report.seeds.iter().enumerate() {
            report.logs.insert(
                i,
                LogLine {
                    level: "info",
                    source: LogSource::Host,
                    message: format!("random seed of event {event}: {seed}"),
                },
            );
        }
        let limits = engine.limits();
        self.timers.fired(events);
        let outcome = match result {
            Ok(Ok(actions)) => check_output(&self.plugin, &actions, limits)
                .and_then(|()| self.timers.check(&actions, limits))
                .map(|()| actions),
            Ok(Err(message)) => Err(Fault::Plugin(message)),
            Err(err) => {
                let fault = Fault::from_call_error(err, limits, engine.meter().is_fuel());
                // A trapped instance must not be entered again.
                inst.cool();
                self.cache.forget(self.id, &mut inst);
                Err(fault)
            }
        };
        if inst.warm.is_some() {
            self.cache
                .touch(self.id, &cell, &mut inst, report.peak_memory);
        }
        let now_ms = events.iter().map(|e| e.server_time_ms).max().unwrap_or(0);
        if let Some(over) = self.cpu.record(now_ms, report.cpu_us, limits) {
            return self.disable(&mut inst, report, over);
        }
        match outcome {
            Ok(actions) => self.succeed(&mut inst, report, actions, limits),
            Err(fault) => self.fail(&mut inst, report, fault, limits),
        }
    }

    /// Disable the plugin in the room for `fault`, dropping the batch.
    fn disable(&mut self, inst: &mut Instance, mut report: CallReport, fault: Fault) -> CallReport {
        crate::metrics::PLUGIN_FAULTS.inc(fault.kind());
        if let Some(kv) = inst.kv_mut() {
            kv.rollback();
        }
        tracing::error!(
            plugin = %self.plugin.manifest.name,
            room = %self.env.room_id,
            kind = fault.kind(),
            "plugin disabled for the room: {fault}"
        );
        self.disabled = Some(fault.clone());
        report.disabled = true;
        report.fault = Some(fault);
        inst.cool();
        self.cache.forget(self.id, inst);
        report
    }

    /// Give the slot a warm instance, making room in the engine's cache first. A full pool
    /// is the host's shortage: evict once more and retry, then report it as a host fault.
    fn warm_up(&mut self, engine: &PluginEngine, inst: &mut Instance) -> Result<(), Fault> {
        if inst.warm.is_some() {
            return Ok(());
        }
        let mut retried = false;
        loop {
            engine.warm_cache().make_room(self.id);
            let kv = match inst.parked.take() {
                Some(kv) => kv,
                None => KvSpace::new(engine.limits().kv.clone(), Vec::new()),
            };
            let state = HostState::new(
                self.plugin.grants,
                self.config.clone(),
                self.env.clone(),
                kv,
                engine.limits(),
            );
            match engine.instantiate(&self.plugin, state) {
                Ok(warm) => {
                    inst.warm = Some(warm);
                    return Ok(());
                }
                Err((err, state)) => {
                    inst.parked = Some(state.kv);
                    let full = err
                        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
                        .is_some();
                    if full && !retried {
                        retried = true;
                        engine.warm_cache().evict_oldest(self.id);
                        continue;
                    }
                    return Err(if full {
                        Fault::Host(format!("host capacity: no free plugin instance: {err}"))
                    } else {
                        match Fault::from_call_error(err, engine.limits(), false) {
                            Fault::Trap(msg) => Fault::Instantiate(msg),
                            other => other,
                        }
                    });
                }
            }
        }
    }

    fn succeed(
        &mut self,
        inst: &mut Instance,
        mut report: CallReport,
        actions: Vec<Action>,
        limits: &Limits,
    ) -> CallReport {
        let (name, room, backend) = (
            self.plugin.manifest.name.clone(),
            self.env.room_id.clone(),
            self.env.kv.clone(),
        );
        if let Some(kv) = inst.kv_mut()
            && let Err(e) = kv.commit(backend.as_ref(), &name, &room)
        {
            // The host's storage failed, not the plugin: drop the batch but do not count
            // it against the plugin.
            tracing::error!(plugin = %name, room = %room, "kv commit failed: {e:#}");
            report.fault = Some(Fault::Host(format!("storage failed: {e}")));
            return report;
        }
        self.consecutive_faults = 0;
        self.faults.record(false, limits);
        self.timers.apply(&actions);
        report.actions = actions;
        report
    }

    fn fail(
        &mut self,
        inst: &mut Instance,
        mut report: CallReport,
        fault: Fault,
        limits: &Limits,
    ) -> CallReport {
        crate::metrics::PLUGIN_FAULTS.inc(fault.kind());
        if matches!(fault, Fault::Host(_)) {
            // The host's shortage (no free instance slot, storage): the batch is dropped,
            // never counted against the plugin.
            report.fault = Some(fault);
            return report;
        }
        if let Some(kv) = inst.kv_mut() {
            kv.rollback();
        }
        self.consecutive_faults += 1;
        let recent = self.faults.record(true, limits);
        tracing::warn!(
            plugin = %self.plugin.manifest.name,
            room = %self.env.room_id,
            kind = fault.kind(),
            recent,
            "plugin fault: {fault}"
        );
        if recent >= limits.max_faults {
            tracing::error!(
                plugin = %self.plugin.manifest.name,
                room = %self.env.room_id,
                "plugin disabled for the room after {recent} faults in its last {} batches",
                limits.fault_window_batches
            );
            self.disabled = Some(fault.clone());
            report.disabled = true;
            inst.cool();
            self.cache.forget(self.id, inst);
        }
        report.fault = Some(fault);
        report
    }
}

impl Drop for PluginSlot {
    fn drop(&mut self) {
        let mut inst = lock(&self.cell);
        self.cache.forget(self.id, &mut inst);
    }
}

/// Check a call's output against the output limits and the capability gate.
fn check_output(plugin: &CompiledPlugin, actions: &[Action], limits: &Limits) -> Result<(), Fault> {
    if actions.len() > limits.max_actions_per_call {
        return Err(Fault::Output(format!(
            "{} actions returned, the limit is {}",
            actions.len(),
            limits.max_actions_per_call
        )));
    }
    let bytes: usize = actions.iter().map(action_bytes).sum();
    if bytes > limits.max_output_bytes {
        return Err(Fault::Output(format!(
            "{bytes} bytes of output, the limit is {}",
            limits.max_output_bytes
        )));
    }
    for action in actions {
        gate::check_action(plugin.grants, action).map_err(Fault::Denied)?;
    }
    Ok(())
}

/// The text an action carries, for the output bound.
fn action_bytes(action: &Action) -> usize {
    match action {
        Action::PushProduct(p) => p.product_id.len() + p.style.as_ref().map_or(0, String::len),
        Action::UnlockCoupon(s)
        | Action::SystemMessage(s)
        | Action::PinComment(s)
        | Action::HideComment(s)
        | Action::CancelTimer(s) => s.len(),
        Action::IssueCoupon(c) => c.coupon_id.len() + c.user_id.len(),
        Action::Reply(r) => r.comment_id.len() + r.text.len(),
        Action::StartFlashSale(f) => f.product_id.len(),
        Action::SetTimer(t) => t.name.len(),
        Action::AskAi(a) => {
            a.request_id.len()
                + a.prompt.len()
                + a.context.iter().map(String::len).sum::<usize>()
                + a.product_id.as_ref().map_or(0, String::len)
        }
        Action::Metric(m) => m.name.len(),
    }
}
