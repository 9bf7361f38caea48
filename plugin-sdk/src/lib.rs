//! `livecart-sdk` — write livecart room plugins in Rust.
//!
//! A plugin is a type that implements [`Plugin`] and is registered with [`export_plugin!`].
//! The host calls it with batches of room events; each handler you override reacts to one
//! kind of event by queueing declarative actions on the [`Context`]. Handlers you do not
//! override do nothing. The smallest plugin:
//!
//! ```ignore
//! use livecart_sdk::prelude::*;
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn manifest() -> Manifest {
//!         Manifest::new("hello", "0.1.0")
//!             .capability(Capability::Messages)
//!             .on(&[EventKind::ViewerJoined])
//!     }
//!     fn on_viewer_joined(&mut self, cx: &mut Context, p: &Presence) -> Result {
//!         cx.system_message(format!("Welcome, {}!", p.user_name));
//!         Ok(())
//!     }
//! }
//! export_plugin!(Hello);
//! ```
//!
//! Build it with `livecart plugin build <crate-dir>` (`cargo build --target
//! wasm32-unknown-unknown`, then wrapped into a component; see docs/plugins.md). A
//! `cargo build --target wasm32-wasip2` build is a component as it is, about twice the size. The instance is only a cache: the host may drop it at any time, so
//! anything that must survive belongs in [`kv`].

#![allow(unsafe_code)] // The generated export glue is `unsafe extern "C"`; the SDK adds none.

mod context;
mod manifest;
mod runtime;

pub mod catalog;
pub mod config;
pub mod kv;
pub mod log;
pub mod random;
pub mod room;

/// Bindings generated from the contract in `wit/` (0.2.0, which uses 0.1.0's types). Prefer the re-exports at the
/// crate root; this module is public so the export glue can name it.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_guest",
        default_bindings_module: "livecart_sdk::bindings",
        // The 0.1.0 interfaces 0.2.0 uses are generated here too.
        generate_all,
    });
}

pub use bindings::livecart::plugin0_1_0::types::{
    Action, AiReply, AskAi, Comment, CouponClaimed, Event, EventBody, EventKind, FaqEntry,
    FlashSale, Gift, IssueCoupon, KvError, Likes, LogLevel, Metric, Presence, Product,
    ProductClicked, ProductPushed, Purchase, PushProduct, Reply, RoomSnapshot, SetTimer,
};
pub use bindings::livecart::plugin0_2_0::types::{Capability, Manifest};
pub use config::Config;
pub use context::Context;

#[doc(hidden)]
pub use runtime::handle as __handle;

/// An error a handler returns. The host counts it as a fault of that batch and discards the
/// batch's actions, so return one only when the plugin cannot do its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_owned())
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error(format!("json: {e}"))
    }
}

impl From<KvError> for Error {
    fn from(e: KvError) -> Self {
        match e {
            KvError::QuotaExceeded(m) => Error(format!("kv quota exceeded: {m}")),
        }
    }
}

/// The result type of handlers.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// A room plugin. Override the handlers for the event kinds your manifest subscribes to.
///
/// The host creates the value with `Default`, calls [`Plugin::configure`] once with the
/// merchant's config, then calls handlers in event order. The value lives as long as the
/// host keeps the instance warm — treat it as a cache, never as the only copy of state.
#[allow(unused_variables)]
pub trait Plugin: Default + 'static {
    /// Name, version, capabilities and event subscriptions. Must be constant.
    fn manifest() -> Manifest;

    /// Read the merchant's config. Called before the first event and again after a
    /// `config-changed` event. An error here is a fault of the batch.
    fn configure(&mut self, config: &Config) -> Result {
        Ok(())
    }

    /// A viewer joined the room.
    fn on_viewer_joined(&mut self, cx: &mut Context, presence: &Presence) -> Result {
        Ok(())
    }
    /// A viewer left the room.
    fn on_viewer_left(&mut self, cx: &mut Context, presence: &Presence) -> Result {
        Ok(())
    }
    /// A chat comment was posted.
    fn on_comment(&mut self, cx: &mut Context, comment: &Comment) -> Result {
        Ok(())
    }
    /// Likes were aggregated (delta and new total).
    fn on_likes(&mut self, cx: &mut Context, likes: &Likes) -> Result {
        Ok(())
    }
    /// A gift was sent.
    fn on_gift(&mut self, cx: &mut Context, gift: &Gift) -> Result {
        Ok(())
    }
    /// A product card was pushed to the room.
    fn on_product_pushed(&mut self, cx: &mut Context, push: &ProductPushed) -> Result {
        Ok(())
    }
    /// A viewer clicked a product card.
    fn on_product_clicked(&mut self, cx: &mut Context, click: &ProductClicked) -> Result {
        Ok(())
    }
    /// A viewer claimed a coupon.
    fn on_coupon_claimed(&mut self, cx: &mut Context, claim: &CouponClaimed) -> Result {
        Ok(())
    }
    /// A purchase completed.
    fn on_purchase(&mut self, cx: &mut Context, purchase: &Purchase) -> Result {
        Ok(())
    }
    /// The room went live.
    fn on_stream_started(&mut self, cx: &mut Context) -> Result {
        Ok(())
    }
    /// The room's stream ended.
    fn on_stream_stopped(&mut self, cx: &mut Context) -> Result {
        Ok(())
    }
    /// A timer set with [`Context::set_timer`] fired.
    fn on_timer(&mut self, cx: &mut Context, name: &str) -> Result {
        Ok(())
    }
    /// The AI host answered an [`Context::ask_ai`] request.
    fn on_ai_reply(&mut self, cx: &mut Context, reply: &AiReply) -> Result {
        Ok(())
    }
    /// The merchant changed the config; [`Plugin::configure`] has already run.
    fn on_config_changed(&mut self, cx: &mut Context) -> Result {
        Ok(())
    }
}

/// Register a [`Plugin`] type as the component's export. Use it once, at the crate root.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __LivecartGuest;

        ::std::thread_local! {
            static __LIVECART_STATE: ::core::cell::RefCell<::core::option::Option<$plugin>> =
                const { ::core::cell::RefCell::new(::core::option::Option::None) };
        }

        impl $crate::bindings::exports::livecart::plugin0_2_0::guest::Guest for __LivecartGuest {
            fn describe() -> $crate::Manifest {
                <$plugin as $crate::Plugin>::manifest()
            }
            fn handle(
                events: ::std::vec::Vec<$crate::Event>,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::Action>, ::std::string::String> {
                __LIVECART_STATE.with(|slot| $crate::__handle::<$plugin>(&mut slot.borrow_mut(), events))
            }
        }

        // Only wasm builds export: native builds (unit tests of plugin logic) would hand the
        // linker symbol names containing `:`, which it refuses.
        #[cfg(target_family = "wasm")]
        $crate::bindings::__export_guest!(__LivecartGuest with_types_in $crate::bindings);
    };
}

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::{
        AiReply, Capability, Comment, Config, Context, CouponClaimed, Event, EventKind, Gift,
        Likes, Manifest, Plugin, Presence, ProductClicked, ProductPushed, Purchase, Result,
        export_plugin, kv,
    };
}
