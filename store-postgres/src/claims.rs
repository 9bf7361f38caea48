//! [`CouponStore`] on PostgreSQL: coupons and their claims.
//!
//! A claim batch is one transaction of a few statements, whatever its size
//! (`claim_batch.rs`).

use crate::{PostgresStore, fresh_ids, is_unique_violation, u32_at, u64_at};

use livecart_store::util::{now_ms, random_id, to_i64};
use livecart_store::{Claim, ClaimError, ClaimRequest, Coupon, CouponStore, NewCoupon, StoreError};
use tokio_postgres::{GenericClient, Row};

pub(crate) const COUPON_COLS: &str =
    "id, merchant_id, room_id, title, discount_cents, quota, claimed,
    per_user_limit, valid_from_ms, valid_until_ms, unlocked, created_ms, signed_in_only,
    min_spend_cents";

pub(crate) fn coupon_row(r: &Row) -> Result<Coupon, tokio_postgres::Error> {
    Ok(Coupon {
        id: r.try_get(0)?,
        merchant_id: r.try_get(1)?,
        room_id: r.try_get(2)?,
        title: r.try_get(3)?,
        discount_cents: u64_at(r, 4)?,
        quota: u32_at(r, 5)?,
        claimed: u32_at(r, 6)?,
        per_user_limit: u32_at(r, 7)?,
        valid_from_ms: u64_at(r, 8)?,
        valid_until_ms: u64_at(r, 9)?,
        unlocked: r.try_get(10)?,
        created_ms: u64_at(r, 11)?,
        signed_in_only: r.try_get(12)?,
        min_spend_cents: u64_at(r, 13)?,
    })
}

fn claim_row(r: &Row) -> Result<Claim, tokio_postgres::Error> {
    Ok(Claim {
        claim_id: r.try_get(0)?,
        coupon_id: r.try_get(1)?,
        user_id: r.try_get(2)?,
        claimed_ms: u64_at(r, 3)?,
        replayed: false,
    })
}

async fn coupon_in(db: &impl GenericClient, id: &str) -> Result<Option<Coupon>, StoreError> {
    let row = db
        .query_opt(
            &format!("SELECT {COUPON_COLS} FROM coupons WHERE id = $1 AND NOT deleted"),
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(coupon_row).transpose()?)
}

async fn coupon_list(
    db: &impl GenericClient,
    filter: &str,
    value: &str,
) -> Result<Vec<Coupon>, StoreError> {
    let rows = db
        .query(
            &format!(
                "SELECT {COUPON_COLS} FROM coupons WHERE {filter} AND NOT deleted ORDER BY seq"
            ),
            &[&value],
        )
        .await?;
    Ok(rows.iter().map(coupon_row).collect::<Result<_, _>>()?)
}

impl CouponStore for PostgresStore {
    fn create_coupon(&self, merchant_id: &str, c: &NewCoupon) -> Result<Coupon, StoreError> {
        c.validate()?;
        let (merchant_id, c) = (merchant_id.to_owned(), c.clone());
        self.run(move |db| async move {
            let insert = |id: String| {
                let (db, c, merchant_id) = (&db, &c, &merchant_id);
                async move {
                    let row = db
                        .query_one(
                            &format!(
                                "INSERT INTO coupons (id, merchant_id, room_id, title,
                                     discount_cents, quota, claimed, per_user_limit,
                                     valid_from_ms, valid_until_ms, unlocked, created_ms, deleted,
                                     signed_in_only, min_spend_cents)
                                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, FALSE,
                                     $12, $13)
                                 RETURNING {COUPON_COLS}"
                            ),
                            &[
                                &id,
                                merchant_id,
                                &c.room_id,
                                &c.title,
                                &to_i64(c.discount_cents),
                                &i64::from(c.quota),
                                &i64::from(c.per_user_limit),
                                &to_i64(c.valid_from_ms),
                                &to_i64(c.valid_until_ms),
                                &c.unlocked,
                                &to_i64(now_ms()),
                                &c.signed_in_only,
                                &to_i64(c.min_spend_cents),
                            ],
                        )
                        .await?;
                    Ok::<_, StoreError>(coupon_row(&row)?)
                }
            };
            // Only generated ids are drawn again on a collision; a chosen one stays taken.
            match &c.id {
                Some(id) => insert(id.clone()).await.map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Invalid(format!("coupon id {id} is taken"))
                    } else {
                        e
                    }
                }),
                None => fresh_ids!(insert(format!("c_{}", random_id(5)?)).await),
            }
        })
    }

    fn coupon(&self, id: &str) -> Result<Option<Coupon>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move { coupon_in(&**db, &id).await })
    }

    fn coupons_of_room(&self, room_id: &str) -> Result<Vec<Coupon>, StoreError> {
        let room_id = room_id.to_owned();
        self.run(move |db| async move {
            coupon_list(
                &**db,
                "(room_id = $1 OR (room_id IS NULL
                     AND merchant_id = (SELECT merchant_id FROM rooms WHERE id = $1)))",
                &room_id,
            )
            .await
        })
    }

    fn coupons_of(&self, merchant_id: &str) -> Result<Vec<Coupon>, StoreError> {
        let merchant_id = merchant_id.to_owned();
        self.run(
            move |db| async move { coupon_list(&**db, "merchant_id = $1", &merchant_id).await },
        )
    }

    fn update_coupon(
        &self,
        merchant_id: &str,
        id: &str,
        c: &NewCoupon,
    ) -> Result<Option<Coupon>, StoreError> {
        c.validate()?;
        let (merchant_id, id, c) = (merchant_id.to_owned(), id.to_owned(), c.clone());
        self.run(move |mut db| async move {
            let tx = db.transaction().await?;
            // The row lock holds claims off until the new quota is in place.
            let claimed: Option<i64> = tx
                .query_opt(
                    "SELECT claimed FROM coupons
                     WHERE id = $1 AND merchant_id = $2 AND NOT deleted FOR UPDATE",
                    &[&id, &merchant_id],
                )
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
            let Some(claimed) = claimed else {
                return Ok(None);
            };
            if i64::from(c.quota) < claimed {
                return Err(StoreError::Invalid(format!(
                    "coupon quota {} is below the {claimed} already claimed",
                    c.quota
                )));
            }
            let row = tx
                .query_one(
                    &format!(
                        "UPDATE coupons SET room_id = $2, title = $3, discount_cents = $4,
                             quota = $5, per_user_limit = $6, valid_from_ms = $7,
                             valid_until_ms = $8, unlocked = $9, signed_in_only = $10,
                             min_spend_cents = $11
                         WHERE id = $1 RETURNING {COUPON_COLS}"
                    ),
                    &[
                        &id,
                        &c.room_id,
                        &c.title,
                        &to_i64(c.discount_cents),
                        &i64::from(c.quota),
                        &i64::from(c.per_user_limit),
                        &to_i64(c.valid_from_ms),
                        &to_i64(c.valid_until_ms),
                        &c.unlocked,
                        &c.signed_in_only,
                        &to_i64(c.min_spend_cents),
                    ],
                )
                .await?;
            tx.commit().await?;
            Ok(Some(coupon_row(&row)?))
        })
    }

    fn delete_coupon(&self, merchant_id: &str, id: &str) -> Result<bool, StoreError> {
        let (merchant_id, id) = (merchant_id.to_owned(), id.to_owned());
        self.run(move |db| async move {
            let n = db
                .execute(
                    "UPDATE coupons SET deleted = TRUE
                     WHERE id = $1 AND merchant_id = $2 AND NOT deleted",
                    &[&id, &merchant_id],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn unlock_coupon(&self, id: &str) -> Result<Option<Coupon>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move {
            let row = db
                .query_opt(
                    &format!(
                        "UPDATE coupons SET unlocked = TRUE WHERE id = $1 AND NOT deleted
                         RETURNING {COUPON_COLS}"
                    ),
                    &[&id],
                )
                .await?;
            Ok(row.as_ref().map(coupon_row).transpose()?)
        })
    }

    fn claim_coupons(&self, batch: &[ClaimRequest]) -> Vec<Result<Claim, ClaimError>> {
        let requests = batch.to_vec();
        let n = requests.len();
        let answer = self.run(move |mut db| async move {
            Ok::<_, StoreError>(crate::claim_batch::claim_batch(&mut db, &requests).await)
        });
        match answer {
            Ok(Ok(results)) => results,
            Ok(Err(e)) | Err(e) => {
                let reason = e.to_string();
                (0..n)
                    .map(|_| Err(StoreError::Commit(reason.clone()).into()))
                    .collect()
            }
        }
    }

    fn tag_claim(
        &self,
        claim_id: &str,
        push_id: &str,
        variant: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (claim_id, push_id) = (claim_id.to_owned(), push_id.to_owned());
        let variant = variant.map(str::to_owned);
        self.run(move |db| async move {
            let n = db
                .execute(
                    "UPDATE claims SET push_id = $2, variant = $3 WHERE claim_id = $1",
                    &[&claim_id, &push_id, &variant],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn claims_of_coupon(&self, coupon_id: &str) -> Result<Vec<Claim>, StoreError> {
        let coupon_id = coupon_id.to_owned();
        self.run(move |db| async move {
            let rows = db
                .query(
                    "SELECT claim_id, coupon_id, user_id, claimed_ms FROM claims
                     WHERE coupon_id = $1 ORDER BY seq",
                    &[&coupon_id],
                )
                .await?;
            Ok(rows.iter().map(claim_row).collect::<Result<_, _>>()?)
        })
    }
}
