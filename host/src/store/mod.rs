//! Durable state behind per-domain store traits; embedded SQLite (WAL mode, versioned
//! migrations) by default.
//!
//! Each concern is one object-safe trait that documents its contract: [`MerchantStore`],
//! [`RoomStore`], [`CatalogStore`], [`CouponStore`], [`SaleStore`], [`AnalyticsStore`],
//! [`SyncStore`] and [`PluginStore`] (which includes the plugin [`KvBackend`]). [`Store`]
//! is all of them; the rest of the host holds an `Arc<dyn Store>`. Each file defines its
//! domain's types and trait and implements the trait for [`SqliteStore`];
//! `use crate::store::prelude::*` brings the traits into scope.
//!
//! A Postgres implementation must provide every trait with the documented semantics (ids,
//! orderings, what `None`, `false` and each error mean) and the same transactional
//! guarantees: claims, flash-sale buys and purchases atomic and idempotent per key under
//! concurrency from many threads and processes, a plugin binding written with its history
//! row, an ack batch and a KV change set all or nothing, a token rotation one step, and a
//! merchant's disable or a token's revocation seen by the very next lookup on any node
//! (no cached token lookups). It brings its own schema and migrations, retries generated
//! ids that collide, and maps its driver errors into [`StoreError`] (which needs a variant
//! for them). SQLite-specific, and kept inside
//! [`SqliteStore`]: WAL, `synchronous=NORMAL`, `user_version` as the schema version, one
//! connection behind a mutex (every call serialized in-process) with `BEGIN IMMEDIATE` for
//! writers in other processes, and the SQL dialect.
//!
//! [`KvBackend`]: crate::plugin::kv::KvBackend

mod analytics;
mod commerce;
mod commit_queue;
mod plugins;
mod sqlite;
mod sync;

pub use analytics::{
    Ack, AnalyticsStore, CARD_VARIANTS, Click, MinuteRow, Push, ab_variant, analytics_csv,
    rfc3339_utc,
};
pub use commerce::{
    ApiToken, BuyError, BuyRequest, CatalogStore, Claim, ClaimError, ClaimRequest, Coupon,
    CouponStore, FlashSale, Merchant, MerchantStore, NewCoupon, NewFlashSale, OfferedIn, Order,
    ProductRecord, Room, RoomStatus, RoomStore, SaleStore, StoreCatalog,
};
pub use commit_queue::CommitQueue;
pub use plugins::{Binding, FaultRecord, PluginStore, VersionRecord};
pub use sqlite::SqliteStore;
pub use sync::{SyncSample, SyncStore, SyncSummary};

/// The store traits, for code that calls them on a concrete store (on `dyn Store` they are
/// always callable).
pub mod prelude {
    pub use super::{
        AnalyticsStore, CatalogStore, CouponStore, MerchantStore, PluginStore, RoomStore,
        SaleStore, Store, SyncStore,
    };
    pub use crate::plugin::kv::KvBackend;
}

/// Everything the host persists: one value implementing every domain trait. Implemented
/// for any such type; hold it as `Arc<dyn Store>`.
pub trait Store:
    MerchantStore
    + RoomStore
    + CatalogStore
    + CouponStore
    + SaleStore
    + AnalyticsStore
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
        + CouponStore
        + SaleStore
        + AnalyticsStore
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
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    /// The store's background writer is gone (shutting down, or its thread could not start).
    #[error("store writer unavailable: {0}")]
    Unavailable(String),
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
