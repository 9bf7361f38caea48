//! The load generator's WebSocket clients: connect (127.0.0.1 only), hello, join, and
//! open many at bounded concurrency.
//!
//! Client buffers are small (4 KiB reads, writes flushed per send) so 10,000 connections fit in
//! the load generator, and Nagle is off so a client's own sends are not delayed.

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Ws = WebSocketStream<TcpStream>;

/// Longest wait for one handshake step.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Open a WebSocket to `addr`, which must be on 127.0.0.1.
pub async fn connect(addr: SocketAddr) -> anyhow::Result<Ws> {
    if addr.ip() != Ipv4Addr::LOCALHOST {
        bail!("refusing to connect to {addr}: the bench only loads 127.0.0.1");
    }
    let tcp = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(addr))
        .await
        .context("TCP connect timed out")??;
    tcp.set_nodelay(true)?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4 << 10)
        // Sends flush at once; a larger buffer only lets a sender batch frames.
        .write_buffer_size(4 << 10)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let (ws, _) = tokio::time::timeout(
        STEP_TIMEOUT,
        tokio_tungstenite::client_async_with_config(format!("ws://{addr}/ws"), tcp, Some(config)),
    )
    .await
    .context("WebSocket upgrade timed out")??;
    Ok(ws)
}

/// Send one JSON message.
pub async fn send(ws: &mut Ws, v: &Value) -> anyhow::Result<()> {
    ws.send(Message::Text(v.to_string().into())).await?;
    Ok(())
}

/// The next text frame as JSON; an error on close or after `STEP_TIMEOUT`.
pub async fn next_json(ws: &mut Ws) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .context("no frame from the server in time")?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str()).context("the server sent invalid JSON");
            }
            Some(Ok(Message::Close(frame))) => bail!("closed by the server: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("the connection ended"),
        }
    }
}

/// Read until a frame of type `ty`; an `error` frame fails.
pub async fn expect_type(ws: &mut Ws, ty: &str) -> anyhow::Result<Value> {
    loop {
        let v = next_json(ws).await?;
        if v["type"] == ty {
            return Ok(v);
        }
        if v["type"] == "error" {
            bail!("expected {ty}, got error {}: {}", v["code"], v["message"]);
        }
    }
}

/// Connect, hello (with an optional room token), join the demo room; returns the socket
/// after the snapshot and the `welcome` frame.
pub async fn join(addr: SocketAddr, token: Option<&str>) -> anyhow::Result<(Ws, Value)> {
    join_with(addr, token, None).await
}

/// [`join`], with the device id a viewer page sends (guests' claims are then throttled
/// per device, which costs a read of the offer's limit).
pub async fn join_with(
    addr: SocketAddr,
    token: Option<&str>,
    device: Option<&str>,
) -> anyhow::Result<(Ws, Value)> {
    join_room(addr, token, device, super::server::ROOM).await
}

/// [`join_with`] into `room`.
pub async fn join_room(
    addr: SocketAddr,
    token: Option<&str>,
    device: Option<&str>,
    room: &str,
) -> anyhow::Result<(Ws, Value)> {
    let mut ws = connect(addr).await?;
    send(
        &mut ws,
        &json!({"type": "hello", "v": 1, "token": token, "name": "bench", "device": device}),
    )
    .await?;
    let welcome = expect_type(&mut ws, "welcome").await?;
    send(&mut ws, &json!({"type": "join", "room": room})).await?;
    expect_type(&mut ws, "snapshot").await?;
    Ok((ws, welcome))
}

/// `n` guest viewers joined to the demo room, at most `concurrency` handshakes at a time.
/// Returns them with the wall time the joins took. Any failure fails the whole batch.
pub async fn join_many(
    addr: SocketAddr,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<(Vec<Ws>, Duration)> {
    join_many_with(addr, n, concurrency, false).await
}

/// [`join_many`]; with `devices`, each viewer sends a device id of its own.
pub async fn join_many_with(
    addr: SocketAddr,
    n: usize,
    concurrency: usize,
    devices: bool,
) -> anyhow::Result<(Vec<Ws>, Duration)> {
    let start = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let device = devices.then(|| format!("bench-device-{i:06}"));
            let (ws, _) = join_with(addr, None, device.as_deref()).await?;
            anyhow::Ok((i, ws))
        });
    }
    let mut slots: Vec<Option<Ws>> = (0..n).map(|_| None).collect();
    let mut failed = 0usize;
    let mut first_error = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60 + n as u64 / 50);
    loop {
        let next = match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(_) => {
                tasks.abort_all();
                bail!(
                    "joining {n} viewers did not finish in time ({} joined)",
                    slots.iter().flatten().count()
                );
            }
        };
        match next {
            Ok(Ok((i, ws))) => slots[i] = Some(ws),
            Ok(Err(e)) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e.into());
            }
        }
    }
    if let Some(e) = first_error {
        bail!("{failed} of {n} viewers could not join; first error: {e:#}");
    }
    Ok((slots.into_iter().flatten().collect(), start.elapsed()))
}

/// Frames a client ignores while it waits for something else: counts of what arrived.
#[derive(Debug, Default, Clone, Copy)]
pub struct Drained {
    pub frames: u64,
    pub closed: bool,
}

/// Read and discard until `stop` flips or the server closes.
pub async fn drain(mut ws: Ws, mut stop: tokio::sync::watch::Receiver<bool>) -> Drained {
    let mut out = Drained::default();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            m = ws.next() => match m {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    out.closed = true;
                    break;
                }
                Some(Ok(_)) => out.frames += 1,
            }
        }
    }
    out
}

/// Per-second rate over a span of nanoseconds.
pub fn per_sec(count: u64, span_ns: u64) -> f64 {
    if span_ns == 0 {
        0.0
    } else {
        count as f64 * 1e9 / span_ns as f64
    }
}
