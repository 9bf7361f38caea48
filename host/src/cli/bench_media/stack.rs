//! The media stack under test, in this process: stream hub, packager, RTMP ingest and the
//! origin's HTTP routes, on 127.0.0.1 port 0; plus the ffmpeg children that encode clips and
//! publish, a throwaway directory, and a log of when each CMAF chunk reached the ring.

use anyhow::{Context, bail};
use livecart_media::hub::{StreamHub, TakeoverPolicy};
use livecart_media::ingest::{StaticKeys, StreamKeys, rtmp};
use livecart_media::origin::{MpdOptions, Origin, Recorder};
use livecart_media::package::ring::Period;
use livecart_media::package::state::MediaState;
use livecart_media::pipeline::ladder::LadderConfig;
use livecart_media::pipeline::{self, LatencyProbe, Packager};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The room every bench publishes into, and its stream key.
pub const ROOM: &str = "bench";
pub const KEY: &str = "bench-key";

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> anyhow::Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "livecart-bench-{what}-{}-{nanos:x}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed (and reaped) on drop. One whose stdin is a pipe is first asked
/// to exit by closing it, so it can clean up (the `--server-only` origin).
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.0.stdin.take().is_some() {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if !matches!(self.0.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl ChildGuard {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Whether it has exited (and how), without waiting.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().ok().flatten()
    }
}

/// Start `ffmpeg` with quiet logging and no stdin.
pub fn ffmpeg(args: &[&str]) -> anyhow::Result<ChildGuard> {
    let child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting ffmpeg (is it installed and on the PATH?)")?;
    Ok(ChildGuard(child))
}

/// x264 as a live publisher is set up: a 1 s GOP at 30 fps with no scene-cut keyframes
/// and no B-frames, so the source's keyframes fall on segment boundaries.
const LIVE_GOP: [&str; 10] = [
    "-g",
    "30",
    "-keyint_min",
    "30",
    "-sc_threshold",
    "0",
    "-bf",
    "0",
    "-pix_fmt",
    "yuv420p",
];

/// Encode `secs` of moving test pattern (testsrc2, with temporal film-grain noise if
/// `noise`: closer to a camera) and a tone into an FLV file: H.264 (x264 veryfast, one
/// keyframe a second, no B-frames) at `kbps` (constant with `cbr`), AAC 128 kb/s stereo.
/// Runs before any measurement.
pub async fn encode_clip(
    path: &Path,
    (w, h): (u32, u32),
    secs: u32,
    kbps: u32,
    cbr: bool,
    noise: bool,
) -> anyhow::Result<()> {
    let grain = if noise { ",noise=alls=16:allf=t+u" } else { "" };
    let video = format!("testsrc2=size={w}x{h}:rate=30{grain}");
    let (b, secs) = (format!("{kbps}k"), secs.to_string());
    let mut args = vec![
        "-y",
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        &secs,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
    ];
    args.extend(LIVE_GOP);
    args.extend(["-b:v", &b, "-maxrate", &b, "-bufsize", &b]);
    if cbr {
        args.extend(["-x264-params", "nal-hrd=cbr"]);
    }
    args.extend(["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "flv"]);
    let path_s = path.to_string_lossy();
    args.push(&path_s);
    let mut child = ffmpeg(&args)?;
    let status = tokio::task::spawn_blocking(move || child.0.wait()).await??;
    if !status.success() {
        bail!("ffmpeg could not encode the test clip ({status})");
    }
    Ok(())
}

/// A live 720p30 publisher to `url` for `secs` seconds: ffmpeg encoding testsrc2 and a
/// tone with `-tune zerolatency`, a 1 s GOP and no B-frames, as OBS is set up for low
/// latency.
pub fn publish_720p(url: &str, secs: &str, preset: &str) -> anyhow::Result<ChildGuard> {
    publish_live(url, "1280x720", secs, preset, "2500k")
}

/// [`publish_720p`] at another size (`WxH`) and bitrate (e.g. `800k`).
pub fn publish_live(
    url: &str,
    size: &str,
    secs: &str,
    preset: &str,
    rate: &str,
) -> anyhow::Result<ChildGuard> {
    let video = format!("testsrc2=size={size}:rate=30");
    let mut args = vec![
        "-re",
        "-f",
        "lavfi",
        "-i",
        &video,
        "-re",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        secs,
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-tune",
        "zerolatency",
    ];
    args.extend(LIVE_GOP);
    args.extend([
        "-b:v", rate, "-maxrate", rate, "-bufsize", rate, "-c:a", "aac", "-b:a", "128k", "-ac",
        "2", "-f", "flv", url,
    ]);
    ffmpeg(&args)
}

/// Hub, packager and RTMP ingest with one stream key for [`ROOM`]. Stops its tasks on drop.
pub struct Stack {
    pub hub: StreamHub,
    pub state: Arc<MediaState>,
    pub rtmp: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Stack {
    /// Start it inside the current tokio runtime; `log` records every chunk.
    pub async fn start(ladder: LadderConfig, log: Option<&Arc<ChunkLog>>) -> anyhow::Result<Self> {
        pipeline::init().context("initialising GStreamer")?;
        let hub = StreamHub::new();
        let state = MediaState::new();
        let latency = log.map(|l| {
            let _ = l.state.set(state.clone());
            l.probe()
        });
        let packager = Packager {
            hub: hub.clone(),
            state: state.clone(),
            ladder: Arc::new(move |_| ladder.clone()),
            on_period: None,
            latency,
        }
        .spawn();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding RTMP")?;
        let rtmp = listener.local_addr()?;
        let keys: Arc<dyn StreamKeys> = Arc::new(StaticKeys(HashMap::from([(
            KEY.to_string(),
            ROOM.to_string(),
        )])));
        // Players on the ingest port get the packaged rungs, starting at the next keyframe.
        let play: rtmp::Play = Some(Arc::new(livecart_media::origin::flv::FlvPlayback {
            state: state.clone(),
            gop_cache: false,
        }));
        let ingest = tokio::spawn(rtmp::serve(
            listener,
            hub.clone(),
            keys,
            TakeoverPolicy::Refuse,
            play,
        ));
        Ok(Stack {
            hub,
            state,
            rtmp,
            tasks: vec![packager, ingest],
        })
    }

    pub fn rtmp_url(&self) -> String {
        format!("rtmp://{}/live/{KEY}", self.rtmp)
    }

    /// The RTMP playback URL of `rung` (no stream key: playing needs none).
    pub fn play_url(&self, rung: &str) -> String {
        format!("rtmp://{}/live/{ROOM}?rung={rung}", self.rtmp)
    }

    /// Serve the origin's `/media` routes on 127.0.0.1 port 0 (recordings under `dir`).
    pub async fn serve_origin(&mut self, dir: &Path) -> anyhow::Result<SocketAddr> {
        let recordings = Recorder::new(dir.join("recordings"), Duration::from_secs(3600))
            .context("creating the recordings directory")?;
        let router = livecart_media::origin::router(Origin {
            state: self.state.clone(),
            recordings,
            opts: MpdOptions::default(),
        });
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        // A deep accept queue, like `livecart serve`: thousands of viewers join at once.
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        self.tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("error: origin stopped: {e}");
            }
        }));
        Ok(addr)
    }

    /// Wait for the room's period to be ready (every init segment and a first segment).
    pub async fn wait_period(&self, timeout: Duration) -> anyhow::Result<Arc<Period>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.state.live(ROOM).filter(|p| p.is_ready()) {
                return Ok(p);
            }
            if Instant::now() > deadline {
                let err = self.state.status(ROOM).last_error.unwrap_or_default();
                bail!("no packaged stream after {} s {err}", timeout.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// (rendition, segment number, chunk index).
type ChunkId = (String, u64, usize);

/// When each chunk reached the ring, by (rendition, segment number, chunk index), with the
/// packager's ingest → ring delay, fed by the latency probe.
#[derive(Default)]
pub struct ChunkLog {
    /// Where to find the period; set by [`Stack::start`].
    state: OnceLock<Arc<MediaState>>,
    seen: Mutex<HashMap<ChunkId, (Instant, Duration)>>,
}

impl ChunkLog {
    pub fn new() -> Arc<Self> {
        Arc::new(ChunkLog::default())
    }

    /// The probe to give the packager. It runs in the appsink callback right after the
    /// chunk went into the ring, so the ring's last segment holds it as its last chunk.
    fn probe(self: &Arc<Self>) -> LatencyProbe {
        let me = Arc::downgrade(self);
        Arc::new(move |rep: &str, delay: Duration| {
            let at = Instant::now();
            let Some(me) = me.upgrade() else { return };
            let Some(period) = me.state.get().and_then(|s| s.live(ROOM)) else {
                return;
            };
            let Some(seg) = period.track(rep).and_then(|t| t.last()) else {
                return;
            };
            let index = seg.snapshot().chunks.len().saturating_sub(1);
            let mut seen = me.seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.insert((rep.to_string(), seg.number, index), (at, delay));
        })
    }

    /// When chunk `index` of segment `number` of `rep` was in the ring, and its delay.
    pub fn get(&self, rep: &str, number: u64, index: usize) -> Option<(Instant, Duration)> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&(rep.to_string(), number, index)).copied()
    }

    /// Every chunk seen after `since`: (rendition, ingest → ring delay).
    pub fn delays_since(&self, since: Instant) -> Vec<(String, Duration)> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.iter()
            .filter(|(_, (at, _))| *at >= since)
            .map(|((rep, _, _), (_, d))| (rep.clone(), *d))
            .collect()
    }
}
