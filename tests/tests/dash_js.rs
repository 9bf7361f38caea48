//! The live DASH stream of `livecart serve` plays in dash.js in a real (headless) Chromium:
//! `web/tests/dash-play.mjs` loads dash.js from a page of another origin (so CORS is
//! exercised), plays the demo room's live MPD and reports what it saw.
//!
//! HLS is only checked for being served: its natural player, Safari, cannot run here.
//!
//! Needs `/usr/bin/chromium` and `web/node_modules`, which `scripts/test.sh` installs; the
//! test fails, rather than skips, without them.

use livecart_e2e::{KillOnDrop, browser, livecart};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `GET http://{addr}{path}`: (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn split_url(url: &str) -> (String, String) {
    let rest = url.trim().trim_start_matches("http://");
    let (addr, path) = rest.split_once('/').expect("URL with a path");
    (addr.to_owned(), format!("/{path}"))
}

/// `livecart serve` on free ports with a 320x180 demo and a two-rung ladder (180p, the
/// passed-through source, and 90p): (server, DASH URL, HLS URL).
fn serve(data: &Path) -> (KillOnDrop, String, String) {
    let ladder = data.join("ladder.json");
    std::fs::write(
        &ladder,
        r#"{"rungs":[{"height":180,"bitrate_kbps":400},{"height":90,"bitrate_kbps":150}]}"#,
    )
    .expect("write ladder");
    let child = Command::new(livecart())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args([
            "--rtmp-listen",
            "127.0.0.1:0",
            "--rtmps-listen",
            "127.0.0.1:0",
        ])
        .args(["--demo-size", "320x180"])
        .arg("--ladder")
        .arg(&ladder)
        .arg("--data-dir")
        .arg(data.join("data"))
        // No demo plugins (an empty directory): this test is about media, and compiling
        // them would only slow the start.
        .arg("--demo-plugins")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn livecart serve");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    // Reads the banner, then keeps draining stdout for the server's lifetime.
    std::thread::spawn(move || {
        let (mut dash, mut hls) = (None, None);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let line = line.trim();
            if let Some(url) = line.strip_prefix("live DASH:") {
                dash = Some(url.trim().to_owned());
            }
            if let Some(url) = line.strip_prefix("live HLS:") {
                hls = Some(url.trim().to_owned());
            }
            if line.starts_with("Press Ctrl-C") {
                let _ = tx.send((dash.take(), hls.take()));
            }
        }
    });
    let (dash, hls) = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("livecart serve printed its banner");
    let dash = dash.expect("the banner has the live DASH URL");
    let hls = hls.expect("the banner has the live HLS URL");
    (child, dash, hls)
}

#[test]
fn dash_js_plays_the_live_mpd_in_chromium() {
    browser::script("dash-play.mjs");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_server, dash, hls) = serve(tmp.path());

    // The MPD is 404 until the demo stream's first segments exist.
    let (addr, mpd_path) = split_url(&dash);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _) = get(&addr, &mpd_path);
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "{dash} still answers {status}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // HLS: served, both rungs listed, a variant playlist fetchable. Not played: Safari,
    // its native player, cannot run on this machine.
    let (addr, master_path) = split_url(&hls);
    let (status, master) = get(&addr, &master_path);
    assert_eq!(status, 200, "{hls}: {master}");
    assert!(master.starts_with("#EXTM3U"), "{master}");
    for res in ["RESOLUTION=320x180", "RESOLUTION=160x90"] {
        assert!(
            master.contains(res),
            "{res} missing from the master:\n{master}"
        );
    }
    let variant = master
        .lines()
        .find(|l| l.ends_with(".m3u8") && !l.starts_with('#'))
        .expect("a variant playlist URI");
    let base = master_path.rsplit_once('/').map_or("", |(b, _)| b);
    let (status, playlist) = get(&addr, &format!("{base}/{variant}"));
    assert_eq!(status, 200, "{variant}: {playlist}");
    assert!(playlist.starts_with("#EXTM3U"), "{playlist}");

    let screenshot = browser::artifacts().join("dash-play.png");
    let args = [
        "--mpd".to_owned(),
        dash.clone(),
        "--seconds".into(),
        "8".into(),
        "--screenshot".into(),
        screenshot.display().to_string(),
    ];
    let run = browser::run_script("dash-play.mjs", &args, Duration::from_secs(120));
    let (out, err) = (&run.stdout, &run.stderr);
    assert!(run.ok, "dash-play failed:\n{err}\n{out}");
    let report: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("dash-play's report ({e}):\n{out}"));
    let ctx = || serde_json::to_string_pretty(&report).unwrap_or_default();

    assert_eq!(report["playbackStarted"], true, "{}", ctx());
    let advanced = report["currentTime"]["advanced"].as_f64().unwrap_or(0.0);
    assert!(
        advanced >= 4.0,
        "currentTime advanced {advanced} s:\n{}",
        ctx()
    );
    assert_eq!(
        report["errors"].as_array().map(Vec::len),
        Some(0),
        "{}",
        ctx()
    );
    let mut heights: Vec<u64> = report["heights"]
        .as_array()
        .map(|h| h.iter().filter_map(|v| v.as_u64()).collect())
        .unwrap_or_default();
    heights.sort_unstable();
    assert_eq!(heights, [90, 180], "both video rungs:\n{}", ctx());
    // dash.js switched to its low-latency mode (availabilityTimeComplete="false").
    assert_eq!(report["lowLatencyMode"], true, "{}", ctx());
    let latency = report["latency"]["last"].as_f64();
    assert!(
        latency.is_some_and(|l| l.is_finite() && l > 0.0 && l < 10.0),
        "live latency {latency:?}:\n{}",
        ctx()
    );
    assert!(screenshot.exists(), "{}", screenshot.display());
}
