//! Coupons and their claims.
//!
//! [`CouponStore::claim_coupon`] is the hot path (in `claims.rs`): inside a `BEGIN
//! IMMEDIATE` transaction it checks the idempotency key, the coupon's state, the user's
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

use super::claims::ClaimRequest;
use super::{is_unique_violation, random_hex, to_i64, to_u32, to_u64, with_fresh_ids};
use crate::store::{SqliteStore, StoreError, now_ms};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
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
            quota: 1,
            per_user_limit: 1,
            valid_from_ms: 0,
            valid_until_ms: 0,
            unlocked: false,
        }
    }
}

impl NewCoupon {
    fn validate(&self) -> Result<(), StoreError> {
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
    #[error("store: {0}")]
    Store(#[from] StoreError),
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
            ClaimError::Store(_) => "internal",
        }
    }
}

impl From<rusqlite::Error> for ClaimError {
    fn from(e: rusqlite::Error) -> Self {
        ClaimError::Store(StoreError::Sqlite(e))
    }
}

pub(super) const COUPON_COLS: &str =
    "id, merchant_id, room_id, title, discount_cents, quota, claimed,
    per_user_limit, valid_from_ms, valid_until_ms, unlocked, created_ms";

pub(super) fn coupon_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Coupon> {
    Ok(Coupon {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        room_id: r.get(2)?,
        title: r.get(3)?,
        discount_cents: to_u64(r.get(4)?),
        quota: to_u32(r.get(5)?),
        claimed: to_u32(r.get(6)?),
        per_user_limit: to_u32(r.get(7)?),
        valid_from_ms: to_u64(r.get(8)?),
        valid_until_ms: to_u64(r.get(9)?),
        unlocked: r.get(10)?,
        created_ms: to_u64(r.get(11)?),
    })
}

pub(super) fn claim_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Claim> {
    Ok(Claim {
        claim_id: r.get(0)?,
        coupon_id: r.get(1)?,
        user_id: r.get(2)?,
        claimed_ms: to_u64(r.get(3)?),
        replayed: false,
    })
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
///   exists and is not deleted, unlocked, validity window, per-user limit, quota.
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

impl CouponStore for SqliteStore {
    fn create_coupon(&self, merchant_id: &str, c: &NewCoupon) -> Result<Coupon, StoreError> {
        c.validate()?;
        let now = to_i64(now_ms());
        let insert = |id: String| -> Result<String, StoreError> {
            self.conn()?.execute(
                "INSERT INTO coupons (id, merchant_id, room_id, title, discount_cents, quota,
                     claimed, per_user_limit, valid_from_ms, valid_until_ms, unlocked,
                     created_ms, deleted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, ?10, ?11, 0)",
                params![
                    id,
                    merchant_id,
                    c.room_id,
                    c.title,
                    to_i64(c.discount_cents),
                    i64::from(c.quota),
                    i64::from(c.per_user_limit),
                    to_i64(c.valid_from_ms),
                    to_i64(c.valid_until_ms),
                    c.unlocked,
                    now
                ],
            )?;
            Ok(id)
        };
        // Only generated ids are drawn again on a collision; a chosen one stays taken.
        let id = match &c.id {
            Some(id) => insert(id.clone()).map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Invalid(format!("coupon id {id} is taken"))
                } else {
                    e
                }
            })?,
            None => with_fresh_ids(|| insert(format!("c_{}", random_hex(5)?)))?,
        };
        self.coupon(&id)?
            .ok_or_else(|| StoreError::NotFound(format!("coupon {id}")))
    }

    fn coupon(&self, id: &str) -> Result<Option<Coupon>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                &format!("SELECT {COUPON_COLS} FROM coupons WHERE id = ?1 AND deleted = 0"),
                [id],
                coupon_row,
            )
            .optional()?)
    }

    fn coupons_of_room(&self, room_id: &str) -> Result<Vec<Coupon>, StoreError> {
        self.coupon_list(
            "(room_id = ?1 OR (room_id IS NULL
                 AND merchant_id = (SELECT merchant_id FROM rooms WHERE id = ?1)))",
            room_id,
        )
    }

    fn coupons_of(&self, merchant_id: &str) -> Result<Vec<Coupon>, StoreError> {
        self.coupon_list("merchant_id = ?1", merchant_id)
    }

    fn update_coupon(
        &self,
        merchant_id: &str,
        id: &str,
        c: &NewCoupon,
    ) -> Result<Option<Coupon>, StoreError> {
        c.validate()?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed: Option<i64> = tx
            .query_row(
                "SELECT claimed FROM coupons WHERE id = ?1 AND merchant_id = ?2 AND deleted = 0",
                [id, merchant_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(claimed) = claimed else {
            return Ok(None);
        };
        if i64::from(c.quota) < claimed {
            return Err(StoreError::Invalid(format!(
                "coupon quota {} is below the {claimed} already claimed",
                c.quota
            )));
        }
        tx.execute(
            "UPDATE coupons SET room_id = ?2, title = ?3, discount_cents = ?4, quota = ?5,
                 per_user_limit = ?6, valid_from_ms = ?7, valid_until_ms = ?8, unlocked = ?9
             WHERE id = ?1",
            params![
                id,
                c.room_id,
                c.title,
                to_i64(c.discount_cents),
                i64::from(c.quota),
                i64::from(c.per_user_limit),
                to_i64(c.valid_from_ms),
                to_i64(c.valid_until_ms),
                c.unlocked
            ],
        )?;
        tx.commit()?;
        drop(conn);
        self.coupon(id)
    }

    fn delete_coupon(&self, merchant_id: &str, id: &str) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "UPDATE coupons SET deleted = 1 WHERE id = ?1 AND merchant_id = ?2 AND deleted = 0",
            [id, merchant_id],
        )?;
        Ok(n == 1)
    }

    fn unlock_coupon(&self, id: &str) -> Result<Option<Coupon>, StoreError> {
        let n = self.conn()?.execute(
            "UPDATE coupons SET unlocked = 1 WHERE id = ?1 AND deleted = 0",
            [id],
        )?;
        if n == 0 {
            return Ok(None);
        }
        self.coupon(id)
    }

    fn claim_coupons(&self, batch: &[ClaimRequest]) -> Vec<Result<Claim, ClaimError>> {
        self.claim_batch(batch)
    }

    fn tag_claim(
        &self,
        claim_id: &str,
        push_id: &str,
        variant: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "UPDATE claims SET push_id = ?2, variant = ?3 WHERE claim_id = ?1",
            params![claim_id, push_id, variant],
        )?;
        Ok(n == 1)
    }

    fn claims_of_coupon(&self, coupon_id: &str) -> Result<Vec<Claim>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT claim_id, coupon_id, user_id, claimed_ms FROM claims
             WHERE coupon_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([coupon_id], claim_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl SqliteStore {
    fn coupon_list(&self, filter: &str, value: &str) -> Result<Vec<Coupon>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {COUPON_COLS} FROM coupons WHERE {filter} AND deleted = 0 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([value], coupon_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
