//! RTMP ingest server: OBS-style publishers push `rtmp://host/live/<stream-key>`.
//!
//! Each accepted connection runs one session of the IO-free `rml_rtmp` crate (handshake,
//! then `ServerSession`) over tokio; [`handle_connection`] is generic over the byte stream, so
//! RTMPS ([`serve_tls`]) is the same code behind a TLS acceptor. The application must be
//! `live`; the stream key is resolved to a room through [`StreamKeys`], the room's publishing
//! slot is claimed in the [`StreamHub`] (refused or taking over per [`TakeoverPolicy`]), and
//! the FLV audio/video messages become hub frames (see `media`). Refusals are logged with the
//! peer address and the connection is closed; so is a publisher that another one replaced.
//!
//! Peer input never panics the server: `rml_rtmp` is fed through a guard that refuses the AMF
//! messages it cannot parse safely, its calls run under `catch_unwind`, and every connection
//! has handshake, idle and publish-start deadlines.

// `flv` and `guard` are public (hidden) only so the fuzz targets reach the real parsers.
#[doc(hidden)]
pub mod flv;
#[doc(hidden)]
pub mod guard;
mod media;
mod replay;
mod session;
mod sps;

pub use flv::FlvError;
pub use guard::GuardError;
pub use replay::replay;
pub use session::handle_connection;
pub use sps::{SpsError, SpsInfo, parse_sps};

use crate::hub::{HubError, StreamHub, TakeoverPolicy};
use crate::ingest::{KeyRejection, StreamKeys};
use rml_rtmp::handshake::HandshakeError;
use rml_rtmp::sessions::ServerSessionError;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::timeout;

/// The only RTMP application accepted: `rtmp://host/live/<stream-key>`.
pub const APP: &str = "live";
/// Connections served at once (each may buffer up to a few RTMP messages).
pub const MAX_CONNECTIONS: usize = 256;
/// Time allowed for the RTMP (and TLS) handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection must be sending media this long after its handshake (or its last publish).
pub const PUBLISH_DEADLINE: Duration = Duration::from_secs(30);
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused client gets to read the refusal before the socket is closed.
pub(crate) const REFUSAL_LINGER: Duration = Duration::from_secs(2);
pub(crate) const READ_BUFFER: usize = 64 * 1024;

/// FLV tag types, which are also RTMP message type ids.
pub const AUDIO: u8 = 8;
pub const VIDEO: u8 = 9;
pub const SCRIPT: u8 = 18;

/// One message of a stream a player plays: its type ([`AUDIO`], [`VIDEO`], [`SCRIPT`]),
/// media time in ms, and payload (an FLV tag body, which is an RTMP message payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayMessage {
    pub type_id: u8,
    pub ts_ms: u64,
    pub payload: bytes::Bytes,
}

/// Where RTMP players' streams come from (`rtmp://host/live/{room}[?rung=v1]`). The RTMP
/// server only speaks the protocol; the host plugs in the origin's packaged rungs
/// (`origin::flv::FlvPlayback`), so ingest still knows nothing of packaging.
pub trait PlaySource: Send + Sync + 'static {
    /// The messages of `room`'s live from a keyframe on, ending with the live; `Err`
    /// says why it cannot be played.
    fn play(
        &self,
        room: &str,
        rung: Option<&str>,
    ) -> Result<tokio::sync::mpsc::Receiver<PlayMessage>, String>;
}

/// Why a connection ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum RtmpError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("RTMP handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    #[error("connection closed during the RTMP handshake")]
    ClosedInHandshake,
    #[error("RTMP session error: {0}")]
    Session(#[from] ServerSessionError),
    #[error("refused hostile RTMP input: {0}")]
    Guard(#[from] GuardError),
    #[error("rml_rtmp choked on malformed input")]
    Malformed,
    #[error("refused publisher: {0}")]
    Rejected(#[from] KeyRejection),
    #[error("refused publisher: {0}")]
    Hub(#[from] HubError),
    #[error("refused stream: {0}")]
    Media(#[from] FlvError),
    #[error("refused a player of {0}")]
    PlayRefused(String),
    #[error("refused a second publish on one connection")]
    SecondPublish,
}

impl RtmpError {
    /// A publisher or player this server refused (already logged with its reason).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            RtmpError::Rejected(_)
                | RtmpError::Hub(_)
                | RtmpError::Media(_)
                | RtmpError::PlayRefused(_)
                | RtmpError::SecondPublish
        )
    }
}

/// Players' streams, if this server also plays (see [`PlaySource`]).
pub type Play = Option<Arc<dyn PlaySource>>;

/// Accept RTMP connections forever, one task per connection.
pub async fn serve(
    listener: TcpListener,
    hub: StreamHub,
    keys: Arc<dyn StreamKeys>,
    policy: TakeoverPolicy,
    play: Play,
) {
    serve_inner(listener, None, hub, keys, policy, play).await
}

/// Accept RTMPS connections forever: TLS first, then the same sessions as [`serve`].
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    hub: StreamHub,
    keys: Arc<dyn StreamKeys>,
    policy: TakeoverPolicy,
    play: Play,
) {
    serve_inner(listener, Some(acceptor), hub, keys, policy, play).await
}

async fn serve_inner(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    hub: StreamHub,
    keys: Arc<dyn StreamKeys>,
    policy: TakeoverPolicy,
    play: Play,
) {
    let scheme = if acceptor.is_some() { "rtmps" } else { "rtmp" };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "{scheme} ingest listening");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "{scheme} accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "{scheme}: too many connections; closing this one");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (hub, keys, acceptor, play) =
            (hub.clone(), keys.clone(), acceptor.clone(), play.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let result = match acceptor {
                None => handle_connection(tcp, peer, hub, keys, policy, play).await,
                Some(acceptor) => match timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Err(_) => Err(RtmpError::Timeout("in the TLS handshake")),
                    Ok(Err(e)) => Err(RtmpError::Tls(e)),
                    Ok(Ok(tls)) => handle_connection(tls, peer, hub, keys, policy, play).await,
                },
            };
            match result {
                Ok(()) => tracing::debug!(%peer, "{scheme} connection closed"),
                // Refusals were logged where they happened, with their reason.
                Err(e) if e.is_refusal() => {}
                Err(e) => tracing::warn!(%peer, error = %e, "{scheme} connection closed"),
            }
        });
    }
}
