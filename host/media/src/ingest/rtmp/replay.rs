//! The synchronous core of one RTMP connection, without sockets, keys or a hub: the
//! handshake, the guard, `ServerSession` (connect and publish always accepted) and the
//! media assembler, in the order and with the `catch_unwind` seams `session.rs` uses.
//! It exists so fuzzers and corpus replays can drive the real byte path; the server itself
//! runs `session.rs`.

use super::RtmpError;
use super::guard::ChunkGuard;
use super::media::Assembler;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Bytes fed to the session at once, like one socket read of a busy publisher.
const READ: usize = 4096;

fn unwind<T>(f: impl FnOnce() -> T) -> Result<T, RtmpError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| RtmpError::Malformed)
}

/// Feed `input` (what a client sends, from its first handshake byte) through the real
/// parsing path until it ends or is refused. Never panics on any input; refusals are the
/// `Err` the server would close the connection with.
#[doc(hidden)]
pub fn replay(input: &[u8]) -> Result<(), RtmpError> {
    let mut hs = Handshake::new(PeerType::Server);
    let mut rest = input;
    let remaining = loop {
        if rest.is_empty() {
            return Err(RtmpError::ClosedInHandshake);
        }
        let (now, later) = rest.split_at(rest.len().min(READ));
        rest = later;
        if let HandshakeProcessResult::Completed {
            remaining_bytes, ..
        } = unwind(|| hs.process_bytes(now))??
        {
            break remaining_bytes;
        }
    };
    let (mut session, initial) = unwind(|| ServerSession::new(ServerSessionConfig::new()))??;
    let mut guard = ChunkGuard::new();
    let mut media = Assembler::new();
    let mut publishing = false;
    act(&mut session, &mut media, &mut publishing, initial)?;
    for bytes in std::iter::once(&remaining[..]).chain(rest.chunks(READ)) {
        unwind(|| guard.check(bytes))??;
        let results = unwind(|| session.handle_input(bytes))??;
        act(&mut session, &mut media, &mut publishing, results)?;
    }
    Ok(())
}

/// What `session.rs` does with the session's results, minus the network and the hub.
fn act(
    session: &mut ServerSession,
    media: &mut Assembler,
    publishing: &mut bool,
    results: Vec<ServerSessionResult>,
) -> Result<(), RtmpError> {
    for result in results {
        let ServerSessionResult::RaisedEvent(event) = result else {
            continue;
        };
        match event {
            ServerSessionEvent::ConnectionRequested { request_id, .. } => {
                unwind(|| session.accept_request(request_id))??;
            }
            ServerSessionEvent::PublishStreamRequested { request_id, .. } => {
                if *publishing {
                    return Err(RtmpError::SecondPublish);
                }
                unwind(|| session.accept_request(request_id))??;
                *publishing = true;
                *media = Assembler::new();
            }
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                media.on_metadata(metadata);
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } if *publishing => {
                media.on_video(timestamp.value, &data)?;
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } if *publishing => {
                media.on_audio(timestamp.value, &data)?;
            }
            _ => {}
        }
    }
    Ok(())
}
