//! The room bus: how a message published in a room reaches every hub that fans it out.
//!
//! A hub never pushes a published message to its own viewers directly. It publishes a
//! [`Published`] (the message, its delivery class, and the state change it carries) to
//! the bus, and the bus delivers it to every hub subscribed to that room — which then
//! applies the state change, assigns the next history offset, encodes the frame once and
//! pushes it to its outboxes, all under the room lock.
//!
//! [`InProcessBus`] is the one-node bus: delivery is a direct call to the room's hub, in
//! publish order. A multi-node bus (e.g. NATS, one subject per room with a single ordered
//! stream) implements the same trait: `publish` sends to the room's subject, and each
//! node's subscription delivers to its local hub, so every node applies the same messages
//! in the same order and assigns the same offsets.

use super::outbox::Class;
use super::protocol::{CardView, CommentView, ServerMsg};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The state a published message changes where it is delivered.
#[derive(Clone, Debug)]
pub enum Effect {
    None,
    /// Append to the room's recent comments.
    Comment(CommentView),
    /// Pin a product card.
    Pin(CardView),
    /// Drop a comment from the recent comments.
    Forget(String),
}

/// A message published in a room, before it has its history offset.
#[derive(Clone, Debug)]
pub struct Published {
    pub msg: ServerMsg,
    pub class: Class,
    /// For chat: the author's user id (their own comments bypass sampling).
    pub author: Option<Arc<str>>,
    pub effect: Effect,
}

/// Where a room's published messages are delivered on this node.
pub type Delivery = Arc<dyn Fn(Published) + Send + Sync>;

/// Carries published messages to the hubs of a room.
pub trait RoomBus: Send + Sync {
    /// Publish into `room`; every subscribed hub receives it, in publish order.
    fn publish(&self, room: &str, msg: Published);
    /// Deliver `room`'s messages on this node to `deliver` (replacing an earlier one).
    fn subscribe(&self, room: &str, deliver: Delivery);
    fn unsubscribe(&self, room: &str);
}

/// The one-node bus: delivery is a direct call.
#[derive(Default)]
pub struct InProcessBus {
    rooms: RwLock<HashMap<String, Delivery>>,
}

impl RoomBus for InProcessBus {
    fn publish(&self, room: &str, msg: Published) {
        let deliver = match self.rooms.read() {
            Ok(rooms) => rooms.get(room).cloned(),
            Err(poisoned) => poisoned.into_inner().get(room).cloned(),
        };
        match deliver {
            Some(deliver) => deliver(msg),
            None => tracing::debug!(room, "published to a room no hub is subscribed to"),
        }
    }

    fn subscribe(&self, room: &str, deliver: Delivery) {
        if let Ok(mut rooms) = self.rooms.write() {
            rooms.insert(room.to_owned(), deliver);
        }
    }

    fn unsubscribe(&self, room: &str) {
        if let Ok(mut rooms) = self.rooms.write() {
            rooms.remove(room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::room::hub::{CatchUp, CommerceState, HistoryLimits, RoomHub};
    use crate::room::outbox::{Outbox, OutboxLimits};
    use crate::room::protocol::UserRef;

    /// A bus that delivers every message to every subscribed hub, as a multi-node bus
    /// delivers to one hub per node.
    #[derive(Default)]
    struct EveryNode {
        hubs: RwLock<Vec<Delivery>>,
    }

    impl RoomBus for EveryNode {
        fn publish(&self, _room: &str, msg: Published) {
            for deliver in self.hubs.read().expect("lock").iter() {
                deliver(msg.clone());
            }
        }
        fn subscribe(&self, _room: &str, deliver: Delivery) {
            self.hubs.write().expect("lock").push(deliver);
        }
        fn unsubscribe(&self, _room: &str) {}
    }

    struct NoCommerce;
    impl CommerceState for NoCommerce {
        fn coupons(&self, _: &str) -> Vec<serde_json::Value> {
            Vec::new()
        }
        fn flash_sale(&self, _: &str, _: u64) -> Option<serde_json::Value> {
            None
        }
    }

    fn node(bus: &Arc<EveryNode>) -> Arc<RoomHub> {
        let hub = Arc::new(RoomHub::new(
            "r",
            "m",
            "title",
            true,
            HistoryLimits::default(),
            bus.clone(),
            Arc::new(crate::room::timeline::NoMedia),
        ));
        let weak = Arc::downgrade(&hub);
        bus.subscribe(
            "r",
            Arc::new(move |p| {
                if let Some(h) = weak.upgrade() {
                    h.deliver(p);
                }
            }),
        );
        hub
    }

    #[tokio::test]
    async fn a_message_published_on_one_node_reaches_viewers_on_another_with_the_same_offset() {
        let bus = Arc::new(EveryNode::default());
        let (a, b) = (node(&bus), node(&bus));
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
}
