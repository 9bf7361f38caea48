//! Serving load: N simulated viewers against the origin: LL-DASH ([`super::player`]) by
//! default, LL-HLS, HTTP-FLV or RTMP playback with `--protocol` ([`super::viewers`]), so the
//! origin's cost per viewer of each is measured the same way.
//!
//! The stream is one 640x360 rendition passed through (no transcode) plus AAC: ffmpeg
//! publishes a pre-encoded constant-bitrate clip in a loop over RTMP, so the packager only
//! muxes and what is measured is segment serving. Three setups:
//!
//! - in one process (default): the origin runs on its own tokio runtime (threads `srv-*`),
//!   the viewers on another (`cli-*`), GStreamer on its own threads, so `/proc` splits the
//!   CPU by thread; chunk delivery lag (ring → viewer) is measured too;
//! - `--split`: the origin is a child process (`bench media serve --server-only`) and its
//!   CPU is read from `/proc/<pid>/stat`;
//! - `--clients-only --url http://…/live.mpd [--server-pid PID]`: viewers only, against any
//!   origin, e.g. `livecart serve`.

use super::measure::{Cores, CpuSpan, raise_nofile_limit, wait_quiet};
use super::origin::{server_only, spawn_origin, split_url};
use super::player::{Stats, Target, play};
use super::stack::{ChunkLog, KEY, ROOM, Stack, TempDir, encode_clip, ffmpeg};
use super::viewers::{RtmpViewer, play_flv, play_hls};
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use livecart_media::pipeline::ladder::LadderConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Viewer counts, one run each.
    #[arg(long, value_delimiter = ',', default_value = "500,2000,5000")]
    viewers: Vec<usize>,
    /// Seconds measured per run (after the viewers joined and 3 s more).
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Seconds over which the viewers join.
    #[arg(long, default_value_t = 5)]
    ramp: u64,
    /// Video bitrate of the published stream, kb/s (constant).
    #[arg(long, default_value_t = 800)]
    kbps: u32,
    /// Run the origin in a child process, so its CPU is measured apart from the viewers'.
    #[arg(long, conflicts_with = "clients_only")]
    split: bool,
    /// Run only viewers, against `--url`.
    #[arg(long, requires = "url")]
    clients_only: bool,
    /// Live MPD to play with `--clients-only`, e.g. http://127.0.0.1:8080/media/demo/live.mpd.
    #[arg(long)]
    url: Option<String>,
    /// Process id of the origin behind `--url`, to measure its CPU.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Representation to play (default: the cheapest video).
    #[arg(long)]
    rep: Option<String>,
    /// How the viewers play, one run per protocol and viewer count.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "dash")]
    protocol: Vec<Protocol>,
    /// RTMP playback URL for `--protocol rtmp` with `--clients-only`.
    #[arg(long)]
    rtmp_url: Option<String>,
    /// Run only the origin with its ingest, print their addresses, stop when stdin closes
    /// (what `--split` starts).
    #[arg(long, hide = true)]
    server_only: bool,
}

/// What a simulated viewer plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// LL-DASH: chunked segments, the MPD every 2 s.
    Dash,
    /// LL-HLS: parts and blocking playlist reloads.
    Hls,
    /// HTTP-FLV: one long response.
    Flv,
    /// RTMP playback, one ffmpeg per viewer.
    Rtmp,
}

/// A 640x360 source passed through: the packager muxes, nothing is encoded.
pub fn ladder() -> LadderConfig {
    LadderConfig {
        passthrough: true,
        rungs: Vec::new(),
        ..LadderConfig::default()
    }
}

pub fn runtime(name: &'static str) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()?)
}

pub fn run(args: &ServeArgs, quiet: Duration) -> anyhow::Result<bool> {
    let nofile = raise_nofile_limit();
    if args.server_only {
        return server_only();
    }
    let max = args.viewers.iter().copied().max().unwrap_or(0) as u64;
    let per_viewer = if args.split || args.clients_only {
        1
    } else {
        2
    };
    if nofile < max * per_viewer + 256 {
        bail!(
            "{max} viewers need about {} file descriptors but the limit is {nofile}; raise `ulimit -n`",
            max * per_viewer + 256
        );
    }
    let cli = runtime("cli-worker")?;
    let dir = TempDir::new("serve")?;
    let clip = dir.0.join("clip.flv");
    if !args.clients_only {
        eprintln!("encoding a 10 s 640x360 test clip at {} kb/s...", args.kbps);
        cli.block_on(encode_clip(&clip, (640, 360), 10, args.kbps, true, false))?;
    }
    let publish = |rtmp: &str| {
        let clip = clip.to_string_lossy();
        let args = [
            "-re",
            "-stream_loop",
            "-1",
            "-i",
            &clip,
            "-c",
            "copy",
            "-f",
            "flv",
            rtmp,
        ];
        ffmpeg(&args)
    };
    // Kept alive for the whole run: the origin (in-process or child) and the publisher.
    let srv;
    let _stack;
    let _origin;
    let _publisher;
    let mut rtmp_play = args.rtmp_url.clone();
    let (setup, target, server_pid) = if args.clients_only {
        let url = args.url.as_deref().context("--clients-only needs --url")?;
        let (addr, path) = cli.block_on(split_url(url))?;
        let label = format!("viewers only, against {url}");
        (
            label,
            Target {
                addr,
                mpd_path: path,
                rep: args.rep.clone(),
                log: None,
            },
            args.server_pid,
        )
    } else if args.split {
        let (child, rtmp, mpd) = cli.block_on(spawn_origin())?;
        let (addr, path) = cli.block_on(split_url(&mpd))?;
        _publisher = publish(&rtmp)?;
        rtmp_play = Some(rtmp.replace(&format!("/live/{KEY}"), &format!("/live/{ROOM}")));
        let pid = child.pid();
        _origin = child;
        let target = Target {
            addr,
            mpd_path: path,
            rep: args.rep.clone(),
            log: None,
        };
        ("origin in its own process".to_string(), target, Some(pid))
    } else {
        srv = runtime("srv-worker")?;
        let log = ChunkLog::new();
        let (stack, addr) = srv.block_on(async {
            let mut stack = Stack::start(ladder(), Some(&log)).await?;
            let addr = stack.serve_origin(&dir.0).await?;
            anyhow::Ok((stack, addr))
        })?;
        _publisher = publish(&stack.rtmp_url())?;
        rtmp_play = Some(
            stack
                .rtmp_url()
                .replace(&format!("/live/{KEY}"), &format!("/live/{ROOM}")),
        );
        _stack = stack;
        let path = format!("/media/{ROOM}/live.mpd");
        let target = Target {
            addr,
            mpd_path: path,
            rep: args.rep.clone(),
            log: Some(log),
        };
        ("one process".to_string(), target, None)
    };
    let target = Arc::new(target);
    cli.block_on(wait_live(&target))?;
    println!(
        "| setup | protocol | viewers | requests/s | segments (HLS: parts)/s | MB/s (kb/s per viewer) | MPD (HLS: blocking reload) p50 / p99 | segment TTFB p50 / p99 | chunk ring → viewer p50 / p99 | 404 early | errors | skipped segs | CPU origin / viewers / media / softirq / machine (cores) | viewers per origin core (all / above idle) | target ≥ 5,000 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    // What the origin uses with the stream flowing and nobody watching.
    let split = server_pid.is_some();
    let idle = cli.block_on(async {
        let span = CpuSpan::start(server_pid);
        tokio::time::sleep(Duration::from_secs(5)).await;
        origin_cores(&span.finish(), split)
    });
    eprintln!("origin idle, stream flowing: {idle:.3} cores");
    let mut ok = true;
    for &protocol in &args.protocol {
        for &n in &args.viewers {
            cli.block_on(wait_quiet(quiet.min(Duration::from_secs(30))));
            let (stats, cores) = if protocol == Protocol::Rtmp {
                let url = rtmp_play
                    .as_deref()
                    .context("--protocol rtmp needs --rtmp-url")?;
                cli.block_on(load_rtmp(url, n, args, server_pid))?
            } else {
                cli.block_on(load(&target, protocol, n, args, server_pid))?
            };
            let setup = format!("{setup} | {protocol:?}");
            ok &= report(&setup, n, stats, &cores, args.secs, split, idle);
            // Let closed connections drain before the next run.
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    cli.shutdown_background();
    Ok(ok)
}

/// `n` viewers joining over the ramp, measured for `secs` after it (and 3 s more).
async fn load(
    target: &Arc<Target>,
    protocol: Protocol,
    n: usize,
    args: &ServeArgs,
    server_pid: Option<u32>,
) -> anyhow::Result<(Stats, Cores)> {
    let start = Instant::now();
    let ramp = Duration::from_secs(args.ramp);
    let from = start + ramp + Duration::from_secs(3);
    let stop = from + Duration::from_secs(args.secs);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let t = target.clone();
            let delay = ramp.mul_f64(i as f64 / n.max(1) as f64);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                match protocol {
                    Protocol::Hls => play_hls(t, from, stop).await,
                    Protocol::Flv => play_flv(t, from, stop).await,
                    Protocol::Dash | Protocol::Rtmp => play(t, from, stop).await,
                }
            })
        })
        .collect();
    tokio::time::sleep_until(from.into()).await;
    let cpu = CpuSpan::start(server_pid);
    tokio::time::sleep_until(stop.into()).await;
    let cores = cpu.finish();
    let mut total = Stats::default();
    for t in tasks {
        total.merge(&t.await?);
    }
    Ok((total, cores))
}

/// `n` ffmpeg RTMP players started over the ramp, measured like [`load`]; a player that
/// exits before the end counts as an error.
async fn load_rtmp(
    url: &str,
    n: usize,
    args: &ServeArgs,
    server_pid: Option<u32>,
) -> anyhow::Result<(Stats, Cores)> {
    let start = Instant::now();
    let ramp = Duration::from_secs(args.ramp);
    let mut players = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep_until((start + ramp.mul_f64(i as f64 / n.max(1) as f64)).into()).await;
        players.push(RtmpViewer::start(url).context("starting ffmpeg as an RTMP player")?);
    }
    tokio::time::sleep_until((start + ramp + Duration::from_secs(3)).into()).await;
    let cpu = CpuSpan::start(server_pid);
    tokio::time::sleep(Duration::from_secs(args.secs)).await;
    let cores = cpu.finish();
    let alive = players
        .iter_mut()
        .map(RtmpViewer::alive)
        .filter(|&a| a)
        .count();
    let stats = Stats {
        connections: n as u64,
        errors: (n - alive) as u64,
        ..Stats::default()
    };
    Ok((stats, cores))
}

/// The origin's cores: the child process, or this process's `srv-*` threads.
fn origin_cores(c: &Cores, split: bool) -> f64 {
    if split { c.other } else { c.group("srv") }
}

/// Print one row; false when a viewer saw errors. `idle`: the origin's cores without
/// viewers (packaging, and the demo encoder of `livecart serve`), not counted as serving.
fn report(
    setup: &str,
    n: usize,
    mut s: Stats,
    c: &Cores,
    secs: u64,
    split: bool,
    idle: f64,
) -> bool {
    let secs = secs as f64;
    let origin = origin_cores(c, split);
    let viewers = if split { c.own } else { c.group("cli") };
    let media = if split { 0.0 } else { c.group("media") };
    let mut lag = super::measure::Samples::default();
    for l in &s.chunk_lag {
        lag.extend(l);
    }
    let per = |cores: f64| {
        if cores > 0.0 {
            format!("{:.0}", n as f64 / cores)
        } else {
            "–".into()
        }
    };
    let serving = origin - idle;
    let per_core = format!("{} / {}", per(origin), per(serving));
    let met = serving > 0.0 && n as f64 / serving >= 5000.0 && s.errors == 0;
    let lag_text = if !lag.is_empty() {
        lag.ms(&[0.5, 0.99])
    } else {
        "–".into()
    };
    println!(
        "| {setup} | {n} | {:.0} | {:.0} | {:.1} ({:.0}) | {} | {} | {lag_text} | {} | {} | {} | {origin:.2} / {viewers:.2} / {media:.2} / {:.2} / {:.2} | {per_core} | {} |",
        s.requests as f64 / secs,
        s.segments as f64 / secs,
        s.bytes as f64 / secs / 1e6,
        s.bytes as f64 * 8.0 / secs / 1e3 / n.max(1) as f64,
        s.mpd.ms(&[0.5, 0.99]),
        s.ttfb.ms(&[0.5, 0.99]),
        s.early,
        s.errors,
        s.skipped,
        c.softirq,
        c.busy,
        if met { "met" } else { "MISSED" },
    );
    s.errors == 0
}

/// Wait until the MPD answers 200.
async fn wait_live(t: &Target) -> anyhow::Result<()> {
    let mut conn = super::http::Conn::new(t.addr);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = conn.get(&t.mpd_path, false, |_| {}).await
            && r.status == 200
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no live MPD at {}{} after 30 s", t.addr, t.mpd_path);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
