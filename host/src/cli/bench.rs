//! `livecart bench plugins`: dispatch latency, cold starts, meter overhead and plugin size.
//!
//! Run in release: `cargo run --release -p livecart -- bench plugins`. Prints a Markdown
//! table for BENCHMARKS.md.

use crate::catalog::MemoryCatalog;
use crate::plugin::bindings::{Comment, Event, EventBody, Likes};
use crate::plugin::kv::MemoryKv;
use crate::plugin::{CpuMeter, EngineConfig, PluginEngine, PluginSlot, RoomEnv, SharedRoom};
use anyhow::{Context, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Plugin dispatch: warm and cold calls, epoch overhead, hello size.
    Plugins {
        /// Built plugin components.
        #[arg(long, default_value = "target/plugins")]
        plugins_dir: PathBuf,
        /// Calls per warm measurement.
        #[arg(long, default_value_t = 200_000)]
        iterations: usize,
        /// Fresh instances for the cold measurement.
        #[arg(long, default_value_t = 5_000)]
        cold_iterations: usize,
    },
    /// Many rooms with the example plugins on one node: latency, rooms acting, warm cache.
    Rooms(super::bench_rooms::RoomsArgs),
    /// Compile bombs: upload → answer time through the static limits and compile worker.
    Bombs {
        /// Built plugin components (for the ordinary plugin in the same run).
        #[arg(long, default_value = "target/plugins")]
        plugins_dir: PathBuf,
    },
    /// Rooms over real WebSockets: fan-out latency, memory per connection, like storm,
    /// concurrent claims (against a `serve` child process on 127.0.0.1).
    Ws(super::bench_ws::WsArgs),
    /// Media: transcode CPU per ladder, ingest → origin latency, segment serving load
    /// (in-process hub, packager, RTMP ingest and origin; ffmpeg publishes).
    Media(super::bench_media::MediaArgs),
    /// The room bus hop: publish → receive, in-process and over NATS JetStream with
    /// several nodes, in the same run.
    Bus(super::bench_bus::BusArgs),
    /// Coupon claim storms through each node's commit queue: one node on SQLite against
    /// several nodes on one PostgreSQL database, in the same run.
    Claims(super::bench_claims::ClaimsArgs),
    /// One node for a long run: viewers chatting and liking, a claim storm every minute,
    /// plugins acting, a live stream; RSS, fds, CPU and latencies every minute (against a
    /// `serve` child process on 127.0.0.1; ffmpeg publishes).
    Soak(super::bench_soak::SoakArgs),
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Plugins {
            plugins_dir,
            iterations,
            cold_iterations,
        } => plugins(&plugins_dir, iterations, cold_iterations),
        BenchCommand::Rooms(args) => super::bench_rooms::run(args),
        BenchCommand::Bombs { plugins_dir } => super::bench_bombs::run(&plugins_dir),
        BenchCommand::Ws(args) => super::bench_ws::run(args),
        BenchCommand::Media(args) => super::bench_media::run(args),
        BenchCommand::Bus(args) => super::bench_bus::run(args),
        BenchCommand::Claims(args) => super::bench_claims::run(args),
        BenchCommand::Soak(args) => super::bench_soak::run(args),
    }
}

/// Latency percentiles of a run.
pub(super) struct Stats {
    pub p50: Duration,
    pub p99: Duration,
    pub per_sec: f64,
}

pub(super) fn measure(iterations: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..iterations.min(10_000) {
        f();
    }
    let mut samples = Vec::with_capacity(iterations);
    let start = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    let total = start.elapsed();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        per_sec: iterations as f64 / total.as_secs_f64(),
    }
}

/// Rounds per warm measurement.
const ROUNDS: usize = 5;

/// The round with the median throughput.
fn median(rounds: &[Stats]) -> Stats {
    let mut v: Vec<&Stats> = rounds.iter().collect();
    v.sort_by(|a, b| a.per_sec.total_cmp(&b.per_sec));
    let m = v[v.len() / 2];
    Stats {
        p50: m.p50,
        p99: m.p99,
        per_sec: m.per_sec,
    }
}

pub(super) fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

fn event(id: u64, body: EventBody) -> Event {
    Event {
        id,
        room_id: "bench".into(),
        server_time_ms: 1_763_700_000_000,
        media_time_ms: Some(1000),
        body,
    }
}

fn slot(engine: &PluginEngine, dir: &Path, name: &str, config: &str) -> anyhow::Result<PluginSlot> {
    let path = dir.join(format!("{name}.wasm"));
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let plugin = engine.load(&bytes)?;
    let env = RoomEnv {
        seeds: Default::default(),
        room_id: "bench".into(),
        room: Arc::new(SharedRoom::new("bench")),
        catalog: Arc::new(MemoryCatalog::default()),
        kv: Arc::new(MemoryKv::default()),
    };
    PluginSlot::new(engine, plugin, config, env)
}

const LIKE_CONFIG: &str = r#"{"thresholds":[{"likes":1000000000,"coupon":"c-far"}]}"#;
const KEYWORD_CONFIG: &str = r#"{"rules":[{"product":"sku-tee","keywords":["尺码","size","多大"]},{"product":"sku-cup","keywords":["cup","杯子"]}],"cooldown_ms":30000}"#;

/// An engine for repeating one event many times: every call has the same event time, so
/// the per-room CPU budget (500 ms per 10 s of event time) would disable a plugin slower
/// than a few µs per call (the Python and JavaScript ones) partway through.
fn bench_config(meter: CpuMeter) -> EngineConfig {
    let mut config = EngineConfig::new(meter);
    config.limits.cpu_ms_per_window = 1 << 40;
    config
}

/// Upload to first use, as `serve` does it: the compile worker (one thread, no cache),
/// then `describe` in a fresh instance; with the component's size and code.
fn compile_row(dir: &Path, name: &str) -> anyhow::Result<()> {
    let path = dir.join(format!("{name}.wasm"));
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut config = EngineConfig::new(CpuMeter::Epoch);
    config.instance_slots = 4;
    config.compile_worker = Some(crate::plugin::compile::CompileWorker::current_exe()?);
    let engine = PluginEngine::new(config)?;
    let started = Instant::now();
    let plugin = engine.load(&bytes)?;
    println!(
        "| upload → compiled and described (worker) | {name} | {:.0} ms | | {} bytes, {} of code |",
        started.elapsed().as_secs_f64() * 1e3,
        bytes.len(),
        plugin.code.code_bytes
    );
    Ok(())
}

fn plugins(dir: &Path, iterations: usize, cold_iterations: usize) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run with --release for real numbers");
    }
    let likes = event(
        1,
        EventBody::Likes(Likes {
            delta: 3,
            total: 4242,
        }),
    );
    let comment = event(
        2,
        EventBody::Comment(Comment {
            comment_id: "c1".into(),
            user_id: "u1".into(),
            user_name: "Ann".into(),
            text: "this looks great, love the colour!".into(),
        }),
    );
    // The same keyword-push in Python and JavaScript, when built (scripts/lib.sh).
    let cases: Vec<(&str, &str, &Event)> = [
        ("like-coupon", LIKE_CONFIG, &likes),
        ("keyword-push", KEYWORD_CONFIG, &comment),
        ("keyword-push-js", KEYWORD_CONFIG, &comment),
        ("keyword-push-py", KEYWORD_CONFIG, &comment),
    ]
    .into_iter()
    .filter(|(name, ..)| name.starts_with("like") || dir.join(format!("{name}.wasm")).exists())
    .collect();

    println!("| measure | plugin | p50 | p99 | calls/s |");
    println!("|---|---|---|---|---|");
    // Rounds alternate between meters so drift (frequency, other load) hits both alike;
    // each figure is the median over the rounds.
    let engines = [
        (
            CpuMeter::Epoch,
            PluginEngine::new(bench_config(CpuMeter::Epoch))?,
        ),
        (
            CpuMeter::Unmetered,
            PluginEngine::new(bench_config(CpuMeter::Unmetered))?,
        ),
    ];
    for &(name, config, ev) in &cases {
        let mut slots = Vec::new();
        for (_, engine) in &engines {
            slots.push(slot(engine, dir, name, config)?);
        }
        let mut rounds: [Vec<Stats>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..ROUNDS {
            for (i, (_, engine)) in engines.iter().enumerate() {
                let s = &mut slots[i];
                let batch = std::slice::from_ref(ev);
                let mut failed = false;
                rounds[i].push(measure(iterations / ROUNDS, || {
                    failed |= s.handle(engine, batch).fault.is_some();
                }));
                if failed {
                    bail!("{name} faulted during the benchmark");
                }
            }
        }
        let med: Vec<Stats> = rounds.iter().map(|r| median(r)).collect();
        for ((meter, _), stats) in engines.iter().zip(&med) {
            let label = match meter {
                CpuMeter::Epoch => "warm event (epoch)",
                _ => "warm event (no meter)",
            };
            println!(
                "| {label} | {name} | {} | {} | {:.0} |",
                us(stats.p50),
                us(stats.p99),
                stats.per_sec
            );
        }
        let overhead = (med[1].per_sec / med[0].per_sec - 1.0) * 100.0;
        println!("| epoch overhead vs none (throughput) | {name} | | | {overhead:+.1} % |");
        if name == "like-coupon" {
            super::bench_budget::row(iterations, ev, name, &med[0]);
        }
    }

    let engine = PluginEngine::new(bench_config(CpuMeter::Epoch))?;
    for &(name, config, ev) in &cases {
        let batch: Vec<Event> = (0..16).map(|i| event(i, ev.body.clone())).collect();
        let mut s = slot(&engine, dir, name, config)?;
        let stats = measure(iterations / 16, || {
            s.handle(&engine, &batch);
        });
        println!(
            "| batch of 16, per event (epoch) | {name} | {} | {} | {:.0} events/s |",
            us(stats.p50 / 16),
            us(stats.p99 / 16),
            stats.per_sec * 16.0
        );
    }

    for &(name, config, ev) in &cases {
        let mut s = slot(&engine, dir, name, config)?;
        let batch = std::slice::from_ref(ev);
        let stats = measure(cold_iterations, || {
            s.cool();
            s.handle(&engine, batch);
        });
        println!(
            "| cold: fresh instance + first event | {name} | {} | {} | {:.0} |",
            us(stats.p50),
            us(stats.p99),
            stats.per_sec
        );
    }

    for &(name, ..) in &cases {
        compile_row(dir, name)?;
    }

    let hello = std::fs::metadata(dir.join("hello.wasm"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "| hello plugin size | hello | {hello} bytes ({:.1} KiB) | | |",
        hello as f64 / 1024.0
    );
    Ok(ExitCode::SUCCESS)
}
