//! LL-HLS over real HTTP. Against a hand-built ring: a blocking playlist reload is held
//! until its part exists, a preload-hinted part until it is pushed; too-far and malformed
//! directives get 400, an unmet one 503 after three target durations; parts are immutable
//! and come from the recording once their segment has left the ring. Against a real live
//! (ffmpeg publishing, the ladder packaging): the playlists parse with a third-party parser
//! (Python's `m3u8`) and ffprobe, parts are exact CMAF chunks that add up to their segment.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::ring::{finish_last, period, push_chunk, serve, start_segment};
use common::stack::{KEY, ROOM, probe, stack};
use common::{PYTHON, publish};
use livecart_media::origin::{MpdOptions, Origin, Recorder};
use livecart_media::package::ring::{ChunkInfo, Segment};
use livecart_media::package::state::MediaState;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

async fn get(base: SocketAddr, path: impl AsRef<str>) -> (u16, String, String) {
    let path = path.as_ref();
    let r = reqwest::get(format!("http://{base}{path}")).await.unwrap();
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("cache-control")
        .map_or("", |v| v.to_str().unwrap())
        .to_string();
    (status, cache, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_reload_and_parts() {
    let dir = tempfile::tempdir().unwrap();
    let state = MediaState::new();
    let p = period("ll", Duration::from_secs(1), 8);
    for n in 1..=3 {
        start_segment(&p, n);
        push_chunk(&p, n, 1);
    }
    start_segment(&p, 4);
    state.start_period(p.clone(), "test");
    let base = serve(Origin {
        state: state.clone(),
        recordings: Recorder::new(dir.path(), Duration::from_secs(60)).unwrap(),
        opts: MpdOptions::default(),
    })
    .await;
    let playlist = "/media/ll/p1/v0/index.m3u8";

    let (status, _, m) = get(base, playlist).await;
    assert_eq!(status, 200);
    assert!(m.contains("#EXT-X-PART:DURATION=0.10000,URI=\"4.0.m4s\",INDEPENDENT=YES\n"));
    assert!(
        m.contains("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"4.1.m4s\"\n"),
        "{m}"
    );

    // The next part: held until the packager pushes it.
    let started = Instant::now();
    let held = tokio::spawn(get(base, format!("{playlist}?_HLS_msn=4&_HLS_part=1")));
    let part = tokio::spawn(get(base, "/media/ll/p1/v0/4.1.m4s"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished() && !part.is_finished());
    push_chunk(&p, 4, 1);
    let (status, _, m) = held.await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(status, 200);
    assert!(m.contains("URI=\"4.1.m4s\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"4.2.m4s\""));
    assert!(m.contains("#EXT-X-RENDITION-REPORT:URI=\"../a0/index.m3u8\",LAST-MSN=4,LAST-PART="));
    let (status, cache, body) = part.await.unwrap();
    assert_eq!((status, body.as_str()), (200, "v0-4-c1;"));
    assert_eq!(cache, "public, max-age=31536000, immutable");

    // The next segment's first part, asked for before it exists.
    let held = tokio::spawn(get(base, format!("{playlist}?_HLS_msn=5&_HLS_part=0")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!held.is_finished());
    start_segment(&p, 5);
    let (status, _, m) = held.await.unwrap();
    assert_eq!(status, 200);
    assert!(m.contains("\n4.m4s\n"), "segment 4 is complete now: {m}");
    assert!(m.contains("URI=\"5.0.m4s\",INDEPENDENT=YES\n"));

    // A hinted part that does not come (its segment completes without it): 404.
    let missing = tokio::spawn(get(base, "/media/ll/p1/v0/5.1.m4s"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    finish_last(&p);
    let (status, _, body) = missing.await.unwrap();
    assert_eq!(status, 404);
    assert!(body.contains("segment 5 has only 1 parts"), "{body}");

    // Bad and too-far directives: at once.
    for (query, why) in [
        ("_HLS_msn=99", "more than two segments past"),
        (
            "_HLS_msn=6&_HLS_part=9",
            "10 parts past the last one, more than 3",
        ),
        ("_HLS_part=1", "needs _HLS_msn"),
        ("_HLS_msn=x", "must be a whole number"),
    ] {
        let t = Instant::now();
        let (status, _, body) = get(base, &format!("{playlist}?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(why), "{query}: {body}");
        assert!(t.elapsed() < Duration::from_millis(500));
    }
    // Never satisfied: 503 after three target durations (3 × 1 s).
    let t = Instant::now();
    let (status, _, body) = get(base, &format!("{playlist}?_HLS_msn=7")).await;
    assert_eq!(status, 503, "{body}");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(2900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // A satisfied directive answers at once; an ended period's playlist too.
    let t = Instant::now();
    assert_eq!(get(base, &format!("{playlist}?_HLS_msn=2")).await.0, 200);
    assert!(t.elapsed() < Duration::from_millis(500));
}

/// A CMAF-shaped chunk: an `emsg`-free `moof` + `mdat` whose payloads carry `tag`.
fn bmff_chunk(tag: &str) -> Bytes {
    let mut v = Vec::new();
    for kind in [b"moof", b"mdat"] {
        v.extend_from_slice(&(8 + tag.len() as u32).to_be_bytes());
        v.extend_from_slice(kind);
        v.extend_from_slice(tag.as_bytes());
    }
    v.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_of_a_segment_that_left_the_ring_come_from_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let state = MediaState::new();
    let recorder = Recorder::new(dir.path(), Duration::from_secs(60)).unwrap();
    // A ring of two segments.
    let p = period("rec", Duration::from_secs(1), 2);
    let info = |independent| ChunkInfo {
        duration: 9_000,
        independent,
    };
    let base = serve(Origin {
        state: state.clone(),
        recordings: recorder.clone(),
        opts: MpdOptions::default(),
    })
    .await;
    for n in 1..=4u64 {
        for t in &p.tracks {
            if let Some(last) = t.last() {
                last.finish(90_000);
            }
            let s = Segment::new(
                n,
                900_000 + (n - 1) * 90_000,
                bmff_chunk(&format!("{n}a")),
                info(true),
            );
            s.push_chunk(bmff_chunk(&format!("{n}b")), info(false));
            t.push_segment(std::sync::Arc::new(s));
        }
        if n == 1 {
            state.start_period(p.clone(), "test");
            recorder.record(p.clone());
        }
        if n == 2 {
            // Segment 1 is complete: let the recorder take it before the ring drops it.
            let (status, _, body) = get(base, "/media/rec/p1/v0/1.1.m4s").await;
            assert_eq!(
                (status, body.as_str()),
                (200, "\0\0\0\x0amoof1b\0\0\0\x0amdat1b")
            );
            let written = dir.path().join("rec/p1/v0/1.m4s");
            for _ in 0..250 {
                if written.exists() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert!(p.tracks[0].segment(1).is_none(), "segment 1 left the ring");
    let r = reqwest::get(format!("http://{base}/media/rec/p1/v0/1.1.m4s"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.bytes().await.unwrap(), bmff_chunk("1b"));
    let (status, _, body) = get(base, "/media/rec/p1/v0/1.2.m4s").await;
    assert_eq!(status, 404);
    assert!(body.contains("segment 1 has no part 2"), "{body}");
    // From the ring, the same bytes.
    let r = reqwest::get(format!("http://{base}/media/rec/p1/a0/4.0.m4s"))
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "audio/mp4");
    assert_eq!(r.bytes().await.unwrap(), bmff_chunk("4a"));
}

/// What Python's `m3u8` (Debian's python3-m3u8) reads of a media playlist, checked there:
/// parts (the growing segment's too, as a segment without URI) no longer than the part
/// target and the hold-back at least three part targets; the rest is returned as JSON.
const CHECK: &str = r#"
import json, sys, m3u8
p = m3u8.loads(sys.stdin.read())
sc, target = p.server_control, p.part_inf.part_target
assert sc.can_block_reload == "YES", sc.can_block_reload
assert sc.part_hold_back >= 3 * target, (sc.part_hold_back, target)
parts = [(s.uri, q.uri, q.duration, q.independent) for s in p.segments for q in s.parts]
assert parts, "no parts"
for (_, uri, d, _) in parts:
    assert d <= target + 1e-9, (uri, d, target)
print(json.dumps({
    "target": target, "hold_back": sc.part_hold_back,
    "segments": [s.uri for s in p.segments if s.uri],
    "parts": [[u, d, i == "YES"] for (_, u, d, i) in parts],
    "hint": p.preload_hint.uri,
    "reports": [[r.uri, r.last_msn, r.last_part] for r in p.rendition_reports],
}))
"#;

fn parse(playlist: &str) -> serde_json::Value {
    use std::io::Write;
    let mut child = std::process::Command::new(PYTHON)
        .args(["-c", CHECK])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (apt install python3-m3u8)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(playlist.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "m3u8 refused the playlist: {}\n{playlist}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_live_is_low_latency_hls() {
    let s = stack().await;
    let _publisher = publish(&format!("rtmp://{}/live/{KEY}", s.rtmp), 30, s.dir.path());
    s.live_mpd(1).await;
    let period = s.state.live(ROOM).unwrap();
    // A few segments in, so that older segments have dropped their parts.
    while period.tracks[0].last().map_or(0, |l| l.number) < 6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let master = s.url(&format!("/media/{ROOM}/master.m3u8"));
    assert_eq!(probe(&master).await, common::stack::expected_streams());
    for rep in ["v0", "a0"] {
        let url = s.url(&format!("/media/{ROOM}/{}/{rep}/index.m3u8", period.id));
        let m = reqwest::get(&url).await.unwrap().text().await.unwrap();
        let v = parse(&m);
        let target = v["target"].as_f64().unwrap();
        // 200 ms chunks; AAC's are 10 frames of 1024 at 48 kHz (213.3 ms).
        let want = if rep == "a0" { 0.214 } else { 0.2 };
        assert!((target - want).abs() < 1e-9, "{rep}: PART-TARGET {target}");
        assert!(v["hold_back"].as_f64().unwrap() >= 0.64);
        assert_eq!(v["reports"].as_array().unwrap().len(), 2, "{m}");
        let parts = v["parts"].as_array().unwrap();
        if rep == "v0" {
            // Each segment's first part starts on a keyframe; the others do not.
            for p in parts {
                let uri = p[0].as_str().unwrap();
                assert_eq!(
                    p[2].as_bool().unwrap(),
                    uri.contains(".0.m4s"),
                    "{uri} in {m}"
                );
            }
        }

        // The hinted part: a blocking reload for it answers once it exists, and lists it.
        let hint = v["hint"]
            .as_str()
            .unwrap()
            .trim_end_matches(".m4s")
            .to_string();
        let (n, i) = hint.split_once('.').unwrap();
        let t = Instant::now();
        let held = reqwest::get(format!("{url}?_HLS_msn={n}&_HLS_part={i}"))
            .await
            .unwrap();
        assert_eq!(held.status(), 200);
        let held = held.text().await.unwrap();
        assert!(held.contains(&format!("URI=\"{hint}.m4s\"")), "{held}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

        // The parts of the newest complete segment add up to it, byte for byte, and each
        // is one CMAF chunk (ending in an mdat).
        let seg_url = |f: &str| s.url(&format!("/media/{ROOM}/{}/{rep}/{f}", period.id));
        let complete = v["segments"].as_array().unwrap();
        let last = complete
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .trim_end_matches(".m4s");
        let whole = reqwest::get(seg_url(&format!("{last}.m4s"))).await.unwrap();
        let whole = whole.bytes().await.unwrap();
        let mut joined = Vec::new();
        for k in 0.. {
            let r = reqwest::get(seg_url(&format!("{last}.{k}.m4s")))
                .await
                .unwrap();
            if r.status() == 404 {
                break;
            }
            let part = r.bytes().await.unwrap();
            let spans = livecart_media::package::bmff::chunk_spans(&part);
            assert_eq!(spans.len(), 1, "{rep} part {last}.{k} is one chunk");
            joined.extend_from_slice(&part);
        }
        assert!(
            !joined.is_empty() && joined == whole.as_ref(),
            "{rep} {last}: parts ≠ segment"
        );
    }
}
