//! The plugins enabled in one room, and batched dispatch of the room's events to them.
//!
//! Each plugin receives only the event kinds its manifest subscribed to, in order, in
//! batches of at most `max_batch_events`. Plugins run one after another on the caller's
//! thread; the room's fan-out must call this from a plugin worker, never inline, so a slow
//! plugin cannot delay chat or likes.

use super::bindings::Event;
use super::engine::{CompiledPlugin, PluginEngine};
use super::env::RoomEnv;
use super::slot::{CallReport, PluginSlot};
use std::sync::Arc;

/// The enabled plugins of one room.
pub struct RoomPlugins {
    env: RoomEnv,
    slots: Vec<PluginSlot>,
}

impl RoomPlugins {
    pub fn new(env: RoomEnv) -> Self {
        RoomPlugins {
            env,
            slots: Vec::new(),
        }
    }

    pub fn env(&self) -> &RoomEnv {
        &self.env
    }

    /// Enable `plugin` with `config`. If a version of the same plugin (by name) is already
    /// enabled it is replaced — an upgrade or a rollback — and its KV state carries over,
    /// because committed state lives in the room's backend, keyed by name.
    pub fn enable(
        &mut self,
        engine: &PluginEngine,
        plugin: Arc<CompiledPlugin>,
        config: &str,
    ) -> anyhow::Result<()> {
        let slot = PluginSlot::new(engine, plugin, config, self.env.clone())?;
        match self.slots.iter_mut().find(|s| s.name() == slot.name()) {
            Some(existing) => *existing = slot,
            None => self.slots.push(slot),
        }
        Ok(())
    }

    /// Remove a plugin from the room. Its KV state stays in the backend.
    pub fn disable(&mut self, name: &str) -> bool {
        let before = self.slots.len();
        self.slots.retain(|s| s.name() != name);
        self.slots.len() != before
    }

    pub fn slots(&self) -> &[PluginSlot] {
        &self.slots
    }

    pub fn slot_mut(&mut self, name: &str) -> Option<&mut PluginSlot> {
        self.slots.iter_mut().find(|s| s.name() == name)
    }

    /// Send `events` to every enabled plugin that subscribed to them.
    pub fn dispatch(&mut self, engine: &PluginEngine, events: &[Event]) -> Vec<CallReport> {
        let mut reports = Vec::new();
        for slot in &mut self.slots {
            run(slot, engine, events, &mut reports);
        }
        reports
    }

    /// Send `events` to one plugin only (timer and AI replies are addressed to the plugin
    /// that asked). Unknown names get no call.
    pub fn deliver(
        &mut self,
        engine: &PluginEngine,
        name: &str,
        events: &[Event],
    ) -> Vec<CallReport> {
        let mut reports = Vec::new();
        if let Some(slot) = self.slot_mut(name) {
            run(slot, engine, events, &mut reports);
        }
        reports
    }
}

fn run(slot: &mut PluginSlot, engine: &PluginEngine, events: &[Event], out: &mut Vec<CallReport>) {
    if slot.disabled().is_some() {
        return;
    }
    let max = engine.limits().max_batch_events.max(1);
    let plugin = slot.plugin().clone();
    if events.iter().all(|e| plugin.wants(e)) {
        for batch in events.chunks(max) {
            out.push(slot.handle(engine, batch));
        }
        return;
    }
    let wanted: Vec<Event> = events.iter().filter(|e| plugin.wants(e)).cloned().collect();
    for batch in wanted.chunks(max) {
        out.push(slot.handle(engine, batch));
    }
}
