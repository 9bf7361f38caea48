//! `livecart serve` drains on SIGTERM: room clients get a `reconnect` frame and a 1001
//! close, the live ends with its recording complete, and the process exits 0 within its
//! drain deadline.

use livecart_e2e::Serve;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitStatus;
use std::time::{Duration, Instant};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("read");
    response
}

/// Poll `path` until `ok` says yes (30 s at most).
fn wait_for(addr: &str, path: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = get(addr, path);
        if ok(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "gave up waiting on {path}: {r}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

type Ws = tungstenite::WebSocket<TcpStream>;

/// A viewer joined to the demo room, with a read timeout so no read hangs the test.
fn join_demo(addr: &str) -> Ws {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/ws"), tcp).expect("upgrade");
    for msg in [
        r#"{"type":"hello","v":1,"name":"Drained"}"#,
        r#"{"type":"join","room":"demo"}"#,
    ] {
        ws.send(Message::text(msg)).expect("send");
    }
    loop {
        let text = next_text(&mut ws).expect("joined");
        if text.contains(r#""type":"snapshot""#) {
            return ws;
        }
    }
}

fn next_text(ws: &mut Ws) -> Result<String, Option<(CloseCode, String)>> {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => return Ok(t.to_string()),
            Ok(Message::Close(frame)) => {
                return Err(frame.map(|f| (f.code, f.reason.to_string())));
            }
            Ok(_) => {}
            Err(e) => panic!("reading the room socket: {e}"),
        }
    }
}

fn sigterm(serve: &Serve) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &serve.child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// The child's exit status, waiting at most `limit`.
fn exit_within(serve: &mut Serve, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = serve.child.0.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The frames after SIGTERM: everything up to the close, and the close.
fn until_close(ws: &mut Ws) -> (Vec<String>, Option<(CloseCode, String)>) {
    let mut frames = Vec::new();
    loop {
        match next_text(ws) {
            Ok(t) => frames.push(t),
            Err(close) => return (frames, close),
        }
    }
}

#[test]
fn sigterm_tells_room_clients_to_reconnect_closes_1001_and_exits_0() {
    let mut serve = Serve::start(&["--no-demo-stream", "--drain-timeout-ms", "5000"]);
    let ready = get(&serve.addr, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.ends_with(r#"{"ready":true}"#), "{ready}");
    let mut viewer = join_demo(&serve.addr);
    sigterm(&serve);
    let (frames, close) = until_close(&mut viewer);
    let last = frames.last().map(String::as_str).unwrap_or_default();
    assert!(
        last.contains(r#""type":"reconnect""#) && last.contains(r#""reason":"draining""#),
        "{frames:?}"
    );
    assert_eq!(close.map(|c| c.0), Some(CloseCode::Away), "{frames:?}");
    // Bounded by the drain deadline, plus start-up slack for a loaded machine.
    let status = exit_within(&mut serve, Duration::from_secs(20));
    assert!(status.success(), "{status}");
    // The listener is gone: a new connection is refused.
    assert!(TcpStream::connect(&serve.addr).is_err());
}

#[test]
fn sigterm_ends_the_live_so_its_recording_is_complete() {
    let mut serve = Serve::start(&["--drain-timeout-ms", "10000"]);
    // The demo stream is live once its MPD lists segments.
    wait_for(&serve.addr, "/media/demo/live.mpd", |r| {
        r.starts_with("HTTP/1.1 200") && r.contains("SegmentTemplate")
    });
    // The origin's responses are counted by status.
    let metrics = get(&serve.addr, "/metrics");
    assert!(
        metrics.contains("livecart_origin_responses_total{status=\"200\"}"),
        "{metrics}"
    );
    let mut viewer = join_demo(&serve.addr);
    sigterm(&serve);
    let (_, close) = until_close(&mut viewer);
    assert_eq!(close.map(|c| c.0), Some(CloseCode::Away));
    let status = exit_within(&mut serve, Duration::from_secs(30));
    assert!(status.success(), "{status}");
    let room = serve.data.path().join("recordings").join("demo");
    let periods: Vec<_> = std::fs::read_dir(&room)
        .unwrap_or_else(|e| panic!("{}: {e}", room.display()))
        .filter_map(Result::ok)
        .collect();
    assert_eq!(periods.len(), 1, "{periods:?}");
    let meta = std::fs::read_to_string(periods[0].path().join("period.json")).expect("period.json");
    let meta: serde_json::Value = serde_json::from_str(&meta).expect("JSON");
    assert_eq!(meta["ended"], true, "{meta}");
}

#[test]
fn sigterm_as_soon_as_the_banner_is_out_still_drains_and_exits_0() {
    // A supervisor may signal the moment the address is printed: the signal is kept for
    // the drain, not left to its default action (death by SIGTERM, sockets cut mid-frame).
    let mut serve = Serve::start(&["--no-demo-stream", "--drain-timeout-ms", "5000"]);
    sigterm(&serve);
    let status = exit_within(&mut serve, Duration::from_secs(20));
    assert!(status.success(), "{status}");
}
