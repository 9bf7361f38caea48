//! The HTTP accept loop: connection caps, a deadline for each request head, upgrades.
//!
//! Threat model: a client that opens sockets and never finishes a request (slowloris),
//! or opens very many. Every connection must send a complete request head within
//! `header_timeout` (also between requests on a kept-alive connection), or it is
//! closed; a WebSocket then has `RoomConfig::handshake_timeout` for `hello` and `join`.
//! Connections beyond the per-IP or global cap are answered with a short 503 and closed
//! at once, without a task or a buffer, and counted in `metrics`. What a client can still
//! do: hold up to `max_per_ip` sockets for `header_timeout` each, and send a request
//! body slowly (bodies have no deadline here).

use super::caps::{ConnCaps, Refused};
use super::linger::Conn;
use crate::metrics;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_layer::Layer;

/// Limits of the HTTP listener.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Time a connection has to send a complete request head.
    pub header_timeout: Duration,
    /// Open connections in all; 0 is no cap.
    pub max_conns: usize,
    /// Open connections from one client IP (IPv6: one /64); 0 is no cap.
    pub max_conns_per_ip: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            max_conns: 100_000,
            max_conns_per_ip: 1_000,
        }
    }
}

/// What a refused connection gets before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
Content-Length: 20\r\nRetry-After: 5\r\nConnection: close\r\n\r\ntoo many connections";

/// Serve `app` on `listener` until `shutdown` resolves, then stop accepting and wait for
/// the open HTTP exchanges to finish (upgraded connections live on in their own tasks).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let caps = ConnCaps::new(limits.max_conns, limits.max_conns_per_ip);
    let (stop_tx, _) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                accept_error(e).await;
                continue;
            }
        };
        let permit = match caps.try_acquire(peer.ip()) {
            Ok(p) => p,
            Err(why) => {
                refuse(&tcp, why);
                continue;
            }
        };
        metrics::HTTP_ACCEPTED.inc();
        // No Nagle: a room frame or an LL-DASH chunk is small and must leave at once, not
        // wait for the peer's delayed ACK (up to 40 ms when frames follow each other).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY on an accepted connection: {e}");
        }
        let io = TokioIo::new(Conn::new(tcp, permit));
        // The client's address, for handlers that limit per client (the origin's 404s).
        let service = TowerToHyperService::new(
            axum::Extension(axum::extract::ConnectInfo(peer)).layer(app.clone()),
        );
        let mut stop = stop_tx.subscribe();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                if e.is_timeout() {
                    metrics::HTTP_HEADER_TIMEOUTS.inc();
                }
                tracing::trace!("connection from {peer}: {e}");
            }
            drop(stop);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
    Ok(())
}

/// Answer a refused connection without waiting for it, and count it.
fn refuse(tcp: &TcpStream, why: Refused) {
    match why {
        Refused::PerIp => metrics::HTTP_REFUSED_PER_IP.inc(),
        Refused::Global => metrics::HTTP_REFUSED_GLOBAL.inc(),
    }
    // A fresh socket's send buffer takes this whole; if not, the close says enough.
    let _ = tcp.try_write(REFUSAL);
}

/// Per-connection failures are skipped; running out of descriptors or memory waits a
/// little, so the loop does not spin while the process is full.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    metrics::HTTP_ACCEPT_ERRORS.inc();
    tracing::warn!("accepting a connection: {e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The caps in effect, for tests and the log.
pub fn describe(limits: &HttpLimits) -> String {
    let cap = |n: usize| match n {
        0 => "none".to_owned(),
        n => n.to_string(),
    };
    format!(
        "header timeout {:?}, connection cap {} (per IP {})",
        limits.header_timeout,
        cap(limits.max_conns),
        cap(limits.max_conns_per_ip)
    )
}
