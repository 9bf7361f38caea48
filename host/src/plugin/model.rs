//! The JSON form of room events and plugin actions.
//!
//! Recorded event files (`events.jsonl`), the runner's output and the API use these shapes:
//! a flat object with a `type` tag in the contract's kebab-case names, e.g.
//! `{"id":3,"room":"demo","time_ms":1763700000000,"type":"likes","delta":5,"total":1005}`.
//! Conversions to and from the contract's types live here and nowhere else.

use super::bindings as wit;
use serde::{Deserialize, Serialize};

/// One room event, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Increasing within the room; 0 means "assign one".
    #[serde(default)]
    pub id: u64,
    /// Room id; empty means "the runner's room".
    #[serde(default)]
    pub room: String,
    /// Server wall clock, Unix ms.
    #[serde(default)]
    pub time_ms: u64,
    /// Broadcaster-side media time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_ms: Option<u64>,
    /// The random seed the event had (see `random.rs`), recorded so a replay redraws
    /// exactly; events without one get a seed derived from their id in `plugin test`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum EventBody {
    ViewerJoined {
        user_id: String,
        #[serde(default)]
        user_name: String,
        online: u32,
    },
    ViewerLeft {
        user_id: String,
        #[serde(default)]
        user_name: String,
        online: u32,
    },
    Comment {
        comment_id: String,
        user_id: String,
        #[serde(default)]
        user_name: String,
        text: String,
    },
    Likes {
        delta: u32,
        total: u64,
    },
    Gift {
        user_id: String,
        #[serde(default)]
        user_name: String,
        gift_id: String,
        count: u32,
        value_cents: u64,
    },
    ProductPushed {
        product_id: String,
        push_id: String,
    },
    ProductClicked {
        product_id: String,
        push_id: String,
        user_id: String,
    },
    CouponClaimed {
        coupon_id: String,
        user_id: String,
    },
    Purchase {
        order_id: String,
        product_id: String,
        user_id: String,
        quantity: u32,
        amount_cents: u64,
    },
    StreamStarted {},
    StreamStopped {},
    TimerFired {
        name: String,
    },
    AiReply {
        request_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    ConfigChanged {},
}

impl EventRecord {
    /// The event in the contract's shape.
    pub fn to_wit(&self) -> wit::Event {
        use EventBody as B;
        let presence = |user_id: &String, user_name: &String, online: &u32| wit::Presence {
            user_id: user_id.clone(),
            user_name: user_name.clone(),
            online: *online,
        };
        let body = match &self.body {
            B::ViewerJoined {
                user_id,
                user_name,
                online,
            } => wit::EventBody::ViewerJoined(presence(user_id, user_name, online)),
            B::ViewerLeft {
                user_id,
                user_name,
                online,
            } => wit::EventBody::ViewerLeft(presence(user_id, user_name, online)),
            B::Comment {
                comment_id,
                user_id,
                user_name,
                text,
            } => wit::EventBody::Comment(wit::Comment {
                comment_id: comment_id.clone(),
                user_id: user_id.clone(),
                user_name: user_name.clone(),
                text: text.clone(),
            }),
            B::Likes { delta, total } => wit::EventBody::Likes(wit::Likes {
                delta: *delta,
                total: *total,
            }),
            B::Gift {
                user_id,
                user_name,
                gift_id,
                count,
                value_cents,
            } => wit::EventBody::Gift(wit::Gift {
                user_id: user_id.clone(),
                user_name: user_name.clone(),
                gift_id: gift_id.clone(),
                count: *count,
                value_cents: *value_cents,
            }),
            B::ProductPushed {
                product_id,
                push_id,
            } => wit::EventBody::ProductPushed(wit::ProductPushed {
                product_id: product_id.clone(),
                push_id: push_id.clone(),
            }),
            B::ProductClicked {
                product_id,
                push_id,
                user_id,
            } => wit::EventBody::ProductClicked(wit::ProductClicked {
                product_id: product_id.clone(),
                push_id: push_id.clone(),
                user_id: user_id.clone(),
            }),
            B::CouponClaimed { coupon_id, user_id } => {
                wit::EventBody::CouponClaimed(wit::CouponClaimed {
                    coupon_id: coupon_id.clone(),
                    user_id: user_id.clone(),
                })
            }
            B::Purchase {
                order_id,
                product_id,
                user_id,
                quantity,
                amount_cents,
            } => wit::EventBody::Purchase(wit::Purchase {
                order_id: order_id.clone(),
                product_id: product_id.clone(),
                user_id: user_id.clone(),
                quantity: *quantity,
                amount_cents: *amount_cents,
            }),
            B::StreamStarted {} => wit::EventBody::StreamStarted,
            B::StreamStopped {} => wit::EventBody::StreamStopped,
            B::TimerFired { name } => wit::EventBody::TimerFired(name.clone()),
            B::AiReply {
                request_id,
                answer,
                error,
            } => wit::EventBody::AiReply(wit::AiReply {
                request_id: request_id.clone(),
                answer: match (answer, error) {
                    (Some(a), _) => Ok(a.clone()),
                    (None, Some(e)) => Err(e.clone()),
                    (None, None) => Err("no answer".into()),
                },
            }),
            B::ConfigChanged {} => wit::EventBody::ConfigChanged,
        };
        wit::Event {
            id: self.id,
            room_id: self.room.clone(),
            server_time_ms: self.time_ms,
            media_time_ms: self.media_ms,
            body,
        }
    }
}

/// A plugin action, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ActionRecord {
    PushProduct {
        product_id: String,
        style: Option<String>,
        duration_ms: u32,
    },
    UnlockCoupon {
        coupon_id: String,
    },
    IssueCoupon {
        coupon_id: String,
        user_id: String,
    },
    SystemMessage {
        text: String,
    },
    Reply {
        comment_id: String,
        text: String,
    },
    PinComment {
        comment_id: String,
    },
    HideComment {
        comment_id: String,
    },
    StartFlashSale {
        product_id: String,
        price_cents: u64,
        stock: u32,
        duration_ms: u32,
        per_user_limit: u32,
    },
    SetTimer {
        name: String,
        delay_ms: u32,
    },
    CancelTimer {
        name: String,
    },
    AskAi {
        request_id: String,
        prompt: String,
        context: Vec<String>,
        product_id: Option<String>,
    },
    Metric {
        name: String,
        value: f64,
    },
}

impl From<wit::Action> for ActionRecord {
    fn from(action: wit::Action) -> Self {
        use wit::Action as A;
        match action {
            A::PushProduct(p) => ActionRecord::PushProduct {
                product_id: p.product_id,
                style: p.style,
                duration_ms: p.duration_ms,
            },
            A::UnlockCoupon(coupon_id) => ActionRecord::UnlockCoupon { coupon_id },
            A::IssueCoupon(c) => ActionRecord::IssueCoupon {
                coupon_id: c.coupon_id,
                user_id: c.user_id,
            },
            A::SystemMessage(text) => ActionRecord::SystemMessage { text },
            A::Reply(r) => ActionRecord::Reply {
                comment_id: r.comment_id,
                text: r.text,
            },
            A::PinComment(comment_id) => ActionRecord::PinComment { comment_id },
            A::HideComment(comment_id) => ActionRecord::HideComment { comment_id },
            A::StartFlashSale(f) => ActionRecord::StartFlashSale {
                product_id: f.product_id,
                price_cents: f.price_cents,
                stock: f.stock,
                duration_ms: f.duration_ms,
                per_user_limit: f.per_user_limit,
            },
            A::SetTimer(t) => ActionRecord::SetTimer {
                name: t.name,
                delay_ms: t.delay_ms,
            },
            A::CancelTimer(name) => ActionRecord::CancelTimer { name },
            A::AskAi(a) => ActionRecord::AskAi {
                request_id: a.request_id,
                prompt: a.prompt,
                context: a.context,
                product_id: a.product_id,
            },
            A::Metric(m) => ActionRecord::Metric {
                name: m.name,
                value: m.value,
            },
        }
    }
}

/// Parse an events file: one JSON object per line; blank lines and `#` comments skipped.
/// Ids of 0 are numbered by position and empty rooms get `room`. Errors name the line.
pub fn parse_events(text: &str, room: &str) -> Result<Vec<EventRecord>, String> {
    let mut out: Vec<EventRecord> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut ev: EventRecord =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        if ev.id == 0 {
            ev.id = out.last().map_or(1, |p| p.id + 1);
        }
        if ev.room.is_empty() {
            ev.room = room.to_owned();
        }
        out.push(ev);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_with_defaults_and_line_errors() {
        let text = "# likes\n{\"type\":\"likes\",\"delta\":5,\"total\":5}\n\n{\"type\":\"comment\",\"comment_id\":\"c1\",\"user_id\":\"u1\",\"text\":\"size?\",\"time_ms\":7}\n";
        let events = parse_events(text, "r1").expect("valid events");
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].id, 2);
        assert_eq!(events[1].room, "r1");
        assert!(matches!(
            events[1].to_wit().body,
            wit::EventBody::Comment(_)
        ));

        let err = parse_events("{\"type\":\"likes\"}\n{\"type\":\"nope\"}", "r").expect_err("bad");
        assert!(err.starts_with("line 1:"), "{err}");
    }

    #[test]
    fn actions_serialize_with_kebab_type() {
        let a = ActionRecord::from(wit::Action::UnlockCoupon("c-1k".into()));
        assert_eq!(
            serde_json::to_string(&a).expect("json"),
            r#"{"type":"unlock-coupon","coupon_id":"c-1k"}"#
        );
    }
}
