//! Per-instance host state and the host side of the contract's imports.
//!
//! Each import follows the same three steps: the capability gate checks the grant, the
//! call is bounded, then it is answered from the instance's [`HostState`]. WASI is linked
//! with everything denied (see [`deny_all_wasi`]): no files, sockets, environment or wall
//! clock, and stdout/stderr go to the plugin log.

use super::bindings::{Capability, catalog, config, kv, log, random, room};
use super::bindings::{FaqEntry, KvError, LogLevel, Product, RoomSnapshot};
use super::env::RoomEnv;
use super::gate::{self, Grants, HostCall};
use super::kv::KvSpace;
use super::limits::MemoryLimiter;
use super::logsink::{LogSink, LogSource, LogStream, level_name};
use super::random::BatchRandom;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The most products one `catalog.list-products` call returns.
const MAX_LIST: usize = 100;

/// Everything one plugin instance's store holds.
pub struct HostState {
    pub(crate) grants: Grants,
    pub(crate) config: Arc<str>,
    pub(crate) env: RoomEnv,
    pub(crate) kv: KvSpace,
    pub(crate) log: Arc<Mutex<LogSink>>,
    pub(crate) limiter: MemoryLimiter,
    /// The batch's seeds and WASI random stream (`random.rs`).
    pub(crate) random: BatchRandom,
    /// Built on the first WASI call: most plugins (wasm32-unknown-unknown) never make one,
    /// and building it is a good part of a cold start.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
}

impl HostState {
    pub fn new(
        grants: Grants,
        config: Arc<str>,
        env: RoomEnv,
        kv: KvSpace,
        limits: &super::Limits,
    ) -> Self {
        let log = Arc::new(Mutex::new(LogSink::new(
            limits.max_log_lines_per_call,
            limits.max_log_bytes_per_call,
        )));
        let random = BatchRandom::new(env.seeds.clone(), grants.has(Capability::Random));
        HostState {
            grants,
            config,
            env,
            kv,
            wasi: None,
            log,
            limiter: MemoryLimiter::new(limits.memory_bytes),
            random,
            table: ResourceTable::new(),
        }
    }
}

/// A WASI context that grants nothing.
///
/// Threat model: a wasip2 guest links all of WASI, but here stdin is closed, there are no
/// preopened directories, no environment or arguments, sockets and name lookup are denied
/// (wasmtime-wasi's defaults, restated), and both clocks are frozen at zero, so a plugin
/// cannot read the time except through its events. Random numbers come from the batch's
/// seeds, never the operating system (`random.rs`). It can still write to stdout/stderr,
/// which land in its bounded log.
fn deny_all_wasi(log: &Arc<Mutex<LogSink>>) -> WasiCtx {
    WasiCtx::builder()
        .stdout(LogStream {
            sink: log.clone(),
            source: LogSource::Stdout,
        })
        .stderr(LogStream {
            sink: log.clone(),
            source: LogSource::Stderr,
        })
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .insecure_random_seed(super::random::INSECURE_SEED)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
        .build()
}

/// The WASI version whose interfaces `wasmtime-wasi` links (guests importing an older
/// 0.2.x are matched to it by semver).
const WASI_CLOCKS: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// A plugin asked the host to wait: sleeping or arming a clock. Traps the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "blocking is not allowed: the plugin called `{0}` (e.g. std::thread::sleep); plugins must return at once and use timers to wait"
)]
pub struct BlockingCall(pub &'static str);

/// Replace the clock subscriptions of WASI with calls that trap.
///
/// Threat model: `wasi:io/poll.poll` blocks the calling thread until a pollable is ready,
/// and epoch interruption cannot stop a guest inside a host call, so a plugin calling
/// `std::thread::sleep` (a u64 of nanoseconds) held its room's plugin worker for as long
/// as it liked. In the deny-all context every other pollable is ready at once (stdin is
/// closed, stdout and stderr are the log, no sockets can be made), so the only pollables
/// that wait are clock subscriptions: creating one traps. A guest can still poll ready
/// pollables, which returns at once.
pub(crate) fn deny_blocking<T: 'static>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi::p2::DynPollable;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(WASI_CLOCKS)?;
    clock.func_wrap(
        "subscribe-duration",
        |_, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            Err(BlockingCall("wasi:clocks/monotonic-clock.subscribe-duration").into())
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |_, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            Err(BlockingCall("wasi:clocks/monotonic-clock.subscribe-instant").into())
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A clock stuck at zero: plugins get time only from their events.
struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let log = &self.log;
        WasiCtxView {
            ctx: self.wasi.get_or_insert_with(|| deny_all_wasi(log)),
            table: &mut self.table,
        }
    }
}

impl super::bindings::types::Host for HostState {}

impl random::Host for HostState {
    fn seed(&mut self, event_id: u64) -> wasmtime::Result<Option<u64>> {
        gate::check_call(self.grants, HostCall::Random)?;
        Ok(self.random.seed(event_id))
    }
}

impl log::Host for HostState {
    fn write(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        if let Ok(mut sink) = self.log.lock() {
            sink.push(level_name(level), LogSource::Log, &message);
        }
        Ok(())
    }
}

impl config::Host for HostState {
    fn get(&mut self) -> wasmtime::Result<String> {
        Ok(self.config.to_string())
    }
}

impl kv::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        gate::check_call(self.grants, HostCall::Kv)?;
        Ok(self.kv.get(&key).map(<[u8]>::to_vec))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), KvError>> {
        gate::check_call(self.grants, HostCall::Kv)?;
        Ok(self
            .kv
            .put(&key, Some(&value))
            .map_err(|e| KvError::QuotaExceeded(e.0)))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), KvError>> {
        gate::check_call(self.grants, HostCall::Kv)?;
        Ok(self
            .kv
            .put(&key, None)
            .map_err(|e| KvError::QuotaExceeded(e.0)))
    }

    fn compare_and_set(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> wasmtime::Result<Result<bool, KvError>> {
        gate::check_call(self.grants, HostCall::Kv)?;
        if self.kv.get(&key) != expected.as_deref() {
            return Ok(Ok(false));
        }
        Ok(self
            .kv
            .put(&key, new.as_deref())
            .map(|()| true)
            .map_err(|e| KvError::QuotaExceeded(e.0)))
    }
}

impl room::Host for HostState {
    fn snapshot(&mut self) -> wasmtime::Result<RoomSnapshot> {
        gate::check_call(self.grants, HostCall::RoomSnapshot)?;
        Ok(self.env.room.snapshot())
    }
}

impl catalog::Host for HostState {
    fn get(&mut self, product_id: String) -> wasmtime::Result<Option<Product>> {
        gate::check_call(self.grants, HostCall::Catalog)?;
        Ok(self.env.catalog.get(&product_id).map(to_wit_product))
    }

    fn list_products(&mut self, limit: u32) -> wasmtime::Result<Vec<Product>> {
        gate::check_call(self.grants, HostCall::Catalog)?;
        let limit = usize::try_from(limit).unwrap_or(MAX_LIST).min(MAX_LIST);
        Ok(self
            .env
            .catalog
            .list(limit)
            .into_iter()
            .map(to_wit_product)
            .collect())
    }
}

/// A catalog product in the contract's shape.
pub fn to_wit_product(p: crate::catalog::Product) -> Product {
    Product {
        id: p.id,
        title: p.title,
        price_cents: p.price_cents,
        currency: p.currency,
        image_url: p.image_url,
        buy_url: p.buy_url,
        stock: p.stock,
        description: p.description,
        faq: p
            .faq
            .into_iter()
            .map(|f| FaqEntry {
                question: f.question,
                answer: f.answer,
            })
            .collect(),
        specs: p.specs,
    }
}
