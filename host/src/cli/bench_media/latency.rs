//! Latency, the ingest → origin part of glass-to-glass: a live 720p30 publisher (ffmpeg
//! encoding testsrc2 with `-tune zerolatency`, 1 s GOP, no B-frames) into the in-process
//! RTMP ingest, and two figures per CMAF chunk:
//!
//! - ingest → ring: the packager's latency probe, from the wall clock at which the chunk's
//!   last frame was ingested (hub session start + its media time) to the chunk being in the
//!   ring: decode, scale, encode, mux (the muxer closes a chunk on the next frame after it);
//! - ring → client: when the same chunk's bytes had all arrived at an HTTP client over
//!   loopback. Each rendition has two clients on their own connections that ask for
//!   segment n+1 while n is still growing, so the request waits at the origin and every
//!   chunk is pushed through chunked transfer as the packager writes it.
//!
//! Not included: the publisher's own capture/encode/network delay, the player's buffer, and
//! the up to one chunk duration that a chunk's first frame waits for its last.
//!
//! A second table compares the paths per video frame of the top rung, in the same run:
//! LL-DASH (the clients above), HTTP-FLV and RTMP playback (see [`super::flv_latency`]).

use super::flv_latency::{Reader, dash_frames, latencies};
use super::http::Conn;
use super::measure::{CpuSpan, Samples, process_cpu};
use super::stack::{ChunkLog, ROOM, Stack, TempDir, publish_720p};
use super::transcode::{Ladder, each_ladder};
use clap::Args;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct LatencyArgs {
    /// Ladders to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "full,passthrough")]
    ladders: Vec<Ladder>,
    /// Seconds measured per ladder.
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Seconds after the first segment before measuring.
    #[arg(long, default_value_t = 3)]
    skip: u64,
    /// x264 preset of the ffmpeg publisher (it shares the machine's cores with the bench).
    #[arg(long, default_value = "veryfast")]
    preset: String,
}

pub async fn run(args: &LatencyArgs, quiet: Duration) -> anyhow::Result<bool> {
    println!(
        "| ladder | rendition | chunks probed / received | ingest → ring p50 / p90 / p99 | ring → client p50 / p99 | first chunk of a segment, ring → client p50 / p99 | ingest → client p50 / p99 | CPU bench / publisher (cores) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut paths = Vec::new();
    let run = async |ladder| one(args, ladder, &mut paths).await.map(|()| true);
    let ok = each_ladder(&args.ladders, quiet, run).await;
    println!();
    println!(
        "| ladder | path (v0) | client | video frames | ingest → client per frame p50 / p90 / p99 |"
    );
    println!("|---|---|---|---|---|");
    for row in paths {
        println!("{row}");
    }
    Ok(ok)
}

/// Arrival time of each chunk: (segment number, chunk index, when).
type Arrivals = Vec<(u64, usize, Instant)>;

/// One ladder: the per-chunk table's rows are printed, the per-path rows added to `paths`.
async fn one(args: &LatencyArgs, ladder: Ladder, paths: &mut Vec<String>) -> anyhow::Result<()> {
    let dir = TempDir::new("latency")?;
    let log = ChunkLog::new();
    let mut stack = Stack::start(ladder.config(), Some(&log)).await?;
    let http = stack.serve_origin(&dir.0).await?;
    let url = stack.rtmp_url();
    let total = (args.skip + args.secs + 15).to_string();
    let publisher = publish_720p(&url, &total, &args.preset)?;
    let period = stack.wait_period(Duration::from_secs(20)).await?;
    let flv = Reader::start(&format!(
        "http://{http}/media/{ROOM}/live.flv?rung=v0&gop=0"
    ))?;
    let rtmp_play = Reader::start(&stack.play_url("v0"))?;
    tokio::time::sleep(Duration::from_secs(args.skip)).await;

    let t0 = Instant::now();
    let clock = (t0, std::time::SystemTime::now());
    let stop = t0 + Duration::from_secs(args.secs);
    let cpu = CpuSpan::start(Some(publisher.pid()));
    let pub0 = process_cpu(publisher.pid());
    let mut clients = Vec::new();
    for track in &period.tracks {
        let last = track.last().map_or(0, |s| s.number);
        let base = format!("/media/{ROOM}/{}/{}", period.id, track.rendition.id);
        for parity in 1..=2 {
            let base = base.clone();
            let task = tokio::spawn(follow(http, base, last + parity, stop));
            clients.push((track.rendition.id.clone(), task));
        }
    }
    let mut arrivals: HashMap<String, Arrivals> = HashMap::new();
    let mut errors = 0;
    for (rep, task) in clients {
        let (a, e) = task.await?;
        arrivals.entry(rep).or_default().extend(a);
        errors += e;
    }
    let cores = cpu.finish();
    let publisher_cores = (process_cpu(publisher.pid()) - pub0) / cores.secs;
    let (flv, rtmp_play) = (flv.finish().await, rtmp_play.finish().await);
    drop(publisher);
    let ast = period.availability_start().unwrap_or(clock.1);
    let dash = dash_frames(
        &period,
        "v0",
        arrivals.get("v0").map_or(&[][..], |v| v.as_slice()),
        clock,
    );
    for (path, client, frames) in [
        ("LL-DASH", "bench HTTP client, chunked segments", &dash),
        ("HTTP-FLV `live.flv?gop=0`", "ffprobe", &flv),
        ("RTMP playback", "ffprobe", &rtmp_play),
    ] {
        let mut s = latencies(frames, ast, clock.1);
        paths.push(format!(
            "| {} | {path} | {client} | {} | {} |",
            ladder.label(),
            s.len(),
            s.ms(&[0.5, 0.9, 0.99]),
        ));
    }

    let mut ingest: HashMap<String, Samples> = HashMap::new();
    for (rep, d) in log.delays_since(t0) {
        ingest.entry(rep).or_default().push(d);
    }
    for track in &period.tracks {
        let rep = &track.rendition.id;
        let (mut all, mut first, mut e2e) =
            (Samples::default(), Samples::default(), Samples::default());
        for &(n, i, at) in arrivals.get(rep).map_or(&[][..], |v| v.as_slice()) {
            let Some((ring, delay)) = log.get(rep, n, i) else {
                continue;
            };
            let d = at.saturating_duration_since(ring);
            all.push(d);
            if i == 0 {
                first.push(d);
            }
            e2e.push(delay + d);
        }
        let name = match (track.rendition.kind, track.rendition.passthrough) {
            (livecart_media::hub::TrackKind::Audio, _) => format!("{rep} audio"),
            (_, true) => format!("{rep} {}p copy", track.rendition.height),
            (_, false) => format!("{rep} {}p", track.rendition.height),
        };
        let mut probe = ingest.remove(rep).unwrap_or_default();
        println!(
            "| {} | {name} | {} / {} | {} | {} | {} | {} | {:.2} / {:.2} |",
            ladder.label(),
            probe.len(),
            arrivals.get(rep).map_or(0, |v| v.len()),
            probe.ms(&[0.5, 0.9, 0.99]),
            all.ms(&[0.5, 0.99]),
            first.ms(&[0.5, 0.99]),
            e2e.ms(&[0.5, 0.99]),
            cores.own,
            publisher_cores,
        );
    }
    if errors > 0 {
        eprintln!("warning: {errors} failed segment requests");
    }
    Ok(())
}

/// Fetch every other segment from `first` on until `stop`, recording chunk arrivals.
async fn follow(addr: SocketAddr, base: String, first: u64, stop: Instant) -> (Arrivals, u64) {
    let mut conn = Conn::new(addr);
    let (mut n, mut arrivals, mut errors) = (first, Vec::new(), 0);
    while Instant::now() < stop {
        let mut got = Vec::new();
        let r = conn
            .get(&format!("{base}/{n}.m4s"), false, |i| {
                got.push((n, i, Instant::now()))
            })
            .await;
        match r {
            Ok(r) if r.status == 200 => {
                arrivals.extend(got);
                n += 2;
            }
            // Two ahead of the ring: wait for the one in between to start.
            Ok(r) if r.status == 404 => tokio::time::sleep(Duration::from_millis(20)).await,
            _ => {
                errors += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    (arrivals, errors)
}
