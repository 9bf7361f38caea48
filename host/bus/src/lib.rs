//! The room bus as a backplane: one ordered log per room, over opaque bytes.
//!
//! A node publishes a room's messages with [`Backplane::publish`]; every node subscribed
//! to the room receives every message of it, in one order that all nodes agree on, each
//! with its **sequence**: a number that only grows within a room and is the same on every
//! node, so it can serve as the room's history offset. Sequences may have gaps (a bus
//! may number all rooms in one sequence); only their order means something.
//!
//! A subscription first delivers what the bus still retains of the room, then
//! [`Event::Ready`] with the **floor**: every message of the room after the floor is, or
//! will be, delivered; what came before may be lost. Then live messages follow.
//!
//! Beside the log, a backplane elects one node per room to run the room's plugins (a
//! **lease**, [`Backplane::lease`]) and carries plugin inputs from the other nodes to it
//! ([`Backplane::forward`]): best effort, not kept, never numbered.
//!
//! [`InProcess`] is the one-node backplane: delivery is a direct call, in publish order,
//! numbered 1, 2, 3… per room, and it retains nothing. `livecart-bus-nats` is the
//! JetStream one. The host never knows which it has.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// What a subscription delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// One message of the room.
    Message(Message),
    /// Everything the bus retained has been delivered; every message after `floor` is
    /// delivered in order from here on.
    Ready { floor: u64 },
    /// Another node's counters for the room (never this node's own).
    Counters(NodeCounters),
}

/// One node's share of a room's counters. Each node announces its own; the room's are the
/// sum over nodes. Announcements are cumulative, so a lost one costs nothing but delay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeCounters {
    /// Which node (unique per process).
    pub node: String,
    /// Likes accepted on that node since it opened the room.
    pub likes: u64,
    /// Connections on that node now.
    pub online: u32,
}

/// One delivered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The room's ordering key, the same on every node.
    pub seq: u64,
    /// When the bus accepted it, Unix milliseconds.
    pub published_ms: u64,
    pub payload: Bytes,
}

/// Where another node packages a room's live video, when it is asked.
pub type Located = std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>>;

/// Where forwarded plugin inputs go.
pub type DeliverForwarded = Arc<dyn Fn(Bytes) + Send + Sync>;

/// Told `true` when this node takes a room's lease and `false` when it loses it.
pub type OnLease = Arc<dyn Fn(bool) + Send + Sync>;

/// Where a subscription's events go. Messages and `Ready` come from one task or thread
/// at a time, in order; `Counters` may come from another, concurrently.
pub type Deliver = Arc<dyn Fn(Event) + Send + Sync>;

/// A live subscription; dropping it stops delivery.
pub struct Subscription {
    cancel: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Subscription {
    pub fn new(cancel: impl FnOnce() + Send + Sync + 'static) -> Self {
        Subscription {
            cancel: Some(Box::new(cancel)),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel();
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

/// Carries each room's messages to every node subscribed to it.
pub trait Backplane: Send + Sync {
    /// Publish into `room`. Never blocks on the network; a bus that fails to deliver
    /// says so in its logs and metrics (the room protocol repairs gaps with history and
    /// snapshots).
    fn publish(&self, room: &str, payload: Bytes);
    /// Deliver `room`'s messages to `deliver` until the subscription is dropped.
    fn subscribe(&self, room: &str, deliver: Deliver) -> Subscription;
    /// Announce this node's counters for `room` to the other nodes (best effort, not
    /// kept). A node calls it when they change and now and then, so others can tell a
    /// node that went away. The in-process bus has no other nodes.
    fn publish_counters(&self, room: &str, likes: u64, online: u32);
    /// The name of the sequence space: the same on every node and across restarts for a
    /// durable bus, so offsets stay meaningful; `None` when it lives only as long as the
    /// process (the host then names each room's history itself).
    fn epoch(&self) -> Option<String>;
    /// Compete for `room`'s lease until the returned subscription is dropped (which gives
    /// it up). At most one node holds a room's lease at a time; when the holder dies,
    /// another node gets it within the bus's lease time. `on_change` hears every change,
    /// from one task or thread at a time.
    fn lease(&self, room: &str, on_change: OnLease) -> Subscription;
    /// Send a plugin input to whichever node holds `room`'s lease (best effort).
    fn forward(&self, room: &str, payload: Bytes);
    /// Receive what nodes forward for `room` until the subscription is dropped.
    fn subscribe_forwarded(&self, room: &str, deliver: DeliverForwarded) -> Subscription;
    /// Whether what is published now reaches the bus (the in-process bus always; a
    /// network bus while it is connected). Rooms refuse chat, and `/readyz` says not
    /// ready, while it does not.
    fn connected(&self) -> bool {
        true
    }
    /// Tell the other nodes that this node packages `room`'s live video and answers its
    /// `/media` at `url` (`None`: no longer). Kept fresh until withdrawn; a node that dies
    /// stops being named soon after. One node has no one to tell.
    fn announce_media(&self, _room: &str, _url: Option<String>) {}
    /// The URL of the node that announced `room`'s live video, if one did recently.
    fn media_location(&self, _room: &str) -> Located {
        Box::pin(std::future::ready(None))
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Default)]
struct Log {
    last: u64,
    next_id: u64,
    subscribers: Vec<(u64, Deliver)>,
    forwarded: Vec<(u64, DeliverForwarded)>,
}

/// The one-node backplane: a direct call to every subscriber, under the room's lock, so
/// sequence order and delivery order are the same.
#[derive(Default)]
pub struct InProcess {
    rooms: RwLock<HashMap<String, Arc<Mutex<Log>>>>,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcess")
    }
}

impl InProcess {
    pub fn new() -> Arc<Self> {
        Arc::new(InProcess::default())
    }

    fn log(&self, room: &str) -> Option<Arc<Mutex<Log>>> {
        let rooms = self.rooms.read().unwrap_or_else(|p| p.into_inner());
        rooms.get(room).cloned()
    }

    fn log_or_new(&self, room: &str) -> Arc<Mutex<Log>> {
        let mut rooms = self.rooms.write().unwrap_or_else(|p| p.into_inner());
        rooms.entry(room.to_owned()).or_default().clone()
    }
}

impl Backplane for InProcess {
    fn publish(&self, room: &str, payload: Bytes) {
        let Some(log) = self.log(room) else {
            return; // Nobody listens, and nothing is retained.
        };
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        log.last += 1;
        let message = Message {
            seq: log.last,
            published_ms: now_ms(),
            payload,
        };
        for (_, deliver) in &log.subscribers {
            deliver(Event::Message(message.clone()));
        }
    }

    fn subscribe(&self, room: &str, deliver: Deliver) -> Subscription {
        let log = self.log_or_new(room);
        let id = {
            let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
            l.next_id += 1;
            let id = l.next_id;
            deliver(Event::Ready { floor: l.last });
            l.subscribers.push((id, deliver));
            id
        };
        let weak = Arc::downgrade(&log);
        Subscription::new(move || {
            if let Some(log) = weak.upgrade() {
                let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                l.subscribers.retain(|(i, _)| *i != id);
            }
        })
    }

    fn publish_counters(&self, _room: &str, _likes: u64, _online: u32) {}

    fn epoch(&self) -> Option<String> {
        None
    }

    /// One node: it holds every lease until it gives it up.
    fn lease(&self, _room: &str, on_change: OnLease) -> Subscription {
        on_change(true);
        Subscription::new(move || on_change(false))
    }

    fn forward(&self, room: &str, payload: Bytes) {
        let Some(log) = self.log(room) else {
            return;
        };
        let log = log.lock().unwrap_or_else(|p| p.into_inner());
        for (_, deliver) in &log.forwarded {
            deliver(payload.clone());
        }
    }

    fn subscribe_forwarded(&self, room: &str, deliver: DeliverForwarded) -> Subscription {
        let log = self.log_or_new(room);
        let id = {
            let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
            l.next_id += 1;
            let id = l.next_id;
            l.forwarded.push((id, deliver));
            id
        };
        let weak = Arc::downgrade(&log);
        Subscription::new(move || {
            if let Some(log) = weak.upgrade() {
                let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                l.forwarded.retain(|(i, _)| *i != id);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> (Arc<Mutex<Vec<Event>>>, Deliver) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        (seen, Arc::new(move |e| s.lock().expect("lock").push(e)))
    }

    fn seqs(events: &[Event]) -> Vec<u64> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some(m.seq),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_subscriber_gets_every_message_with_the_same_sequence() {
        let bus = InProcess::new();
        let (a, da) = recorder();
        let (b, db) = recorder();
        let _sa = bus.subscribe("r", da);
        bus.publish("r", Bytes::from_static(b"one"));
        let _sb = bus.subscribe("r", db);
        bus.publish("r", Bytes::from_static(b"two"));
        bus.publish("other", Bytes::from_static(b"elsewhere"));

        let a = a.lock().expect("lock");
        let b = b.lock().expect("lock");
        assert_eq!(a[0], Event::Ready { floor: 0 });
        assert_eq!(seqs(&a), vec![1, 2]);
        // A late subscriber starts after what it cannot get: the floor is the last sequence.
        assert_eq!(b[0], Event::Ready { floor: 1 });
        assert_eq!(seqs(&b), vec![2]);
    }

    #[test]
    fn one_node_holds_every_lease_and_forwarded_inputs_reach_the_room() {
        let bus = InProcess::new();
        let held = Arc::new(Mutex::new(Vec::new()));
        let h = held.clone();
        let lease = bus.lease("r", Arc::new(move |b| h.lock().expect("lock").push(b)));
        assert_eq!(*held.lock().expect("lock"), vec![true]);
        drop(lease);
        assert_eq!(*held.lock().expect("lock"), vec![true, false]);
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let sub = bus.subscribe_forwarded("r", Arc::new(move |b| g.lock().expect("lock").push(b)));
        bus.forward("r", Bytes::from_static(b"in"));
        bus.forward("other", Bytes::from_static(b"elsewhere"));
        drop(sub);
        bus.forward("r", Bytes::from_static(b"after"));
        assert_eq!(*got.lock().expect("lock"), vec![Bytes::from_static(b"in")]);
    }

    #[test]
    fn a_dropped_subscription_receives_nothing_more() {
        let bus = InProcess::new();
        let (a, da) = recorder();
        let sub = bus.subscribe("r", da);
        bus.publish("r", Bytes::from_static(b"one"));
        drop(sub);
        bus.publish("r", Bytes::from_static(b"two"));
        assert_eq!(seqs(&a.lock().expect("lock")), vec![1]);
    }
}
