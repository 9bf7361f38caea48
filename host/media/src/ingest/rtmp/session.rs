//! One RTMP connection: the `rml_rtmp` handshake and `ServerSession` driven over any tokio
//! byte stream, the publish request checked against the stream keys and claimed in the hub,
//! and media handed to the assembler. Bytes reach `rml_rtmp` only through the guard and
//! under `catch_unwind`; refusals are logged with the peer address, answered, and closed.
//! A publish refused after it was accepted (an unsupported codec, broken codec parameters,
//! no media) is answered with an `onStatus` error on its stream, which publishers show
//! ("Server error: …" in ffmpeg), and reported to the hub for the room's media status.

use super::guard::ChunkGuard;
use super::media::{Assembler, Output};
use super::{
    APP, FlvError, HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, PUBLISH_DEADLINE, Play, PlayMessage,
    READ_BUFFER, REFUSAL_LINGER, RtmpError, WRITE_TIMEOUT,
};
use crate::hub::{PublishLease, Publisher, StreamHub, TakeoverPolicy};
use crate::ingest::{KeyRejection, StreamKeys};
use rml_rtmp::chunk_io::ChunkSerializer;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::rml_amf0::Amf0Value;
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use rml_rtmp::time::RtmpTimestamp;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until, timeout};

/// Where the connection is with the hub.
enum Slot {
    /// Not publishing (yet, or any more).
    Idle,
    /// Publish accepted, waiting for the codec parameters and the first keyframe.
    Claimed(PublishLease),
    /// Frames are flowing.
    Live(Publisher),
}

impl Slot {
    /// Resolves when a newer publisher took the room over; never while idle.
    async fn revoked(&mut self) {
        match self {
            Slot::Idle => std::future::pending().await,
            Slot::Claimed(lease) => lease.revoked().await,
            Slot::Live(publisher) => publisher.revoked().await,
        }
    }
}

/// What to do after a batch of input.
enum Flow {
    Continue,
    /// Close the connection (after sending what is queued).
    Close,
}

/// Everything one connection knows.
struct Conn {
    peer: SocketAddr,
    hub: StreamHub,
    keys: Arc<dyn StreamKeys>,
    policy: TakeoverPolicy,
    session: ServerSession,
    guard: ChunkGuard,
    slot: Slot,
    media: Assembler,
    /// Room of the current publish, for logs and re-claims.
    room: String,
    /// Bytes to send, in order.
    out: Vec<u8>,
    publish_deadline: Option<Instant>,
    /// The chunk size the session announced to the peer (for the messages we serialize).
    chunk_size: u32,
    play: Play,
    /// A play in progress: its message stream id and the live's messages.
    playing: Option<(u32, tokio::sync::mpsc::Receiver<PlayMessage>)>,
}

/// How long a player may send nothing (it acknowledges only every few MB).
const PLAY_IDLE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The message stream a publisher publishes on: `rml_rtmp` numbers the streams a
/// connection creates from 1, and publishers create one.
const PUBLISH_STREAM_ID: u32 = 1;

/// Run one RTMP session over `stream` (plain TCP or TLS) until the peer leaves, is refused,
/// or is replaced. Dropping the publisher at the end ends the hub session.
pub async fn handle_connection<S>(
    mut stream: S,
    peer: SocketAddr,
    hub: StreamHub,
    keys: Arc<dyn StreamKeys>,
    policy: TakeoverPolicy,
    play: Play,
) -> Result<(), RtmpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut buf = vec![0u8; READ_BUFFER];
    let remaining = timeout(HANDSHAKE_TIMEOUT, handshake(&mut stream, &mut buf))
        .await
        .map_err(|_| RtmpError::Timeout("in the RTMP handshake"))??;
    tracing::debug!(%peer, "RTMP handshake done");

    let config = ServerSessionConfig::new();
    let chunk_size = config.chunk_size;
    let (session, initial) = unwind(|| ServerSession::new(config))??;
    let mut conn = Conn {
        peer,
        hub,
        keys,
        policy,
        session,
        guard: ChunkGuard::new(),
        slot: Slot::Idle,
        media: Assembler::new(),
        room: String::new(),
        out: Vec::new(),
        publish_deadline: Some(Instant::now() + PUBLISH_DEADLINE),
        chunk_size,
        play,
        playing: None,
    };
    let result = conn.run(&mut stream, initial, remaining, &mut buf).await;
    // End the hub session (if any) before saying goodbye.
    if matches!(conn.slot, Slot::Live(_) | Slot::Claimed(_)) {
        tracing::info!(%peer, room = %conn.room, "publisher disconnected");
    }
    conn.slot = Slot::Idle;
    // Send what was queued (a refusal) and close politely.
    let _ = timeout(WRITE_TIMEOUT, async {
        if !conn.out.is_empty() {
            stream.write_all(&conn.out).await?;
        }
        stream.shutdown().await
    })
    .await;
    if result.as_ref().is_err_and(RtmpError::is_refusal) {
        // Let the refusal reach the client before the socket goes away: closing with its
        // unread bytes pending would reset the connection and could discard our answer.
        let _ = timeout(REFUSAL_LINGER, async {
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }
    result
}

/// Run `f`, turning a panic inside `rml_rtmp` into an error.
fn unwind<T>(f: impl FnOnce() -> T) -> Result<T, RtmpError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| RtmpError::Malformed)
}

async fn handshake<S>(stream: &mut S, buf: &mut [u8]) -> Result<Vec<u8>, RtmpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut hs = Handshake::new(PeerType::Server);
    loop {
        let n = stream.read(buf).await?;
        if n == 0 {
            return Err(RtmpError::ClosedInHandshake);
        }
        let input = &buf[..n];
        match unwind(|| hs.process_bytes(input))?? {
            HandshakeProcessResult::InProgress { response_bytes } => {
                stream.write_all(&response_bytes).await?;
                stream.flush().await?;
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                stream.write_all(&response_bytes).await?;
                stream.flush().await?;
                return Ok(remaining_bytes);
            }
        }
    }
}

impl Conn {
    async fn run<S>(
        &mut self,
        stream: &mut S,
        initial: Vec<ServerSessionResult>,
        remaining: Vec<u8>,
        buf: &mut [u8],
    ) -> Result<(), RtmpError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let mut flow = self.results(initial).await?;
        if matches!(flow, Flow::Continue) && !remaining.is_empty() {
            flow = self.input(&remaining).await?;
        }
        loop {
            if !self.out.is_empty() {
                let out = std::mem::take(&mut self.out);
                timeout(WRITE_TIMEOUT, async {
                    stream.write_all(&out).await?;
                    stream.flush().await
                })
                .await
                .map_err(|_| RtmpError::Timeout("writing to the peer"))??;
            }
            if let Flow::Close = flow {
                return Ok(());
            }
            let deadline = self.publish_deadline;
            // A player sends little (an acknowledgement every few MB): no idle limit while
            // playing; a dead one fails the writes instead.
            let idle = if self.playing.is_some() {
                PLAY_IDLE
            } else {
                IDLE_TIMEOUT
            };
            let read = tokio::select! {
                r = timeout(idle, stream.read(buf)) => r,
                m = async {
                    match self.playing.as_mut() {
                        Some((_, rx)) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    flow = self.play_message(m)?;
                    continue;
                }
                () = self.slot.revoked() => {
                    tracing::info!(peer = %self.peer, room = %self.room, "publishing slot revoked (a newer publisher, or shutting down); closing");
                    return Ok(());
                }
                () = async { if let Some(d) = deadline { sleep_until(d).await } else { std::future::pending().await } } => {
                    if matches!(self.slot, Slot::Claimed(_)) {
                        let why = format!(
                            "no H.264 keyframe or AAC audio within {} s of the publish",
                            PUBLISH_DEADLINE.as_secs()
                        );
                        tracing::warn!(peer = %self.peer, room = %self.room, reason = %why, "refusing the stream");
                        self.refuse_publish(&why);
                    }
                    return Err(RtmpError::Timeout("waiting for a publish"));
                }
            };
            let n = read.map_err(|_| RtmpError::Timeout("waiting for data"))??;
            if n == 0 {
                return Ok(());
            }
            flow = self.input(&buf[..n]).await?;
        }
    }

    /// Feed bytes to the guard, then to the session, and act on the results.
    async fn input(&mut self, bytes: &[u8]) -> Result<Flow, RtmpError> {
        let guard = &mut self.guard;
        unwind(|| guard.check(bytes))??;
        let session = &mut self.session;
        let results = unwind(|| session.handle_input(bytes))??;
        self.results(results).await
    }

    async fn results(&mut self, results: Vec<ServerSessionResult>) -> Result<Flow, RtmpError> {
        for result in results {
            match result {
                ServerSessionResult::OutboundResponse(packet) => {
                    self.out.extend_from_slice(&packet.bytes)
                }
                ServerSessionResult::RaisedEvent(event) => {
                    if let Flow::Close = self.event(event).await? {
                        return Ok(Flow::Close);
                    }
                }
                ServerSessionResult::UnhandleableMessageReceived(payload) => {
                    tracing::trace!(peer = %self.peer, type_id = payload.type_id, "ignored RTMP message");
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn queue(&mut self, results: Vec<ServerSessionResult>) {
        for result in results {
            if let ServerSessionResult::OutboundResponse(packet) = result {
                self.out.extend_from_slice(&packet.bytes);
            }
        }
    }

    /// Send an error for an outstanding request (the caller then closes).
    fn refuse(&mut self, request_id: u32, code: &str, description: &str) {
        let session = &mut self.session;
        match unwind(|| session.reject_request(request_id, code, description)) {
            Ok(Ok(results)) => self.queue(results),
            _ => tracing::debug!(peer = %self.peer, "could not build the refusal"),
        }
    }

    /// Refuse a publish that was accepted: an `onStatus` error on its stream for the
    /// publisher, and the reason to the hub for the room's status. The caller then closes.
    fn refuse_publish(&mut self, description: &str) {
        match status_error(self.chunk_size, "NetStream.Publish.Rejected", description) {
            Some(bytes) => self.out.extend_from_slice(&bytes),
            None => tracing::debug!(peer = %self.peer, "could not build the refusal"),
        }
        match &self.slot {
            Slot::Claimed(lease) => lease.refuse(description),
            Slot::Live(publisher) => publisher.refuse(description),
            Slot::Idle => {}
        }
    }

    fn accept(&mut self, request_id: u32) -> Result<(), RtmpError> {
        let session = &mut self.session;
        let results = unwind(|| session.accept_request(request_id))??;
        self.queue(results);
        Ok(())
    }

    async fn event(&mut self, event: ServerSessionEvent) -> Result<Flow, RtmpError> {
        let peer = self.peer;
        match event {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                if app_name != APP {
                    let rejection = KeyRejection::UnknownApp(app_name);
                    tracing::warn!(%peer, reason = %rejection, "RTMP connection refused");
                    self.refuse(
                        request_id,
                        "NetConnection.Connect.Rejected",
                        &rejection.to_string(),
                    );
                    return Err(rejection.into());
                }
                self.accept(request_id)?;
                Ok(Flow::Continue)
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                app_name: _,
                stream_key,
                mode: _,
            } => self.publish(request_id, stream_key).await,
            ServerSessionEvent::PublishStreamFinished { .. } => {
                self.end_publish("deleteStream");
                Ok(Flow::Continue)
            }
            ServerSessionEvent::UnhandleableAmf0Command { command_name, .. } => {
                if command_name == "FCUnpublish" {
                    self.end_publish("FCUnpublish");
                }
                Ok(Flow::Continue)
            }
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                tracing::debug!(%peer, ?metadata, "stream metadata");
                self.media.on_metadata(metadata);
                Ok(Flow::Continue)
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                if matches!(self.slot, Slot::Idle) {
                    return Ok(Flow::Continue);
                }
                let out = self.media.on_video(timestamp.value, &data);
                self.media_output(out)
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                if matches!(self.slot, Slot::Idle) {
                    return Ok(Flow::Continue);
                }
                let out = self.media.on_audio(timestamp.value, &data);
                self.media_output(out)
            }
            ServerSessionEvent::PlayStreamRequested {
                request_id,
                stream_key,
                stream_id,
                ..
            } => self.start_play(request_id, stream_key, stream_id),
            ServerSessionEvent::PlayStreamFinished { .. } => {
                self.playing = None;
                Ok(Flow::Close)
            }
            _ => Ok(Flow::Continue),
        }
    }

    async fn publish(&mut self, request_id: u32, stream_key: String) -> Result<Flow, RtmpError> {
        let peer = self.peer;
        if !matches!(self.slot, Slot::Idle) {
            tracing::warn!(%peer, room = %self.room, "second publish on one connection refused");
            self.refuse(
                request_id,
                "NetStream.Publish.BadName",
                "already publishing on this connection",
            );
            return Err(RtmpError::SecondPublish);
        }
        // OBS and friends may append "?query" to the key.
        let key = stream_key
            .split_once('?')
            .map_or(stream_key.as_str(), |(k, _)| k)
            .to_string();
        let keys = self.keys.clone();
        let room = tokio::task::spawn_blocking(move || keys.room_for_key(&key))
            .await
            .unwrap_or_else(|e| Err(KeyRejection::Lookup(e.to_string())));
        let room = match room {
            Ok(room) => room,
            Err(rejection) => {
                tracing::warn!(%peer, reason = %rejection, "RTMP publish refused");
                if let KeyRejection::RoomClosed(room, _) = &rejection {
                    self.hub
                        .refused(room, &format!("rtmp {peer}"), &rejection.to_string());
                }
                self.refuse(
                    request_id,
                    "NetStream.Publish.BadName",
                    &rejection.to_string(),
                );
                return Err(rejection.into());
            }
        };
        let lease = match self.hub.claim(&room, &format!("rtmp {peer}"), self.policy) {
            Ok(lease) => lease,
            Err(e) => {
                tracing::warn!(%peer, %room, reason = %e, "RTMP publish refused");
                self.hub
                    .refused(&room, &format!("rtmp {peer}"), &e.to_string());
                self.refuse(request_id, "NetStream.Publish.BadName", &e.to_string());
                return Err(e.into());
            }
        };
        self.accept(request_id)?;
        tracing::info!(%peer, %room, "RTMP publish accepted; waiting for codec headers and a keyframe");
        self.room = room;
        self.slot = Slot::Claimed(lease);
        self.media = Assembler::new();
        // The deadline now runs until media starts flowing.
        self.publish_deadline = Some(Instant::now() + PUBLISH_DEADLINE);
        Ok(Flow::Continue)
    }

    /// A player asks for `rtmp://host/live/{room}[?rung=v1]`: no stream key, the room's
    /// live from the play source, or a refusal saying why.
    fn start_play(
        &mut self,
        request_id: u32,
        stream_key: String,
        stream_id: u32,
    ) -> Result<Flow, RtmpError> {
        let peer = self.peer;
        let (room, query) = stream_key
            .split_once('?')
            .unwrap_or((stream_key.as_str(), ""));
        let rung = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("rung="))
            .filter(|r| !r.is_empty());
        let opened = match (&self.play, self.playing.is_some()) {
            (_, true) => Err("already playing on this connection".to_owned()),
            (None, _) => Err("this server only accepts publishers".to_owned()),
            (Some(play), _) => play.play(room, rung),
        };
        let rx = match opened {
            Ok(rx) => rx,
            Err(why) => {
                tracing::info!(%peer, room, reason = %why, "RTMP play refused");
                self.refuse(request_id, "NetStream.Play.StreamNotFound", &why);
                return Err(RtmpError::PlayRefused(format!("{room}: {why}")));
            }
        };
        self.accept(request_id)?;
        tracing::info!(%peer, room, rung, "RTMP play started");
        self.room = room.to_owned();
        self.playing = Some((stream_id, rx));
        self.publish_deadline = None;
        Ok(Flow::Continue)
    }

    /// Queue one message of the played live, or end the play when the live has ended.
    fn play_message(&mut self, m: Option<PlayMessage>) -> Result<Flow, RtmpError> {
        let Some((stream_id, _)) = &self.playing else {
            return Ok(Flow::Continue);
        };
        let stream_id = *stream_id;
        match m {
            Some(m) => {
                // Our own chunk streams, one per type, away from those `rml_rtmp` uses
                // (2–6): full headers every time, so no state is shared with its serializer.
                let csid = match m.type_id {
                    super::VIDEO => 20,
                    super::AUDIO => 21,
                    _ => 22,
                };
                chunk_message(&mut self.out, csid, &m, stream_id, self.chunk_size as usize);
                Ok(Flow::Continue)
            }
            None => {
                tracing::info!(peer = %self.peer, room = %self.room, "live ended; RTMP play complete");
                let session = &mut self.session;
                if let Ok(Ok(packet)) = unwind(|| session.finish_playing(stream_id)) {
                    self.out.extend_from_slice(&packet.bytes);
                }
                self.playing = None;
                Ok(Flow::Close)
            }
        }
    }

    /// The publisher said it is done: end the hub session, keep the connection until it
    /// closes (or publishes again within the deadline).
    fn end_publish(&mut self, why: &str) {
        if matches!(self.slot, Slot::Idle) {
            return;
        }
        tracing::info!(peer = %self.peer, room = %self.room, "publisher finished ({why})");
        self.slot = Slot::Idle;
        self.media = Assembler::new();
        self.publish_deadline = Some(Instant::now() + PUBLISH_DEADLINE);
    }

    fn media_output(&mut self, out: Result<Output, FlvError>) -> Result<Flow, RtmpError> {
        let peer = self.peer;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                tracing::warn!(%peer, room = %self.room, error = %e, "refusing the stream");
                self.refuse_publish(&e.to_string());
                return Err(e.into());
            }
        };
        match out {
            Output::Nothing => {}
            Output::Frame(frame) => {
                if let Slot::Live(publisher) = &self.slot {
                    publisher.send(frame);
                }
            }
            Output::Start(info, frame) => match std::mem::replace(&mut self.slot, Slot::Idle) {
                Slot::Claimed(lease) => match lease.start(info) {
                    Ok(publisher) => {
                        publisher.send(frame);
                        self.slot = Slot::Live(publisher);
                        self.publish_deadline = None;
                    }
                    Err(e) => {
                        tracing::info!(%peer, room = %self.room, reason = %e, "publish lost its room; closing");
                        return Ok(Flow::Close);
                    }
                },
                other => self.slot = other,
            },
            Output::Restart => {
                tracing::info!(%peer, room = %self.room, "codec parameters changed; restarting the session at the next keyframe");
                // End the old session first: the slot must be free to be claimed again.
                self.slot = Slot::Idle;
                match self
                    .hub
                    .claim(&self.room, &format!("rtmp {peer}"), self.policy)
                {
                    Ok(lease) => {
                        self.slot = Slot::Claimed(lease);
                        self.publish_deadline = Some(Instant::now() + PUBLISH_DEADLINE);
                    }
                    Err(e) => {
                        tracing::warn!(%peer, room = %self.room, reason = %e, "could not restart the publish; closing");
                        return Ok(Flow::Close);
                    }
                }
            }
        }
        Ok(Flow::Continue)
    }
}

/// `onStatus(level: "error", code, description)` on the publish stream, serialized for a
/// peer that was told `chunk_size` at connect. `ServerSession` has no call for a status on
/// an accepted publish, so it is built here; a fresh serializer writes full (type 0) chunk
/// headers, which need no shared state with the session's serializer.
fn status_error(chunk_size: u32, code: &str, description: &str) -> Option<Vec<u8>> {
    let status = HashMap::from([
        ("level".to_owned(), Amf0Value::Utf8String("error".into())),
        ("code".to_owned(), Amf0Value::Utf8String(code.into())),
        (
            "description".to_owned(),
            Amf0Value::Utf8String(description.into()),
        ),
    ]);
    let message = RtmpMessage::Amf0Command {
        command_name: "onStatus".into(),
        transaction_id: 0.0,
        command_object: Amf0Value::Null,
        additional_arguments: vec![Amf0Value::Object(status)],
    };
    let time = RtmpTimestamp::new(0);
    let payload = message.into_message_payload(time, PUBLISH_STREAM_ID).ok()?;
    let mut serializer = ChunkSerializer::new();
    // The peer already has this size from the session; the SetChunkSize packet is not resent.
    serializer.set_max_chunk_size(chunk_size, time).ok()?;
    Some(serializer.serialize(&payload, true, false).ok()?.bytes)
}

/// Serialize `m` as one RTMP message on chunk stream `csid`: a type 0 chunk, then type 3
/// continuations every `chunk_size` bytes (RTMP 1.0 §5.3). Timestamps past 24 bits use
/// the extended timestamp, repeated in every continuation as the spec says.
fn chunk_message(out: &mut Vec<u8>, csid: u32, m: &PlayMessage, stream_id: u32, chunk_size: usize) {
    let ts = (m.ts_ms & 0xffff_ffff) as u32;
    let extended = ts >= 0x00ff_ffff;
    let basic = |fmt: u8| (fmt << 6) | (csid as u8 & 0x3f);
    out.push(basic(0));
    out.extend_from_slice(&(if extended { 0x00ff_ffff } else { ts }).to_be_bytes()[1..]);
    out.extend_from_slice(&(m.payload.len() as u32).to_be_bytes()[1..]);
    out.push(m.type_id);
    out.extend_from_slice(&stream_id.to_le_bytes());
    if extended {
        out.extend_from_slice(&ts.to_be_bytes());
    }
    for (i, part) in m.payload.chunks(chunk_size.max(1)).enumerate() {
        if i > 0 {
            out.push(basic(3));
            if extended {
                out.extend_from_slice(&ts.to_be_bytes());
            }
        }
        out.extend_from_slice(part);
    }
}
