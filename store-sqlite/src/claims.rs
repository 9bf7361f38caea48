//! The claim hot path: the checks and writes of one claim inside a caller's transaction,
//! so that a batch of concurrent claims is decided in order and committed once (group
//! commit: the host's `CommitQueue`), and a single claim is a batch of one.

use crate::SqliteStore;
use crate::coupons::{COUPON_COLS, claim_row, coupon_row};
use livecart_store::util::{effective_key, random_id, to_i64};
use livecart_store::{Claim, ClaimError, ClaimRequest};
use rusqlite::{OptionalExtension, params};

impl SqliteStore {
    /// Decide every claim of `batch` in order in one transaction, committed once.
    pub(super) fn claim_batch(&self, batch: &[ClaimRequest]) -> Vec<Result<Claim, ClaimError>> {
        self.in_one_commit(batch, claim_in)
    }
}

/// One claim inside the batch's transaction. Checks, in order: key (replay or
/// [`ClaimError::KeyReused`]), coupon exists, is offered here and is not deleted, unlocked,
/// validity window, per-user limit, quota. The two writes (counter, claim row) happen in a
/// savepoint, so a claim that fails half-way leaves nothing behind and the batch goes on.
fn claim_in(tx: &mut rusqlite::Transaction<'_>, req: &ClaimRequest) -> Result<Claim, ClaimError> {
    let key = effective_key(&req.idempotency_key)?;
    let coupon_id = req.coupon_id.as_str();
    let user_id = req.user_id.as_str();

    // Statements are prepared once per connection and reused: preparing them was more than
    // half of a claim's cost.
    let earlier = tx
        .prepare_cached(
            "SELECT claim_id, coupon_id, user_id, claimed_ms FROM claims WHERE idem_key = ?1",
        )?
        .query_row([&key], claim_row)
        .optional()?;
    if let Some(claim) = earlier {
        if claim.coupon_id == coupon_id && claim.user_id == user_id {
            return Ok(Claim {
                replayed: true,
                ..claim
            });
        }
        return Err(ClaimError::KeyReused(key));
    }

    let coupon = tx
        .prepare_cached(&format!(
            "SELECT {COUPON_COLS} FROM coupons WHERE id = ?1 AND deleted = 0"
        ))?
        .query_row([coupon_id], coupon_row)
        .optional()?
        .filter(|c| {
            req.offered_in.as_ref().is_none_or(|o| {
                c.merchant_id == o.merchant_id && c.room_id.as_ref().is_none_or(|r| *r == o.room_id)
            })
        })
        .ok_or_else(|| ClaimError::UnknownCoupon(coupon_id.to_owned()))?;
    if !coupon.unlocked && !req.issued {
        return Err(ClaimError::Locked(coupon.id));
    }
    if coupon.signed_in_only && req.guest {
        return Err(ClaimError::SignInRequired(coupon.id));
    }
    if req.now_ms < coupon.valid_from_ms {
        return Err(ClaimError::NotYetValid(coupon.id));
    }
    if coupon.valid_until_ms != 0 && req.now_ms >= coupon.valid_until_ms {
        return Err(ClaimError::Expired(coupon.id));
    }
    let mine: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM claims WHERE coupon_id = ?1 AND user_id = ?2")?
        .query_row([coupon_id, user_id], |r| r.get(0))?;
    if mine >= i64::from(coupon.per_user_limit) {
        return Err(ClaimError::PerUserLimit {
            coupon_id: coupon.id,
            user_id: user_id.to_owned(),
            limit: coupon.per_user_limit,
        });
    }

    let claim_id = format!("cl_{}", random_id(8)?);
    let sp = tx.savepoint()?;
    // The guard in the WHERE clause is what stops an oversell: it holds even if the checks
    // above are ever reordered.
    let bumped = sp
        .prepare_cached(
            "UPDATE coupons SET claimed = claimed + 1 WHERE id = ?1 AND claimed < quota",
        )?
        .execute([coupon_id])?;
    if bumped == 0 {
        return Err(ClaimError::SoldOut(coupon.id));
    }
    sp.prepare_cached(
        "INSERT INTO claims (claim_id, coupon_id, user_id, idem_key, claimed_ms, push_id,
             variant)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        claim_id,
        coupon_id,
        user_id,
        key,
        to_i64(req.now_ms),
        req.push_id,
        req.variant
    ])?;
    sp.commit()?;
    Ok(Claim {
        claim_id,
        coupon_id: coupon_id.to_owned(),
        user_id: user_id.to_owned(),
        claimed_ms: req.now_ms,
        replayed: false,
    })
}
