//! One client connection's life: hello, join, then messages both ways until it closes.
//!
//! The logic is generic over a sink of [`WsOut`] and a stream of [`WsIn`], so tests drive
//! it without sockets and the WebSocket and long-polling transports share it. Every
//! privileged message checks the connection's role here; every malformed, oversized or
//! excessive message gets an error frame, and a connection that keeps flooding is closed
//! with code 1008. A frame the transport cannot read ([`WsIn::Broken`]) closes with the
//! transport's code (1007 for invalid UTF-8, 1009 for a message too big).

use super::commands::{self, Refusal};
use super::commerce::{StoreCommerce, new_id};
use super::guests::{self, ClientOrigin};
use super::hub::CatchUp;
use super::outbox::{Frame, Outbox};
use super::presence::Presence;
use super::protocol::{ClientMsg, ServerMsg, UserRef, VERSION, decode, encode};
use super::{OpenRoom, Rooms};
use crate::auth::Role;
use crate::plugin::model::EventBody;
use crate::store::now_ms;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::sync::Arc;
use std::time::Instant;

/// Longest a join waits for a freshly opened room to replay its history from the bus.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the transport delivers.
#[derive(Debug)]
pub enum WsIn {
    Text(String),
    /// Binary frames are not part of the protocol.
    Binary,
    /// The transport could not read a frame (e.g. invalid UTF-8 in a text frame, or a
    /// frame over the size limit): close with this code (RFC 6455) and reason.
    Broken(u16, &'static str),
    Close,
}

/// What the connection sends.
#[derive(Debug, Clone, PartialEq)]
pub enum WsOut {
    Text(Arc<str>),
    /// Close with a code (RFC 6455) and a reason.
    Close(u16, String),
}

/// Close codes used.
pub const CLOSE_POLICY: u16 = 1008;
pub const CLOSE_PROTOCOL: u16 = 1002;
/// A text frame that is not UTF-8 (RFC 6455 §7.4.1).
pub const CLOSE_INVALID_DATA: u16 = 1007;
/// A message too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// The server is going away (draining), after a `reconnect` frame.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// How long a client told to reconnect should wait first: long enough for the load
/// balancer to see the draining node unready, short enough that viewers barely notice.
pub const RECONNECT_AFTER_MS: u32 = 1000;

pub(super) struct Session {
    pub(super) user: UserRef,
    pub(super) room: Arc<OpenRoom>,
    room_conn_id: u64,
    pub(super) outbox: Arc<Outbox>,
    last_offset: u64,
    bucket: Bucket,
    /// Refused messages in the current window, and when the window started.
    violations: u32,
    window: Instant,
    /// Where the client comes from, for the guest throttles.
    pub(super) origin: ClientOrigin,
}

/// Run a connection to completion. `presence` is `None` for a connection that counts as
/// online while it is open, or a long-poll session's polling (see `presence`).
/// `client_ip` is the client's address as the transport saw it (after a trusted proxy's
/// `X-Forwarded-For`), for the guest throttles.
pub async fn serve<S, R>(
    rooms: Arc<Rooms>,
    mut sink: S,
    stream: R,
    presence: Option<Arc<Presence>>,
    client_ip: Option<std::net::IpAddr>,
) where
    S: Sink<WsOut> + Unpin,
    R: Stream<Item = WsIn> + Unpin,
{
    // Fused: the handshake, the main loop and `drain` may each read after the stream has
    // ended, and some streams (`stream::unfold`) panic when polled past their end.
    let mut stream = stream.fuse();
    let cfg = rooms.deps.config.clone();
    let deadline = tokio::time::Instant::now() + cfg.handshake_timeout;
    let Some((user, device)) = handshake_hello(&rooms, &mut sink, &mut stream, deadline).await
    else {
        drain(&mut stream).await;
        return;
    };
    let joined = handshake_join(&rooms, &mut sink, &mut stream, deadline, user, presence).await;
    let Some(mut session) = joined else {
        drain(&mut stream).await;
        return;
    };
    session.origin = ClientOrigin {
        // Loopback is a local tool or an undeclared local proxy: not one network.
        network: client_ip
            .filter(|ip| !ip.is_loopback())
            .map(guests::network_of),
        device,
    };
    let hub = session.room.hub.clone();
    let conn_id = session.room_conn_id;
    session.room.plugins.event(EventBody::ViewerJoined {
        user_id: session.user.id.clone(),
        user_name: session.user.name.clone(),
        online: hub.online(),
    });

    let mut ping = tokio::time::interval(cfg.ping_every);
    ping.tick().await;
    let mut drained = std::pin::pin!(rooms.drained());
    loop {
        tokio::select! {
            // Outgoing frames first: polling the socket and the timer on every wake-up
            // costs more than the frames themselves in a busy room.
            biased;
            // A message being handled (a claim waiting for its commit) is answered
            // before this is polled again.
            () = &mut drained => {
                let reconnect = ServerMsg::Reconnect { reason: "draining".into(), retry_ms: RECONNECT_AFTER_MS };
                // What was queued for this client goes first, so nothing it was owed is lost.
                let queued = session.outbox.try_take();
                let flushed = match queued {
                    Some(batch) => send_frames(&mut sink, &batch.frames, &mut session.last_offset).await,
                    None => Ok(()),
                };
                if flushed.is_ok() && send(&mut sink, &reconnect).await.is_ok() {
                    close(&mut sink, CLOSE_GOING_AWAY, "server draining").await;
                }
                break;
            }
            batch = session.outbox.next_batch() => {
                if batch.resync {
                    let catch_up = hub.catch_up(session.last_offset, &StoreCommerce(rooms.deps.store.clone()));
                    if send_catch_up(&mut sink, catch_up, &mut session.last_offset).await.is_err() {
                        break;
                    }
                }
                if send_frames(&mut sink, &batch.frames, &mut session.last_offset).await.is_err() || batch.closed {
                    break;
                }
            }
            msg = stream.next() => {
                let text = match msg {
                    None | Some(WsIn::Close) => break,
                    Some(WsIn::Broken(code, reason)) => {
                        close(&mut sink, code, reason).await;
                        break;
                    }
                    Some(WsIn::Binary) => {
                        if reject(&mut sink, &mut session, &cfg, "bad_message", "binary frames are not supported".into()).await {
                            break;
                        }
                        continue;
                    }
                    Some(WsIn::Text(t)) => t,
                };
                if !handle(&rooms, &mut sink, &mut session, &text).await {
                    break;
                }
            }
            _ = ping.tick() => {
                if send(&mut sink, &ServerMsg::Ping { server_ms: now_ms() }).await.is_err() {
                    break;
                }
            }
        }
    }
    hub.leave(conn_id);
    session.outbox.close();
    session.room.plugins.event(EventBody::ViewerLeft {
        user_id: session.user.id.clone(),
        user_name: session.user.name.clone(),
        online: hub.online(),
    });
    let _ = sink.close().await;
    drain(&mut stream).await;
}

/// After the server closes, read what the client still sends (briefly) so the socket is
/// not dropped with unread data, which would reset it and lose the close frame.
async fn drain<R: Stream<Item = WsIn> + Unpin>(stream: &mut R) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, stream.next()).await {
        if matches!(msg, WsIn::Close | WsIn::Broken(..)) {
            break;
        }
    }
}

impl Session {
    pub(super) fn role_at_least(&self, role: Role) -> bool {
        self.user.role >= role
    }
}

pub(super) async fn send<S: Sink<WsOut> + Unpin>(sink: &mut S, msg: &ServerMsg) -> Result<(), ()> {
    sink.send(WsOut::Text(encode(msg).into()))
        .await
        .map_err(|_| ())
}

async fn error<S: Sink<WsOut> + Unpin>(
    sink: &mut S,
    code: &'static str,
    message: String,
) -> Result<(), ()> {
    let code = code.into();
    send(sink, &ServerMsg::Error { code, message }).await
}

async fn close<S: Sink<WsOut> + Unpin>(sink: &mut S, code: u16, reason: &str) {
    let _ = sink.send(WsOut::Close(code, reason.to_owned())).await;
    let _ = sink.close().await;
}

async fn send_frames<S: Sink<WsOut> + Unpin>(
    sink: &mut S,
    frames: &[Arc<Frame>],
    last_offset: &mut u64,
) -> Result<(), ()> {
    for frame in frames {
        if let Some(o) = frame.offset {
            // Already delivered by a catch-up.
            if o <= *last_offset {
                continue;
            }
            *last_offset = o;
        }
        sink.send(WsOut::Text(frame.text.clone()))
            .await
            .map_err(|_| ())?;
    }
    Ok(())
}

async fn send_catch_up<S: Sink<WsOut> + Unpin>(
    sink: &mut S,
    catch_up: CatchUp,
    last_offset: &mut u64,
) -> Result<(), ()> {
    match catch_up {
        CatchUp::Replay(frames) => send_frames(sink, &frames, last_offset).await,
        CatchUp::Snapshot(frame) => {
            // The snapshot covers everything up to its offset.
            if let Some(offset) = frame.offset {
                *last_offset = offset;
            }
            sink.send(WsOut::Text(frame.text.clone()))
                .await
                .map_err(|_| ())
        }
    }
}

/// The next text frame before `deadline`, or the close code and reason to end with:
/// the transport's when it could not read a frame, else policy with `expected`.
async fn next_text<R: Stream<Item = WsIn> + Unpin>(
    stream: &mut R,
    deadline: tokio::time::Instant,
    expected: &'static str,
) -> Result<String, (u16, &'static str)> {
    match tokio::time::timeout_at(deadline, stream.next()).await {
        Ok(Some(WsIn::Text(t))) => Ok(t),
        Ok(Some(WsIn::Broken(code, reason))) => Err((code, reason)),
        _ => Err((CLOSE_POLICY, expected)),
    }
}

async fn handshake_hello<S, R>(
    rooms: &Rooms,
    sink: &mut S,
    stream: &mut R,
    deadline: tokio::time::Instant,
    // The user and the token's room, and the device id the client sent (if valid).
) -> Option<((UserRef, Option<String>), Option<String>)>
where
    S: Sink<WsOut> + Unpin,
    R: Stream<Item = WsIn> + Unpin,
{
    let cfg = &rooms.deps.config;
    let text = match next_text(stream, deadline, "expected hello").await {
        Ok(text) => text,
        Err((code, reason)) => {
            close(sink, code, reason).await;
            return None;
        }
    };
    match decode(&text, cfg.max_frame) {
        Ok(ClientMsg::Hello {
            v,
            token,
            name,
            device,
        }) => {
            if v != VERSION {
                let _ = error(
                    sink,
                    "version",
                    format!("this server speaks protocol version {VERSION}"),
                )
                .await;
                close(sink, CLOSE_PROTOCOL, "unsupported protocol version").await;
                return None;
            }
            let (user, token_room) = match token {
                Some(token) => match rooms.deps.tokens.verify(&token, crate::auth::now_s()) {
                    Ok(c) => (
                        UserRef {
                            id: c.sub,
                            name: c.name,
                            role: c.role,
                        },
                        // The role holds in the token's room only; see join.
                        Some(c.room),
                    ),
                    Err(e) => {
                        let _ = error(sink, "invalid_token", e.to_string()).await;
                        close(sink, CLOSE_POLICY, "invalid token").await;
                        return None;
                    }
                },
                None => (guest(name.as_deref()), None),
            };
            let welcome = ServerMsg::Welcome {
                v: VERSION,
                user: user.clone(),
                server_ms: now_ms(),
            };
            send(sink, &welcome).await.ok()?;
            Some((
                (user, token_room),
                device.filter(|d| guests::valid_device(d)),
            ))
        }
        Ok(_) => {
            let _ = error(sink, "bad_state", "the first message must be hello".into()).await;
            close(sink, CLOSE_POLICY, "expected hello").await;
            None
        }
        Err(e) => {
            let _ = error(sink, e.code(), e.to_string()).await;
            close(sink, CLOSE_POLICY, "expected hello").await;
            None
        }
    }
}

fn guest(name: Option<&str>) -> UserRef {
    let id = new_id("g");
    let name = name
        .map(|n| n.trim().chars().take(32).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("Guest {}", &id[id.len().saturating_sub(4)..]));
    UserRef {
        id,
        name,
        role: Role::Viewer,
    }
}

async fn handshake_join<S, R>(
    rooms: &Rooms,
    sink: &mut S,
    stream: &mut R,
    deadline: tokio::time::Instant,
    (mut user, token_room): (UserRef, Option<String>),
    presence: Option<Arc<Presence>>,
) -> Option<Session>
where
    S: Sink<WsOut> + Unpin,
    R: Stream<Item = WsIn> + Unpin,
{
    let cfg = &rooms.deps.config;
    let text = match next_text(stream, deadline, "expected join").await {
        Ok(text) => text,
        Err((code, reason)) => {
            close(sink, code, reason).await;
            return None;
        }
    };
    let (room_id, resume) = match decode(&text, cfg.max_frame) {
        Ok(ClientMsg::Join { room, resume }) => (room, resume),
        Ok(_) => {
            let _ = error(sink, "bad_state", "join a room first".into()).await;
            close(sink, CLOSE_POLICY, "expected join").await;
            return None;
        }
        Err(e) => {
            let _ = error(sink, e.code(), e.to_string()).await;
            close(sink, CLOSE_POLICY, "expected join").await;
            return None;
        }
    };
    if token_room.as_deref() != Some(room_id.as_str()) {
        user.role = Role::Viewer;
    }
    let room = match rooms.open(&room_id) {
        Ok(room) => room,
        Err(e) => {
            let _ = error(sink, "unknown_room", e.to_string()).await;
            close(sink, CLOSE_POLICY, "unknown room").await;
            return None;
        }
    };
    if user.role > Role::Viewer
        && let Err(why) = staff_may_join(rooms, &room.hub.merchant_id)
    {
        let _ = error(sink, "merchant_disabled", why).await;
        close(sink, CLOSE_POLICY, "merchant disabled").await;
        return None;
    }
    // A room just opened on a durable bus replays its retained history first.
    if !room.hub.wait_ready(READY_WAIT).await {
        tracing::warn!(room = %room_id, "room bus not ready; joining with what it has");
    }
    let outbox = Arc::new(Outbox::new(&user.id, cfg.outbox));
    let commerce = StoreCommerce(rooms.deps.store.clone());
    let (conn_id, catch_up) =
        room.hub
            .join_with(outbox.clone(), presence, resume.as_ref(), &commerce);
    let replayed = matches!(catch_up, CatchUp::Replay(_));
    let mut last_offset = 0;
    let mut sent = send_catch_up(sink, catch_up, &mut last_offset).await;
    if replayed && sent.is_ok() {
        // A replay carries events, not state: send the current totals too.
        let total = room.hub.likes_total();
        sent = send(sink, &ServerMsg::Likes { total }).await;
        if sent.is_ok() {
            let count = room.hub.online();
            sent = send(sink, &ServerMsg::Online { count }).await;
        }
    }
    if sent.is_err() {
        room.hub.leave(conn_id);
        return None;
    }
    Some(Session {
        user,
        room,
        room_conn_id: conn_id,
        outbox,
        last_offset,
        bucket: Bucket::new(cfg.msgs_per_sec, cfg.msgs_burst),
        violations: 0,
        window: Instant::now(),
        origin: ClientOrigin::default(),
    })
}

/// Whether a host or moderator token of a room of `merchant_id` may join: not while the
/// operator has the merchant disabled (its staff act for the shop; viewers and guests still
/// join, and the room cannot go live since its stream keys are refused too). Checked only
/// for those roles, so a join storm of viewers costs no store read.
fn staff_may_join(rooms: &Rooms, merchant_id: &str) -> Result<(), String> {
    match rooms.deps.store.merchant(merchant_id) {
        Ok(Some(m)) if !m.is_enabled() => Err(format!(
            "merchant {} is disabled: its room tokens are refused",
            m.id
        )),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::error!("checking merchant {merchant_id} at join: {e}");
            Err("could not check the room's merchant; try again".into())
        }
    }
}

/// Answer a refused message with an error frame; close the connection (returning true)
/// once it has been refused too often within the window. The server's own failures
/// (`internal`) do not count against the client.
async fn reject<S: Sink<WsOut> + Unpin>(
    sink: &mut S,
    session: &mut Session,
    cfg: &super::RoomConfig,
    code: &'static str,
    message: String,
) -> bool {
    if session.window.elapsed() > cfg.violation_window {
        session.window = Instant::now();
        session.violations = 0;
    }
    if code != "internal" {
        session.violations += 1;
    }
    if session.violations > cfg.max_violations {
        let _ = error(
            sink,
            "flooding",
            "too many refused messages; closing".into(),
        )
        .await;
        close(sink, CLOSE_POLICY, "flooding").await;
        return true;
    }
    error(sink, code, message).await.is_err()
}

/// Handle one client frame. Returns false when the connection must end.
async fn handle<S: Sink<WsOut> + Unpin>(
    rooms: &Rooms,
    sink: &mut S,
    session: &mut Session,
    text: &str,
) -> bool {
    let cfg = &rooms.deps.config;
    if !session.bucket.take() {
        return !reject(
            sink,
            session,
            cfg,
            "rate_limited",
            format!("more than {} messages per second", cfg.msgs_per_sec),
        )
        .await;
    }
    let msg = match decode(text, cfg.max_frame) {
        Ok(m) => m,
        Err(e) => {
            return !reject(sink, session, cfg, e.code(), e.to_string()).await;
        }
    };
    match commands::dispatch(rooms, sink, session, msg).await {
        Ok(()) => true,
        Err(Refusal(code, message)) => !reject(sink, session, cfg, code, message).await,
    }
}

/// A token bucket: `rate` messages per second, bursts of `burst`.
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: u32, burst: u32) -> Self {
        Bucket {
            rate: f64::from(rate),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
