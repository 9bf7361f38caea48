//! The whole media path against real peers: ffmpeg publishes over RTMP or RTMPS (or
//! GStreamer's RTSP server is pulled), the packager runs the ladder, the origin serves the
//! live MPD over HTTP, and ffprobe/ffmpeg read every rung from it. A dropped and reconnected
//! publisher starts a new period with a valid MPD, an ended live replays from the start
//! through its static MPD, and ffmpeg on an ended live's MPD stops (or is held to a few
//! requests a second).
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, free_port, publish, publish_as, publish_audio_only, small_ladder};
use livecart_media::hub::{StreamHub, TakeoverPolicy};
use livecart_media::ingest::rtsp::{self, RtspSource, RtspStatus};
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
use tokio::sync::watch;

const KEY: &str = "sk-e2e";
const ROOM: &str = "shop";

/// Hub, packager, recorder, origin and RTMP/RTMPS servers on port 0.
struct Stack {
    http: SocketAddr,
    /// Requests the origin has received.
    requests: Arc<AtomicU64>,
    rtmp: SocketAddr,
    rtmps: SocketAddr,
    hub: StreamHub,
    state: Arc<MediaState>,
    dir: tempfile::TempDir,
}

async fn stack() -> Stack {
    stack_with(false).await
}

/// [`stack`] with the source passed through as the top rung, or not.
async fn stack_with(passthrough: bool) -> Stack {
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
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Wait until the live MPD is served for period number `nth` (1-based); returns it.
    async fn live_mpd(&self, nth: u64) -> String {
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
    async fn decode_live(&self, map: &str, secs: u32) -> u64 {
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

    async fn wait_ended(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.state.status(ROOM).live {
            assert!(Instant::now() < deadline, "live never ended");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// ffprobe's view of a manifest: (codec, width, height) per stream.
async fn probe(url: &str) -> Vec<(String, u32, u32)> {
    let url = url.to_string();
    let out = tokio::task::spawn_blocking(move || {
        // A hung reader must fail the test, not stall the suite.
        Command::new("timeout")
            .args([
                "30",
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,height",
            ])
            .args(["-of", "csv=p=0", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut streams: Vec<_> = String::from_utf8_lossy(&out.stdout)
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
async fn decode(url: &str, map: &str, secs: u32) -> u64 {
    let (url, m) = (url.to_string(), map.to_string());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args([
                "60",
                "ffmpeg",
                "-hide_banner",
                "-nostdin",
                "-v",
                "error",
                "-i",
                &url,
            ])
            .args(["-map", &m, "-t", &secs.to_string(), "-f", "framemd5", "-"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {map} from {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count() as u64
}

fn expected_streams() -> Vec<(String, u32, u32)> {
    vec![
        ("aac".into(), 0, 0),
        ("h264".into(), 160, 90),
        ("h264".into(), 320, 180),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmp_live_is_served_then_replays_from_the_start() {
    let s = stack().await;
    let publisher = publish(&format!("rtmp://{}/live/{KEY}", s.rtmp), 30, s.dir.path());
    let mpd = s.live_mpd(1).await;
    assert!(mpd.contains(r#"type="dynamic""#), "{mpd}");
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(probe(&live).await, expected_streams());
    // Each rung plays from the live MPD.
    for map in ["0:v:0", "0:v:1", "0:a:0"] {
        assert!(s.decode_live(map, 2).await > 10, "{map} decodes");
    }
    // The publisher vanishes mid-stream (killed, no unpublish): the period still ends
    // cleanly and becomes a replay.
    let published = publisher.started.elapsed();
    drop(publisher);
    s.wait_ended().await;
    // Players already on the live URL get its last MPD, now with its length, and play
    // to the end rather than into a 404.
    let ended = reqwest::get(&live).await.unwrap();
    assert_eq!(ended.status(), 200);
    let ended = ended.text().await.unwrap();
    assert!(ended.contains("mediaPresentationDuration"), "{ended}");

    let list: serde_json::Value = reqwest::get(s.url(&format!("/media/{ROOM}/replays")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let period = list["replays"][0]["period"].as_str().unwrap().to_string();
    let replay = s.url(&format!("/media/{ROOM}/replay/{period}.mpd"));
    let text = reqwest::get(&replay).await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"type="static""#), "{text}");
    assert_eq!(probe(&replay).await, expected_streams());
    // The replay starts at the beginning and holds the whole live: every frame published
    // from the first keyframe on (30 fps), give or take the second before packaging began.
    let frames = decode(&replay, "0:v:0", 60).await;
    let expected = published.as_secs_f64() * 30.0;
    assert!(
        frames as f64 > expected - 45.0 && frames as f64 <= expected + 15.0,
        "replay has {frames} frames, {expected:.0} published"
    );
}

/// A phone held upright publishes portrait video: its rungs follow the short side, as a
/// landscape source's do, so the top rung keeps every pixel (180x320 → 180x320 and 90x160,
/// not 102x180 and 50x90).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portrait_publish_gets_portrait_rungs_by_the_short_side() {
    let s = stack().await;
    let _publisher = common::publish_sized(
        &format!("rtmp://{}/live/{KEY}", s.rtmp),
        15,
        "180x320",
        s.dir.path(),
    );
    s.live_mpd(1).await;
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(
        probe(&live).await,
        vec![
            ("aac".into(), 0, 0),
            ("h264".into(), 90, 160),
            ("h264".into(), 180, 320),
        ]
    );
}

/// ffprobe's (profile, pixel format) of every video stream of a manifest.
async fn video_formats(url: &str) -> Vec<(String, String)> {
    let url = url.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args(["30", "ffprobe", "-v", "error", "-select_streams", "v"])
            .args([
                "-show_entries",
                "stream=profile,pix_fmt",
                "-of",
                "csv=p=0",
                &url,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut formats: Vec<_> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(','))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    formats.sort();
    formats.dedup();
    formats
}

/// A High 4:4:4 or High 10 source (a capture card, a camera's "quality" mode) gets rungs
/// phones play: every rung is 8-bit 4:2:0 (Baseline, Main or High), the source is not passed through, and the
/// status says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_444_and_high_10_sources_get_8_bit_420_rungs_only() {
    for (pix_fmt, profile) in [
        ("yuv444p", "High 4:4:4 Predictive"),
        ("yuv420p10le", "High 10"),
    ] {
        let s = stack_with(true).await;
        let _publisher = publish_as(
            &format!("rtmp://{}/live/{KEY}", s.rtmp),
            15,
            "320x180",
            &["-pix_fmt", pix_fmt],
            s.dir.path(),
        );
        s.live_mpd(1).await;
        let live = s.url(&format!("/media/{ROOM}/live.mpd"));
        // (The tests' x264 preset, ultrafast, makes Constrained Baseline.)
        let formats = video_formats(&live).await;
        assert!(
            formats.iter().all(|(profile, pix)| {
                let phone = ["Constrained Baseline", "Baseline", "Main", "High"];
                phone.contains(&profile.as_str()) && pix == "yuv420p"
            }),
            "{pix_fmt}: {formats:?}"
        );
        // Both rungs are encoded (the 180p one at the source's size), none passed through.
        assert_eq!(probe(&live).await, expected_streams(), "{pix_fmt}");
        let error = s.state.status(ROOM).last_error.unwrap_or_default();
        assert!(
            error.starts_with(&format!("passthrough refused: the source is {profile}")),
            "{pix_fmt}: {error}"
        );
    }
}

/// The value of attribute `name` in the first `<tag …>` of `xml` from `from` on.
fn attr(xml: &str, from: usize, tag: &str, name: &str) -> Option<String> {
    let start = from + xml[from..].find(&format!("<{tag} "))?;
    let end = start + xml[start..].find('>')?;
    let open = &xml[start..end];
    let at = open.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(open[at..].split('"').next()?.to_string())
}

/// A CMAF segment's first `tfdt` and the sum of its samples' durations, read from every
/// `moof` (`tfhd` default duration, `trun` per-sample durations).
fn fragment_times(segment: &[u8]) -> (u64, u64) {
    use livecart_media::package::bmff::{boxes, find};
    let u32_at = |b: &[u8], at: usize| u32::from_be_bytes(b[at..at + 4].try_into().unwrap());
    let (mut first, mut total) = (None, 0u64);
    for moof in boxes(segment).filter(|b| &b.kind == b"moof") {
        let traf = find(moof.body, &[b"traf"]).expect("traf");
        let tfdt = find(traf, &[b"tfdt"]).expect("tfdt");
        let t = if tfdt[0] == 1 {
            u64::from_be_bytes(tfdt[4..12].try_into().unwrap())
        } else {
            u64::from(u32_at(tfdt, 4))
        };
        first.get_or_insert(t);
        let tfhd = find(traf, &[b"tfhd"]).expect("tfhd");
        let flags = u32_at(tfhd, 0) & 0xff_ffff;
        // After version/flags and track_ID: base_data_offset (0x01), sample_description_index (0x02).
        let at = 8 + if flags & 1 != 0 { 8 } else { 0 } + if flags & 2 != 0 { 4 } else { 0 };
        let default = (flags & 8 != 0).then(|| u32_at(tfhd, at));
        let trun = find(traf, &[b"trun"]).expect("trun");
        let flags = u32_at(trun, 0) & 0xff_ffff;
        let count = u32_at(trun, 4) as usize;
        let mut at = 8 + if flags & 1 != 0 { 4 } else { 0 } + if flags & 4 != 0 { 4 } else { 0 };
        let per = [0x100, 0x200, 0x400, 0x800]
            .iter()
            .filter(|f| flags & **f != 0)
            .count()
            * 4;
        for _ in 0..count {
            let d = if flags & 0x100 != 0 {
                u32_at(trun, at)
            } else {
                default.expect("sample durations")
            };
            total += u64::from(d);
            at += per;
        }
    }
    (first.expect("a moof"), total)
}

/// What a publisher's AAC at 48 and 44.1 kHz becomes: every audio segment starts and lasts
/// what the MPD's template and the HLS playlist say (whole AAC frames, no drift), and the
/// audio `@bandwidth` is the measured bitrate of a 160 kb/s source, not a fixed 128000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_segments_are_where_the_manifests_say_at_48_and_44_1_khz() {
    for rate in [48_000u64, 44_100] {
        let s = stack().await;
        let ar = rate.to_string();
        let _publisher = publish_as(
            &format!("rtmp://{}/live/{KEY}", s.rtmp),
            20,
            "320x180",
            &["-ar", &ar, "-b:a", "160k"],
            s.dir.path(),
        );
        s.live_mpd(1).await;
        // Enough complete segments to see a drift of a few ms per segment.
        let period = s.state.serving(ROOM).unwrap();
        let audio = period.track("a0").unwrap().clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        while audio.segments().iter().filter(|g| g.is_complete()).count() < 8 {
            assert!(Instant::now() < deadline, "audio segments at {rate} Hz");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mpd = reqwest::get(s.url(&format!("/media/{ROOM}/live.mpd")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let set = mpd.find(r#"contentType="audio""#).expect("audio set");
        let set = mpd[..set].rfind("<AdaptationSet").unwrap();
        let num = |tag: &str, name: &str| -> u64 {
            attr(&mpd, set, tag, name)
                .unwrap_or_else(|| panic!("{tag}@{name}: {mpd}"))
                .parse()
                .unwrap()
        };
        let (timescale, d, pto) = (
            num("SegmentTemplate", "timescale"),
            num("SegmentTemplate", "duration"),
            num("SegmentTemplate", "presentationTimeOffset"),
        );
        assert_eq!(timescale, rate, "{mpd}");
        // Whole AAC frames, nearest 1 s: 47 × 1024 at 48 kHz, 43 × 1024 at 44.1 kHz.
        assert_eq!(d, if rate == 48_000 { 48_128 } else { 44_032 }, "{mpd}");
        let bandwidth = num("Representation", "bandwidth");
        // ffmpeg's AAC encoder spends a little under its target on a tone.
        assert!(
            (140_000..200_000).contains(&bandwidth),
            "audio @bandwidth {bandwidth}"
        );

        let playlist = reqwest::get(s.url(&format!("/media/{ROOM}/{}/a0/index.m3u8", period.id)))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut extinf = std::collections::HashMap::new();
        let mut last = None;
        for line in playlist.lines() {
            if let Some(v) = line.strip_prefix("#EXTINF:") {
                last = v.trim_end_matches(',').parse::<f64>().ok();
            } else if let Some(n) = line.strip_suffix(".m4s") {
                extinf.insert(n.parse::<u64>().unwrap(), last.take().unwrap());
            }
        }
        let complete: Vec<u64> = audio
            .segments()
            .iter()
            .filter(|g| g.is_complete())
            .map(|g| g.number)
            .collect();
        for n in complete {
            let url = s.url(&format!("/media/{ROOM}/{}/a0/{n}.m4s", period.id));
            let bytes = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
            let (tfdt, duration) = fragment_times(&bytes);
            // The template's start of segment n, within one AAC frame (the audio's first
            // frame is not exactly on the video's), and never drifting.
            let nominal = pto + (n - 1) * d;
            assert!(
                tfdt.abs_diff(nominal) <= 1024,
                "{rate} Hz segment {n}: tfdt {tfdt}, the MPD says {nominal}"
            );
            assert_eq!(
                duration, d,
                "{rate} Hz segment {n} lasts {duration}, the MPD says {d}"
            );
            if let Some(secs) = extinf.get(&n) {
                let actual = duration as f64 / rate as f64;
                assert!(
                    (secs - actual).abs() < 1e-5,
                    "{rate} Hz segment {n}: EXTINF {secs}, {actual} s"
                );
            }
        }
        assert!(extinf.len() >= 7, "{playlist}");
    }
}

/// FLV tags read from `live.flv` for `secs`: (type, timestamp ms, body).
async fn flv_tags(url: &str, secs: u64) -> Vec<(u8, u32, Vec<u8>)> {
    let mut resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    assert_eq!(resp.headers()["content-type"], "video/x-flv");
    let mut data = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, resp.chunk()).await {
        data.extend_from_slice(&chunk);
    }
    assert_eq!(&data[..3], b"FLV", "an FLV header");
    let mut tags = Vec::new();
    let mut at = 13;
    while at + 11 <= data.len() {
        let size = u32::from_be_bytes([0, data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let ts = u32::from_be_bytes([data[at + 7], data[at + 4], data[at + 5], data[at + 6]]);
        if at + 11 + size + 4 > data.len() {
            break;
        }
        tags.push((data[at], ts, data[at + 11..at + 11 + size].to_vec()));
        at += 11 + size + 4;
    }
    tags
}

/// HTTP-FLV and RTMP playback for WeChat's `<live-player>` and the FLV players: ffprobe
/// and ffmpeg read every rung from `live.flv` and from `rtmp://…/live/{room}`, the stream
/// starts on a keyframe after its codec headers, and a
/// timed event (a pushed card) arrives in-band as an `onCuePoint` at its media time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_flv_serves_every_rung_with_cue_points() {
    use livecart_media::package::events::TimedEvent;
    let s = stack().await;
    let _publisher = publish(&format!("rtmp://{}/live/{KEY}", s.rtmp), 25, s.dir.path());
    s.live_mpd(1).await;
    let flv = s.url(&format!("/media/{ROOM}/live.flv"));
    assert_eq!(
        probe(&flv).await,
        vec![("aac".into(), 0, 0), ("h264".into(), 320, 180)]
    );
    let low = format!("{flv}?rung=v1");
    assert_eq!(
        probe(&low).await,
        vec![("aac".into(), 0, 0), ("h264".into(), 160, 90)]
    );
    assert!(decode(&flv, "0:v:0", 2).await > 30);
    assert!(decode(&flv, "0:a:0", 2).await > 60);
    let missing = reqwest::get(format!("{flv}?rung=v9")).await.unwrap();
    assert_eq!(missing.status(), 404);
    // RTMP playback on the ingest port, no stream key: the same rungs.
    // (ffmpeg also lists the data messages an RTMP play starts with, such as
    // `onStatus(NetStream.Data.Start)`, as data streams: only audio and video count.)
    let rtmp = format!("rtmp://{}/live/{ROOM}", s.rtmp);
    let av = |streams: Vec<(String, u32, u32)>| -> Vec<(String, u32, u32)> {
        streams
            .into_iter()
            .filter(|(c, _, _)| c == "aac" || c == "h264")
            .collect()
    };
    assert_eq!(
        av(probe(&rtmp).await),
        vec![("aac".into(), 0, 0), ("h264".into(), 320, 180)]
    );
    assert_eq!(
        av(probe(&format!("{rtmp}?rung=v1")).await),
        vec![("aac".into(), 0, 0), ("h264".into(), 160, 90)]
    );
    assert!(decode(&rtmp, "0:v:0", 2).await > 30);
    // A room that is not live is refused with the reason.
    let out = Command::new("timeout")
        .args(["20", "ffprobe", "-v", "error"])
        .arg(format!("rtmp://{}/live/nobody", s.rtmp))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("room is not live"), "{err}");

    // A card pushed 1.5 s ahead of the live edge, while a viewer is watching.
    let period = s.state.live(ROOM).unwrap();
    let now_ms = period
        .availability_start()
        .unwrap()
        .elapsed()
        .unwrap()
        .as_millis() as u64;
    let media_ms = now_ms + 1500;
    let reader = tokio::spawn({
        let flv = flv.clone();
        async move { flv_tags(&flv, 6).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.state
        .add_event(
            ROOM,
            &period.id,
            TimedEvent {
                id: "push-flv".into(),
                media_ms,
                duration_ms: 5000,
                payload: br#"{"push":"flv"}"#.to_vec(),
            },
        )
        .unwrap();
    let tags = reader.await.unwrap();
    // onMetaData, the AVC and AAC sequence headers, then a keyframe.
    assert_eq!(tags[0].0, 18);
    assert!(String::from_utf8_lossy(&tags[0].2).contains("onMetaData"));
    assert_eq!((tags[1].0, tags[1].2[0], tags[1].2[1]), (9, 0x17, 0));
    assert_eq!((tags[2].0, tags[2].2[0], tags[2].2[1]), (8, 0xAF, 0));
    let first_video = tags.iter().skip(3).find(|t| t.0 == 9).unwrap();
    assert_eq!(
        (first_video.2[0], first_video.2[1]),
        (0x17, 1),
        "starts on a keyframe"
    );
    let cues: Vec<_> = tags
        .iter()
        .filter(|t| t.0 == 18 && String::from_utf8_lossy(&t.2).contains("onCuePoint"))
        .collect();
    assert_eq!(cues.len(), 1, "one cue point");
    assert_eq!(u64::from(cues[0].1), media_ms, "at the event's media time");
    let text = String::from_utf8_lossy(&cues[0].2);
    assert!(
        text.contains("push-flv") && text.contains(r#"{"push":"flv"}"#),
        "{text}"
    );
    // Video timestamps never go back.
    let video: Vec<u32> = tags
        .iter()
        .skip(3)
        .filter(|t| t.0 == 9)
        .map(|t| t.1)
        .collect();
    assert!(video.windows(2).all(|w| w[0] <= w[1]), "{video:?}");
}

/// A radio-style live (audio only) is served on the same URLs as any live, DASH and HLS,
/// and recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audio_only_live_is_served_and_recorded() {
    let s = stack().await;
    let publisher = publish_audio_only(&format!("rtmp://{}/live/{KEY}", s.rtmp), 8, s.dir.path());
    let mpd = s.live_mpd(1).await;
    assert!(mpd.contains(r#"contentType="audio""#), "{mpd}");
    assert!(!mpd.contains(r#"contentType="video""#), "{mpd}");
    let aac = vec![("aac".to_string(), 0, 0)];
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(probe(&live).await, aac);
    // 2 s of 48 kHz AAC is about 94 frames.
    assert!(decode(&live, "0:a:0", 2).await > 60);
    let master = s.url(&format!("/media/{ROOM}/master.m3u8"));
    assert_eq!(probe(&master).await, aac);
    drop(publisher);
    s.wait_ended().await;
    let list: serde_json::Value = reqwest::get(s.url(&format!("/media/{ROOM}/replays")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let period = list["replays"][0]["period"]
        .as_str()
        .expect("a replay")
        .to_string();
    let replay = s.url(&format!("/media/{ROOM}/replay/{period}.mpd"));
    assert_eq!(probe(&replay).await, aac);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_codec_is_told_to_the_publisher_and_shown_in_the_status() {
    let s = stack().await;
    let mut ff = publish_as(
        &format!("rtmp://{}/live/{KEY}", s.rtmp),
        10,
        "320x180",
        &["-c:a", "libmp3lame", "-b:a", "64k"],
        s.dir.path(),
    );
    let status = ff.wait(Duration::from_secs(20)).await;
    let log = ff.log();
    assert!(!status.success(), "MP3 was accepted: {log}");
    // ffmpeg prints an RTMP onStatus error as "Server error: <description>".
    assert!(
        log.contains("Server error: unsupported audio codec MP3 (only AAC is accepted)"),
        "{log}"
    );
    // Recorded by the packager as the hub announces the refusal.
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.state.status(ROOM).last_error.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let media = s.state.status(ROOM);
    let error = media.last_error.unwrap_or_default();
    assert!(
        error.starts_with("publish from rtmp 127.0.0.1:")
            && error.ends_with("refused: unsupported audio codec MP3 (only AAC is accepted)"),
        "{error}"
    );
    assert!(media.last_error_ms.is_some());
    assert!(!media.live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmps_publish_is_served() {
    let s = stack().await;
    let _publisher = publish(&format!("rtmps://{}/live/{KEY}", s.rtmps), 20, s.dir.path());
    s.live_mpd(1).await;
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(probe(&live).await, expected_streams());
    assert!(s.decode_live("0:v:1", 2).await > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_publisher_starts_a_new_valid_period() {
    let s = stack().await;
    let url = format!("rtmp://{}/live/{KEY}", s.rtmp);
    let mut first = publish(&url, 3, s.dir.path());
    let mpd1 = s.live_mpd(1).await;
    first.wait(Duration::from_secs(20)).await;
    s.wait_ended().await;
    // The publisher comes back (OBS reconnecting).
    let _second = publish(&url, 20, s.dir.path());
    let mpd2 = s.live_mpd(2).await;
    let period_of = |mpd: &str| {
        let at = mpd.find("<Period id=\"").unwrap() + 12;
        mpd[at..at + mpd[at..].find('"').unwrap()].to_string()
    };
    assert_ne!(period_of(&mpd1), period_of(&mpd2), "a new period");
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(probe(&live).await, expected_streams());
    assert!(s.decode_live("0:v:0", 2).await > 10);
    let status = s.state.status(ROOM);
    assert_eq!(status.periods_started, 2);
    assert!(status.last_error.is_none(), "{:?}", status.last_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtsp_pull_is_served() {
    let s = stack().await;
    let port = free_port();
    let _server = Server::start(port, "/cam", None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (status_tx, _status_rx) = watch::channel(RtspStatus::default());
    let source = RtspSource {
        room: ROOM.into(),
        url: format!("rtsp://127.0.0.1:{port}/cam"),
        username: None,
        password: None,
        transport: Default::default(),
    };
    let task = tokio::spawn(rtsp::run(
        source,
        s.hub.clone(),
        TakeoverPolicy::Refuse,
        stop_rx,
        status_tx,
    ));
    s.live_mpd(1).await;
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(probe(&live).await, expected_streams());
    assert!(s.decode_live("0:v:0", 2).await > 10);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_event_is_in_band_in_every_video_rung() {
    use livecart_media::package::{bmff, emsg, events::TimedEvent};
    let s = stack().await;
    let _publisher = publish(&format!("rtmp://{}/live/{KEY}", s.rtmp), 20, s.dir.path());
    s.live_mpd(1).await;
    let period = s.state.live(ROOM).unwrap();
    // What the host does: media time = now − availabilityStartTime.
    let media_ms = period
        .availability_start()
        .unwrap()
        .elapsed()
        .unwrap()
        .as_millis() as u64;
    let payload = br#"{"push":"e2e","product":"sku-1"}"#.to_vec();
    s.state
        .add_event(
            ROOM,
            &period.id,
            TimedEvent {
                id: "push-e2e".into(),
                media_ms,
                duration_ms: 5000,
                payload: payload.clone(),
            },
        )
        .unwrap();
    for rep in ["v0", "v1"] {
        let track = period.track(rep).unwrap().clone();
        let ts = track.init().unwrap().1.timescale;
        let at = emsg::ticks(period.origin_ns().unwrap(), ts) + media_ms * u64::from(ts) / 1000;
        // Wait until the segment holding the event's time is complete.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !track
            .segments()
            .iter()
            .any(|seg| seg.start > at && seg.is_complete())
        {
            assert!(
                Instant::now() < deadline,
                "{rep}: no segment past the event"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let init = reqwest::get(s.url(&format!("/media/{ROOM}/{}/{rep}/init.mp4", period.id)))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(bmff::timescale(&init), Some(ts));
        let mut found = None;
        for seg in track.segments() {
            let url = s.url(&format!(
                "/media/{ROOM}/{}/{rep}/{}.m4s",
                period.id, seg.number
            ));
            let data = reqwest::get(url).await.unwrap().bytes().await.unwrap();
            let events = emsg::find_all(&data);
            if !events.is_empty() {
                assert!(found.is_none(), "{rep}: the event is in one segment only");
                found = Some((seg.number, data, events));
            }
        }
        let (number, data, events) = found.unwrap_or_else(|| panic!("{rep}: no emsg"));
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.scheme_id_uri, "urn:livecart:event:2026");
        assert_eq!(e.value, "1");
        assert_eq!((e.timescale, e.presentation_time), (ts, at));
        assert_eq!(e.event_duration, 5 * ts);
        assert_eq!(e.id, 1);
        assert_eq!(e.message_data, payload);
        // Right before the moof of the chunk whose time span reaches the event.
        let kinds: Vec<_> = bmff::boxes(&data).map(|b| b.kind).collect();
        let i = kinds.iter().position(|k| k == b"emsg").unwrap();
        assert_eq!(&kinds[i + 1], b"moof", "{rep}: {kinds:?}");
        let offset: usize = bmff::boxes(&data)
            .take(i + 1)
            .map(|b| b.body.len() + 8)
            .sum();
        let tfdt = bmff::decode_time(&data[offset..]).unwrap();
        let chunk = u64::from(ts) / 5;
        assert!(
            tfdt <= at && at < tfdt + chunk + chunk / 2,
            "{rep}: event at {at} in the chunk from {tfdt}"
        );
        // Players still decode the segment.
        let file = s.dir.path().join(format!("{rep}-{number}.mp4"));
        std::fs::write(&file, [&init[..], &data[..]].concat()).unwrap();
        let path = file.to_str().unwrap();
        assert_eq!(probe(path).await[0].0, "h264");
        assert!(decode(path, "0:v:0", 2).await >= 25, "{rep} decodes");
    }
    assert_eq!(period.events.in_stream_delays().len(), 2);
    // The live MPD still plays. Over 2 s: ffmpeg's `-t` counts from the earliest stream,
    // and at 48 kHz the audio segment holding the start time begins up to a segment before
    // the video one (segment k of 47 AAC frames spans (k-1)·1.0027 s to k·1.0027 s).
    assert!(s.decode_live("0:v:0", 2).await > 10);
}

/// `ffmpeg -i {url} -f null -`, logging to `dir`; killed when dropped.
fn read_to_null(url: &str, dir: &std::path::Path, name: &str) -> common::ChildGuard {
    let log = dir.join(format!("{name}.log"));
    let child = Command::new("/usr/bin/ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "warning", "-i", url])
        .args(["-f", "null", "-"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    common::ChildGuard {
        child,
        log,
        started: Instant::now(),
    }
}

/// Issue 12, defect 7: ffmpeg 5.1 on the live MPD of an ended live never finished (50,717
/// segment requests in 23 s, SIGTERM ignored). Now a reader that opens the ended live's
/// MPD plays it to the end and exits by itself with a handful of requests; a reader that
/// was on the MPD while it was dynamic (ffmpeg never reads it again) is held to a few
/// requests a second by the 404 limiter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_on_an_ended_live_mpd_stops() {
    let s = stack().await;
    let mut publisher = publish(&format!("rtmp://{}/live/{KEY}", s.rtmp), 3, s.dir.path());
    s.live_mpd(1).await;
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    let mut on_air = read_to_null(&live, s.dir.path(), "on-air");
    assert!(publisher.wait(Duration::from_secs(30)).await.success());
    s.wait_ended().await;

    // The reader that was on the live when it ended: bounded, whatever it does.
    let before = s.requests.load(Ordering::Relaxed);
    let window = Duration::from_secs(5);
    let ended = Instant::now();
    let mut exited = None;
    while ended.elapsed() < window && exited.is_none() {
        exited = on_air.child.try_wait().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let asked = s.requests.load(Ordering::Relaxed) - before;
    assert!(
        asked < 150,
        "the reader on the live asked {asked} times in {window:?} after the end (exited: \
         {exited:?}); log:\n{}",
        on_air.log()
    );
    eprintln!("on-air reader: {asked} requests in {window:?} after the end, exited: {exited:?}");
    drop(on_air);
    // Every reader here is 127.0.0.1, one client to the limiter: let its bucket refill
    // (30 404s at 5 a second).
    tokio::time::sleep(Duration::from_millis(6500)).await;

    // A reader that opens the ended live's MPD: static, played to the end, then exit 0.
    let mpd = reqwest::get(&live).await.unwrap().text().await.unwrap();
    assert!(mpd.contains(r#"type="static""#), "{mpd}");
    let before = s.requests.load(Ordering::Relaxed);
    let mut after = read_to_null(&live, s.dir.path(), "after-end");
    let status = after.wait(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}; log:\n{}", after.log());
    let asked = s.requests.load(Ordering::Relaxed) - before;
    assert!(
        asked < 60,
        "{asked} requests to play a 3 s live; log:\n{}",
        after.log()
    );
}
