//! `livecart bench soak`: one node under steady, mixed load for a long time, to show that
//! memory, file descriptors, CPU and latencies stay flat and nothing panics.
//!
//! One `serve` child (as `bench ws` starts it: 127.0.0.1, throwaway data dir, no per-IP
//! cap) runs `--rooms` rooms with the example plugins (like-coupon, keyword-push, ai-host;
//! the demo room also the lottery). ffmpeg publishes a 640x360 test pattern in real time
//! into the demo room, which the child packages into a small ladder. `--viewers` guest
//! WebSocket viewers spread over the rooms chat (one message every `--chat-secs` on
//! average, jittered; every fifth asks about sizes, so plugins act) and like in bursts.
//! In the middle of every minute, `--claimers` viewers claim a fresh room-less coupon of
//! quota `claimers / 2` at once.
//!
//! At the end of every minute a row is recorded: server RSS, fds, CPU over the minute,
//! chat send → delivered p50/p99, the live's packaging lag (from `/metrics`), the storm's
//! claim p50/p99 and outcomes against the stored count, chat messages delivered, panics
//! (`livecart_panics_total`) and connected viewers. The end prints the table and the first
//! against the last five minutes; the exit status is non-zero after a panic, a lost
//! viewer or an oversold coupon. The child and ffmpeg are killed when the bench ends,
//! fails or panics.
//!
//! `ulimit -n 65536; ./target/release/livecart bench soak --minutes 30 --viewers 2000`

mod probe;
mod report;
mod setup;
mod viewer;

use super::bench_media::stack::TempDir;
use super::bench_ws::server::{CpuSpan, ROOM, ServeOptions, ServerChild};
use anyhow::{Context, bail};
use clap::Args;
use probe::Probe;
use report::Row;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use viewer::{Plan, Shared};

/// `livecart bench soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Minutes to run (rows in the table).
    #[arg(long, default_value_t = 30)]
    minutes: u32,
    /// Seconds in a "minute" (shorter for a smoke run).
    #[arg(long, default_value_t = 60)]
    minute_secs: u64,
    /// WebSocket viewers, spread evenly over the rooms.
    #[arg(long, default_value_t = 2000)]
    viewers: usize,
    /// Rooms with plugins (the demo room, which has the live, and new ones).
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Viewers claiming the minute's coupon at once (its quota is half as many).
    #[arg(long, default_value_t = 300)]
    claimers: usize,
    /// Mean seconds between one viewer's chat messages.
    #[arg(long, default_value_t = 45.0)]
    chat_secs: f64,
    /// Viewers in their handshake at once while joining (see `bench ws --concurrency`).
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// Built plugin components.
    #[arg(long, default_value = "target/plugins")]
    plugins_dir: PathBuf,
    /// Example plugin sources (sample configs, the demo catalog).
    #[arg(long, default_value = "plugins")]
    plugin_sources: PathBuf,
}

/// Minutes at each end of the run the verdict compares.
const WINDOW: usize = 5;

pub fn run(args: SoakArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run with --release for real numbers");
    }
    if args.minutes == 0 || args.minute_secs < 10 || args.viewers == 0 || args.rooms == 0 {
        bail!("--minutes, --viewers and --rooms must be at least 1, --minute-secs at least 10");
    }
    if !(1.0..=3600.0).contains(&args.chat_secs) {
        bail!("--chat-secs must be 1 to 3600");
    }
    let nofile = super::bench_ws::raise_nofile_limit();
    let need = args.viewers as u64 + 256;
    if nofile < need {
        bail!(
            "{} viewers need about {need} file descriptors but the limit is {nofile}; \
             run `ulimit -n 65536` first",
            args.viewers
        );
    }
    for name in ["like-coupon", "keyword-push", "ai-host"] {
        let path = args.plugins_dir.join(format!("{name}.wasm"));
        if !path.exists() {
            bail!("{} is missing: build the plugins first", path.display());
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ok = runtime.block_on(soak(&args))?;
    // Viewer tasks may still hold sockets; do not wait for them.
    runtime.shutdown_background();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn soak(args: &SoakArgs) -> anyhow::Result<bool> {
    let dir = TempDir::new("soak")?;
    let ladder = dir.0.join("ladder.json");
    std::fs::write(&ladder, setup::LADDER).context("writing the ladder")?;
    let opts = ServeOptions {
        demo_plugins: Some(&args.plugins_dir),
        plugin_sources: Some(&args.plugin_sources),
        extra: vec!["--ladder".into(), ladder.into_os_string()],
    };
    let server = ServerChild::start_with(&opts, Duration::ZERO).await?;
    let rooms = setup::rooms(&server, args.rooms, &args.plugin_sources).await?;
    let minute = Duration::from_secs(args.minute_secs);
    let mut publisher = setup::publish(&server, u64::from(args.minutes) * args.minute_secs + 300)?;

    let shared = Arc::new(Shared::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (storm_tx, storm_rx) = watch::channel(None);
    let joins = Arc::new(Semaphore::new(args.concurrency.clamp(1, 1000)));
    let claimers = args.claimers.min(args.viewers);
    let stride = (args.viewers / claimers.max(1)).max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.viewers {
        let plan = Plan {
            addr: server.addr,
            room: rooms[i % rooms.len()].as_str().into(),
            index: i,
            claimer: i % stride == 0 && i / stride < claimers,
            chat_secs: args.chat_secs,
        };
        tasks.spawn(viewer::run(
            plan,
            shared.clone(),
            joins.clone(),
            storm_rx.clone(),
            stop_rx.clone(),
        ));
    }
    let joined_in = wait_joined(&shared, args.viewers).await?;
    eprintln!(
        "{} viewers in {} rooms joined in {joined_in:.1} s; waiting for the live",
        args.viewers,
        rooms.len()
    );
    wait_live(&server).await;
    // The minutes start now: drop what the joins and the warm-up measured.
    shared.chat.take();
    shared.claim.take();
    let whole = CpuSpan::start(server.pid());
    let mut prev = Probe::read(&server, ROOM).await?;
    let mut prev_at = Instant::now();
    let mut prev_delivered = shared.delivered.load(Ordering::Relaxed);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut oversold = false;
    for m in 1..=args.minutes {
        let start = Instant::now();
        match one_minute(&server, &shared, &storm_tx, m, claimers, start, minute).await {
            Ok((claims, over)) => {
                oversold |= over;
                let probe = match Probe::read(&server, ROOM).await {
                    Ok(p) => p,
                    Err(e) => {
                        notes.push(format!("minute {m}: the server did not answer: {e:#}"));
                        break;
                    }
                };
                let secs = prev_at.elapsed().as_secs_f64().max(1e-3);
                let delivered = shared.delivered.load(Ordering::Relaxed);
                let (chat, claim) = (shared.chat.take(), shared.claim.take());
                let ms = |us: u64| us as f64 / 1000.0;
                let row = Row {
                    minute: m,
                    rss_mb: probe.rss_mb,
                    fds: probe.fds,
                    cpu_pct: (probe.cpu_s - prev.cpu_s) / secs * 100.0,
                    chat_p50: ms(chat.quantile_us(0.5)),
                    chat_p99: ms(chat.quantile_us(0.99)),
                    video_ms: probe.video_ms,
                    claim_p50: ms(claim.quantile_us(0.5)),
                    claim_p99: ms(claim.quantile_us(0.99)),
                    claims,
                    delivered: delivered - prev_delivered,
                    panics: probe.panics,
                    connected: shared.connected.load(Ordering::Relaxed),
                };
                eprintln!("{row:?}");
                rows.push(row);
                (prev, prev_at, prev_delivered) = (probe, Instant::now(), delivered);
            }
            Err(e) => {
                notes.push(format!("minute {m}: {e:#}"));
                break;
            }
        }
        if let Some(status) = publisher.exited() {
            notes.push(format!(
                "minute {m}: the ffmpeg publisher exited ({status})"
            ));
        }
    }
    let cpu = whole.finish();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    drop(publisher);
    drop(server);

    report::table(&rows);
    report::verdict(&rows, WINDOW);
    let panics = rows.last().map_or(0, |r| r.panics);
    let lost = shared.lost.load(Ordering::Relaxed);
    let failed = shared.join_failed.load(Ordering::Relaxed);
    println!();
    println!(
        "- {} viewers in {} rooms, a storm of {claimers} claims every minute; CPU over the run (cores) server / bench / softirq / other: {cpu}",
        args.viewers, args.rooms
    );
    println!(
        "- chat messages sent {}, like messages sent {}, rate-limited {}, other error frames {}",
        shared.chat_sent.load(Ordering::Relaxed),
        shared.like_msgs.load(Ordering::Relaxed),
        shared.rate_limited.load(Ordering::Relaxed),
        shared.errors.load(Ordering::Relaxed),
    );
    println!(
        "- panics {panics}, viewers that could not join {failed}, viewers lost {lost}, oversold {oversold}"
    );
    for slot in [&shared.first_error, &shared.first_refusal] {
        if let Ok(g) = slot.lock()
            && let Some(e) = g.as_ref()
        {
            println!("- first: {e}");
        }
    }
    for n in &notes {
        println!("- {n}");
    }
    let complete = rows.len() == args.minutes as usize;
    let ok = complete && panics == 0 && lost == 0 && failed == 0 && !oversold;
    println!(
        "- verdict: {}",
        if ok {
            "no panic, no viewer lost, no oversell"
        } else {
            "FAILED"
        }
    );
    Ok(ok)
}

/// Wait until every viewer joined or failed; the seconds it took.
async fn wait_joined(shared: &Shared, viewers: usize) -> anyhow::Result<f64> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(60 + viewers as u64 / 20);
    loop {
        let joined = shared.connected.load(Ordering::Relaxed) + shared.lost.load(Ordering::Relaxed);
        let failed = shared.join_failed.load(Ordering::Relaxed);
        if joined + failed >= viewers as u64 {
            if failed > 0 {
                eprintln!("warning: {failed} of {viewers} viewers could not join");
            }
            return Ok(start.elapsed().as_secs_f64());
        }
        if Instant::now() > deadline {
            bail!("only {joined} of {viewers} viewers joined in time ({failed} failed)");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wait (at most 30 s) until the demo room's live is packaging.
async fn wait_live(server: &ServerChild) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(p) = Probe::read(server, ROOM).await
            && p.video_ms.is_some()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("warning: the live is not packaging after 30 s; video lag will be missing");
}

/// One minute: the claim storm at its middle, then wait for its end. Returns the storm's
/// counts (sent, ok, refused, no answer, stored, quota) and whether it oversold.
async fn one_minute(
    server: &ServerChild,
    shared: &Shared,
    storm: &watch::Sender<Option<Arc<str>>>,
    m: u32,
    claimers: usize,
    start: Instant,
    minute: Duration,
) -> anyhow::Result<([u64; 6], bool)> {
    tokio::time::sleep_until(start + minute / 2).await;
    let coupon = format!("soak-storm-{m}");
    let quota = (claimers as u64 / 2).max(1);
    setup::storm_coupon(server, &coupon, quota).await?;
    let counts = |s: &Shared| {
        [
            s.claims_sent.load(Ordering::Relaxed),
            s.claims_ok.load(Ordering::Relaxed),
            s.claims_refused.load(Ordering::Relaxed),
        ]
    };
    let before = counts(shared);
    storm.send_replace(Some(coupon.as_str().into()));
    tokio::time::sleep_until(start + minute).await;
    let after = counts(shared);
    let [sent, ok, refused] = [0, 1, 2].map(|i| after[i] - before[i]);
    let stored = setup::claimed(server, &coupon).await?;
    let lost = sent.saturating_sub(ok + refused);
    Ok((
        [sent, ok, refused, lost, stored, quota],
        ok > quota || stored > quota,
    ))
}
