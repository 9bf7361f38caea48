//! The WebSocket transport: axum's upgrade, with small buffers, mapped onto `conn::serve`.
//!
//! tungstenite's defaults reserve about 134 KB per connection (a 128 KiB read buffer plus
//! write buffering); a live room holds thousands of idle viewers, so the buffers here are
//! sized for the protocol's small frames.
//!
//! Frames tungstenite cannot read end the connection with a close code: 1007 for a text
//! frame that is not UTF-8, 1009 for a message over [`MAX_MESSAGE`].

use super::Rooms;
use super::conn::{self, WsIn, WsOut};
use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;

/// Largest WebSocket message accepted; a larger one ends the connection (tungstenite
/// refuses it mid-read). Frames between the protocol limit and this get an error frame.
const MAX_MESSAGE: usize = 64 << 10;

/// `GET /ws`: upgrade and serve the room protocol.
pub async fn upgrade(
    State(rooms): State<Arc<Rooms>>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let ip = client_ip(&rooms, peer, &headers);
    // tungstenite allocates the read buffer up front; it grows for larger messages.
    ws.read_buffer_size(1 << 10)
        .write_buffer_size(0)
        .max_write_buffer_size(256 << 10)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| run(rooms, socket, ip))
}

/// The client's address for the guest throttles: the peer's, or what a trusted proxy
/// forwarded. `None` when the server runs without `ConnectInfo` (tests).
pub(super) fn client_ip(
    rooms: &Rooms,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: &HeaderMap,
) -> Option<std::net::IpAddr> {
    let Extension(ConnectInfo(peer)) = peer?;
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    Some(super::guests::client_ip(
        peer.ip(),
        forwarded,
        &rooms.deps.config.trusted_proxies,
    ))
}

async fn run(rooms: Arc<Rooms>, socket: WebSocket, ip: Option<std::net::IpAddr>) {
    let (sink, stream) = socket.split();
    let sink = sink.with(|out: WsOut| async move {
        Ok::<_, axum::Error>(match out {
            // Share the encoded frame instead of copying it per recipient.
            WsOut::Text(text) => match Utf8Bytes::try_from(Bytes::from_owner(Shared(text))) {
                Ok(text) => Message::Text(text),
                Err(_) => Message::Text(Utf8Bytes::from_static("")),
            },
            WsOut::Close(code, reason) => Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })),
        })
    });
    let stream = stream.filter_map(|m| {
        futures_util::future::ready(match m {
            Ok(Message::Text(t)) => Some(WsIn::Text(t.as_str().to_owned())),
            Ok(Message::Binary(_)) => Some(WsIn::Binary),
            Ok(Message::Close(_)) => Some(WsIn::Close),
            Err(e) => Some(read_error(e)),
            // Pings and pongs are answered by tungstenite; they are not protocol input.
            Ok(Message::Ping(_)) | Ok(Message::Pong(_)) => None,
        })
    });
    conn::serve(rooms, Box::pin(sink), Box::pin(stream), None, ip).await;
}

/// What a read error means for the connection: a text frame that is not UTF-8 is closed
/// with 1007 and a message over [`MAX_MESSAGE`] with 1009 (RFC 6455 §7.4.1); anything
/// else (a reset, a protocol violation) just ends it.
fn read_error(e: axum::Error) -> WsIn {
    use tokio_tungstenite::tungstenite::Error;
    match e.into_inner().downcast::<Error>().map(|e| *e) {
        Ok(Error::Utf8(_)) => WsIn::Broken(conn::CLOSE_INVALID_DATA, "text frames must be UTF-8"),
        Ok(Error::Capacity(_)) => WsIn::Broken(conn::CLOSE_TOO_BIG, "message too big"),
        _ => WsIn::Close,
    }
}

/// An encoded frame as the bytes of a WebSocket message, without a copy.
struct Shared(Arc<str>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}
