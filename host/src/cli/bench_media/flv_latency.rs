//! Per-frame latency of the FLV paths against LL-DASH, in the same run: HTTP-FLV
//! (`/media/{room}/live.flv?rung=v0&gop=0`) and RTMP playback (`rtmp://…/live/{room}?rung=v0`),
//! each read by `ffprobe -show_packets` (line-buffered through `stdbuf -oL`), which prints a
//! packet as soon as its demuxer has read it.
//!
//! A video frame's latency is when it reached the client minus when it was ingested:
//! availabilityStartTime + its media time (FLV tag timestamps are media ms from the period's
//! origin, the clock availabilityStartTime is on). LL-DASH gets the same figure from the
//! bench's DASH clients: each chunk's arrival against the media time of every frame in it,
//! read back from the ring. Only frames ingested after the measurement started count, so
//! ffprobe's start-up probing (which holds the first packets) is left out.

use super::measure::Samples;
use livecart_media::package::bmff;
use livecart_media::package::ring::Period;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use super::stack::ChildGuard;

/// Video frames one reader received: (media ms, arrival).
pub type Frames = Vec<(u64, SystemTime)>;

/// An ffprobe reading `url`'s packets until dropped.
pub struct Reader {
    _child: ChildGuard,
    lines: tokio::task::JoinHandle<Frames>,
}

impl Reader {
    pub fn start(url: &str) -> anyhow::Result<Reader> {
        use anyhow::Context;
        let mut child = Command::new("stdbuf")
            .args(["-oL", "ffprobe", "-hide_banner", "-v", "error"])
            .args([
                "-fflags",
                "nobuffer",
                "-probesize",
                "32768",
                "-analyzeduration",
                "0",
            ])
            .args(["-show_entries", "packet=codec_type,pts", "-of", "csv=p=0"])
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting ffprobe (is it installed, with coreutils' stdbuf?)")?;
        let stdout = child.stdout.take().context("ffprobe's stdout")?;
        let lines = tokio::task::spawn_blocking(move || {
            let mut frames = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = SystemTime::now();
                // "video,3033": codec_type, pts in the FLV's 1/1000 time base.
                let mut f = line.split(',');
                if f.next() == Some("video")
                    && let Some(Ok(ms)) = f.next().map(str::parse::<u64>)
                {
                    frames.push((ms, at));
                }
            }
            frames
        });
        Ok(Reader {
            _child: ChildGuard(child),
            lines,
        })
    }

    /// Stop it and take what it read.
    pub async fn finish(self) -> Frames {
        let Reader { _child, lines } = self;
        drop(_child);
        lines.await.unwrap_or_default()
    }
}

/// The latencies of `frames` ingested at or after `from` (the period's clock: `ast`).
pub fn latencies(frames: &Frames, ast: SystemTime, from: SystemTime) -> Samples {
    let mut s = Samples::default();
    for &(ms, at) in frames {
        let ingest = ast + Duration::from_millis(ms);
        if ingest >= from {
            s.push(at.duration_since(ingest).unwrap_or_default());
        }
    }
    s
}

/// The LL-DASH frames of rendition `rep` from chunk arrivals `(segment, chunk, when)`, with
/// `clock` = the same moment as an `Instant` and a `SystemTime`.
pub fn dash_frames(
    period: &Period,
    rep: &str,
    arrivals: &[(u64, usize, Instant)],
    clock: (Instant, SystemTime),
) -> Frames {
    let (Some(track), Some(origin_ns)) = (period.track(rep), period.origin_ns()) else {
        return Vec::new();
    };
    let Some((_, info)) = track.init() else {
        return Vec::new();
    };
    let ts = u64::from(info.timescale.max(1));
    let origin = (u128::from(origin_ns) * u128::from(ts) / 1_000_000_000) as u64;
    let mut frames = Vec::new();
    for &(n, i, at) in arrivals {
        let Some(chunk) = track
            .segment(n)
            .and_then(|s| s.snapshot().chunks.get(i).cloned())
        else {
            continue;
        };
        let arrived = clock.1 + at.saturating_duration_since(clock.0);
        for s in bmff::samples(&chunk).unwrap_or_default() {
            frames.push((s.dts.saturating_sub(origin) * 1000 / ts, arrived));
        }
    }
    frames
}
