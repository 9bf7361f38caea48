//! An accepted TCP connection that holds its cap permit and closes gracefully.
//!
//! Closing a socket that still has unread input makes the kernel answer with a reset,
//! and a reset can destroy what was sent just before it: a WebSocket close frame (1009
//! after a 10 MB frame we refused to read), or the last response of an HTTP connection.
//! So when a connection is dropped before the peer finished sending, the socket is handed
//! to a short "lingering close": our side is shut down (the peer sees end of stream after
//! our last bytes), and what the peer still sends is read and discarded for up to
//! [`LINGER`] or [`LINGER_BYTES`], whichever ends first. The permit is held until then.

use super::caps::ConnPermit;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// How long a closed connection's leftover input is read and discarded.
pub const LINGER: Duration = Duration::from_secs(1);
/// The most leftover input read before giving up (a reset then).
pub const LINGER_BYTES: usize = 16 << 20;

/// A served connection.
#[derive(Debug)]
pub struct Conn {
    tcp: Option<TcpStream>,
    permit: Option<ConnPermit>,
    /// The peer finished sending (end of stream) or the socket failed: no linger.
    done_reading: bool,
}

impl Conn {
    pub fn new(tcp: TcpStream, permit: ConnPermit) -> Self {
        crate::metrics::HTTP_OPEN.inc();
        Conn {
            tcp: Some(tcp),
            permit: Some(permit),
            done_reading: false,
        }
    }

    fn tcp(&mut self) -> io::Result<&mut TcpStream> {
        self.tcp
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let (Some(tcp), Some(permit)) = (self.tcp.take(), self.permit.take()) else {
            return;
        };
        if self.done_reading {
            crate::metrics::HTTP_OPEN.dec();
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(linger(tcp, permit));
            }
            Err(_) => crate::metrics::HTTP_OPEN.dec(),
        }
    }
}

/// Shut our side, then read and discard the peer's leftovers for a while.
async fn linger(mut tcp: TcpStream, permit: ConnPermit) {
    let _ = tcp.shutdown().await;
    let deadline = tokio::time::Instant::now() + LINGER;
    let mut buf = vec![0u8; 4096];
    let mut read = 0;
    while read < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => read += n,
            _ => break,
        }
    }
    drop(tcp);
    drop(permit);
    crate::metrics::HTTP_OPEN.dec();
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(this.tcp()?).poll_read(cx, buf);
        match &r {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                this.done_reading = true;
            }
            Poll::Ready(Err(_)) => this.done_reading = true,
            _ => {}
        }
        r
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(this.tcp()?).poll_write(cx, buf);
        if let Poll::Ready(Err(_)) = &r {
            // The peer is gone (reset, broken pipe): nothing left to linger for.
            this.done_reading = true;
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().tcp()?).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.as_ref().is_some_and(|t| t.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().tcp()?).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().tcp()?).poll_shutdown(cx)
    }
}
