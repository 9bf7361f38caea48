//! The room bus: how a message published in a room reaches every hub that fans it out.
//!
//! A hub never pushes a published message to its own viewers directly. It publishes a
//! [`Published`] (the message, its delivery class, and the state change it carries) to
//! the bus as JSON, and the bus delivers it to every hub subscribed to that room, with
//! the room's next sequence number — which the hub uses as the history offset. The hub
//! then applies the state change, encodes the frame once and pushes it to its outboxes,
//! all under the room lock.
//!
//! The numbering is the backplane's (`livecart-bus`): 1, 2, 3… per room in process; the
//! JetStream stream sequence on NATS (`livecart-bus-nats`), so every node gives a message
//! the same offset and any node can resume any client. Offsets may then have gaps within
//! a room; clients only compare them.

use super::hub::RoomHub;
use super::outbox::Class;
use super::protocol::{CardView, CommentView, ServerMsg};
use bytes::Bytes;
use livecart_bus::{Backplane, Event, InProcess, Subscription};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Weak};

/// The state a published message changes where it is delivered.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    None,
    /// Append to the room's recent comments.
    Comment(CommentView),
    /// Pin a product card.
    Pin(CardView),
    /// Drop a comment from the recent comments.
    Forget(String),
}

/// A message published in a room, before it has its history offset. Travels as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Published {
    pub msg: ServerMsg,
    pub class: Class,
    /// For chat: the author's user id (their own comments bypass sampling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Arc<str>>,
    pub effect: Effect,
}

/// Carries published messages to the hubs of a room, over a [`Backplane`]: the
/// in-process one by default (`livecart-bus`), JetStream across nodes
/// (`livecart-bus-nats`). The bus numbers each room's messages; that number is the
/// message's history offset on every node.
pub struct RoomBus {
    backplane: Arc<dyn Backplane>,
}

impl RoomBus {
    pub fn new(backplane: Arc<dyn Backplane>) -> Self {
        RoomBus { backplane }
    }

    /// The one-node bus.
    pub fn in_process() -> Self {
        RoomBus::new(InProcess::new())
    }

    /// The epoch of every room's history when the bus's numbering outlives the process.
    pub fn epoch(&self) -> Option<String> {
        self.backplane.epoch()
    }

    /// Publish into `room`; every subscribed hub receives it, in the bus's order.
    pub fn publish(&self, room: &str, msg: &Published) {
        match serde_json::to_vec(msg) {
            Ok(bytes) => self.backplane.publish(room, Bytes::from(bytes)),
            Err(e) => tracing::error!(room, error = %e, "could not encode a published message"),
        }
    }

    /// Announce this node's like total and connections in `room` to the other nodes.
    pub fn publish_counters(&self, room: &str, likes: u64, online: u32) {
        self.backplane.publish_counters(room, likes, online);
    }

    /// Compete for `room`'s plugin lease (see [`Backplane::lease`]).
    pub fn lease(&self, room: &str, on_change: livecart_bus::OnLease) -> Subscription {
        self.backplane.lease(room, on_change)
    }

    /// Whether what is published now reaches the bus.
    pub fn connected(&self) -> bool {
        self.backplane.connected()
    }

    /// Announce (or withdraw) that this node packages `room`'s live video at `url`.
    pub fn announce_media(&self, room: &str, url: Option<String>) {
        self.backplane.announce_media(room, url);
    }

    /// The node that announced `room`'s live video, if any did recently.
    pub fn media_location(&self, room: &str) -> livecart_bus::Located {
        self.backplane.media_location(room)
    }

    /// Send a plugin input to `room`'s lease holder.
    pub fn forward(&self, room: &str, payload: Bytes) {
        self.backplane.forward(room, payload);
    }

    /// Receive the plugin inputs other nodes forward for `room`.
    pub fn subscribe_forwarded(
        &self,
        room: &str,
        deliver: livecart_bus::DeliverForwarded,
    ) -> Subscription {
        self.backplane.subscribe_forwarded(room, deliver)
    }

    /// Deliver `room`'s messages to `hub` until the subscription is dropped.
    pub fn subscribe(&self, room: &str, hub: Weak<RoomHub>) -> Subscription {
        let room_id: Arc<str> = room.into();
        self.backplane.subscribe(
            room,
            Arc::new(move |event| {
                let Some(hub) = hub.upgrade() else {
                    return;
                };
                match event {
                    Event::Ready { floor } => hub.ready(floor),
                    Event::Counters(c) => hub.remote_counters(c.node, c.likes, c.online),
                    Event::Message(m) => match serde_json::from_slice::<Published>(&m.payload) {
                        Ok(published) => hub.deliver(m.seq, m.published_ms, published),
                        // A message no node of this version can read: skip it, keep order.
                        Err(e) => {
                            tracing::warn!(room = %room_id, seq = m.seq, error = %e, "undecodable bus message");
                            hub.skip(m.seq);
                        }
                    },
                }
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::room::hub::{CatchUp, CommerceState, HistoryLimits};
    use crate::room::outbox::{Outbox, OutboxLimits};
    use crate::room::protocol::UserRef;

    struct NoCommerce;
    impl CommerceState for NoCommerce {
        fn coupons(&self, _: &str) -> Vec<serde_json::Value> {
            Vec::new()
        }
        fn flash_sales(&self, _: &str, _: u64) -> Vec<serde_json::Value> {
            Vec::new()
        }
        fn bag(&self, _: &str) -> Vec<serde_json::Value> {
            Vec::new()
        }
    }

    /// A hub on its own "node": every hub of the room subscribes to the one backplane, as
    /// each node subscribes to a multi-node bus.
    fn node(bus: &Arc<RoomBus>) -> (Arc<RoomHub>, Subscription) {
        let hub = Arc::new(RoomHub::new(
            "r",
            "m",
            "title",
            true,
            HistoryLimits::default(),
            bus.clone(),
            Arc::new(crate::room::timeline::NoMedia),
        ));
        let sub = bus.subscribe("r", Arc::downgrade(&hub));
        (hub, sub)
    }

    #[tokio::test]
    async fn a_message_published_on_one_node_reaches_viewers_on_another_with_the_same_offset() {
        let bus = Arc::new(RoomBus::in_process());
        let ((a, _sa), (b, _sb)) = (node(&bus), node(&bus));
        let viewer_on_b = Arc::new(Outbox::new("v", OutboxLimits::default()));
        let (_, first) = b.join(viewer_on_b.clone(), None, &NoCommerce);
        assert!(matches!(first, CatchUp::Snapshot(_)));

        let author = Outbox::new("u", OutboxLimits::default());
        let comment = CommentView {
            id: "c1".into(),
            user: UserRef {
                id: "u".into(),
                name: "Ann".into(),
                role: Role::Viewer,
            },
            text: "hello from node a".into(),
            ts: 1,
            reply_to: None,
            kind: None,
        };
        a.comment(comment, &author, false);
        a.hide_comment("c0".into());

        let batch = viewer_on_b.next_batch().await;
        let frames: Vec<serde_json::Value> = batch
            .frames
            .iter()
            .map(|f| serde_json::from_str(&f.text).expect("json"))
            .collect();
        assert_eq!(frames[0]["comment"]["text"], "hello from node a");
        assert_eq!(frames[0]["o"], 1);
        assert_eq!(frames[1]["action"], "hide");
        assert_eq!(frames[1]["o"], 2);
        // Both nodes hold the same history, so a client can resume on either.
        let replay = |hub: &RoomHub| match hub.catch_up(0, &NoCommerce) {
            CatchUp::Replay(f) => f.iter().map(|f| f.text.to_string()).collect::<Vec<_>>(),
            CatchUp::Snapshot(_) => Vec::new(),
        };
        assert_eq!(replay(&a), replay(&b));
        assert_eq!(replay(&a).len(), 2);
    }

    #[test]
    fn a_published_message_survives_its_json_round_trip() {
        let published = Published {
            msg: ServerMsg::System {
                o: 0,
                id: "s1".into(),
                text: "hi".into(),
            },
            class: Class::Critical,
            author: Some("u1".into()),
            effect: Effect::Forget("c9".into()),
        };
        let json = serde_json::to_vec(&published).expect("encode");
        let back: Published = serde_json::from_slice(&json).expect("decode");
        assert_eq!(back.msg, published.msg);
        assert_eq!(back.class, Class::Critical);
        assert_eq!(back.author.as_deref(), Some("u1"));
        assert!(matches!(back.effect, Effect::Forget(id) if id == "c9"));
    }
}
