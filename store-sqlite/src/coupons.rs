//! [`CouponStore`] on SQLite: coupons and their claims. A claim batch runs in one
//! `BEGIN IMMEDIATE` transaction (`claims.rs`), so `claimed` always equals the number of
//! claim rows and never exceeds `quota`, whatever the concurrency, processes included.

use crate::{SqliteStore, is_unique_violation, with_fresh_ids};
use livecart_store::util::{now_ms, random_id, to_i64, to_u32, to_u64};
use livecart_store::{Claim, ClaimError, ClaimRequest, Coupon, CouponStore, NewCoupon, StoreError};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

pub(super) const COUPON_COLS: &str =
    "id, merchant_id, room_id, title, discount_cents, quota, claimed,
    per_user_limit, valid_from_ms, valid_until_ms, unlocked, created_ms, signed_in_only,
    min_spend_cents";

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
        signed_in_only: r.get(12)?,
        min_spend_cents: to_u64(r.get(13)?),
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

impl CouponStore for SqliteStore {
    fn create_coupon(&self, merchant_id: &str, c: &NewCoupon) -> Result<Coupon, StoreError> {
        c.validate()?;
        let now = to_i64(now_ms());
        let insert = |id: String| -> Result<String, StoreError> {
            self.conn()?.execute(
                "INSERT INTO coupons (id, merchant_id, room_id, title, discount_cents, quota,
                     claimed, per_user_limit, valid_from_ms, valid_until_ms, unlocked,
                     created_ms, deleted, signed_in_only, min_spend_cents)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?13)",
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
                    now,
                    c.signed_in_only,
                    to_i64(c.min_spend_cents)
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
            None => with_fresh_ids(|| insert(format!("c_{}", random_id(5)?)))?,
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
                 per_user_limit = ?6, valid_from_ms = ?7, valid_until_ms = ?8, unlocked = ?9,
                 signed_in_only = ?10, min_spend_cents = ?11
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
                c.unlocked,
                c.signed_in_only,
                to_i64(c.min_spend_cents)
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
