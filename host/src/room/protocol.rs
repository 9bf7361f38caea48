//! The room protocol, version 1: JSON text frames tagged by `type` (docs/protocol.md).
//!
//! [`ClientMsg`] is everything a client may send and [`decode`] the only way in: it bounds
//! the size first and names what is wrong (bad JSON, unknown type, bad field). [`ServerMsg`]
//! is everything the server sends; each broadcast is encoded once (see `frame.rs`).

use crate::auth::Role;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The protocol version this server speaks.
pub const VERSION: u32 = 1;

/// A message from a client.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    /// First message: protocol version and an optional signed room token.
    Hello {
        v: u32,
        #[serde(default)]
        token: Option<String>,
        /// Display name for a guest (ignored with a token).
        #[serde(default)]
        name: Option<String>,
        /// A guest's device id, kept by the viewer page in local storage (8 to 64 of
        /// `A-Za-z0-9-_`; others are ignored): guests' claims and buys are throttled per
        /// device.
        #[serde(default)]
        device: Option<String>,
    },
    /// Enter a room; with `resume`, continue after the last frame seen.
    Join {
        room: String,
        #[serde(default)]
        resume: Option<Resume>,
    },
    /// Post a chat comment.
    Comment { text: String },
    /// Taps merged on the client since its last `like`.
    Like { count: u32 },
    /// Send a gift.
    Gift { gift_id: String, count: u32 },
    /// Claim a coupon; `key` makes retries safe.
    Claim {
        coupon_id: String,
        key: String,
        #[serde(default)]
        push_id: Option<String>,
    },
    /// Buy in a running flash sale; `key` makes retries safe. `sku` names the SKU (size,
    /// colour) in a sale that has SKUs, and must be left out in one that has not.
    Buy {
        sale_id: String,
        quantity: u32,
        key: String,
        #[serde(default)]
        sku: Option<String>,
    },
    /// Host: show a product card to the room now.
    Push {
        product_id: String,
        #[serde(default)]
        style: Option<String>,
        #[serde(default)]
        duration_ms: Option<u32>,
    },
    /// Moderator or host: refuse a user's comments from now on.
    Mute { user_id: String },
    /// Moderator or host: accept a muted user's comments again.
    Unmute { user_id: String },
    /// Moderator or host: remove a comment for everyone.
    Hide { comment_id: String },
    /// Moderator or host: pin a comment.
    Pin { comment_id: String },
    /// Moderator or host: add blocked words; matching comments are shown only to their
    /// sender (shadow-hidden).
    BlockWords { words: Vec<String> },
    /// Analytics: product cards received and displayed.
    Ack { acks: Vec<Ack> },
    /// Analytics: a product card's buy link was clicked.
    Click { push_id: String, product_id: String },
    /// Clock sync: the server answers with `pong`.
    Ping { client_ms: u64 },
}

/// Where a reconnecting client left off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub epoch: String,
    pub offset: u64,
}

/// A moderation result as the room sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Moderation {
    Mute { user_id: String },
    Unmute { user_id: String },
    Hide { comment_id: String },
    Pin { comment_id: String },
}

/// One product card acknowledgement: `{push_id, variant?, received_ms?, displayed_ms?}`.
pub use crate::store::Ack;

/// Who said or did something, as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// A comment as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommentView {
    pub id: String,
    pub user: UserRef,
    pub text: String,
    pub ts: u64,
    /// Set on a reply, e.g. the AI host answering a question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// `"system"` for a system line (a snapshot keeps those among the comments, in order);
    /// absent for a comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A product card as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardView {
    pub push_id: String,
    pub product: crate::catalog::Product,
    pub style: Option<String>,
    pub duration_ms: u32,
    /// Server wall clock when pushed, Unix ms.
    pub server_ms: u64,
    /// Broadcaster media time when pushed (ms on the live's presentation timeline), if
    /// live.
    pub media_ms: Option<u64>,
    /// The live (MPD Period id) `media_ms` belongs to; omitted when not live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Who pushed it: "host" or "plugin:<name>".
    pub source: String,
}

/// A message from the server. Frames with an `o` (offset) are kept in the room history
/// for resume. Deserialize is for the room bus, which carries published messages between
/// nodes as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome {
        v: u32,
        user: UserRef,
        server_ms: u64,
    },
    Snapshot(Box<Snapshot>),
    Comment {
        o: u64,
        comment: CommentView,
    },
    /// The like total, at most twice a second.
    Likes {
        total: u64,
    },
    /// The online count.
    Online {
        count: u32,
    },
    Gift {
        o: u64,
        user: UserRef,
        gift_id: String,
        count: u32,
    },
    Product {
        o: u64,
        card: CardView,
    },
    Coupon {
        o: u64,
        event: Cow<'static, str>,
        coupon: serde_json::Value,
        /// Broadcaster media time and live of the event; both omitted when not live.
        #[serde(skip_serializing_if = "Option::is_none")]
        media_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        period: Option<String>,
    },
    ClaimResult {
        coupon_id: String,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        claim_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The refusal's code (e.g. `sign_in_required`, `guest_limit`, `per_user_limit`).
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<Cow<'static, str>>,
    },
    FlashSale {
        o: u64,
        event: Cow<'static, str>,
        sale: serde_json::Value,
        /// As for `Coupon`.
        #[serde(skip_serializing_if = "Option::is_none")]
        media_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        period: Option<String>,
    },
    /// The merchant changed the live's product bag: the whole new list.
    Products {
        o: u64,
        products: Vec<serde_json::Value>,
    },
    BuyResult {
        sale_id: String,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        order_id: Option<String>,
        /// What the order is, so the page can say it in words ("Order placed: Cotton Tee,
        /// M, ¥49"): its SKU (if any), quantity and amount. Only with `ok`.
        #[serde(skip_serializing_if = "Option::is_none")]
        sku_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        quantity: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        amount_cents: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// As for `ClaimResult`.
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<Cow<'static, str>>,
    },
    System {
        o: u64,
        /// The line's id, as it appears among a snapshot's `comments`.
        #[serde(default)]
        id: String,
        text: String,
    },
    Moderation {
        o: u64,
        #[serde(flatten)]
        action: Moderation,
    },
    Pong {
        client_ms: u64,
        server_ms: u64,
    },
    /// Sent to every connection every 25 s; carries server time for clock-offset
    /// estimation (and keeps idle connections alive through proxies).
    Ping {
        server_ms: u64,
    },
    Error {
        code: Cow<'static, str>,
        message: String,
    },
    /// The node is going away (draining for a restart or a deploy): reconnect, to any
    /// node, after about `retry_ms`, and join with `resume` to miss nothing. The server
    /// closes the connection with 1001 right after.
    Reconnect {
        reason: Cow<'static, str>,
        retry_ms: u32,
    },
}

impl ServerMsg {
    /// The message with its history offset set (messages without one are unchanged).
    pub fn with_offset(mut self, offset: u64) -> Self {
        match &mut self {
            ServerMsg::Comment { o, .. }
            | ServerMsg::Gift { o, .. }
            | ServerMsg::Product { o, .. }
            | ServerMsg::Coupon { o, .. }
            | ServerMsg::FlashSale { o, .. }
            | ServerMsg::Products { o, .. }
            | ServerMsg::System { o, .. }
            | ServerMsg::Moderation { o, .. } => *o = offset,
            _ => {}
        }
        self
    }
}

/// The room's state, sent on join and whenever a client must catch up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub room: String,
    pub title: String,
    pub live: bool,
    /// Resume position: the history epoch and the last offset included here.
    pub epoch: String,
    pub offset: u64,
    pub online: u32,
    pub likes: u64,
    pub pinned: Option<CardView>,
    pub coupons: Vec<serde_json::Value>,
    /// The latest-starting running sale (kept for clients that show one).
    pub flash_sale: Option<serde_json::Value>,
    /// Every running sale, in start order.
    pub flash_sales: Vec<serde_json::Value>,
    /// The live's product bag (小黄车), in the merchant's order.
    #[serde(default)]
    pub products: Vec<serde_json::Value>,
    pub comments: Vec<CommentView>,
    pub server_ms: u64,
}

/// Why a client frame was refused. `code` is stable; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("frame is not valid JSON: {0}")]
    BadJson(String),
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    #[error("invalid message: {0}")]
    BadField(String),
}

impl DecodeError {
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::BadJson(_) => "bad_json",
            DecodeError::UnknownType(_) => "unknown_type",
            DecodeError::BadField(_) => "bad_message",
        }
    }
}

/// Decode one client frame, refusing frames over `limit` bytes before parsing.
pub fn decode(text: &str, limit: usize) -> Result<ClientMsg, DecodeError> {
    if text.len() > limit {
        return Err(DecodeError::TooLarge {
            size: text.len(),
            limit,
        });
    }
    // serde would also accept a tagged enum written as an array (`["like", 3]`).
    if text.trim_start().starts_with('[') {
        return Err(DecodeError::BadField(
            "a message is a JSON object with a `type`".into(),
        ));
    }
    serde_json::from_str(text).map_err(|e| classify(text, e))
}

fn classify(text: &str, e: serde_json::Error) -> DecodeError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => DecodeError::BadJson(e.to_string()),
        Category::Data => {
            let msg = e.to_string();
            // serde names the unknown tag first: "unknown variant `dance`, expected ...".
            // ClientMsg has no other enum, so an unknown variant is an unknown type.
            if let Some(rest) = msg.strip_prefix("unknown variant `")
                && let Some((name, _)) = rest.split_once("`, expected")
                && !name.is_empty()
            {
                // serde stops at the tag; broken JSON after it is still broken JSON.
                if let Err(syntax) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
                    return DecodeError::BadJson(syntax.to_string());
                }
                return DecodeError::UnknownType(name.chars().take(64).collect());
            }
            DecodeError::BadField(msg)
        }
    }
}

/// Encode a server message (infallible for our types).
pub fn encode(msg: &ServerMsg) -> String {
    serde_json::to_string(msg).unwrap_or_else(|e| {
        format!(r#"{{"type":"error","code":"internal","message":"encode: {e}"}}"#)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_names_each_problem() {
        assert_eq!(
            decode(r#"{"type":"like","count":3}"#, 100),
            Ok(ClientMsg::Like { count: 3 })
        );
        assert_eq!(
            decode("x".repeat(11).as_str(), 10).map_err(|e| e.code()),
            Err("too_large")
        );
        assert_eq!(decode("{nope", 100).map_err(|e| e.code()), Err("bad_json"));
        assert_eq!(
            decode(r#"{"type":"dance"}"#, 100),
            Err(DecodeError::UnknownType("dance".into()))
        );
        assert_eq!(
            decode(r#"{"type":"like","count":-1}"#, 100).map_err(|e| e.code()),
            Err("bad_message")
        );
        assert_eq!(
            decode(r#"{"type":"like","count":1,"extra":2}"#, 100).map_err(|e| e.code()),
            Err("bad_message")
        );
        assert_eq!(
            decode(r#"{"type":"mute","user_id":"u9"}"#, 100),
            Ok(ClientMsg::Mute {
                user_id: "u9".into()
            })
        );
    }
}
