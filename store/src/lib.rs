//! The store's contract: per-domain traits, their record types and errors, shared by every
//! engine. Each engine is a crate of its own (`livecart-store-sqlite`, the embedded
//! default; `livecart-store-postgres`, for several nodes), so a new engine never grows the
//! host; the host holds an `Arc<dyn Store>` and does not know which one it has.
//!
//! Each concern is one object-safe trait that documents its contract: [`MerchantStore`],
//! [`RoomStore`], [`CatalogStore`], [`BagStore`], [`CouponStore`], [`SaleStore`], [`AnalyticsStore`],
//! [`AudienceStore`], [`ImageStore`],
//! [`SyncStore`] and [`PluginStore`] (which includes the plugin [`KvBackend`]). [`Store`]
//! is all of them; `use livecart_store::prelude::*` brings the traits into scope.
//!
//! An implementation must provide every trait with the documented semantics (ids,
//! orderings, what `None`, `false` and each error mean) and the same transactional
//! guarantees: claims, flash-sale buys and purchases atomic and idempotent per key under
//! concurrency from many threads and processes, a plugin binding written with its history
//! row, an ack batch and a KV change set all or nothing, a token rotation one step, and a
//! merchant's disable or a token's revocation seen by the very next lookup on any node
//! (no cached token lookups). It brings its own schema and migrations, retries generated
//! ids that collide, and maps its driver errors into [`StoreError`] (one variant per
//! engine, behind that engine's cargo feature of this crate). The validation and id rules
//! engines share live here ([`util`], [`NewCoupon::validate`], [`NewFlashSale::validate`]).

mod analytics;
mod audience;
mod bag;
mod buys;
mod catalog;
mod claims;
mod coupons;
mod images;
mod merchants;
mod plugins;
mod products;
mod rooms;
mod sales;
mod skus;
mod sync;
pub mod util;

pub use analytics::{
    Ack, AnalyticsStore, CARD_VARIANTS, Click, MinuteRow, Push, ab_variant, analytics_csv, ratio,
    rfc3339_utc,
};
pub use audience::{AudienceMinute, AudienceStore, Live, MAX_LIVES};
pub use bag::{BagStore, MAX_BAG_PRODUCTS, check_bag};
pub use buys::BuyRequest;
pub use catalog::{Faq, Product};
pub use claims::{ClaimRequest, OfferedIn};
pub use coupons::{Claim, ClaimError, Coupon, CouponStore, NewCoupon};
pub use images::{
    ImageRecord, ImageStore, MAX_IMAGE_BYTES, MAX_IMAGES, check_image, image_id, sniff_image,
};
pub use merchants::{
    ApiToken, MAX_LABEL_CHARS, MAX_NAME_CHARS, Merchant, MerchantStore, PluginLimits, token_hash,
    valid_label, valid_name,
};
pub use plugins::{Binding, FaultRecord, KvBackend, LogRecord, PluginStore, VersionRecord};
pub use products::{CatalogStore, ProductRecord};
pub use rooms::{LatencyMode, Room, RoomStatus, RoomStore, new_stream_key};
pub use sales::{BuyError, FlashSale, NewFlashSale, Order, SaleStore};
pub use skus::{MAX_SKUS, NewSaleSku, SaleSku, Sku, Taken, check_skus, sale_skus};
pub use sync::{SyncSample, SyncStore, SyncSummary};
pub use util::{now_ms, random_hex};

/// The store traits, for code that calls them on a concrete store (on `dyn Store` they are
/// always callable).
pub mod prelude {
    pub use super::{
        AnalyticsStore, AudienceStore, BagStore, CatalogStore, CouponStore, ImageStore, KvBackend,
        MerchantStore, PluginStore, RoomStore, SaleStore, Store, SyncStore,
    };
}

/// Everything the host persists: one value implementing every domain trait. Implemented
/// for any such type; hold it as `Arc<dyn Store>`.
pub trait Store:
    MerchantStore
    + RoomStore
    + CatalogStore
    + BagStore
    + CouponStore
    + SaleStore
    + AnalyticsStore
    + AudienceStore
    + ImageStore
    + SyncStore
    + PluginStore
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: MerchantStore
        + RoomStore
        + CatalogStore
        + BagStore
        + CouponStore
        + SaleStore
        + AnalyticsStore
        + AudienceStore
        + ImageStore
        + SyncStore
        + PluginStore
        + Send
        + Sync
        + ?Sized
{
}

/// Why a store operation failed. `NotFound`, `Invalid` and `Conflict` are the caller's
/// fault (the API answers 404, 422 and 409); the others are the backend's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[cfg(feature = "sqlite")]
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[cfg(feature = "postgres")]
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("store lock poisoned")]
    Poisoned,
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The request contradicts the current state (disabling a disabled merchant, revoking a
    /// revoked token); the message says which. The API answers 409.
    #[error("{0}")]
    Conflict(String),
    #[error("random source: {0}")]
    Random(std::io::Error),
    /// A write that could not be committed, reported to each request it carried.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The store's background writer is gone (shutting down, or its thread could not start),
    /// or its database cannot be reached.
    #[error("store writer unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// The store could not be reached or used right now (not a refusal of the request):
    /// callers answer "try again" (HTTP 503), never "internal error".
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            #[cfg(feature = "postgres")]
            StoreError::Postgres(e) => e.is_closed() || e.as_db_error().is_none(),
            _ => false,
        }
    }
}
