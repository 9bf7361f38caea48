//! The ingest POP of `deploy/ingest-pop/nginx.conf`: Debian's nginx with the RTMP module
//! takes the host's publish near her and pushes it to livecart, which puts it in the room
//! of its stream key; a wrong key makes no room live.

use livecart_e2e::{Nginx, Serve, http, publish_at, root};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

/// nginx running the POP config on a free port, pushing to `upstream`.
struct Pop {
    _nginx: Nginx,
    _dir: tempfile::TempDir,
    addr: String,
}

fn start_pop(upstream: &str) -> Pop {
    assert!(
        std::path::Path::new(RTMP_MODULE).exists(),
        "{RTMP_MODULE} is missing: run ./scripts/test.sh, which installs libnginx-mod-rtmp"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("logs")).expect("logs dir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let conf = std::fs::read_to_string(root().join("deploy/ingest-pop/nginx.conf"))
        .expect("the POP config")
        .replace("@PREFIX@", &dir.path().display().to_string())
        .replace("@LISTEN@", &addr)
        .replace("@UPSTREAM@", upstream)
        .replace("@MODULE@", RTMP_MODULE);
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write config");
    let nginx = Nginx::start(dir.path(), &addr);
    Pop {
        _nginx: nginx,
        _dir: dir,
        addr,
    }
}

fn media(s: &Serve, room: &str) -> serde_json::Value {
    let (status, body) = http(
        &s.addr,
        "GET",
        &format!("/api/rooms/{room}/media"),
        Some(&s.merchant_token),
        "",
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

#[test]
fn a_publish_through_the_pop_goes_live_in_the_room_of_its_key() {
    let s = Serve::start(&["--no-demo-stream"]);
    let pop = start_pop(&s.rtmp);
    // A second room, published to with a wrong key through the same POP.
    let (status, body) = http(
        &s.addr,
        "POST",
        "/api/rooms",
        Some(&s.merchant_token),
        r#"{"title":"Other"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let other: serde_json::Value = serde_json::from_str(&body).expect("json");
    let other = other["id"].as_str().expect("id").to_owned();
    let _wrong = publish_at(&format!("rtmp://{}/live/not-a-key", pop.addr), 30, "1");

    let _host = publish_at(
        &format!("rtmp://{}/live/{}", pop.addr, s.demo_stream_key),
        30,
        "1",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let live = loop {
        let m = media(&s, "demo");
        if m["live"] == true {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "the demo room never went live: {m}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    // It came in over RTMP from the POP (a local address), not from the demo source.
    assert!(
        live["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("rtmp 127.0.0.1:")),
        "{live}"
    );
    // And it is served: the live MPD once its first segment is out.
    let mpd = loop {
        let (status, mpd) = http(&s.addr, "GET", "/media/demo/live.mpd", None, "");
        if status == 200 {
            break mpd;
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(20),
            "{status} {mpd}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(mpd.contains("type=\"dynamic\""), "{mpd}");
    // /metrics follows the live: bytes coming in, and how long packaging takes.
    let (_, metrics) = http(&s.addr, "GET", "/metrics", None, "");
    let sample = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}{{room=\"demo\"}} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} for demo in {metrics}"))
    };
    assert!(sample("livecart_ingest_bitrate_bits") > 0.0);
    let lag = sample("livecart_packaging_lag_seconds");
    assert!((0.0..10.0).contains(&lag), "packaging lag {lag} s");
    // The wrong key reached livecart through the POP too, and was refused.
    assert_eq!(media(&s, &other)["live"], false);
}
