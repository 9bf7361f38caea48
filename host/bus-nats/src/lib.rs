//! The room bus on NATS JetStream (`--bus nats://HOST:PORT`).
//!
//! One stream, `LIVECART_ROOMS`, holds every room; each room is one subject,
//! `rooms.<room>` (see [`room_subject`]). The stream sequence of a message is its room
//! offset: JetStream orders a subject's messages, every node sees the same sequence, so a
//! client resumes on any node. Offsets have gaps within a room (the sequence spans rooms),
//! which the host allows. The stream keeps each room's history bounded like the host's
//! own (max age, max messages per subject), on disk, so it survives node restarts; the
//! epoch is the stream's creation time.
//!
//! Each node follows each room it has open with an ordered push consumer filtered to the
//! room's subject: it replays what the stream retains, then delivers live. The ordered
//! consumer detects gaps (consumer sequence, heartbeats) and recreates itself from the
//! last stream sequence seen, also after the server restarts; this module drops anything
//! at or before the last sequence it delivered, so the host sees each message once, in
//! order.
//!
//! A room's plugins run on one node, the holder of the room's lease in the KV bucket
//! `<stream>_LEASES` (see [`lease`]); the other nodes forward plugin inputs to it on core
//! NATS, `livecart.plugin-in.<room>`, best effort.
//!
//! Where each live room's video is packaged is announced in the KV bucket
//! `<stream>_MEDIA` (see [`media`]), so any node can relay a room's `/media`.
//!
//! Publishing never blocks the room: messages go to one task per node, which sends them
//! in order and awaits the acks concurrently. Each carries a `Nats-Msg-Id`, so a publish
//! retried after a lost ack is stored once (the stream's duplicate window).
//!
//! Checked against nats-server 2.9.10: streams with `max_msgs_per_subject`, `allow_direct`
//! and a duplicate window, ordered push consumers (flow control, idle heartbeats,
//! `ByStartSequence`), message-get by last subject. Nothing from 2.10 (one filter subject
//! per consumer; no subject transforms, metadata or compression): the client is built
//! without its `server_2_10` features.

use async_nats::jetstream::{self, consumer, consumer::push, message::PublishMessage, stream};
use bytes::Bytes;
use futures_util::StreamExt;
use livecart_bus::{
    Backplane, Deliver, DeliverForwarded, Event, Message, NodeCounters, OnLease, Subscription,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

mod lease;
mod media;

/// The stream holding every room.
pub const STREAM: &str = "LIVECART_ROOMS";
/// Subjects are `rooms.<room>`.
pub const SUBJECT_PREFIX: &str = "rooms";
/// Counters travel on core NATS (not stored), `livecart.counters.<room>`.
pub const COUNTERS_PREFIX: &str = "livecart.counters";
/// Plugin inputs forwarded to a room's lease holder travel on core NATS,
/// `livecart.plugin-in.<room>`.
pub const FORWARD_PREFIX: &str = "livecart.plugin-in";

/// Settings of the JetStream bus.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    /// `nats://HOST:PORT`.
    pub url: String,
    pub stream: String,
    /// How long a room's messages are kept for resume.
    pub max_age: Duration,
    /// How many messages per room are kept for resume.
    pub max_per_room: i64,
    /// How long the first connection may take.
    pub connect_timeout: Duration,
    /// How long a room's lease outlives its holder's last renewal: a dead node's rooms
    /// move within about this (plus a sixth).
    pub lease_ttl: Duration,
}

impl NatsConfig {
    pub fn new(url: &str) -> Self {
        NatsConfig {
            url: url.to_owned(),
            stream: STREAM.to_owned(),
            max_age: Duration::from_secs(120),
            max_per_room: 10_000,
            connect_timeout: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(3),
        }
    }
}

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum NatsBusError {
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("JetStream stream `{stream}`: {reason}")]
    Stream { stream: String, reason: String },
    #[error("JetStream key-value bucket `{bucket}`: {reason}")]
    Bucket { bucket: String, reason: String },
}

/// A room id as one subject token: `[A-Za-z0-9_-]` as is, every other byte as `~XX`
/// (so distinct rooms never share a subject, and `.`, `*`, `>` or spaces cannot escape
/// the room's subject).
pub fn room_subject(room: &str) -> String {
    subject(SUBJECT_PREFIX, room)
}

/// The core-NATS subject of a room's counters.
pub fn counters_subject(room: &str) -> String {
    subject(COUNTERS_PREFIX, room)
}

/// The core-NATS subject of plugin inputs forwarded to a room's lease holder.
pub fn forward_subject(room: &str) -> String {
    subject(FORWARD_PREFIX, room)
}

fn subject(prefix: &str, room: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 1 + room.len());
    s.push_str(prefix);
    s.push('.');
    if room.is_empty() {
        s.push('~');
    }
    for b in room.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            s.push(b as char);
        } else {
            s.push_str(&format!("~{b:02X}"));
        }
    }
    s
}

/// The JetStream backplane.
pub struct NatsBackplane {
    js: jetstream::Context,
    stream: String,
    epoch: String,
    node: String,
    leases: async_nats::jetstream::kv::Store,
    lease_ttl: Duration,
    media: async_nats::jetstream::kv::Store,
    announcements: media::Announcements,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    publisher: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for NatsBackplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBackplane")
            .field("stream", &self.stream)
            .field("epoch", &self.epoch)
            .finish()
    }
}

impl Drop for NatsBackplane {
    fn drop(&mut self) {
        self.publisher.abort();
    }
}

impl NatsBackplane {
    /// Connect, and create the rooms stream (or bring its limits to `config`). Fails when
    /// the server cannot be reached within the connect timeout or has no JetStream.
    /// Afterwards the client reconnects by itself for as long as it takes.
    pub async fn connect(config: &NatsConfig) -> Result<Arc<Self>, NatsBusError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(config.connect_timeout)
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((100 * attempts as u64).min(1000))
            })
            .connect(config.url.as_str())
            .await
            .map_err(|source| NatsBusError::Connect {
                url: config.url.clone(),
                source,
            })?;
        let js = jetstream::new(client);
        let stream = ensure_stream(&js, config).await?;
        let epoch = format!("{:x}", stream.cached_info().created.unix_timestamp_nanos());
        let bucket = format!("{}_LEASES", config.stream);
        let leases = lease::bucket(&js, &bucket, config.lease_ttl)
            .await
            .map_err(|reason| NatsBusError::Bucket { bucket, reason })?;
        let bucket = format!("{}_MEDIA", config.stream);
        let media = media::bucket(&js, &bucket)
            .await
            .map_err(|reason| NatsBusError::Bucket { bucket, reason })?;
        let node = node_id();
        let (outgoing, rx) = mpsc::unbounded_channel();
        let publisher = tokio::spawn(publish_loop(js.clone(), node.clone(), rx));
        Ok(Arc::new(NatsBackplane {
            js,
            stream: config.stream.clone(),
            epoch,
            node,
            leases,
            lease_ttl: config.lease_ttl,
            media,
            announcements: media::Announcements::default(),
            outgoing,
            publisher,
        }))
    }
}

async fn ensure_stream(
    js: &jetstream::Context,
    config: &NatsConfig,
) -> Result<stream::Stream, NatsBusError> {
    let err = |reason: String| NatsBusError::Stream {
        stream: config.stream.clone(),
        reason,
    };
    let wanted = stream::Config {
        name: config.stream.clone(),
        subjects: vec![format!("{SUBJECT_PREFIX}.>")],
        max_age: config.max_age,
        max_messages_per_subject: config.max_per_room,
        discard: stream::DiscardPolicy::Old,
        storage: stream::StorageType::File,
        num_replicas: 1,
        // The server refuses a duplicate window longer than max age.
        duplicate_window: config.max_age.min(Duration::from_secs(120)),
        allow_direct: true,
        ..Default::default()
    };
    let stream = js
        .get_or_create_stream(wanted.clone())
        .await
        .map_err(|e| err(e.to_string()))?;
    let have = &stream.cached_info().config;
    if have.max_age != wanted.max_age
        || have.max_messages_per_subject != wanted.max_messages_per_subject
    {
        let mut update = have.clone();
        update.max_age = wanted.max_age;
        update.max_messages_per_subject = wanted.max_messages_per_subject;
        update.duplicate_window = wanted.duplicate_window;
        js.update_stream(update)
            .await
            .map_err(|e| err(e.to_string()))?;
        return js
            .get_stream(&config.stream)
            .await
            .map_err(|e| err(e.to_string()));
    }
    Ok(stream)
}

/// A name for this backplane, unique across processes and within one.
fn node_id() -> String {
    static NODE: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:x}-{:x}-{:x}",
        std::process::id(),
        livecart_bus::now_ms(),
        NODE.fetch_add(1, Ordering::Relaxed)
    )
}

/// What the publisher task sends.
enum Outgoing {
    /// A room message, into the stream.
    Message(String, Bytes),
    /// Counters and forwarded plugin inputs, on core NATS.
    Core(String, Bytes),
}

/// Send every message in order; await acks concurrently; retry a lost ack with the same
/// message id (JetStream stores it once).
async fn publish_loop(
    js: jetstream::Context,
    node: String,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    let mut n: u64 = 0;
    while let Some(out) = rx.recv().await {
        let (subject, payload) = match out {
            Outgoing::Message(subject, payload) => (subject, payload),
            Outgoing::Core(subject, payload) => {
                if let Err(e) = js.client().publish(subject.clone(), payload).await {
                    tracing::debug!(error = %e, %subject, "core NATS message not sent");
                }
                continue;
            }
        };
        n += 1;
        let id = format!("{node}-{n}");
        let first = js
            .send_publish(
                subject.clone(),
                PublishMessage::build()
                    .payload(payload.clone())
                    .message_id(&id),
            )
            .await;
        let js = js.clone();
        tokio::spawn(async move {
            let mut attempt = first;
            for tries in 1..=5u32 {
                let failure = match attempt {
                    Ok(ack) => match ack.await {
                        Ok(_) => return,
                        Err(e) => e.to_string(),
                    },
                    Err(e) => e.to_string(),
                };
                tracing::warn!(%subject, tries, error = %failure, "room bus publish not acknowledged; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(tries))).await;
                attempt = js
                    .send_publish(
                        subject.clone(),
                        PublishMessage::build()
                            .payload(payload.clone())
                            .message_id(&id),
                    )
                    .await;
            }
            tracing::error!(%subject, "room bus publish lost after retries");
        });
    }
}

impl Backplane for NatsBackplane {
    fn publish(&self, room: &str, payload: Bytes) {
        if self
            .outgoing
            .send(Outgoing::Message(room_subject(room), payload))
            .is_err()
        {
            tracing::error!(room, "room bus publisher stopped");
        }
    }

    fn subscribe(&self, room: &str, deliver: Deliver) -> Subscription {
        let messages = tokio::spawn(follow(
            self.js.clone(),
            self.stream.clone(),
            room_subject(room),
            deliver.clone(),
        ));
        let (own, subject) = (self.node.clone(), counters_subject(room));
        let counters = tokio::spawn(follow_core(self.js.client(), subject, move |payload| {
            // Other nodes' counters only, parsed strictly.
            match parse_counters(&payload) {
                Some(c) if c.node != own => deliver(Event::Counters(c)),
                Some(_) => {}
                None => tracing::debug!("malformed room counters"),
            }
        }));
        Subscription::new(move || {
            messages.abort();
            counters.abort();
        })
    }

    fn publish_counters(&self, room: &str, likes: u64, online: u32) {
        let payload = Bytes::from(format!("{} {likes} {online}", self.node));
        let _ = self
            .outgoing
            .send(Outgoing::Core(counters_subject(room), payload));
    }

    fn epoch(&self) -> Option<String> {
        Some(self.epoch.clone())
    }

    fn lease(&self, room: &str, on_change: OnLease) -> Subscription {
        lease::compete(
            self.leases.clone(),
            room,
            self.node.clone(),
            self.lease_ttl,
            on_change,
        )
    }

    fn forward(&self, room: &str, payload: Bytes) {
        let _ = self
            .outgoing
            .send(Outgoing::Core(forward_subject(room), payload));
    }

    fn connected(&self) -> bool {
        self.js.client().connection_state() == async_nats::connection::State::Connected
    }

    fn announce_media(&self, room: &str, url: Option<String>) {
        self.announcements.set(&self.media, room, url);
    }

    fn media_location(&self, room: &str) -> livecart_bus::Located {
        Box::pin(media::locate(self.media.clone(), room.to_owned()))
    }

    fn subscribe_forwarded(&self, room: &str, deliver: DeliverForwarded) -> Subscription {
        let task = tokio::spawn(follow_core(
            self.js.client(),
            forward_subject(room),
            move |payload| deliver(payload),
        ));
        Subscription::new(move || task.abort())
    }
}

/// `NODE LIKES ONLINE`, from any peer on the server: parsed strictly, never trusted.
fn parse_counters(payload: &[u8]) -> Option<NodeCounters> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut parts = text.split(' ');
    let node = parts.next().filter(|n| !n.is_empty() && n.len() <= 64)?;
    let likes = parts.next()?.parse().ok()?;
    let online = parts.next()?.parse().ok()?;
    parts.next().is_none().then(|| NodeCounters {
        node: node.to_owned(),
        likes,
        online,
    })
}

/// Hand every message on a core-NATS `subject` to `each` until aborted, subscribing
/// again after a failure (core NATS resubscribes by itself after a reconnect).
async fn follow_core(client: async_nats::Client, subject: String, each: impl Fn(Bytes)) {
    let mut backoff = Backoff::default();
    loop {
        match client.subscribe(subject.clone()).await {
            Ok(mut sub) => {
                backoff = Backoff::default();
                while let Some(m) = sub.next().await {
                    each(m.payload);
                }
            }
            Err(e) => tracing::warn!(%subject, error = %e, "cannot subscribe yet"),
        }
        backoff.wait().await;
    }
}

/// Where a room's subscription starts.
struct Start {
    /// The last sequence of the room retained by the stream, if any.
    last_retained: Option<u64>,
    /// The stream's last sequence when we looked.
    stream_last: u64,
}

async fn where_to_start(
    js: &jetstream::Context,
    name: &str,
    subject: &str,
) -> Result<Start, String> {
    let stream = js.get_stream(name).await.map_err(|e| e.to_string())?;
    let stream_last = stream.cached_info().state.last_sequence;
    match stream.get_last_raw_message_by_subject(subject).await {
        Ok(m) => Ok(Start {
            last_retained: Some(m.sequence),
            stream_last,
        }),
        Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Ok(Start {
            last_retained: None,
            stream_last,
        }),
        Err(e) => Err(e.to_string()),
    }
}

async fn open(
    js: &jetstream::Context,
    name: &str,
    subject: &str,
    deliver_policy: consumer::DeliverPolicy,
) -> Result<push::Ordered, String> {
    let stream = js.get_stream(name).await.map_err(|e| e.to_string())?;
    let consumer = stream
        .create_consumer(push::OrderedConfig {
            deliver_subject: js.client().new_inbox(),
            filter_subject: subject.to_owned(),
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    consumer.messages().await.map_err(|e| e.to_string())
}

/// Follow one room until aborted: replay, `Ready`, live; through server restarts.
async fn follow(js: jetstream::Context, name: String, subject: String, deliver: Deliver) {
    let mut backoff = Backoff::default();
    let start = loop {
        match where_to_start(&js, &name, &subject).await {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(%subject, error = %e, "room bus: cannot read the stream yet");
                backoff.wait().await;
            }
        }
    };
    let mut last_seen = 0u64;
    let mut first: Option<u64> = None;
    let mut ready = false;
    if start.last_retained.is_none() {
        deliver(Event::Ready {
            floor: start.stream_last,
        });
        ready = true;
    }
    loop {
        let policy = if last_seen > 0 {
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: last_seen + 1,
            }
        } else if start.last_retained.is_some() {
            consumer::DeliverPolicy::All
        } else {
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start.stream_last + 1,
            }
        };
        let mut messages = match open(&js, &name, &subject, policy).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(%subject, error = %e, "room bus: cannot follow the room yet");
                backoff.wait().await;
                continue;
            }
        };
        backoff = Backoff::default();
        loop {
            let next = if ready {
                messages.next().await
            } else {
                // Retained messages may expire between looking and replaying: do not
                // wait for one that is gone.
                match tokio::time::timeout(Duration::from_secs(1), messages.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        let floor = first.map_or(start.stream_last, |f| f - 1);
                        deliver(Event::Ready { floor });
                        ready = true;
                        continue;
                    }
                }
            };
            let Some(item) = next else {
                break; // The consumer ended: open a new one after the last sequence.
            };
            let msg = match item {
                Ok(msg) => msg,
                Err(e) => {
                    // The ordered consumer recreates itself (gap, lost heartbeat, server
                    // restart); keep reading.
                    tracing::debug!(%subject, error = %e, "room bus consumer");
                    continue;
                }
            };
            let Ok(info) = msg.info() else {
                continue;
            };
            let (seq, pending) = (info.stream_sequence, info.pending);
            let published_ms =
                u64::try_from(info.published.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
            if seq <= last_seen {
                continue;
            }
            last_seen = seq;
            let first_seq = *first.get_or_insert(seq);
            deliver(Event::Message(Message {
                seq,
                published_ms,
                payload: msg.message.payload.clone(),
            }));
            if !ready && (pending == 0 || start.last_retained.is_some_and(|l| seq >= l)) {
                deliver(Event::Ready {
                    floor: first_seq - 1,
                });
                ready = true;
            }
        }
        backoff.wait().await;
    }
}

/// 100 ms doubling to 2 s.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Duration::from_millis(100))
    }
}

impl Backoff {
    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_become_one_safe_subject_token_each() {
        assert_eq!(room_subject("r_3fa9c1d2e0"), "rooms.r_3fa9c1d2e0");
        assert_eq!(room_subject("a.b"), "rooms.a~2Eb");
        assert_eq!(room_subject("a>*"), "rooms.a~3E~2A");
        assert_eq!(room_subject("a~2E"), "rooms.a~7E2E");
        assert_eq!(room_subject(""), "rooms.~");
        assert_ne!(room_subject("a.b"), room_subject("a~2Eb"));
        assert_eq!(counters_subject("a.b"), "livecart.counters.a~2Eb");
    }

    #[test]
    fn counters_from_peers_are_parsed_strictly() {
        assert_eq!(
            parse_counters(b"n1 12 3"),
            Some(NodeCounters {
                node: "n1".into(),
                likes: 12,
                online: 3
            })
        );
        for bad in [
            &b""[..],
            b"n1 12",
            b"n1 -1 3",
            b"n1 1 3 4",
            b" 1 3",
            b"\xff 1 2",
        ] {
            assert_eq!(parse_counters(bad), None, "{bad:?}");
        }
    }
}
