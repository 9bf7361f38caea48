//! The WebSocket transport: axum's upgrade, with small buffers, mapped onto `conn::serve`.
//!
//! tungstenite's defaults reserve about 134 KB per connection (a 128 KiB read buffer plus
//! write buffering); a live room holds thousands of idle viewers, so the buffers here are
//! sized for the protocol's small frames.

use super::Rooms;
use super::conn::{self, WsIn, WsOut};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;

/// Largest WebSocket message accepted; a larger one ends the connection (tungstenite
/// refuses it mid-read). Frames between the protocol limit and this get an error frame.
const MAX_MESSAGE: usize = 64 << 10;

/// `GET /ws`: upgrade and serve the room protocol.
pub async fn upgrade(State(rooms): State<Arc<Rooms>>, ws: WebSocketUpgrade) -> Response {
    ws.read_buffer_size(4 << 10)
        .write_buffer_size(0)
        .max_write_buffer_size(256 << 10)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| run(rooms, socket))
}

async fn run(rooms: Arc<Rooms>, socket: WebSocket) {
    let (sink, stream) = socket.split();
    let sink = sink.with(|out: WsOut| async move {
        Ok::<_, axum::Error>(match out {
            WsOut::Text(text) => Message::Text((&*text).into()),
            WsOut::Close(code, reason) => Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })),
        })
    });
    let stream = stream.map(|m| match m {
        Ok(Message::Text(t)) => WsIn::Text(t.as_str().to_owned()),
        Ok(Message::Binary(_)) => WsIn::Binary,
        Ok(Message::Close(_)) | Err(_) => WsIn::Close,
        // Pings and pongs are answered by tungstenite; treat them as no input.
        Ok(Message::Ping(_)) | Ok(Message::Pong(_)) => WsIn::Text(String::new()),
    });
    let stream =
        stream.filter(|m| futures_util::future::ready(!matches!(m, WsIn::Text(t) if t.is_empty())));
    conn::serve(rooms, Box::pin(sink), Box::pin(stream)).await;
}
