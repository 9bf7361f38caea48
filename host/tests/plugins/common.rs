//! Shared helpers: locating built plugins, one engine per meter, rooms and events.

use livecart::catalog::{Catalog, MemoryCatalog};
use livecart::plugin::bindings::{Action, Event};
use livecart::plugin::kv::{KvBackend, MemoryKv};
use livecart::plugin::model::{EventBody, EventRecord};
use livecart::plugin::{
    CallReport, CpuMeter, EngineConfig, PluginEngine, PluginSlot, RoomEnv, SharedRoom,
};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The workspace's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The bytes of a built plugin component.
pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = target_dir().join("plugins").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Build the plugins first: ./scripts/test.sh does, or \
             `cargo run -p livecart -- plugin build plugins/*`",
            path.display()
        )
    })
}

/// A source file from the repository (sample configs and events).
pub fn repo_file(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config(meter: CpuMeter) -> EngineConfig {
    let mut c = EngineConfig::new(meter);
    c.instance_slots = 32;
    // Precompiled plugins are shared by every test binary and run.
    c.cache_dir = Some(target_dir().join("plugin-cache"));
    c
}

/// An epoch-metered engine with a CPU budget no debug-build test comes near, so that only
/// the test about the CPU limit depends on time.
pub fn epoch_engine() -> &'static PluginEngine {
    static E: OnceLock<PluginEngine> = OnceLock::new();
    E.get_or_init(|| {
        let mut c = config(CpuMeter::Epoch);
        c.limits.cpu_ms_per_batch = 10_000;
        PluginEngine::new(c).expect("engine")
    })
}

/// The server's engine exactly as configured by default (20 ms per batch).
pub fn default_engine() -> &'static PluginEngine {
    static E: OnceLock<PluginEngine> = OnceLock::new();
    E.get_or_init(|| PluginEngine::new(config(CpuMeter::Epoch)).expect("engine"))
}

/// The runner's engine (fuel-metered).
pub fn fuel_engine() -> &'static PluginEngine {
    static E: OnceLock<PluginEngine> = OnceLock::new();
    E.get_or_init(|| PluginEngine::new(config(CpuMeter::Fuel)).expect("engine"))
}

/// A room environment with its own in-memory KV backend and catalog.
pub fn room_env(room: &str, kv: Arc<dyn KvBackend>, catalog: Arc<dyn Catalog>) -> RoomEnv {
    RoomEnv {
        seeds: Default::default(),
        room_id: room.into(),
        room: Arc::new(SharedRoom::new(room)),
        catalog,
        kv,
    }
}

/// A slot running `name` with `config` in a fresh room.
pub fn slot(engine: &PluginEngine, name: &str, config: &str) -> PluginSlot {
    slot_with(engine, name, config, Arc::new(MemoryKv::default()))
}

/// A slot with a given KV backend.
pub fn slot_with(
    engine: &PluginEngine,
    name: &str,
    config: &str,
    kv: Arc<dyn KvBackend>,
) -> PluginSlot {
    let plugin = engine.load(&plugin_bytes(name)).expect("plugin loads");
    let env = room_env("room-1", kv, Arc::new(MemoryCatalog::default()));
    PluginSlot::new(engine, plugin, config, env).expect("slot")
}

/// An event in the contract's shape, from its JSON body.
pub fn ev(id: u64, time_ms: u64, body: EventBody) -> Event {
    EventRecord {
        seed: None,
        id,
        room: "room-1".into(),
        time_ms,
        media_ms: Some(id * 1000),
        body,
    }
    .to_wit()
}

pub fn comment(id: u64, time_ms: u64, text: &str) -> Event {
    ev(
        id,
        time_ms,
        EventBody::Comment {
            comment_id: format!("c{id}"),
            user_id: "u1".into(),
            user_name: "Ann".into(),
            text: text.into(),
        },
    )
}

/// Viewer `u1` called `name` joins, the room's first.
pub fn joined(id: u64, name: &str) -> Event {
    ev(
        id,
        5,
        EventBody::ViewerJoined {
            user_id: "u1".into(),
            user_name: name.into(),
            online: 1,
        },
    )
}

pub fn likes(id: u64, delta: u32, total: u64) -> Event {
    ev(id, 1_000 * id, EventBody::Likes { delta, total })
}

/// The actions of a report, as JSON values (for readable assertions).
pub fn actions(report: &CallReport) -> Vec<serde_json::Value> {
    report
        .actions
        .iter()
        .cloned()
        .map(|a: Action| {
            serde_json::to_value(livecart::plugin::model::ActionRecord::from(a)).expect("json")
        })
        .collect()
}

/// Run one event through a slot made with `engine` and require success.
pub fn ok(engine: &PluginEngine, slot: &mut PluginSlot, event: Event) -> Vec<serde_json::Value> {
    let report = slot.handle(engine, &[event]);
    assert!(
        report.fault.is_none(),
        "unexpected fault: {:?}",
        report.fault
    );
    actions(&report)
}
