//! The only place the host runs `bindgen!` over the plugin contract (`plugin-sdk/wit/`).
//! Everything else imports the generated types from here.
//!
//! Two contract versions run side by side. 0.2.0 reuses every 0.1.0 interface but `guest`
//! (whose manifest has the new `random` capability), so both share one set of event,
//! action and host-call types; [`Guest`] hides which version a component exports, and
//! [`Manifest`] is always 0.2.0's (a 0.1.0 manifest converts losslessly).

#[allow(clippy::all)]
mod v1 {
    wasmtime::component::bindgen!({
        world: "livecart:plugin/plugin@0.1.0",
        path: "../plugin-sdk/wit",
        // Host calls may trap: the capability gate refuses a call with a trap, not a value.
        imports: { default: trappable },
        additional_derives: [PartialEq],
    });
}

#[allow(clippy::all)]
mod v2 {
    wasmtime::component::bindgen!({
        world: "livecart:plugin/plugin@0.2.0",
        path: "../plugin-sdk/wit",
        imports: { default: trappable },
        additional_derives: [PartialEq],
        with: {
            "livecart:plugin/types@0.1.0": super::v1::livecart::plugin0_1_0::types,
            "livecart:plugin/log@0.1.0": super::v1::livecart::plugin0_1_0::log,
            "livecart:plugin/config@0.1.0": super::v1::livecart::plugin0_1_0::config,
            "livecart:plugin/kv@0.1.0": super::v1::livecart::plugin0_1_0::kv,
            "livecart:plugin/room@0.1.0": super::v1::livecart::plugin0_1_0::room,
            "livecart:plugin/catalog@0.1.0": super::v1::livecart::plugin0_1_0::catalog,
        },
    });
}

pub use self::v1::livecart::plugin0_1_0::types::{
    Action, AiReply, AskAi, Comment, CouponClaimed, Event, EventBody, EventKind, FaqEntry,
    FlashSale, Gift, IssueCoupon, KvError, Likes, LogLevel, Metric, Presence, Product,
    ProductClicked, ProductPushed, Purchase, PushProduct, Reply, RoomSnapshot, SetTimer,
};
pub use self::v1::livecart::plugin0_1_0::{catalog, config, kv, log, room, types};
pub use self::v2::livecart::plugin0_2_0::random;
pub use self::v2::livecart::plugin0_2_0::types::{Capability, Manifest};

/// The newest contract version this host implements.
pub const CONTRACT: &str = "livecart:plugin@0.2.0";
/// The interface a plugin exports, newest first; exports of other versions are refused.
pub const GUEST_EXPORTS: [&str; 2] = ["livecart:plugin/guest@0.2.0", "livecart:plugin/guest@0.1.0"];
/// The newest guest export, as errors name it.
pub const GUEST_EXPORT: &str = GUEST_EXPORTS[0];
/// The released 0.1.0 guest export, still run.
pub const GUEST_V1: &str = GUEST_EXPORTS[1];

/// Add every contract interface of every version to `linker`.
pub fn add_to_linker<T>(
    linker: &mut wasmtime::component::Linker<T>,
    host: fn(&mut T) -> &mut T,
) -> wasmtime::Result<()>
where
    T: 'static
        + types::Host
        + log::Host
        + config::Host
        + kv::Host
        + room::Host
        + catalog::Host
        + random::Host,
{
    use wasmtime::component::HasSelf;
    v1::Plugin::add_to_linker::<T, HasSelf<T>>(linker, host)?;
    random::add_to_linker::<T, HasSelf<T>>(linker, host)
}

/// A component linked and ready to instantiate, whichever version it exports.
pub enum GuestPre<T: 'static> {
    V1(v1::PluginPre<T>),
    V2(v2::PluginPre<T>),
}

impl<T: 'static> Clone for GuestPre<T> {
    fn clone(&self) -> Self {
        match self {
            GuestPre::V1(p) => GuestPre::V1(p.clone()),
            GuestPre::V2(p) => GuestPre::V2(p.clone()),
        }
    }
}

impl<T: 'static> GuestPre<T> {
    /// Wrap a linked component that exports `export` (one of [`GUEST_EXPORTS`]).
    pub fn new(export: &str, pre: wasmtime::component::InstancePre<T>) -> wasmtime::Result<Self> {
        if export == GUEST_V1 {
            Ok(GuestPre::V1(v1::PluginPre::new(pre)?))
        } else {
            Ok(GuestPre::V2(v2::PluginPre::new(pre)?))
        }
    }

    pub fn instantiate(
        &self,
        store: impl wasmtime::AsContextMut<Data = T>,
    ) -> wasmtime::Result<Guest> {
        Ok(match self {
            GuestPre::V1(p) => Guest::V1(p.instantiate(store)?),
            GuestPre::V2(p) => Guest::V2(p.instantiate(store)?),
        })
    }
}

/// An instance of a plugin, whichever version it exports.
pub enum Guest {
    V1(v1::Plugin),
    V2(v2::Plugin),
}

impl Guest {
    /// `guest.describe`, as a 0.2.0 manifest.
    pub fn describe(&self, store: impl wasmtime::AsContextMut) -> wasmtime::Result<Manifest> {
        Ok(match self {
            Guest::V1(p) => upgrade(p.livecart_plugin0_1_0_guest().call_describe(store)?),
            Guest::V2(p) => p.livecart_plugin0_2_0_guest().call_describe(store)?,
        })
    }

    /// `guest.handle`.
    pub fn handle(
        &self,
        store: impl wasmtime::AsContextMut,
        events: &[Event],
    ) -> wasmtime::Result<Result<Vec<Action>, String>> {
        match self {
            Guest::V1(p) => p.livecart_plugin0_1_0_guest().call_handle(store, events),
            Guest::V2(p) => p.livecart_plugin0_2_0_guest().call_handle(store, events),
        }
    }
}

/// A 0.1.0 manifest in 0.2.0 terms (every 0.1.0 capability exists in 0.2.0).
fn upgrade(m: v1::livecart::plugin0_1_0::types::Manifest) -> Manifest {
    use v1::livecart::plugin0_1_0::types::Capability as C1;
    let capabilities = m
        .capabilities
        .into_iter()
        .map(|c| match c {
            C1::Kv => Capability::Kv,
            C1::RoomRead => Capability::RoomRead,
            C1::CatalogRead => Capability::CatalogRead,
            C1::ProductPush => Capability::ProductPush,
            C1::Coupons => Capability::Coupons,
            C1::Messages => Capability::Messages,
            C1::Moderation => Capability::Moderation,
            C1::FlashSales => Capability::FlashSales,
            C1::Timers => Capability::Timers,
            C1::Ai => Capability::Ai,
            C1::Metrics => Capability::Metrics,
        })
        .collect();
    Manifest {
        name: m.name,
        version: m.version,
        description: m.description,
        capabilities,
        events: m.events,
        example_config: None,
    }
}

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
        Capability::Random => "random",
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
