//! `livecart bench rooms`: many rooms with the three example plugins on one node.
//!
//! Builds N rooms, each with like-coupon, keyword-push and ai-host enabled with their sample
//! configs, on an engine sized as `serve` sizes it, and sends every room a likes event and
//! a question each round. It reports event → actions latency (p50/p99 of one room's
//! dispatch), how many rooms had every plugin act, the warm cache and RSS — against one
//! room whose instances always stay warm, in the same run.

use crate::catalog::MemoryCatalog;
use crate::plugin::bindings::{Comment, Event, EventBody, Likes};
use crate::plugin::kv::MemoryKv;
use crate::plugin::{CpuMeter, EngineConfig, PluginEngine, RoomEnv, RoomPlugins, SharedRoom};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct RoomsArgs {
    /// Rooms, each with the three example plugins.
    #[arg(long, default_value_t = 1000)]
    rooms: usize,
    /// Rounds of events to every room.
    #[arg(long, default_value_t = 5)]
    rounds: u64,
    /// Warm instance budget, MiB (as `serve --plugin-memory-mib`).
    #[arg(long, default_value_t = 1024)]
    memory_mib: usize,
    /// Built plugin components.
    #[arg(long, default_value = "target/plugins")]
    plugins_dir: PathBuf,
    /// Example plugin sources (for their sample configs).
    #[arg(long, default_value = "plugins")]
    plugin_sources: PathBuf,
}

const PLUGINS: [&str; 3] = ["like-coupon", "keyword-push", "ai-host"];

pub fn run(args: RoomsArgs) -> anyhow::Result<ExitCode> {
    let mut config = EngineConfig::new(CpuMeter::Epoch);
    let warm = args.memory_mib.clamp(16, 16 << 10);
    config.instance_slots = u32::try_from(warm + warm / 7).unwrap_or(u32::MAX);
    config.warm_budget_bytes = warm << 20;
    let engine = PluginEngine::new(config)?;
    let mut compiled = Vec::new();
    for name in PLUGINS {
        let path = args.plugins_dir.join(format!("{name}.wasm"));
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let cfg_path = args.plugin_sources.join(name).join("config.json");
        let cfg = std::fs::read_to_string(&cfg_path)
            .with_context(|| format!("reading {}", cfg_path.display()))?;
        compiled.push((engine.load(&bytes)?, cfg));
    }
    let make_room = |id: &str| -> anyhow::Result<RoomPlugins> {
        let env = RoomEnv {
            seeds: Default::default(),
            room_id: id.into(),
            room: Arc::new(SharedRoom::new(id)),
            catalog: Arc::new(MemoryCatalog::default()),
            kv: Arc::new(MemoryKv::default()),
        };
        let mut room = RoomPlugins::new(env);
        for (plugin, cfg) in &compiled {
            room.enable(&engine, plugin.clone(), cfg)?;
        }
        Ok(room)
    };

    let rss_before = rss_kib();
    let mut baseline = make_room("baseline")?;
    let mut base_samples = Vec::new();
    for round in 0..args.rounds * 50 {
        let t = Instant::now();
        let _ = baseline.dispatch(&engine, &events("baseline", round));
        base_samples.push(t.elapsed());
    }

    let mut rooms = Vec::with_capacity(args.rooms);
    for i in 0..args.rooms {
        rooms.push(make_room(&format!("room-{i}"))?);
    }
    let mut samples = Vec::new();
    let mut all_acted = vec![[false; 3]; args.rooms];
    let mut faults = 0usize;
    let started = Instant::now();
    for round in 0..args.rounds {
        for (i, room) in rooms.iter_mut().enumerate() {
            let t = Instant::now();
            let reports = room.dispatch(&engine, &events(&format!("room-{i}"), round));
            samples.push(t.elapsed());
            for r in &reports {
                faults += usize::from(r.fault.is_some());
                if let Some(k) = PLUGINS.iter().position(|p| *p == &*r.plugin)
                    && !r.actions.is_empty()
                {
                    all_acted[i][k] = true;
                }
            }
        }
    }
    let elapsed = started.elapsed();
    let acting = all_acted.iter().filter(|a| a.iter().all(|x| *x)).count();
    let stats = engine.warm_cache().stats();
    let rss_after = rss_kib();

    let (b50, b99) = percentiles(&mut base_samples);
    let (p50, p99) = percentiles(&mut samples);
    println!("| what | value |");
    println!("|---|---|");
    println!("| one room, always warm: event → actions p50 / p99 | {b50} / {b99} |");
    println!(
        "| {} rooms × 3 plugins: event → actions p50 / p99 | {p50} / {p99} |",
        args.rooms
    );
    println!(
        "| dispatches per second (one thread, 2 events each) | {:.0} |",
        samples.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "| rooms where all 3 plugins acted | {acting} / {} |",
        args.rooms
    );
    println!("| faults | {faults} |");
    println!(
        "| warm instances / budget | {} / {} (evictions {}) |",
        stats.instances,
        engine.warm_cache().max_instances(),
        stats.evictions
    );
    println!(
        "| RSS before / after | {} MiB / {} MiB |",
        rss_before / 1024,
        rss_after / 1024
    );
    Ok(if acting == args.rooms && faults == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A likes event (crossing a threshold in round 0) and a size question, 60 s apart per
/// round so keyword-push's cooldown has passed.
fn events(room: &str, round: u64) -> [Event; 2] {
    let at = 1_763_700_000_000 + round * 60_000;
    let ev = |id: u64, body: EventBody| Event {
        id,
        room_id: room.into(),
        server_time_ms: at,
        media_time_ms: Some(round * 60_000),
        body,
    };
    [
        ev(
            round * 2 + 1,
            EventBody::Likes(Likes {
                delta: 1_200,
                total: 1_200 * (round + 1),
            }),
        ),
        ev(
            round * 2 + 2,
            EventBody::Comment(Comment {
                comment_id: format!("c-{round}"),
                user_id: "u-1".into(),
                user_name: "Amy".into(),
                text: "What size is the tee, does it run small?".into(),
            }),
        ),
    ]
}

fn percentiles(samples: &mut [Duration]) -> (String, String) {
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)))
            .map_or_else(
                || "-".into(),
                |d| format!("{:.1} µs", d.as_secs_f64() * 1e6),
            )
    };
    (at(0.5), at(0.99))
}

/// This process's resident memory, KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string(Path::new("/proc/self/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
