//! Coupons and their claims.
//!
//! [`CouponStore::claim_coupon`] is the hot path: inside one transaction it checks the idempotency key, the coupon's state, the user's
//! earlier claims and the quota, then bumps the counter and writes the claim row, so
//! `claimed` always equals the number of claim rows and never exceeds `quota`, whatever
//! the concurrency. [`CouponStore::claim_coupons`] decides a batch in one transaction.
//!
//! Idempotency keys are unique across all claims: a retry with the same key by the same
//! user for the same coupon returns the original claim (`replayed: true`); the same key
//! with another user or coupon is [`ClaimError::KeyReused`]. An empty key means "not
//! idempotent" and gets a fresh key. For per-variant analytics a claim can be tagged with
//! the push (and A/B variant) it came from, atomically by
//! [`CouponStore::claim_coupons`] or afterwards by [`CouponStore::tag_claim`].

use crate::StoreError;
use crate::claims::ClaimRequest;
use serde::{Deserialize, Serialize};

/// A coupon as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    pub id: String,
    pub merchant_id: String,
    /// The room it is offered in; `None` for every room of the merchant.
    pub room_id: Option<String>,
    pub title: String,
    pub discount_cents: u64,
    /// The order total from which it applies (满减: "满199减20" is ¥20 off orders of ¥199
    /// or more); 0: any order.
    pub min_spend_cents: u64,
    /// How many claims in total.
    pub quota: u32,
    /// How many claims so far (equals the number of claim rows).
    pub claimed: u32,
    /// How many claims one user may make.
    pub per_user_limit: u32,
    pub valid_from_ms: u64,
    /// End of validity (exclusive); 0 means it never expires.
    pub valid_until_ms: u64,
    /// Whether it can be claimed yet (a plugin or the host unlocks it, e.g. at 10k likes).
    pub unlocked: bool,
    /// Only viewers with an identity the merchant minted (a viewer token from the
    /// merchant's own sign-in) may claim it; guests are refused with `sign_in_required`.
    pub signed_in_only: bool,
    pub created_ms: u64,
}

/// What a merchant supplies to create or update a coupon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCoupon {
    /// A readable id chosen by the merchant (e.g. `c-1k`, referenced by plugin configs);
    /// generated (`c_` and 10 hex digits) when absent.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub room_id: Option<String>,
    pub title: String,
    pub discount_cents: u64,
    /// The order total from which it applies (see [`Coupon::min_spend_cents`]); 0 (the
    /// default): any order. Must exceed `discount_cents` when set.
    #[serde(default)]
    pub min_spend_cents: u64,
    /// At least 1.
    pub quota: u32,
    /// At least 1; defaults to 1.
    #[serde(default = "one")]
    pub per_user_limit: u32,
    #[serde(default)]
    pub valid_from_ms: u64,
    /// End of validity (exclusive); 0 (the default) means it never expires.
    #[serde(default)]
    pub valid_until_ms: u64,
    /// Claimable from the start; defaults to locked.
    #[serde(default)]
    pub unlocked: bool,
    /// Only for signed-in viewers (see [`Coupon::signed_in_only`]); defaults to false.
    #[serde(default)]
    pub signed_in_only: bool,
}

fn one() -> u32 {
    1
}

impl Default for NewCoupon {
    fn default() -> Self {
        NewCoupon {
            id: None,
            room_id: None,
            title: String::new(),
            discount_cents: 0,
            min_spend_cents: 0,
            quota: 1,
            per_user_limit: 1,
            valid_from_ms: 0,
            valid_until_ms: 0,
            unlocked: false,
            signed_in_only: false,
        }
    }
}

impl NewCoupon {
    /// Reject terms no coupon may have (every engine checks them before writing).
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.quota == 0 {
            return Err(StoreError::Invalid(
                "coupon quota must be at least 1".into(),
            ));
        }
        if self.per_user_limit == 0 {
            return Err(StoreError::Invalid(
                "coupon per_user_limit must be at least 1".into(),
            ));
        }
        if self.min_spend_cents != 0 && self.min_spend_cents <= self.discount_cents {
            return Err(StoreError::Invalid(
                "coupon min_spend_cents must be more than its discount_cents (or 0 for any order)"
                    .into(),
            ));
        }
        if self.valid_until_ms != 0 && self.valid_until_ms <= self.valid_from_ms {
            return Err(StoreError::Invalid(
                "coupon valid_until_ms must be after valid_from_ms (or 0 for no end)".into(),
            ));
        }
        Ok(())
    }
}

/// One successful claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Claim {
    pub claim_id: String,
    pub coupon_id: String,
    pub user_id: String,
    pub claimed_ms: u64,
    /// True when this idempotency key had been used already: this is that claim again.
    pub replayed: bool,
}

/// Why a claim was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("unknown coupon {0}")]
    UnknownCoupon(String),
    #[error("coupon {0} is locked")]
    Locked(String),
    #[error("coupon {0} is not valid yet")]
    NotYetValid(String),
    #[error("coupon {0} has expired")]
    Expired(String),
    #[error("coupon {0} is sold out")]
    SoldOut(String),
    #[error("user {user_id} has reached the limit of {limit} claim(s) of coupon {coupon_id}")]
    PerUserLimit {
        coupon_id: String,
        user_id: String,
        limit: u32,
    },
    #[error("idempotency key {0} was already used by another user or coupon")]
    KeyReused(String),
    #[error("coupon {0} is for signed-in viewers only; sign in to claim it")]
    SignInRequired(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for ClaimError {
    fn from(e: rusqlite::Error) -> Self {
        ClaimError::Store(StoreError::Sqlite(e))
    }
}

#[cfg(feature = "postgres")]
impl From<tokio_postgres::Error> for ClaimError {
    fn from(e: tokio_postgres::Error) -> Self {
        ClaimError::Store(StoreError::Postgres(e))
    }
}

impl ClaimError {
    /// A stable machine-readable code (`sold_out`, `per_user_limit`, ...) for clients.
    pub fn code(&self) -> &'static str {
        match self {
            ClaimError::UnknownCoupon(_) => "unknown_coupon",
            ClaimError::Locked(_) => "locked",
            ClaimError::NotYetValid(_) => "not_yet_valid",
            ClaimError::Expired(_) => "expired",
            ClaimError::SoldOut(_) => "sold_out",
            ClaimError::PerUserLimit { .. } => "per_user_limit",
            ClaimError::KeyReused(_) => "key_reused",
            ClaimError::SignInRequired(_) => "sign_in_required",
            ClaimError::Store(_) => "internal",
        }
    }
}

/// Coupons and their claims.
///
/// Contract:
/// - [`claim_coupons`](Self::claim_coupons) (and so [`claim_coupon`](Self::claim_coupon))
///   is atomic and idempotent per key: whatever the
///   concurrency (threads, processes, hosts), `claimed` equals the number of claim rows and
///   never exceeds `quota` (no oversell), a user never exceeds `per_user_limit`, and a key
///   yields at most one claim (no double claim). The checks and the write happen in one
///   serializable step, in the order: key (replay or [`ClaimError::KeyReused`]), coupon
///   exists and is not deleted, unlocked, signed-in viewers only, validity window, per-user
///   limit, quota.
/// - Idempotency keys are unique across all claims; an empty key means "not idempotent".
/// - Coupon ids are unique across merchants. Deletion is soft: a deleted coupon reads as
///   `None` and cannot be claimed, its claims stay.
/// - Changes to an unknown coupon are `Ok(None)`/`Ok(false)`; bad terms are
///   [`StoreError::Invalid`] (quota or per-user limit 0, an empty validity window, a quota
///   below what is already claimed).
pub trait CouponStore {
    /// Create a coupon with nothing claimed: its id is `input.id`, or `c_` and 10 hex
    /// digits.
    fn create_coupon(&self, merchant_id: &str, input: &NewCoupon) -> Result<Coupon, StoreError>;

    /// One coupon by id (`None` once deleted).
    fn coupon(&self, id: &str) -> Result<Option<Coupon>, StoreError>;

    /// The coupons offered in a room, in creation order: those bound to it and the room
    /// merchant's coupons bound to no room.
    fn coupons_of_room(&self, room_id: &str) -> Result<Vec<Coupon>, StoreError>;

    /// All of a merchant's coupons, in creation order.
    fn coupons_of(&self, merchant_id: &str) -> Result<Vec<Coupon>, StoreError>;

    /// Replace a coupon's terms, keeping its claims, atomically with the quota check.
    /// `None` if the merchant has no such coupon; the quota cannot go below what is
    /// already claimed.
    fn update_coupon(
        &self,
        merchant_id: &str,
        id: &str,
        input: &NewCoupon,
    ) -> Result<Option<Coupon>, StoreError>;

    /// Delete one of the merchant's coupons (its claims stay for analytics). Returns
    /// whether it existed.
    fn delete_coupon(&self, merchant_id: &str, id: &str) -> Result<bool, StoreError>;

    /// Make a coupon claimable; `None` if there is no such coupon.
    fn unlock_coupon(&self, id: &str) -> Result<Option<Coupon>, StoreError>;

    /// Claim a coupon for a user, atomically and idempotently (see the trait docs): a
    /// batch of one.
    fn claim_coupon(
        &self,
        coupon_id: &str,
        user_id: &str,
        idempotency_key: &str,
        now_ms: u64,
    ) -> Result<Claim, ClaimError> {
        let request = ClaimRequest::new(coupon_id, user_id, idempotency_key, now_ms);
        self.claim_coupons(std::slice::from_ref(&request))
            .pop()
            .unwrap_or_else(|| Err(StoreError::Commit("no result".into()).into()))
    }

    /// Decide several claims as one atomic step and make them durable together (group
    /// commit, for claim storms). Each is decided in order exactly as
    /// [`claim_coupon`](Self::claim_coupon) would, seeing the claims before it in the
    /// batch; a request may also record the push and A/B variant the claim came from (for
    /// per-variant analytics; a replay keeps the original tags) and be limited to the
    /// coupons offered in one room. Results are in request order. If the step cannot be committed, every claim of the batch
    /// fails with the store error and none is kept.
    fn claim_coupons(&self, batch: &[ClaimRequest]) -> Vec<Result<Claim, ClaimError>>;

    /// Record which push (and A/B variant) a claim came from. Returns whether the claim
    /// exists.
    fn tag_claim(
        &self,
        claim_id: &str,
        push_id: &str,
        variant: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// A coupon's claims, oldest first.
    fn claims_of_coupon(&self, coupon_id: &str) -> Result<Vec<Claim>, StoreError>;
}
