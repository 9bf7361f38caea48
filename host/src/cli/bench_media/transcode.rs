//! Transcode cost: CPU cores this process uses to turn a 720p30 H.264 publish into each
//! ladder in real time.
//!
//! A 1280x720@30 clip of moving test pattern (x264 veryfast, 1 s GOP, no B-frames, AAC) is
//! encoded before anything is measured; ffmpeg then publishes it with `-re -c copy` over
//! RTMP to the in-process ingest, and the packager makes the ladder. CPU is this process's
//! utime + stime (ingest, hub, decode, scale, encode, mux, ring) over the steady middle of
//! the run, divided by wall time; the publisher's own (copy-only) CPU is not counted.

use super::measure::{CpuSpan, Samples, wait_quiet};
use super::stack::{ChunkLog, ROOM, Stack, TempDir, encode_clip, ffmpeg};
use anyhow::bail;
use clap::{Args, ValueEnum};
use livecart_media::package::ring::Period;
use livecart_media::pipeline::ladder::{LadderConfig, Rung};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct TranscodeArgs {
    /// Ladders to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "full,passthrough,three")]
    ladders: Vec<Ladder>,
    /// Length of the published clip, seconds.
    #[arg(long, default_value_t = 20)]
    secs: u32,
    /// Seconds after the first segment before measuring (start-up is not steady state).
    #[arg(long, default_value_t = 3)]
    skip: u32,
    /// Add temporal noise to the test pattern (harder to encode, closer to a camera).
    #[arg(long)]
    noise: bool,
}

/// The ladders a 720p source can get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Ladder {
    /// The default ladder: 720p and 360p, both encoded (x264 veryfast).
    Full,
    /// The source passed through as 720p, 360p encoded.
    Passthrough,
    /// The source passed through as 720p, 480p and 360p encoded.
    Three,
}

impl Ladder {
    pub fn config(self) -> LadderConfig {
        let base = LadderConfig::default();
        match self {
            Ladder::Full => base,
            Ladder::Passthrough => LadderConfig {
                passthrough: true,
                ..base
            },
            Ladder::Three => LadderConfig {
                passthrough: true,
                rungs: vec![
                    Rung {
                        height: 480,
                        width: None,
                        bitrate_kbps: 1200,
                    },
                    Rung {
                        height: 360,
                        width: None,
                        bitrate_kbps: 800,
                    },
                ],
                ..base
            },
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Ladder::Full => "720p + 360p, both encoded",
            Ladder::Passthrough => "720p passthrough + 360p encoded",
            Ladder::Three => "720p passthrough + 480p + 360p encoded",
        }
    }
}

/// Media position of a track: whole segments before the last plus its chunks.
fn position(p: &Period, rep: &str) -> Duration {
    let Some(last) = p.track(rep).and_then(|t| t.last()) else {
        return Duration::ZERO;
    };
    let chunks = last.snapshot().chunks.len() as u32;
    p.segment_duration * (last.number.saturating_sub(1) as u32) + p.chunk_duration * chunks
}

pub async fn run(args: &TranscodeArgs, quiet: Duration) -> anyhow::Result<bool> {
    if args.secs < args.skip + 5 {
        bail!("--secs must be at least --skip + 5");
    }
    let dir = TempDir::new("transcode")?;
    let clip = dir.0.join("clip.flv");
    eprintln!("encoding a {} s 1280x720@30 test clip...", args.secs);
    encode_clip(&clip, (1280, 720), args.secs, 2500, false, args.noise).await?;
    let content = if args.noise {
        "testsrc2 + noise"
    } else {
        "testsrc2"
    };
    println!(
        "| ladder | content | renditions | CPU (cores, this process) | real-time factor | segments (expected {}) | lost | ingest → ring p50 / p99 | drain after publisher end | target ≤ 1 core |",
        args.secs
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let clip = clip.to_string_lossy();
    let run = async |ladder| one(args, ladder, &clip, content).await;
    Ok(each_ladder(&args.ladders, quiet, run).await)
}

async fn one(
    args: &TranscodeArgs,
    ladder: Ladder,
    clip: &str,
    content: &str,
) -> anyhow::Result<bool> {
    let config = LadderConfig {
        // Keep every segment of the clip in the ring, to count them at the end.
        window_segments: (args.secs as usize + 5).max(30),
        ..ladder.config()
    };
    let log = ChunkLog::new();
    let stack = Stack::start(config.clone(), Some(&log)).await?;
    let url = stack.rtmp_url();
    let mut publisher = ffmpeg(&["-re", "-i", clip, "-c", "copy", "-f", "flv", &url])?;
    let period = stack.wait_period(Duration::from_secs(20)).await?;
    let session = stack.hub.live(ROOM);
    let video: Vec<String> = period
        .tracks
        .iter()
        .filter(|t| t.rendition.kind == livecart_media::hub::TrackKind::Video)
        .map(|t| t.rendition.id.clone())
        .collect();
    tokio::time::sleep(Duration::from_secs(args.skip.into())).await;
    let window = Duration::from_secs((args.secs - args.skip - 2).into());
    let pos0: Vec<Duration> = video.iter().map(|r| position(&period, r)).collect();
    let t0 = Instant::now();
    let cpu = CpuSpan::start(None);
    tokio::time::sleep(window).await;
    let cores = cpu.finish();
    let pos1: Vec<Duration> = video.iter().map(|r| position(&period, r)).collect();
    let wall = t0.elapsed().as_secs_f64();
    // Real time is the slowest rendition's media seconds per wall second.
    let rtf = pos0
        .iter()
        .zip(&pos1)
        .map(|(a, b)| b.saturating_sub(*a).as_secs_f64() / wall)
        .fold(f64::INFINITY, f64::min);
    let mut delays = Samples::default();
    for (_, d) in log.delays_since(t0) {
        delays.push(d);
    }

    // The clip ends (the hub session with it); the packager drains and ends the period.
    let deadline = Instant::now() + Duration::from_secs(args.secs.into()) * 2;
    let ended_pub = loop {
        if session.as_ref().is_none_or(|s| s.is_ended()) {
            break Instant::now();
        }
        if Instant::now() > deadline {
            bail!("the publisher did not finish the clip in time");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let drain = loop {
        if period.ended().is_some() {
            break ended_pub.elapsed();
        }
        if ended_pub.elapsed() > Duration::from_secs(30) {
            bail!("the period did not end 30 s after the publisher");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    if let Some(status) = publisher.exited()
        && !status.success()
    {
        eprintln!("warning: the ffmpeg publisher exited with {status}");
    }
    // Every segment of every rendition, numbered 1..=n without holes.
    let expected = (u64::from(args.secs) * 1000).div_ceil(config.segment_ms.into());
    let mut counts = Vec::new();
    let mut lost = 0u64;
    for t in &period.tracks {
        let numbers: Vec<u64> = t.segments().iter().map(|s| s.number).collect();
        let last = numbers.last().copied().unwrap_or(0);
        // Holes, and segments missing at the end.
        lost += last.saturating_sub(numbers.len() as u64) + expected.saturating_sub(last);
        counts.push(format!("{} {}", t.rendition.id, numbers.len()));
    }
    let renditions: Vec<String> = period
        .tracks
        .iter()
        .map(|t| {
            let r = &t.rendition;
            match (r.kind, r.passthrough) {
                (livecart_media::hub::TrackKind::Audio, _) => "audio".to_string(),
                (_, true) => format!("{}p copy", r.height),
                (_, false) => format!("{}p", r.height),
            }
        })
        .collect();
    let met = cores.own <= 1.0 && rtf >= 0.97 && lost == 0;
    println!(
        "| {} | {content} | {} | {:.2} (over {:.0} s) | {rtf:.3} | {} | {lost} | {} | {:.2} s | {} |",
        ladder.label(),
        renditions.join(", "),
        cores.own,
        cores.secs,
        counts.join(", "),
        delays.ms(&[0.5, 0.99]),
        drain.as_secs_f64(),
        if met { "met" } else { "MISSED" },
    );
    drop(publisher);
    Ok(lost == 0)
}

/// Run `one` for each ladder in turn, each on a quiet machine; an error is reported and
/// the others still run. True when every ladder ran and `one` said it met its target.
pub async fn each_ladder(
    ladders: &[Ladder],
    quiet: std::time::Duration,
    mut one: impl AsyncFnMut(Ladder) -> anyhow::Result<bool>,
) -> bool {
    let mut ok = true;
    for &ladder in ladders {
        wait_quiet(quiet).await;
        match one(ladder).await {
            Ok(good) => ok &= good,
            Err(e) => {
                eprintln!("error: {}: {e:#}", ladder.label());
                ok = false;
            }
        }
    }
    ok
}
