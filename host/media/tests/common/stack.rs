//! The media stack the end-to-end tests run against: hub, packager, recorder, origin and
//! RTMP/RTMPS servers on port 0, with helpers that read the origin as ffprobe and ffmpeg do.

use super::small_ladder;
use livecart_media::hub::{StreamHub, TakeoverPolicy};
use livecart_media::ingest::{StaticKeys, StreamKeys, rtmp, tls};
use livecart_media::origin::{MpdOptions, Origin, Recorder};
use livecart_media::package::state::MediaState;
use livecart_media::pipeline::Packager;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

pub const KEY: &str = "sk-e2e";
pub const ROOM: &str = "shop";

/// Hub, packager, recorder, origin and RTMP/RTMPS servers on port 0.
pub struct Stack {
    pub http: SocketAddr,
    /// Requests the origin has received.
    pub requests: Arc<AtomicU64>,
    pub rtmp: SocketAddr,
    pub rtmps: SocketAddr,
    pub hub: StreamHub,
    pub state: Arc<MediaState>,
    pub dir: tempfile::TempDir,
}

pub async fn stack() -> Stack {
    stack_with(false).await
}

/// [`stack`] with the source passed through as the top rung, or not.
pub async fn stack_with(passthrough: bool) -> Stack {
    livecart_media::pipeline::init().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hub = StreamHub::new();
    let state = MediaState::new();
    let recorder = Recorder::new(dir.path().join("rec"), Duration::from_secs(3600)).unwrap();
    let rec = recorder.clone();
    let handle = tokio::runtime::Handle::current();
    Packager {
        hub: hub.clone(),
        state: state.clone(),
        ladder: Arc::new(move |_| small_ladder(passthrough)),
        on_period: Some(Arc::new(move |p| {
            let _g = handle.enter();
            rec.record(p);
        })),
        latency: None,
    }
    .spawn();
    let mut keys = std::collections::HashMap::new();
    keys.insert(KEY.to_string(), ROOM.to_string());
    let keys: Arc<dyn StreamKeys> = Arc::new(StaticKeys(keys));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rtmp = l.local_addr().unwrap();
    let play: rtmp::Play = Some(Arc::new(livecart_media::origin::flv::FlvPlayback {
        state: state.clone(),
        gop_cache: true,
    }));
    tokio::spawn(rtmp::serve(
        l,
        hub.clone(),
        keys.clone(),
        TakeoverPolicy::Refuse,
        play.clone(),
    ));
    let (cert, key) = tls::dev_cert(&dir.path().join("tls"), &[]).unwrap();
    let acceptor = tls::acceptor_from_pem(cert, key).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rtmps = l.local_addr().unwrap();
    tokio::spawn(rtmp::serve_tls(
        l,
        acceptor,
        hub.clone(),
        keys,
        TakeoverPolicy::Refuse,
        play,
    ));
    let router = livecart_media::origin::router(Origin {
        state: state.clone(),
        recordings: recorder,
        opts: MpdOptions::default(),
    });
    // Count what readers ask of the origin (and serve with client addresses, as the host
    // does, so the 404 limiter knows them).
    let requests = Arc::new(AtomicU64::new(0));
    let counter = requests.clone();
    let router = router
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                counter.fetch_add(1, Ordering::Relaxed);
                next.run(req)
            },
        ))
        .into_make_service_with_connect_info::<SocketAddr>();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, router).await });
    Stack {
        http,
        requests,
        rtmp,
        rtmps,
        hub,
        state,
        dir,
    }
}

impl Stack {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Wait until the live MPD is served for period number `nth` (1-based); returns it.
    pub async fn live_mpd(&self, nth: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.state.status(ROOM);
            if status.periods_started >= nth && status.live {
                let resp = reqwest::get(self.url(&format!("/media/{ROOM}/live.mpd")))
                    .await
                    .unwrap();
                if resp.status() == 200 {
                    return resp.text().await.unwrap();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no live MPD within 20 s: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Decode `secs` s of `map` from the live MPD once the live is 11 s old. In a younger
    /// 48 kHz live ffmpeg 5.1's DASH reader starves video: it takes its segments from the
    /// wall clock in whole seconds (T = now - AST - 1), video's k+1 = T+1 starting at T and
    /// audio's the one holding T, k = T, whose last frame starts at T·1.00267 - 0.0213 s, short
    /// of T while T ≤ 8. And as its oldest segment `(now - AST) - timeShiftBufferDepth` is
    /// computed unsigned and wraps while the ring fills, it re-reads that audio segment
    /// instead of moving on, never reaching video's time (docs/media.md, known gaps).
    pub async fn decode_live(&self, map: &str, secs: u32) -> u64 {
        let ast = self
            .state
            .live(ROOM)
            .and_then(|p| p.availability_start())
            .expect("a live period");
        let age = ast.elapsed().unwrap_or_default();
        let settle = Duration::from_secs(11);
        if age < settle {
            tokio::time::sleep(settle - age).await;
        }
        decode(&self.url(&format!("/media/{ROOM}/live.mpd")), map, secs).await
    }

    pub async fn wait_ended(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.state.status(ROOM).live {
            assert!(Instant::now() < deadline, "live never ended");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Run `args` (a program and its arguments) under `timeout {secs}` off the runtime, so a hung
/// reader fails the test instead of stalling the suite; asserts it succeeded and returns its
/// stdout.
pub async fn stdout_of(secs: u32, args: &[&str]) -> String {
    let what = args.join(" ");
    let mut argv = vec![secs.to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let out =
        tokio::task::spawn_blocking(move || Command::new("timeout").args(&argv).output().unwrap())
            .await
            .unwrap();
    assert!(
        out.status.success(),
        "{what}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// ffprobe's view of a manifest: (codec, width, height) per stream.
pub async fn probe(url: &str) -> Vec<(String, u32, u32)> {
    let args = [
        "ffprobe",
        "-v",
        "error",
        "-show_entries",
        "stream=codec_name,width,height",
    ];
    let out = stdout_of(30, &[&args[..], &["-of", "csv=p=0", url]].concat()).await;
    let mut streams: Vec<_> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<_> = l.trim_end_matches(',').split(',').collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
            (f[0].to_string(), n(1), n(2))
        })
        .collect();
    streams.sort();
    streams.dedup();
    streams
}

/// Decode `secs` seconds of stream `map` (e.g. "0:v:0") with ffmpeg; returns frames decoded.
pub async fn decode(url: &str, map: &str, secs: u32) -> u64 {
    let t = secs.to_string();
    let args = [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-i",
        url,
    ];
    let out = stdout_of(
        60,
        &[&args[..], &["-map", map, "-t", &t, "-f", "framemd5", "-"]].concat(),
    )
    .await;
    out.lines().filter(|l| !l.starts_with('#')).count() as u64
}

pub fn expected_streams() -> Vec<(String, u32, u32)> {
    vec![
        ("aac".into(), 0, 0),
        ("h264".into(), 160, 90),
        ("h264".into(), 320, 180),
    ]
}
