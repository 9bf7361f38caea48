//! Commerce rows of live rooms: merchants and their API tokens, rooms and stream keys,
//! products, coupons with claims, flash sales and orders.
//!
//! Each concept has its own submodule with its types and store trait ([`MerchantStore`],
//! [`RoomStore`], [`CatalogStore`], [`CouponStore`], [`SaleStore`]) and the SQLite
//! implementation. The operations that hand out something scarce —
//! [`CouponStore::claim_coupon`], [`SaleStore::buy_flash_sale`] and
//! [`SaleStore::record_purchase`] — are atomic and idempotent by a caller-chosen key, so a
//! retried request never counts twice and concurrent requests (threads, or several
//! processes sharing the database) never oversell; SQLite runs each in one
//! `BEGIN IMMEDIATE` transaction.
//!
//! Merchant ids are not foreign keys: the built-in demo room belongs to a merchant id that
//! has no merchant row. Ids are random hex from the operating system's CSPRNG.

mod buys;
mod claims;
mod coupons;
mod merchants;
mod products;
mod rooms;
mod sales;

pub use buys::BuyRequest;
pub use claims::{ClaimRequest, OfferedIn};
pub use coupons::{Claim, ClaimError, Coupon, CouponStore, NewCoupon};
pub use merchants::{ApiToken, Merchant, MerchantStore};
pub use products::{CatalogStore, ProductRecord, StoreCatalog};
pub use rooms::{Room, RoomStatus, RoomStore};
pub use sales::{BuyError, FlashSale, NewFlashSale, Order, SaleStore};

use super::StoreError;

/// `bytes` random bytes, hex-encoded (see `crate::random`).
pub(super) fn random_hex(bytes: usize) -> Result<String, StoreError> {
    crate::random::random_hex(bytes).map_err(StoreError::Random)
}

/// A `u64` as SQLite stores it; values beyond `i64::MAX` saturate.
pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored integer back as `u64`; negative values (never written) read as zero.
pub(super) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A stored integer back as `u32`, saturating.
pub(super) fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// Whether an insert failed because a generated id (or other unique value) already exists.
pub(super) fn is_unique_violation(e: &StoreError) -> bool {
    match e {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
            f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        }
        _ => false,
    }
}

/// Run an insert that draws fresh random ids on each attempt until none of them collides
/// with an existing row (a handful of attempts; a collision is already unlikely).
fn with_fresh_ids<T>(mut attempt: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    for _ in 0..3 {
        match attempt() {
            Err(e) if is_unique_violation(&e) => continue,
            other => return other,
        }
    }
    attempt()
}

/// An idempotency key to use: the caller's, or a fresh one (no idempotency) when empty.
fn effective_key(key: &str) -> Result<String, StoreError> {
    if key.is_empty() {
        Ok(format!("auto_{}", random_hex(16)?))
    } else {
        Ok(key.to_owned())
    }
}

impl crate::store::SqliteStore {
    /// Decide every request of `batch` in order inside one `BEGIN IMMEDIATE` transaction and
    /// commit it once (group commit for claims and buys). If the transaction cannot start or
    /// commit, every request fails with the same store error and none is kept.
    fn in_one_commit<R, T, E: From<StoreError>>(
        &self,
        batch: &[R],
        decide: impl Fn(&mut rusqlite::Transaction<'_>, &R) -> Result<T, E>,
    ) -> Vec<Result<T, E>> {
        let attempt = || -> Result<Vec<Result<T, E>>, StoreError> {
            let mut conn = self.conn()?;
            let mut tx =
                conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let results = batch
                .iter()
                .map(|request| decide(&mut tx, request))
                .collect();
            tx.commit()?;
            Ok(results)
        };
        match attempt() {
            Ok(results) => results,
            Err(e) => {
                let reason = e.to_string();
                batch
                    .iter()
                    .map(|_| Err(StoreError::Commit(reason.clone()).into()))
                    .collect()
            }
        }
    }
}
