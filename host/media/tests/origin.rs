//! The media origin over real HTTP: a hand-built period (two video rungs and audio, fake
//! chunks) in a `MediaState`, the router on a port-0 listener, and the recorder writing to
//! a temporary directory. Covers the live MPD and HLS playlists, init and complete segments,
//! a growing segment streamed chunk by chunk, waiting for the next segment, bad input,
//! CORS, replay from disk after the ring moved on and after the period ended, and purging.

#![allow(clippy::unwrap_used)]

mod common;

use common::ring::{finish_last, period, push_chunk, serve, start_segment};
use livecart_media::origin::{MpdOptions, Origin, Recorder, time};
use livecart_media::package::ring::{Period, PeriodEnd};
use livecart_media::package::state::MediaState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw request, for paths an HTTP client would normalize.
async fn raw_status(addr: SocketAddr, path: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.split(' ').nth(1).unwrap().parse().unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

/// Read the next `want` bytes of a streamed body, within a deadline.
async fn next_bytes(r: &mut reqwest::Response, want: usize) -> String {
    let mut got = Vec::new();
    while got.len() < want {
        let c = tokio::time::timeout(Duration::from_secs(3), r.chunk()).await;
        got.extend_from_slice(&c.expect("chunk in time").unwrap().expect("more body"));
    }
    String::from_utf8(got).unwrap()
}

/// Wait until `path` exists.
async fn until_exists(path: std::path::PathBuf) {
    for _ in 0..200 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never written", path.display());
}

fn check_xml(s: &str) {
    let mut r = quick_xml::Reader::from_str(s);
    r.config_mut().check_end_names = true;
    let mut depth = 0i32;
    loop {
        match r.read_event().expect("well-formed") {
            quick_xml::events::Event::Start(_) => depth += 1,
            quick_xml::events::Event::End(_) => depth -= 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn origin_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let state = MediaState::new();
    let recorder = Recorder::new(dir.path(), Duration::from_secs(3600)).unwrap();
    let p = period("room1", Duration::from_secs(2), 4);
    for n in 1..=4 {
        start_segment(&p, n);
        if n < 4 {
            push_chunk(&p, n, 1);
        }
    }
    state.start_period(p.clone(), "test");
    let recording = recorder.record(p.clone());
    let base = serve(Origin {
        state: state.clone(),
        recordings: recorder.clone(),
        opts: MpdOptions::default(),
    })
    .await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("http://{base}{path}")).send();

    // Live MPD.
    let r = get("/media/room1/live.mpd").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/dash+xml");
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    assert_eq!(header(&r, "cache-control"), "public, max-age=1");
    let mpd = r.text().await.unwrap();
    check_xml(&mpd);
    for want in [
        "type=\"dynamic\"",
        "availabilityTimeOffset=\"1.8\"",
        "availabilityTimeComplete=\"false\"",
        "<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"/media/time\"/>",
        "<ServiceDescription id=\"0\">",
        "<Latency target=\"1500\"",
        "<SegmentTemplate timescale=\"90000\" duration=\"180000\" startNumber=\"1\" \
         presentationTimeOffset=\"900000\" initialization=\"p1/$RepresentationID$/init.mp4\" \
         media=\"p1/$RepresentationID$/$Number$.m4s\"",
        "minimumUpdatePeriod=\"PT2S\"",
    ] {
        assert!(mpd.contains(want), "{want} missing from\n{mpd}");
    }

    // Init and complete segments.
    let r = get("/media/room1/p1/v0/init.mp4").await.unwrap();
    assert_eq!(header(&r, "content-type"), "video/mp4");
    assert_eq!(
        header(&r, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.text().await.unwrap(), "init-v0");
    let r = get("/media/room1/p1/a0/2.m4s").await.unwrap();
    assert_eq!(header(&r, "content-type"), "audio/mp4");
    assert_eq!(
        header(&r, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.text().await.unwrap(), "a0-2-c0;a0-2-c1;");

    // A growing segment streams: chunk 0 now, chunk 1 when pushed, the end when finished.
    let mut r = get("/media/room1/p1/v1/4.m4s").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "transfer-encoding"), "chunked");
    assert_eq!(header(&r, "cache-control"), "public, max-age=1");
    assert_eq!(next_bytes(&mut r, 8).await, "v1-4-c0;");
    push_chunk(&p, 4, 1);
    assert_eq!(next_bytes(&mut r, 8).await, "v1-4-c1;");
    let end = tokio::spawn(async move { r.chunk().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!end.is_finished());
    finish_last(&p);
    let tail = tokio::time::timeout(Duration::from_secs(3), end)
        .await
        .unwrap();
    assert_eq!(tail.unwrap(), None);

    // The next segment (5 = last + 1) is waited for, then streamed.
    let pending = tokio::spawn(get("/media/room1/p1/v0/5.m4s"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!pending.is_finished());
    start_segment(&p, 5);
    let mut r = pending.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(next_bytes(&mut r, 8).await, "v0-5-c0;");
    push_chunk(&p, 5, 1);
    finish_last(&p);
    assert_eq!(next_bytes(&mut r, 8).await, "v0-5-c1;");
    assert_eq!(r.chunk().await.unwrap(), None);
    // Two ahead is not waited for.
    assert_eq!(get("/media/room1/p1/v0/7.m4s").await.unwrap().status(), 404);

    // Bad input and unknown things.
    let r = get("/media/nope/live.mpd").await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    let err: serde_json::Value = r.json().await.unwrap();
    assert!(err["error"].is_string());
    assert_eq!(
        get("/media/room1/p1/v9/init.mp4").await.unwrap().status(),
        404
    );
    assert_eq!(get("/media/room1/p2/v0/1.m4s").await.unwrap().status(), 404);
    for bad in [
        "/media/a.b/live.mpd",
        "/media/room1/p1/v%200/init.mp4",
        "/media/room1/p1/v0/abc.m4s",
        "/media/room1/p1/v0/..%2F..%2Fperiod.json",
        "/media/room1/replay/..%2Fx.mpd",
    ] {
        assert_eq!(get(bad).await.unwrap().status(), 400, "{bad}");
    }
    assert_eq!(raw_status(base, "/media/../live.mpd").await, 400);
    assert_eq!(raw_status(base, "/media/room1/../v0/1.m4s").await, 400);
    assert_eq!(raw_status(base, "/media/room1/p1/../1.m4s").await, 400);

    // Clock and preflight.
    let r = get("/media/time").await.unwrap();
    assert_eq!(header(&r, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(header(&r, "cache-control"), "no-store");
    let t = time::parse_iso8601(&r.text().await.unwrap()).unwrap();
    let skew = t
        .duration_since(SystemTime::now())
        .unwrap_or_else(|e| e.duration());
    assert!(skew < Duration::from_secs(5));
    let r = http
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{base}/media/room1/live.mpd"),
        )
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "range")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    assert!(header(&r, "access-control-allow-methods").contains("GET"));
    assert_eq!(header(&r, "access-control-allow-headers"), "range");

    // HLS.
    let r = get("/media/room1/master.m3u8").await.unwrap();
    assert_eq!(header(&r, "content-type"), "application/vnd.apple.mpegurl");
    let m = r.text().await.unwrap();
    assert!(m.starts_with("#EXTM3U\n"));
    assert_eq!(m.matches("#EXT-X-STREAM-INF:").count(), 2);
    assert!(m.contains("CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"aud\"\np1/v0/index.m3u8\n"));
    assert!(m.contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\""));
    let m = get("/media/room1/p1/v0/index.m3u8")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("#EXT-X-MEDIA-SEQUENCE:2\n"), "{m}"); // ring of 4: 2..5
    assert!(m.contains("#EXT-X-MAP:URI=\"init.mp4\"\n"));
    assert_eq!(m.matches("#EXTINF:2.000000,").count(), 4);
    assert_eq!(m.matches("#EXT-X-PROGRAM-DATE-TIME:").count(), 4);
    assert!(
        m.contains("\n5.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"6.0.m4s\"\n"),
        "{m}"
    );

    // Segment 1 left the ring; the recording serves it.
    until_exists(dir.path().join("room1/p1/v0/1.m4s")).await;
    assert!(p.tracks[0].segment(1).is_none());
    let r = get("/media/room1/p1/v0/1.m4s").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.text().await.unwrap(), "v0-1-c0;v0-1-c1;");

    // The period ends: the live MPD shows the ended form, also for a while after the room
    // went off air (players on it play to the end).
    start_segment(&p, 6);
    finish_last(&p);
    p.end(PeriodEnd::Finished);
    let mpd = get("/media/room1/live.mpd")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(mpd.contains("mediaPresentationDuration=\"PT12S\""), "{mpd}");
    assert!(!mpd.contains("minimumUpdatePeriod"));
    state.end_period("room1", "p1");
    tokio::time::timeout(Duration::from_secs(5), recording)
        .await
        .unwrap()
        .unwrap();
    let after = get("/media/room1/live.mpd").await.unwrap();
    assert_eq!(after.status(), 200);
    assert!(
        after
            .text()
            .await
            .unwrap()
            .contains("mediaPresentationDuration")
    );

    // Replays.
    let list: serde_json::Value = get("/media/room1/replays")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list["replays"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["period"], "p1");
    assert_eq!(list[0]["duration_s"], 12.0);
    assert_eq!(list[0]["ended"], true);
    let r = get("/media/room1/replay/p1.mpd").await.unwrap();
    assert_eq!(header(&r, "content-type"), "application/dash+xml");
    let vod = r.text().await.unwrap();
    check_xml(&vod);
    assert!(vod.contains("type=\"static\""));
    assert!(vod.contains("mediaPresentationDuration=\"PT12S\""));
    assert!(vod.contains("media=\"../p1/$RepresentationID$/$Number$.m4s\""));
    assert!(
        vod.contains("<S t=\"900000\" d=\"180000\" r=\"5\"/>"),
        "{vod}"
    );
    assert!(
        vod.contains("<S t=\"480000\" d=\"96000\" r=\"5\"/>"),
        "{vod}"
    );
    for (path, body) in [
        ("/media/room1/p1/v1/init.mp4", "init-v1"),
        ("/media/room1/p1/v1/3.m4s", "v1-3-c0;v1-3-c1;"),
        ("/media/room1/p1/a0/6.m4s", "a0-6-c0;"),
        ("/media/room1/p1/a0/t480000.m4s", "a0-1-c0;a0-1-c1;"),
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.text().await.unwrap(), body, "{path}");
    }
    assert_eq!(get("/media/room1/p1/v1/7.m4s").await.unwrap().status(), 404);
    let m = get("/media/room1/replay/p1.m3u8")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("\n../p1/v0/index.m3u8\n"));
    let m = get("/media/room1/p1/a0/index.m3u8")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("#EXT-X-PLAYLIST-TYPE:VOD\n") && m.ends_with("6.m4s\n#EXT-X-ENDLIST\n"));
    assert_eq!(m.matches("#EXTINF:").count(), 6);

    // Retention.
    assert!(recorder.purge(SystemTime::now()).is_empty());
    let removed = recorder.purge(SystemTime::now() + Duration::from_secs(7200));
    assert_eq!(removed, vec![("room1".to_string(), "p1".to_string())]);
    assert!(!dir.path().join("room1").exists());
    let list: serde_json::Value = get("/media/room1/replays")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list["replays"].as_array().unwrap().is_empty());
    assert_eq!(
        get("/media/room1/replay/p1.mpd").await.unwrap().status(),
        404
    );
    assert_eq!(get("/media/room1/p1/v0/1.m4s").await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_segment_wait_gives_up() {
    let dir = tempfile::tempdir().unwrap();
    let state = MediaState::new();
    let p = period("room2", Duration::from_millis(100), 4);
    start_segment(&p, 1);
    finish_last(&p);
    state.start_period(p.clone(), "test");
    let base = serve(Origin {
        state: state.clone(),
        recordings: Recorder::new(dir.path(), Duration::from_secs(60)).unwrap(),
        opts: MpdOptions::default(),
    })
    .await;
    let started = std::time::Instant::now();
    let r = reqwest::get(format!("http://{base}/media/room2/p1/v0/2.m4s"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(180) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    // Live but not ready yet (no availability start): no manifests.
    let q = Period::new(
        "p2".into(),
        "room3".into(),
        2,
        UNIX_EPOCH,
        Duration::from_secs(2),
        Duration::from_millis(200),
        vec![],
    );
    state.start_period(Arc::new(q), "test");
    for path in ["/media/room3/live.mpd", "/media/room3/master.m3u8"] {
        let r = reqwest::get(format!("http://{base}{path}")).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json");
    }
}

/// A GET from `from` (an address of this host, e.g. 127.0.0.2): status and head.
async fn get_from(from: std::net::IpAddr, addr: SocketAddr, path: &str) -> (u16, String) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(from, 0)).unwrap();
    let mut s = sock.connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out)
}

/// Issue 12, defect 7: one ffmpeg turned an ended live into 50,688 404s in 23 s. A client
/// IP past its 404 budget is answered 429 with `Retry-After` (held, counted, CORS-open),
/// and other clients are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_storm_from_one_client_is_answered_429() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin {
        state: MediaState::new(),
        recordings: Recorder::new(dir.path(), Duration::from_secs(60)).unwrap(),
        opts: MpdOptions::default(),
    };
    let limits = livecart_media::origin::NotFoundLimits {
        burst: 5,
        per_second: 1,
        hold: Duration::from_millis(200),
    };
    let app = livecart_media::origin::router_limited(origin, limits)
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let (storm, calm) = ([127, 0, 0, 2].into(), [127, 0, 0, 3].into());

    let before = livecart_media::origin::throttle::THROTTLED.get();
    for n in 1..=5 {
        let (status, _) = get_from(storm, addr, &format!("/media/gone/p1/v0/{n}.m4s")).await;
        assert_eq!(status, 404, "404 number {n} is within the burst");
    }
    let started = std::time::Instant::now();
    let (status, head) = get_from(storm, addr, "/media/gone/p1/v0/6.m4s").await;
    assert_eq!(status, 429, "{head}");
    assert!(
        started.elapsed() >= Duration::from_millis(190),
        "the 429 is held"
    );
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\nretry-after: 1\r\n"), "{head}");
    assert!(lower.contains("access-control-allow-origin: *"), "{head}");
    assert!(head.contains(r#"{"error":"#), "{head}");
    // While its bucket is empty the client is refused everything, the clock included.
    assert_eq!(get_from(storm, addr, "/media/time").await.0, 429);
    assert!(livecart_media::origin::throttle::THROTTLED.get() >= before + 2);
    // Another client is served as usual.
    assert_eq!(get_from(calm, addr, "/media/time").await.0, 200);
    assert_eq!(get_from(calm, addr, "/media/gone/live.mpd").await.0, 404);
    // A token comes back after a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get_from(storm, addr, "/media/gone/live.mpd").await.0, 404);
}
