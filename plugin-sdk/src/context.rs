//! [`Context`]: the event being handled and the actions a handler queues in answer.

use crate::{Action, AskAi, Event, FlashSale, IssueCoupon, Metric, PushProduct, Reply, SetTimer};

/// What a handler sees of the current event, and where it queues actions.
///
/// Actions are declarative: the host applies them after the batch, once its capability
/// gate has checked each against the plugin's grants.
pub struct Context<'a> {
    event: &'a Event,
    actions: &'a mut Vec<Action>,
}

impl<'a> Context<'a> {
    /// A context for `event` that appends to `actions`. The SDK's glue makes these; tests of
    /// plugin logic can too.
    pub fn new(event: &'a Event, actions: &'a mut Vec<Action>) -> Self {
        Context { event, actions }
    }

    /// The whole event being handled.
    pub fn event(&self) -> &Event {
        self.event
    }

    /// The room this event belongs to.
    pub fn room_id(&self) -> &str {
        &self.event.room_id
    }

    /// The event's id, unique and increasing within the room.
    pub fn event_id(&self) -> u64 {
        self.event.id
    }

    /// A generator seeded with this event's recorded seed (needs `Capability::Random`).
    /// Every call for one event starts from the same seed, so draw once per event.
    pub fn random(&self) -> crate::Result<crate::random::Rng> {
        crate::random::seed(self.event.id)
            .map(crate::random::Rng::from_seed)
            .ok_or_else(|| crate::Error("the host gave no seed for this event".into()))
    }

    /// Server time of the event, Unix ms: the clock to use for cooldowns and rate limits.
    pub fn now_ms(&self) -> u64 {
        self.event.server_time_ms
    }

    /// The broadcaster-side media time of the event, when the room is live.
    pub fn media_time_ms(&self) -> Option<u64> {
        self.event.media_time_ms
    }

    /// Queue a raw action.
    pub fn act(&mut self, action: Action) {
        self.actions.push(action);
    }

    /// Show a product card (needs `product-push`). `duration_ms` 0 means the room default.
    pub fn push_product(&mut self, product_id: &str, style: Option<&str>, duration_ms: u32) {
        self.act(Action::PushProduct(PushProduct {
            product_id: product_id.to_owned(),
            style: style.map(str::to_owned),
            duration_ms,
        }));
    }

    /// Unlock a coupon for the whole room (needs `coupons`).
    pub fn unlock_coupon(&mut self, coupon_id: &str) {
        self.act(Action::UnlockCoupon(coupon_id.to_owned()));
    }

    /// Give one viewer a coupon (needs `coupons`).
    pub fn issue_coupon(&mut self, coupon_id: &str, user_id: &str) {
        self.act(Action::IssueCoupon(IssueCoupon {
            coupon_id: coupon_id.to_owned(),
            user_id: user_id.to_owned(),
        }));
    }

    /// Post a system message to the room (needs `messages`).
    pub fn system_message(&mut self, text: impl Into<String>) {
        self.act(Action::SystemMessage(text.into()));
    }

    /// Reply to a comment (needs `messages`).
    pub fn reply(&mut self, comment_id: &str, text: impl Into<String>) {
        self.act(Action::Reply(Reply {
            comment_id: comment_id.to_owned(),
            text: text.into(),
        }));
    }

    /// Pin a comment (needs `moderation`).
    pub fn pin_comment(&mut self, comment_id: &str) {
        self.act(Action::PinComment(comment_id.to_owned()));
    }

    /// Hide a comment (needs `moderation`).
    pub fn hide_comment(&mut self, comment_id: &str) {
        self.act(Action::HideComment(comment_id.to_owned()));
    }

    /// Start a flash sale (needs `flash-sales`).
    pub fn start_flash_sale(&mut self, sale: FlashSale) {
        self.act(Action::StartFlashSale(sale));
    }

    /// Set or reset a named timer (needs `timers`); it fires once as `on_timer(name)`.
    pub fn set_timer(&mut self, name: &str, delay_ms: u32) {
        self.act(Action::SetTimer(SetTimer {
            name: name.to_owned(),
            delay_ms,
        }));
    }

    /// Cancel a named timer (needs `timers`).
    pub fn cancel_timer(&mut self, name: &str) {
        self.act(Action::CancelTimer(name.to_owned()));
    }

    /// Ask the AI host (needs `ai`); the answer arrives as `on_ai_reply` with `request_id`.
    pub fn ask_ai(
        &mut self,
        request_id: &str,
        prompt: &str,
        context: Vec<String>,
        product_id: Option<&str>,
    ) {
        self.act(Action::AskAi(AskAi {
            request_id: request_id.to_owned(),
            prompt: prompt.to_owned(),
            context,
            product_id: product_id.map(str::to_owned),
        }));
    }

    /// Emit a metric sample (needs `metrics`).
    pub fn metric(&mut self, name: &str, value: f64) {
        self.act(Action::Metric(Metric {
            name: name.to_owned(),
            value,
        }));
    }
}
