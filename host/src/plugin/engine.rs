//! The wasmtime engine for plugins: configuration, the compile cache, instantiation and the
//! metered call into a guest.
//!
//! One [`PluginEngine`] serves a whole process. It compiles each plugin version once —
//! keyed by the SHA-256 of its bytes, in memory and optionally on disk as a precompiled
//! artifact — and keeps an `InstancePre` so a fresh instance costs microseconds. Instances
//! come from a pooling allocator. CPU is metered by epoch interruption in the server and by
//! fuel in the local runner (which reports instruction counts).

use super::bindings::{self, Event, Guest, GuestPre, Manifest};
use super::compile::{CompileBudgetError, CompileSlots, CompileWorker};
use super::gate::Grants;
use super::host::HostState;
use super::limits::Limits;
use super::warm::WarmCache;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

/// How plugin CPU is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuMeter {
    /// Epoch interruption: a background tick, a deadline per batch. For the server.
    Epoch,
    /// Fuel: exact instruction counts, for the local runner.
    Fuel,
    /// No CPU bound. Only for measuring the meters' overhead; never for untrusted code.
    Unmetered,
}

impl CpuMeter {
    /// Whether CPU is counted in fuel (instructions).
    pub fn is_fuel(self) -> bool {
        self == CpuMeter::Fuel
    }

    /// The meter's name on the compile worker's command line.
    pub fn name(self) -> &'static str {
        match self {
            CpuMeter::Epoch => "epoch",
            CpuMeter::Fuel => "fuel",
            CpuMeter::Unmetered => "unmetered",
        }
    }

    /// The meter a name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "epoch" => Some(CpuMeter::Epoch),
            "fuel" => Some(CpuMeter::Fuel),
            "unmetered" => Some(CpuMeter::Unmetered),
            _ => None,
        }
    }
}

/// The wasmtime settings that decide what compiled code looks like. The server's engine
/// and the compile worker's are both built from this, so the worker's artifacts load.
fn wasmtime_config(meter: CpuMeter) -> wasmtime::Config {
    let mut wasm = wasmtime::Config::new();
    wasm.wasm_component_model(true);
    match meter {
        CpuMeter::Epoch => {
            wasm.epoch_interruption(true);
        }
        CpuMeter::Fuel => {
            wasm.consume_fuel(true);
        }
        CpuMeter::Unmetered => {}
    }
    wasm
}

/// The compile worker's engine: the same code settings, one compiler thread, no pool.
pub fn worker_engine(meter: CpuMeter) -> Result<Engine, EngineError> {
    let mut wasm = wasmtime_config(meter);
    wasm.parallel_compilation(false);
    Ok(Engine::new(&wasm)?)
}

/// How often the epoch advances. A CPU budget is enforced to within one tick; 5 ms keeps
/// the ticker's own cost near 0.5 % of a core.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub meter: CpuMeter,
    pub limits: Limits,
    /// Concurrent instances the pool has room for. Warm instances are kept to all but an
    /// eighth of it (the rest is for cold starts and uploads), and evicted least recently
    /// used beyond that or beyond `warm_budget_bytes`.
    pub instance_slots: u32,
    /// Linear memory (plus a fixed overhead each) the warm instances may hold together.
    pub warm_budget_bytes: usize,
    /// Where precompiled plugins are cached across restarts (`None`: memory only).
    pub cache_dir: Option<PathBuf>,
    /// Compile uploads in this child process under the compile budget (`None`: in this
    /// process, with only the static limits; for tests and trusted local use).
    pub compile_worker: Option<CompileWorker>,
}

impl EngineConfig {
    /// Settings for `meter` with default limits and a small pool.
    pub fn new(meter: CpuMeter) -> Self {
        EngineConfig {
            meter,
            limits: Limits::default(),
            instance_slots: 64,
            warm_budget_bytes: 1 << 30,
            cache_dir: None,
            compile_worker: None,
        }
    }
}

/// A plugin version, compiled and ready to instantiate.
pub struct CompiledPlugin {
    /// SHA-256 of the `.wasm` bytes, hex: the version's identity.
    pub hash: String,
    /// Size of the `.wasm` in bytes.
    pub size: usize,
    /// What the static code check measured.
    pub code: super::precheck::CodeStats,
    pub manifest: Manifest,
    pub grants: Grants,
    /// Subscribed event kinds, as a bit set over `EventKind`.
    pub subscriptions: u16,
    pub(crate) pre: GuestPre<HostState>,
}

impl CompiledPlugin {
    /// Whether this plugin subscribed to the event's kind.
    pub fn wants(&self, event: &Event) -> bool {
        self.subscriptions & (1 << bindings::event_kind(&event.body) as u16) != 0
    }
}

impl std::fmt::Debug for CompiledPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPlugin")
            .field("name", &self.manifest.name)
            .field("hash", &self.hash)
            .finish()
    }
}

/// A live instance: its store and typed handle.
pub struct Warm {
    pub(crate) store: Store<HostState>,
    pub(crate) bindings: Guest,
}

/// The process-wide plugin engine.
pub struct PluginEngine {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) config: EngineConfig,
    compiled: Mutex<HashMap<String, Arc<CompiledPlugin>>>,
    compile_slots: CompileSlots,
    warm: Arc<WarmCache>,
    _ticker: Option<EpochTicker>,
}

/// Why an engine could not be built or a component compiled.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("wasmtime: {0:#}")]
    Wasmtime(#[from] wasmtime::Error),
}

/// Why compiling an upload failed.
#[derive(Debug)]
pub(crate) enum CompileError {
    /// wasmtime refused the code.
    Wasmtime(wasmtime::Error),
    /// The compile budget was hit, or the worker failed.
    Budget(CompileBudgetError),
}

impl PluginEngine {
    /// Build an engine: wasmtime config, pooling allocator, WASI (deny-all) and contract
    /// imports linked, epoch ticker started when metering by epoch.
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        let mut wasm = wasmtime_config(config.meter);
        let slots = config.instance_slots.max(1);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 8)
            .max_core_instances_per_component(16)
            .max_memories_per_component(2)
            .max_tables_per_component(8)
            // The limiter refuses growth past `memory_bytes` first, with a clear error;
            // the pool's own bound is a backstop.
            .max_memory_size(config.limits.memory_bytes.saturating_add(1 << 16));
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        super::host::deny_blocking(&mut linker)?;
        super::random::route_wasi_random(&mut linker)?;
        bindings::add_to_linker(&mut linker, |s| s)?;

        let ticker = (config.meter == CpuMeter::Epoch).then(|| EpochTicker::start(&engine));
        // Compiles run on at most half the cores, so the server keeps the rest.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let warm = Arc::new(WarmCache::new(
            (slots - slots / 8) as usize,
            config.warm_budget_bytes,
        ));
        Ok(PluginEngine {
            engine,
            linker,
            config,
            compiled: Mutex::new(HashMap::new()),
            compile_slots: CompileSlots::new(cores / 2),
            warm,
            _ticker: ticker,
        })
    }

    /// The cache of warm instances.
    pub fn warm_cache(&self) -> &Arc<WarmCache> {
        &self.warm
    }

    /// The engine's limits.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// The CPU meter in use.
    pub fn meter(&self) -> CpuMeter {
        self.config.meter
    }

    /// A compiled plugin already known to this engine, by content hash.
    pub fn cached(&self, hash: &str) -> Option<Arc<CompiledPlugin>> {
        self.compiled.lock().ok()?.get(hash).cloned()
    }

    pub(crate) fn remember(&self, plugin: Arc<CompiledPlugin>) {
        if let Ok(mut map) = self.compiled.lock() {
            map.insert(plugin.hash.clone(), plugin);
        }
    }

    /// Compile `bytes`, reusing the on-disk precompiled artifact when there is one. With a
    /// compile worker configured the compile runs in it, under the compile budget.
    pub(crate) fn compile(&self, hash: &str, bytes: &[u8]) -> Result<Component, CompileError> {
        let path = self
            .config
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{hash}-{:016x}.cwasm", self.compat_hash())));
        if let Some(path) = path.as_ref().filter(|p| p.exists()) {
            match load_precompiled(&self.engine, path) {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring bad plugin cache entry: {e:#}")
                }
            }
        }
        tracing::info!(hash, size = bytes.len(), "compiling plugin");
        let started = std::time::Instant::now();
        let (component, artifact) = match &self.config.compile_worker {
            Some(worker) => {
                let artifact = worker
                    .compile(
                        &self.compile_slots,
                        self.config.meter.name(),
                        bytes,
                        &self.config.limits.code,
                    )
                    .map_err(CompileError::Budget)?;
                let component = deserialize_artifact(&self.engine, &artifact).map_err(|e| {
                    CompileError::Budget(CompileBudgetError::Worker(format!(
                        "its artifact does not load: {e:#}"
                    )))
                })?;
                (component, Some(artifact))
            }
            None => {
                let component =
                    Component::new(&self.engine, bytes).map_err(CompileError::Wasmtime)?;
                (component, None)
            }
        };
        tracing::info!(
            hash,
            ms = started.elapsed().as_millis() as u64,
            "plugin compiled"
        );
        if let Some(path) = path {
            let artifact = match artifact {
                Some(a) => Ok(a),
                None => component.serialize(),
            };
            match artifact {
                Ok(artifact) => store_artifact(&path, &artifact),
                Err(e) => tracing::warn!(hash, "could not serialize compiled plugin: {e:#}"),
            }
        }
        Ok(component)
    }

    /// A hash of everything that makes precompiled code compatible with this engine.
    fn compat_hash(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        h.finish()
    }

    /// Create a fresh instance holding `state`. On failure the state comes back, so the
    /// plugin's KV space is never lost with a failed instance.
    pub(crate) fn instantiate(
        &self,
        plugin: &CompiledPlugin,
        state: HostState,
    ) -> Result<Warm, (wasmtime::Error, Box<HostState>)> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        self.arm(&mut store);
        match plugin.pre.instantiate(&mut store) {
            Ok(bindings) => Ok(Warm { store, bindings }),
            Err(e) => Err((e, Box::new(store.into_data()))),
        }
    }

    /// Set the CPU budget for one batch.
    pub(crate) fn arm(&self, store: &mut Store<HostState>) {
        match self.config.meter {
            CpuMeter::Epoch => {
                let ticks = self
                    .config
                    .limits
                    .cpu_ms_per_batch
                    .div_ceil(EPOCH_TICK.as_millis() as u64)
                    .max(1);
                store.set_epoch_deadline(ticks);
            }
            CpuMeter::Fuel => {
                // Setting fuel only fails when fuel is disabled, which `Fuel` rules out.
                let _ = store.set_fuel(self.config.limits.fuel_per_batch);
            }
            CpuMeter::Unmetered => {}
        }
    }

    /// Instructions used since the last [`PluginEngine::arm`], when metering by fuel.
    pub(crate) fn fuel_used(&self, store: &Store<HostState>) -> Option<u64> {
        match self.config.meter {
            CpuMeter::Fuel => store
                .get_fuel()
                .ok()
                .map(|left| self.config.limits.fuel_per_batch.saturating_sub(left)),
            _ => None,
        }
    }
}

/// Write a precompiled artifact into the cache, atomically.
fn store_artifact(path: &std::path::Path, artifact: &[u8]) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let stored = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&tmp, artifact))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = stored {
        tracing::warn!(path = %path.display(), "could not cache compiled plugin: {e}");
    }
}

/// Load an artifact the compile worker just produced.
#[allow(unsafe_code)]
fn deserialize_artifact(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime trusts precompiled code. This artifact was written by our own
    // binary (`plugin compile-worker`) from the uploaded component: the same code an
    // in-process compile would produce, and wasmtime checks the header and engine settings.
    unsafe { Component::deserialize(engine, artifact) }
}

/// Read a precompiled artifact written by [`PluginEngine::compile`].
#[allow(unsafe_code)]
fn load_precompiled(engine: &Engine, path: &std::path::Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime trusts precompiled code, so this must only read files livecart wrote.
    // The cache directory belongs to the host; entries are named by the SHA-256 of the
    // source and the engine's compatibility hash, and wasmtime checks the header and engine
    // settings before use. Anyone who can write there can already run code as the host.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        EpochTicker { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
