//! The only place the host runs `bindgen!` over the plugin contract
//! (`plugin-sdk/wit/plugin.wit`). Everything else imports the generated types from here.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../plugin-sdk/wit",
    // Host calls may trap: the capability gate refuses a call with a trap, not a value.
    imports: { default: trappable },
    additional_derives: [PartialEq],
});

pub use self::exports::livecart::plugin::guest::Guest;
pub use self::livecart::plugin::types::{
    Action, AiReply, AskAi, Capability, Comment, CouponClaimed, Event, EventBody, EventKind,
    FaqEntry, FlashSale, Gift, IssueCoupon, KvError, Likes, LogLevel, Manifest, Metric, Presence,
    Product, ProductClicked, ProductPushed, Purchase, PushProduct, Reply, RoomSnapshot, SetTimer,
};

/// The contract version this host implements; exports of other versions are refused.
pub const CONTRACT: &str = "livecart:plugin@0.1.0";
/// The interface every plugin must export.
pub const GUEST_EXPORT: &str = "livecart:plugin/guest@0.1.0";

/// The kind of an event body, for subscriptions.
pub fn event_kind(body: &EventBody) -> EventKind {
    match body {
        EventBody::ViewerJoined(_) => EventKind::ViewerJoined,
        EventBody::ViewerLeft(_) => EventKind::ViewerLeft,
        EventBody::Comment(_) => EventKind::Comment,
        EventBody::Likes(_) => EventKind::Likes,
        EventBody::Gift(_) => EventKind::Gift,
        EventBody::ProductPushed(_) => EventKind::ProductPushed,
        EventBody::ProductClicked(_) => EventKind::ProductClicked,
        EventBody::CouponClaimed(_) => EventKind::CouponClaimed,
        EventBody::Purchase(_) => EventKind::Purchase,
        EventBody::StreamStarted => EventKind::StreamStarted,
        EventBody::StreamStopped => EventKind::StreamStopped,
        EventBody::TimerFired(_) => EventKind::TimerFired,
        EventBody::AiReply(_) => EventKind::AiReply,
        EventBody::ConfigChanged => EventKind::ConfigChanged,
    }
}

/// The contract's name of a capability, as merchants and errors show it.
pub fn capability_name(cap: Capability) -> &'static str {
    match cap {
        Capability::Kv => "kv",
        Capability::RoomRead => "room-read",
        Capability::CatalogRead => "catalog-read",
        Capability::ProductPush => "product-push",
        Capability::Coupons => "coupons",
        Capability::Messages => "messages",
        Capability::Moderation => "moderation",
        Capability::FlashSales => "flash-sales",
        Capability::Timers => "timers",
        Capability::Ai => "ai",
        Capability::Metrics => "metrics",
    }
}

/// The contract's name of an event kind.
pub fn event_kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::ViewerJoined => "viewer-joined",
        EventKind::ViewerLeft => "viewer-left",
        EventKind::Comment => "comment",
        EventKind::Likes => "likes",
        EventKind::Gift => "gift",
        EventKind::ProductPushed => "product-pushed",
        EventKind::ProductClicked => "product-clicked",
        EventKind::CouponClaimed => "coupon-claimed",
        EventKind::Purchase => "purchase",
        EventKind::StreamStarted => "stream-started",
        EventKind::StreamStopped => "stream-stopped",
        EventKind::TimerFired => "timer-fired",
        EventKind::AiReply => "ai-reply",
        EventKind::ConfigChanged => "config-changed",
    }
}

/// The contract's name of an action, for logs and errors.
pub fn action_name(action: &Action) -> &'static str {
    match action {
        Action::PushProduct(_) => "push-product",
        Action::UnlockCoupon(_) => "unlock-coupon",
        Action::IssueCoupon(_) => "issue-coupon",
        Action::SystemMessage(_) => "system-message",
        Action::Reply(_) => "reply",
        Action::PinComment(_) => "pin-comment",
        Action::HideComment(_) => "hide-comment",
        Action::StartFlashSale(_) => "start-flash-sale",
        Action::SetTimer(_) => "set-timer",
        Action::CancelTimer(_) => "cancel-timer",
        Action::AskAi(_) => "ask-ai",
        Action::Metric(_) => "metric",
    }
}
