//! RTMP / RTMPS ingest against a real publisher: ffmpeg pushes a lavfi test pattern with a
//! sine tone (H.264 + AAC) and the tests watch what arrives in the stream hub. Also: refused
//! keys and apps, the takeover policies, and hostile bytes on the socket.
#![allow(clippy::unwrap_used)]

use livecart_media::hub::{Frame, Session, StreamHub, TakeoverPolicy, TrackKind};
use livecart_media::ingest::rtmp::{serve, serve_tls};
use livecart_media::ingest::tls::{acceptor_from_pem, dev_cert};
use livecart_media::ingest::{StaticKeys, StreamKeys};
mod common;

use common::{ChildGuard, publish};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const KEY: &str = "sk-test-123";
const ROOM: &str = "room-1";

fn keys() -> Arc<dyn StreamKeys> {
    let mut map = std::collections::HashMap::new();
    map.insert(KEY.to_string(), ROOM.to_string());
    Arc::new(StaticKeys(map))
}

async fn rtmp_server(policy: TakeoverPolicy) -> (SocketAddr, StreamHub) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hub = StreamHub::new();
    tokio::spawn(serve(listener, hub.clone(), keys(), policy, None));
    (addr, hub)
}

async fn next_session(
    watch: &mut tokio::sync::broadcast::Receiver<Arc<Session>>,
    ff: &ChildGuard,
) -> Arc<Session> {
    match timeout(Duration::from_secs(15), watch.recv()).await {
        Ok(Ok(session)) => session,
        other => panic!("no session started: {other:?}; ffmpeg log:\n{}", ff.log()),
    }
}

/// Frames of a session until it ends.
async fn drain(mut sub: livecart_media::hub::Subscription, limit: Duration) -> Vec<Frame> {
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => return frames,
            Err(_) => panic!("session did not end within {limit:?}"),
        }
    }
}

/// Publish 4 s of media to `url` and check what the hub makes of it.
async fn publish_and_check(url: &str, hub: &StreamHub, scheme: &str) {
    let logs = tempfile::tempdir().unwrap();
    let mut watch = hub.watch();
    let mut ff = publish(url, 4, logs.path());
    let session = next_session(&mut watch, &ff).await;
    assert_eq!(session.room, ROOM);
    assert!(
        session.source.starts_with(&format!("{scheme} 127.0.0.1:")),
        "{}",
        session.source
    );
    let video = session.info.video.as_ref().expect("video params");
    assert_eq!((video.width, video.height), (320, 180));
    assert_eq!(video.avcc[0], 1, "avcC record");
    let audio = session.info.audio.as_ref().expect("audio params");
    assert_eq!((audio.sample_rate, audio.channels), (48000, 1));

    let frames = drain(session.subscribe(), Duration::from_secs(20)).await;
    let status = ff.wait(Duration::from_secs(10)).await;
    assert!(
        status.success(),
        "ffmpeg failed: {status}; log:\n{}",
        ff.log()
    );
    assert!(session.is_ended());
    assert!(hub.live(ROOM).is_none());

    let video: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.track == TrackKind::Video)
        .collect();
    let audio: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.track == TrackKind::Audio)
        .collect();
    assert!(video.len() >= 60, "only {} video frames", video.len());
    assert!(audio.len() >= 60, "only {} audio frames", audio.len());
    assert!(video[0].keyframe, "a subscription starts at a keyframe");
    for pair in video.windows(2) {
        assert!(pair[1].dts >= pair[0].dts, "video dts went backwards");
        let step = pair[1].dts - pair[0].dts;
        assert!(step <= 100_000_000, "video dts jumped by {step} ns");
    }
    for pair in audio.windows(2) {
        assert!(pair[1].dts >= pair[0].dts, "audio dts went backwards");
    }
    for f in &frames {
        assert!(f.dts >= 0 && f.pts >= f.dts, "dts {} pts {}", f.dts, f.pts);
        assert!(!f.data.is_empty());
    }
    // AVC length-prefixed, as-is.
    let first = &video[0].data;
    let len = u32::from_be_bytes([first[0], first[1], first[2], first[3]]) as usize;
    assert!(len + 4 <= first.len());
    let keys: Vec<i64> = video.iter().filter(|f| f.keyframe).map(|f| f.dts).collect();
    assert!(keys.len() >= 2, "keyframes: {keys:?}");
    for pair in keys.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            (800_000_000..=1_200_000_000).contains(&gap),
            "keyframe gap {gap} ns"
        );
    }
    // Media time tracks the encoder's clock: 30 frames per second.
    let span = video.last().unwrap().dts - video[0].dts;
    let expected = (video.len() as i64 - 1) * 1_000_000_000 / 30;
    assert!(
        (span - expected).abs() < 100_000_000,
        "span {span} vs {expected}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmp_publish_reaches_the_hub() {
    let (addr, hub) = rtmp_server(TakeoverPolicy::Refuse).await;
    publish_and_check(&format!("rtmp://{addr}/live/{KEY}"), &hub, "rtmp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmps_publish_reaches_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = dev_cert(&dir.path().join("tls"), &["127.0.0.1".into()]).unwrap();
    let acceptor = acceptor_from_pem(&cert, &key).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hub = StreamHub::new();
    tokio::spawn(serve_tls(
        listener,
        acceptor,
        hub.clone(),
        keys(),
        TakeoverPolicy::Refuse,
        None,
    ));
    publish_and_check(&format!("rtmps://{addr}/live/{KEY}"), &hub, "rtmp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_or_app_is_refused() {
    let logs = tempfile::tempdir().unwrap();
    let (addr, hub) = rtmp_server(TakeoverPolicy::Refuse).await;
    let mut watch = hub.watch();
    for url in [
        format!("rtmp://{addr}/live/not-the-key"),
        format!("rtmp://{addr}/other/{KEY}"),
    ] {
        let mut ff = publish(&url, 2, logs.path());
        let status = ff.wait(Duration::from_secs(15)).await;
        assert!(!status.success(), "{url} was accepted; log:\n{}", ff.log());
    }
    assert!(matches!(
        watch.try_recv(),
        Err(tokio::sync::broadcast::error::TryRecvError::Empty)
    ));
    assert!(hub.live(ROOM).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_publisher_is_refused_by_default() {
    let logs = tempfile::tempdir().unwrap();
    let (addr, hub) = rtmp_server(TakeoverPolicy::Refuse).await;
    let url = format!("rtmp://{addr}/live/{KEY}");
    let mut watch = hub.watch();
    let mut refusals = hub.refusals();
    let mut first = publish(&url, 6, logs.path());
    let a = next_session(&mut watch, &first).await;
    let mut sub = a.subscribe();

    let mut second = publish(&url, 2, logs.path());
    let status = second.wait(Duration::from_secs(15)).await;
    assert!(!status.success(), "second publisher accepted");
    assert!(
        second
            .log()
            .contains("Server error: room room-1 already has a live publisher"),
        "{}",
        second.log()
    );
    // The room's status hears of it too.
    let refusal = refusals.try_recv().expect("refusal announced");
    assert_eq!(refusal.room, ROOM);
    assert!(refusal.source.starts_with("rtmp 127.0.0.1:"), "{refusal:?}");
    assert_eq!(hub.live(ROOM).map(|s| s.id), Some(a.id));
    assert!(!a.is_ended());
    // The first keeps publishing: frames still arrive after the refusal.
    let mut after = 0;
    while after < 10 {
        let f = timeout(Duration::from_secs(5), sub.recv())
            .await
            .unwrap()
            .expect("first session still live");
        if f.track == TrackKind::Video {
            after += 1;
        }
    }
    assert!(watch.try_recv().is_err(), "no second session");
    let frames = drain(sub, Duration::from_secs(15)).await;
    assert!(!frames.is_empty());
    assert!(first.wait(Duration::from_secs(10)).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_publisher_replaces_with_replace_policy() {
    let logs = tempfile::tempdir().unwrap();
    let (addr, hub) = rtmp_server(TakeoverPolicy::Replace).await;
    let url = format!("rtmp://{addr}/live/{KEY}");
    let mut watch = hub.watch();
    let mut first = publish(&url, 8, logs.path());
    let a = next_session(&mut watch, &first).await;
    let sub_a = a.subscribe();

    let mut second = publish(&url, 2, logs.path());
    let b = next_session(&mut watch, &second).await;
    assert_ne!(a.id, b.id);
    assert_eq!(b.room, ROOM);
    assert!(b.info.video.is_some());
    // The first session ended and its connection was closed: its ffmpeg gives up early.
    drain(sub_a, Duration::from_secs(5)).await;
    let started = Instant::now();
    let status = first.wait(Duration::from_secs(10)).await;
    assert!(
        !status.success(),
        "first publisher was not cut off; log:\n{}",
        first.log()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(hub.live(ROOM).map(|s| s.id), Some(b.id));
    let frames = drain(b.subscribe(), Duration::from_secs(15)).await;
    assert!(frames.iter().any(|f| f.track == TrackKind::Video));
    assert!(second.wait(Duration::from_secs(10)).await.success());
}

/// One RTMP message as type-0 + type-3 chunks of 128 bytes on chunk stream 3.
fn chunked(type_id: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x03, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    v.push(type_id);
    v.extend_from_slice(&0u32.to_le_bytes());
    for (i, c) in payload.chunks(128).enumerate() {
        if i > 0 {
            v.push(0xc3);
        }
        v.extend_from_slice(c);
    }
    v
}

/// Plain (non-digest) RTMP handshake as a client.
async fn client_handshake(s: &mut TcpStream) {
    let mut c0c1 = vec![3u8];
    c0c1.extend((0..1536u32).map(|i| (i % 251) as u8));
    c0c1[5..9].copy_from_slice(&[0, 0, 0, 0]);
    s.write_all(&c0c1).await.unwrap();
    let mut s0s1s2 = vec![0u8; 1 + 2 * 1536];
    timeout(Duration::from_secs(5), s.read_exact(&mut s0s1s2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s0s1s2[0], 3, "S0 is RTMP version 3");
    s.write_all(&s0s1s2[1..1537]).await.unwrap();
}

/// Read until the server closes the connection.
async fn assert_closed(s: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 4096];
    let closed = timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "server kept the connection open after {what}"
    );
}

fn amf_string(s: &str) -> Vec<u8> {
    let mut v = vec![0x02];
    v.extend_from_slice(&(s.len() as u16).to_be_bytes());
    v.extend_from_slice(s.as_bytes());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_the_connection_and_the_server_carries_on() {
    let (addr, hub) = rtmp_server(TakeoverPolicy::Refuse).await;

    // Not a handshake at all.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
        .await
        .unwrap();
    assert_closed(&mut s, "an HTTP request").await;

    // A handshake, then a connect command nested 5000 objects deep.
    let mut s = TcpStream::connect(addr).await.unwrap();
    client_handshake(&mut s).await;
    let mut amf = amf_string("connect");
    amf.extend_from_slice(&[0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
    for _ in 0..5000 {
        amf.extend_from_slice(&[0x03, 0, 1, b'a']);
    }
    let _ = s.write_all(&chunked(20, &amf)).await;
    assert_closed(&mut s, "deeply nested AMF").await;

    // A command with fewer values than rml_rtmp assumes.
    let mut s = TcpStream::connect(addr).await.unwrap();
    client_handshake(&mut s).await;
    let _ = s.write_all(&chunked(20, &amf_string("connect"))).await;
    assert_closed(&mut s, "a one-value command").await;

    // A chunk header that shrinks a message below what was already received.
    let mut s = TcpStream::connect(addr).await.unwrap();
    client_handshake(&mut s).await;
    let mut bytes = chunked(9, &[0x17; 300]);
    bytes.truncate(12 + 128);
    bytes.extend_from_slice(&[0x43, 0, 0, 0, 0, 0, 10, 9]);
    bytes.extend_from_slice(&[0; 10]);
    let _ = s.write_all(&bytes).await;
    assert_closed(&mut s, "an inconsistent chunk header").await;

    // Still serving: a real publisher gets through.
    publish_and_check(&format!("rtmp://{addr}/live/{KEY}"), &hub, "rtmp").await;
}
