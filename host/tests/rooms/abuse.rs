//! The protocol-abuse suite: what attackers found, each pinned by a test named after it.
//! Every test here also fails if anything in the process panicked (see
//! `assert_no_panics`): a panicking tokio worker would otherwise go unnoticed.

use crate::harness::*;
use futures_util::{SinkExt, StreamExt};
use livecart::room::RoomConfig;
use livecart::server::accept::HttpLimits;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

async fn lp(s: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, text) = http(s, method, path, None, Some(body.to_string().into_bytes())).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Open a long-poll session that has joined the server's room; returns its id.
async fn lp_join(s: &Server) -> String {
    let (status, opened) = lp(
        s,
        "POST",
        "/lp",
        json!([{"type": "hello", "v": 1}, {"type": "join", "room": s.room}]),
    )
    .await;
    assert_eq!(status, 200, "{opened}");
    opened["session"].as_str().unwrap_or("").to_owned()
}

/// Read `online` frames until one says `count`; false after 10 s.
async fn wait_online(c: &mut Client, count: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout_at(deadline, c.next()).await {
            Ok(Some(v)) if v["type"] == "online" && v["count"] == count => return true,
            Ok(Some(_)) => {}
            _ => return false,
        }
    }
    false
}

#[tokio::test]
async fn unpolled_long_poll_sessions_that_expire_do_not_panic() {
    let s = start(RoomConfig {
        poll_idle: Duration::from_millis(300),
        ..fast()
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(lp_join(&s).await);
    }
    // Never polled: every session expires, and its connection ends.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = lp(&s, "POST", &format!("/lp/{}", ids[0]), json!([])).await;
        if status == 404 || tokio::time::Instant::now() > deadline {
            assert_eq!(status, 404, "the session never expired");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give the connections time to notice and wind down (their drain lasts up to 1 s).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut ws = Client::join(&s, &s.room, None).await;
    assert!(wait_online(&mut ws, 1).await, "seen {:?}", ws.seen);
    assert_no_panics();
}

#[tokio::test]
async fn long_poll_sessions_count_as_online_only_while_polled() {
    let s = start(RoomConfig {
        poll_grace: Duration::from_millis(300),
        ..fast()
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(lp_join(&s).await);
    }
    // Joined, never polled: after the grace only the WebSocket viewer is online.
    let mut ws = Client::join(&s, &s.room, None).await;
    assert!(wait_online(&mut ws, 1).await, "seen {:?}", ws.seen);

    // A poll outstanding makes its session online again, for as long as it waits.
    let poller = {
        let addr = s.addr;
        let path = format!("/lp/{}?wait_ms=3000", ids[0]);
        tokio::spawn(async move { raw_get(addr, &path).await })
    };
    assert!(wait_online(&mut ws, 2).await, "seen {:?}", ws.seen);
    let _ = poller.await;
    // Its poll ended and nobody polls again: back to one after the grace.
    assert!(wait_online(&mut ws, 1).await, "seen {:?}", ws.seen);
    assert_no_panics();
}

/// A GET that ignores its answer (the harness's `http` needs a `Server`).
async fn raw_get(addr: std::net::SocketAddr, path: &str) {
    if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
        let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let _ = s.write_all(head.as_bytes()).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
    }
}

#[tokio::test]
async fn invalid_utf8_after_join_closes_with_1007() {
    let s = start(fast()).await;
    let mut c = Client::join(&s, &s.room, None).await;
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    c.send_message(Message::Frame(frame)).await;
    let closed = c.closed().await;
    assert_eq!(closed.map(|(code, _)| code), Some(1007), "{:?}", c.seen);
    assert_no_panics();
}

#[tokio::test]
async fn a_10_mb_frame_after_join_closes_with_1009() {
    let s = start(fast()).await;
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", s.addr))
        .await
        .expect("connect");
    let (mut tx, mut rx) = ws.split();
    for msg in [
        json!({"type": "hello", "v": 1}),
        json!({"type": "join", "room": s.room}),
    ] {
        tx.send(Message::Text(msg.to_string().into()))
            .await
            .expect("send");
    }
    // The server stops reading at the frame's header; the rest may never be written.
    let writer = tokio::spawn(async move {
        let _ = tx.send(Message::Text("x".repeat(10 << 20).into())).await;
    });
    let mut code = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, rx.next()).await {
        let Ok(msg) = msg else { break };
        if let Message::Close(frame) = msg {
            code = frame.map(|f| u16::from(f.code));
            break;
        }
    }
    writer.abort();
    assert_eq!(code, Some(1009));
    assert_no_panics();
}

fn limits(header_timeout_ms: u64, per_ip: usize) -> HttpLimits {
    HttpLimits {
        header_timeout: Duration::from_millis(header_timeout_ms),
        max_conns: 0,
        max_conns_per_ip: per_ip,
    }
}

/// Whether the server closes `tcp` (end of stream or reset) within `within`.
async fn closed_by_server(tcp: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// A request from another loopback address than the flood's 127.0.0.1.
async fn get_from(from: &str, addr: std::net::SocketAddr, path: &str) -> String {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("addr"))
        .expect("bind");
    let mut tcp = socket.connect(addr).await.expect("connect");
    let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn slowloris_connections_that_never_finish_a_request_are_closed() {
    let s = start_with(fast(), limits(300, 0)).await;
    let mut socks = Vec::new();
    for i in 0..300 {
        let mut tcp = TcpStream::connect(s.addr).await.expect("connect");
        // Half send nothing, half an unfinished request head (an upgrade never finished).
        if i % 2 == 1 {
            let _ = tcp
                .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
                .await;
        }
        socks.push(tcp);
    }
    for (i, tcp) in socks.iter_mut().enumerate() {
        assert!(
            closed_by_server(tcp, Duration::from_secs(20)).await,
            "connection {i} still open"
        );
    }
    let metrics = get_from("127.0.0.1", s.addr, "/metrics").await;
    assert!(
        metrics.contains("livecart_http_header_timeouts_total"),
        "{metrics}"
    );
    assert_no_panics();
}

#[tokio::test]
async fn a_websocket_that_never_says_hello_is_closed() {
    let s = start(RoomConfig {
        handshake_timeout: Duration::from_millis(300),
        ..fast()
    })
    .await;
    let mut c = Client::connect(&s).await;
    assert_eq!(c.closed().await, Some((1008, "expected hello".into())));
    assert_no_panics();
}

#[tokio::test]
async fn the_connection_after_the_per_ip_cap_is_refused_while_healthz_answers() {
    let cap = 60;
    let s = start_with(fast(), limits(30_000, cap)).await;
    let mut held = Vec::new();
    for _ in 0..cap {
        held.push(TcpStream::connect(s.addr).await.expect("connect"));
    }
    // One more from the same address: a short 503, then closed.
    let mut extra = TcpStream::connect(s.addr).await.expect("connect");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), extra.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");

    // Another client is not affected.
    let health = get_from("127.0.0.2", s.addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health:?}");
    let metrics = get_from("127.0.0.2", s.addr, "/metrics").await;
    let refused = metrics
        .lines()
        .find_map(|l| l.strip_prefix("livecart_http_connections_refused_per_ip_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(refused.is_some_and(|n| n >= 1), "{metrics}");

    // Closing one frees its place.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let health = get_from("127.0.0.1", s.addr, "/healthz").await;
        if health.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{health:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_no_panics();
}
