//! `livecart serve` starts on its embedded defaults, answers health checks, shows the demo
//! room's plugins and plays its demo stream; OBS-style publishers (ffmpeg) get into a
//! merchant's own room with its stream key and nowhere else; the operator's plugin limits
//! are flags.

use livecart_e2e::{Serve, publish_at};
use std::io::{Read, Write};
use std::net::TcpStream;

use std::time::{Duration, Instant};

fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("read");
    response
}

fn get(addr: &str, path: &str, token: Option<&str>) -> String {
    request(addr, "GET", path, token, "")
}

fn json(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

/// Poll `path` until `ok` says yes (20 s at most).
fn wait_for(addr: &str, path: &str, token: Option<&str>, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = get(addr, path, token);
        if ok(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "gave up waiting on {path}: {r}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// ffmpeg publishing a 320x180 test pattern with a tone, as OBS would (1 s GOP).
fn publish(url: &str, secs: u32) -> livecart_e2e::KillOnDrop {
    publish_at(url, secs, "1")
}

/// ffmpeg's exit status publishing to `url`, killed after `limit`.
fn publish_status(url: &str, limit: Duration) -> Option<i32> {
    let mut p = publish(url, 3);
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = p.0.try_wait().expect("wait") {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn serve_prints_its_urls_and_answers() {
    let s = Serve::start(&[]);
    let health = get(&s.addr, "/healthz", None);
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok"), "{health}");
    let denied = get(&s.addr, "/api/rooms/demo/plugins", None);
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    let plugins = get(&s.addr, "/api/rooms/demo/plugins", Some(&s.merchant_token));
    assert!(plugins.starts_with("HTTP/1.1 200"), "{plugins}");
    for name in ["like-coupon", "keyword-push", "ai-host", "lottery"] {
        assert!(
            plugins.contains(&format!("\"name\":\"{name}\"")),
            "{plugins}"
        );
    }
    // The built-in demo stream is live and served as LL-DASH and HLS.
    let mpd = wait_for(&s.addr, "/media/demo/live.mpd", None, |r| {
        r.starts_with("HTTP/1.1 200")
    });
    assert!(mpd.contains("type=\"dynamic\""), "{mpd}");
    let hls = get(&s.addr, "/media/demo/master.m3u8", None);
    assert!(hls.contains("#EXT-X-STREAM-INF"), "{hls}");
    let media = json(&get(
        &s.addr,
        "/api/rooms/demo/media",
        Some(&s.merchant_token),
    ));
    assert_eq!(media["live"], true, "{media}");
    assert_eq!(media["source"], "demo", "{media}");
    // The demo room is live because its video is (not because someone said so).
    wait_for(&s.addr, "/api/rooms/demo", Some(&s.merchant_token), |r| {
        r.contains("\"status\":\"live\"")
    });
    let rtmp = media["ingest"]["rtmp"].as_str().unwrap_or_default();
    assert_eq!(rtmp, format!("rtmp://{}/live", s.rtmp), "{media}");
}

/// A product card pushed during a live carries the media time the live was at, on the
/// timeline of the live's MPD Period; two pushes a second apart are a second apart there;
/// and both are in the live's timed events, which the packager puts in-band.
#[test]
fn cards_pushed_during_a_live_carry_its_media_time() {
    let s = Serve::start(&[]);
    wait_for(&s.addr, "/media/demo/live.mpd", None, |r| {
        r.starts_with("HTTP/1.1 200")
    });
    let media = json(&get(
        &s.addr,
        "/api/rooms/demo/media",
        Some(&s.merchant_token),
    ));
    let push = || {
        json(&request(
            &s.addr,
            "POST",
            "/api/rooms/demo/push",
            Some(&s.merchant_token),
            r#"{"product_id":"sku-tee"}"#,
        ))
    };
    let first = push();
    std::thread::sleep(Duration::from_millis(1000));
    let second = push();
    assert_eq!(first["period"], media["period"], "{first} {media}");
    let (a, b) = (first["media_ms"].as_u64(), second["media_ms"].as_u64());
    let (Some(a), Some(b)) = (a, b) else {
        panic!("cards without media time: {first} {second}");
    };
    // The first segment is out (the MPD is served), so the live is at least a segment in.
    assert!(a >= 1000, "{first}");
    assert!((900..=3000).contains(&(b - a)), "{a} then {b}");
    // Both wall clocks moved alike: the media clock is not stuck or jumping.
    let server = |c: &serde_json::Value| c["server_ms"].as_u64().unwrap_or(0);
    let drift = (b - a).abs_diff(server(&second) - server(&first));
    assert!(drift <= 5, "media and wall clocks drift by {drift} ms");

    let mpd = get(&s.addr, "/media/demo/live.mpd", None);
    assert!(mpd.contains("<InbandEventStream"), "{mpd}");
    let events = json(&get(&s.addr, "/media/demo/events.json", None));
    assert_eq!(events["period"], media["period"], "{events}");
    for card in [&first, &second] {
        let event = events["events"]
            .as_array()
            .and_then(|list| list.iter().find(|e| e["id"] == card["push_id"]))
            .unwrap_or_else(|| panic!("{} is not a timed event: {events}", card["push_id"]));
        assert_eq!(event["media_ms"], card["media_ms"], "{event}");
        assert_eq!(event["payload"]["type"], "product", "{event}");
        assert_eq!(event["payload"]["product_id"], "sku-tee", "{event}");
    }
}

#[test]
fn obs_style_publishers_need_their_room_key() {
    let s = Serve::start(&[]);
    let (addr, token) = (s.addr.as_str(), Some(s.merchant_token.as_str()));
    // A merchant creates a room and reads its stream key.
    let created = request(
        addr,
        "POST",
        "/api/rooms",
        token,
        r#"{"title":"Spring sale"}"#,
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let room = json(&created);
    let (id, key) = (
        room["id"].as_str().expect("id").to_owned(),
        room["stream_key"].as_str().expect("stream_key").to_owned(),
    );
    // Only the merchant sees the room's media status.
    let denied = get(addr, &format!("/api/rooms/{id}/media"), None);
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");

    // A wrong key is refused, and so is a second publisher into the live demo room.
    let wrong = publish_status(
        &format!("rtmp://{}/live/not-a-key", s.rtmp),
        Duration::from_secs(15),
    );
    assert!(matches!(wrong, Some(c) if c != 0), "wrong key: {wrong:?}");
    let busy = publish_status(
        &format!("rtmp://{}/live/{}", s.rtmp, s.demo_stream_key),
        Duration::from_secs(15),
    );
    assert!(
        matches!(busy, Some(c) if c != 0),
        "demo room taken: {busy:?}"
    );

    // The right key goes live in the merchant's room, and the room with it.
    let mut obs = publish(&format!("rtmp://{}/live/{key}", s.rtmp), 20);
    let status = wait_for(addr, &format!("/api/rooms/{id}/media"), token, |r| {
        r.contains("\"live\":true")
    });
    let media = json(&status);
    assert_eq!(media["renditions"][0], "v0 320x180", "{media}");
    let mpd = wait_for(addr, &format!("/media/{id}/live.mpd"), None, |r| {
        r.starts_with("HTTP/1.1 200")
    });
    assert!(mpd.contains("width=\"320\""), "{mpd}");
    wait_for(addr, &format!("/api/rooms/{id}"), token, |r| {
        r.contains("\"status\":\"live\"")
    });
    // The publisher leaves: the room's live has ended.
    let _ = obs.0.kill();
    wait_for(addr, &format!("/api/rooms/{id}"), token, |r| {
        r.contains("\"status\":\"ended\"")
    });
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

#[test]
fn an_unreachable_store_or_bus_stops_serve_at_start_with_the_reason() {
    let data = tempfile::tempdir().expect("tempdir");
    let data = data.path().display().to_string();
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", &data];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "--rtmp-listen",
            "127.0.0.1:0",
            "--rtmps-listen",
            "127.0.0.1:0",
        ]);
        let out = livecart_e2e::run(&args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let nats = format!("nats://127.0.0.1:{}", dead_port());
    let (code, stderr) = serve(&["--bus", &nats]);
    assert!(matches!(code, Some(c) if c != 0), "{code:?} {stderr}");
    assert!(stderr.contains("cannot connect to NATS"), "{stderr}");
    let pg = format!("postgres://livecart@127.0.0.1:{}/livecart", dead_port());
    let (code, stderr) = serve(&["--store", &pg]);
    assert!(matches!(code, Some(c) if c != 0), "{code:?} {stderr}");
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    let (code, stderr) = serve(&["--bus", "kafka://somewhere"]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("kafka://somewhere"), "{stderr}");
}

/// The operator's node-wide plugin limits are `serve` flags (and so `livecart.toml` keys):
/// a 1 MiB code allowance refuses the JavaScript build's 1.3 MB of code, naming the limit.
#[test]
fn the_operator_sets_the_plugin_code_allowance() {
    let s = Serve::start(&["--no-demo-stream", "--plugin-code-mib", "1"]);
    let wasm = std::fs::read(livecart_e2e::plugin("keyword-push-js")).expect("js build");
    let refused = upload(&s, &wasm);
    assert!(refused.starts_with("HTTP/1.1 4"), "{refused}");
    assert!(
        refused.contains("this merchant's limit (max_code_bytes) is 1048576"),
        "{refused}"
    );
    let small = std::fs::read(livecart_e2e::plugin("hello")).expect("hello build");
    let ok = upload(&s, &small);
    assert!(ok.starts_with("HTTP/1.1 20"), "{ok}");
}

/// `POST /api/plugins` with `wasm` as the body: the raw response.
fn upload(s: &Serve, wasm: &[u8]) -> String {
    let addr = &s.addr;
    let mut c = TcpStream::connect(addr).expect("connect");
    write!(
        c,
        "POST /api/plugins HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/wasm\r\nContent-Length: {}\r\n\r\n",
        s.merchant_token,
        wasm.len()
    )
    .expect("send head");
    c.write_all(wasm).expect("send body");
    let mut response = String::new();
    c.read_to_string(&mut response).expect("read");
    response
}

/// A publisher slower than real time (an uplink too thin for its bitrate) is shown where an
/// OBS user and an operator look: the room's media status and `/metrics`.
#[test]
fn a_publisher_slower_than_real_time_is_shown_in_the_status_and_metrics() {
    let s = Serve::start(&["--no-demo-stream"]);
    let token = Some(s.merchant_token.as_str());
    let url = format!("rtmp://{}/live/{}", s.rtmp, s.demo_stream_key);
    let _ffmpeg = publish_at(&url, 60, "0.5");
    let status = json(&wait_for(&s.addr, "/api/rooms/demo/media", token, |r| {
        r.contains("\"slow\":true")
    }));
    let speed = status["publisher"]["speed"].as_f64().unwrap_or(1.0);
    assert!((0.3..0.7).contains(&speed), "{status}");
    assert!(
        status["publisher"]["bitrate_bps"].as_u64().unwrap_or(0) > 0,
        "{status}"
    );
    assert!(
        status["warning"]
            .as_str()
            .is_some_and(|w| w.starts_with("the publisher sends slower than real time")),
        "{status}"
    );
    let metrics = get(&s.addr, "/metrics", None);
    let sample = metrics
        .lines()
        .find_map(|l| l.strip_prefix("livecart_ingest_speed{room=\"demo\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no ingest speed for demo in {metrics}"));
    assert!(sample < 0.9, "{sample}");
}
