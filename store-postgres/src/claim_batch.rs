//! One batch of coupon claims on PostgreSQL: a transaction of six statements, however many
//! claims it carries.
//!
//! 1. Lock the row of every coupon the batch names, in id order (two nodes' batches never
//!    deadlock), and read them. The lock serializes every claim of a coupon across nodes,
//!    so what follows is decided on exact numbers.
//! 2. Read the claims the batch's idempotency keys already name, and 3. the per-user
//!    counts of the batch's users for its coupons.
//! 4. Decide each claim in order, in memory, with the rules of the store contract — key
//!    (replay or `KeyReused`), coupon offered here and not deleted, unlocked, validity
//!    window, per-user limit, quota — each seeing the ones before it.
//! 5. Insert every granted claim in one statement. A key a racing transaction inserted
//!    meanwhile (for a coupon this batch does not lock) is refused as `KeyReused`.
//! 6. Move each coupon's counter by what was inserted, only while it stays within the
//!    quota (and the table's `CHECK (claimed <= quota)` behind that): a counter that would
//!    pass its quota fails the whole transaction, so nothing is ever oversold.

use crate::claims::{COUPON_COLS, coupon_row};
use crate::u64_at;
use deadpool_postgres::Object;
use livecart_store::util::{effective_key, random_id, to_i64};
use livecart_store::{Claim, ClaimError, ClaimRequest, Coupon, StoreError};
use std::collections::{HashMap, HashSet};

/// A claim granted in memory, waiting for its insert.
struct Granted {
    at: usize,
    key: String,
    claim: Claim,
    push_id: Option<String>,
    variant: Option<String>,
}

pub(crate) async fn claim_batch(
    db: &mut Object,
    batch: &[ClaimRequest],
) -> Result<Vec<Result<Claim, ClaimError>>, StoreError> {
    let tx = db.transaction().await?;
    let mut ids: Vec<&str> = batch.iter().map(|r| r.coupon_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut coupons: HashMap<String, Coupon> = HashMap::new();
    for row in tx
        .query(
            &format!(
                "SELECT {COUPON_COLS} FROM coupons WHERE id = ANY($1) AND NOT deleted
                 ORDER BY id FOR UPDATE"
            ),
            &[&ids],
        )
        .await?
    {
        let c = coupon_row(&row)?;
        coupons.insert(c.id.clone(), c);
    }

    let keys: Vec<Result<String, StoreError>> = batch
        .iter()
        .map(|r| effective_key(&r.idempotency_key))
        .collect();
    let key_list: Vec<&str> = keys.iter().filter_map(|k| k.as_deref().ok()).collect();
    let mut by_key: HashMap<String, Claim> = HashMap::new();
    for row in tx
        .query(
            "SELECT claim_id, coupon_id, user_id, claimed_ms, idem_key FROM claims
             WHERE idem_key = ANY($1)",
            &[&key_list],
        )
        .await?
    {
        let claim = Claim {
            claim_id: row.try_get(0)?,
            coupon_id: row.try_get(1)?,
            user_id: row.try_get(2)?,
            claimed_ms: u64_at(&row, 3)?,
            replayed: false,
        };
        by_key.insert(row.try_get(4)?, claim);
    }

    let users: Vec<&str> = batch
        .iter()
        .map(|r| r.user_id.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut mine: HashMap<(String, String), u64> = HashMap::new();
    for row in tx
        .query(
            "SELECT coupon_id, user_id, COUNT(*) FROM claims
             WHERE coupon_id = ANY($1) AND user_id = ANY($2) GROUP BY coupon_id, user_id",
            &[&ids, &users],
        )
        .await?
    {
        mine.insert((row.try_get(0)?, row.try_get(1)?), u64_at(&row, 2)?);
    }

    let mut results: Vec<Result<Claim, ClaimError>> = Vec::with_capacity(batch.len());
    let mut granted: Vec<Granted> = Vec::new();
    for (at, (req, key)) in batch.iter().zip(keys).enumerate() {
        let decided = match key {
            Err(e) => Err(e.into()),
            Ok(key) => match decide(req, key, &mut coupons, &mut by_key, &mut mine) {
                Ok(Decision::Replay(claim)) => Ok(claim),
                Ok(Decision::Grant(key, claim)) => {
                    granted.push(Granted {
                        at,
                        key,
                        claim: claim.clone(),
                        push_id: req.push_id.clone(),
                        variant: req.variant.clone(),
                    });
                    Ok(claim)
                }
                Err(e) => Err(e),
            },
        };
        results.push(decided);
    }
    if granted.is_empty() {
        tx.commit().await?;
        return Ok(results);
    }

    let column = |f: fn(&Granted) -> String| granted.iter().map(f).collect::<Vec<_>>();
    let claim_ids = column(|g| g.claim.claim_id.clone());
    let coupon_ids = column(|g| g.claim.coupon_id.clone());
    let user_ids = column(|g| g.claim.user_id.clone());
    let idem_keys = column(|g| g.key.clone());
    let times: Vec<i64> = granted.iter().map(|g| to_i64(g.claim.claimed_ms)).collect();
    let pushes: Vec<Option<String>> = granted.iter().map(|g| g.push_id.clone()).collect();
    let variants: Vec<Option<String>> = granted.iter().map(|g| g.variant.clone()).collect();
    let inserted: HashSet<String> = tx
        .query(
            "INSERT INTO claims (claim_id, coupon_id, user_id, idem_key, claimed_ms, push_id,
                 variant)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[],
                 $6::text[], $7::text[])
             ON CONFLICT (idem_key) DO NOTHING
             RETURNING idem_key",
            &[
                &claim_ids,
                &coupon_ids,
                &user_ids,
                &idem_keys,
                &times,
                &pushes,
                &variants,
            ],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;

    let mut moved: HashMap<&str, i64> = HashMap::new();
    for g in &granted {
        if inserted.contains(&g.key) {
            *moved.entry(g.claim.coupon_id.as_str()).or_default() += 1;
        } else {
            // Taken by a racing transaction for another coupon.
            results[g.at] = Err(ClaimError::KeyReused(g.key.clone()));
        }
    }
    let (moved_ids, moved_by): (Vec<&str>, Vec<i64>) = moved.into_iter().unzip();
    let updated = tx
        .execute(
            "UPDATE coupons AS c SET claimed = c.claimed + d.n
             FROM UNNEST($1::text[], $2::int8[]) AS d(id, n)
             WHERE c.id = d.id AND c.claimed + d.n <= c.quota",
            &[&moved_ids, &moved_by],
        )
        .await?;
    if updated as usize != moved_ids.len() {
        // Cannot happen while the rows are locked; never commit an oversell if it does.
        return Err(StoreError::Commit(
            "a coupon's claim counter would have passed its quota".into(),
        ));
    }
    tx.commit().await?;
    Ok(results)
}

/// What became of one claim that was not refused.
enum Decision {
    /// The key's earlier claim, answered again (nothing is written).
    Replay(Claim),
    /// A new claim under the effective key, to insert.
    Grant(String, Claim),
}

/// Decide one claim against the batch's view, which a grant updates.
fn decide(
    req: &ClaimRequest,
    key: String,
    coupons: &mut HashMap<String, Coupon>,
    by_key: &mut HashMap<String, Claim>,
    mine: &mut HashMap<(String, String), u64>,
) -> Result<Decision, ClaimError> {
    if let Some(earlier) = by_key.get(&key) {
        return if earlier.coupon_id == req.coupon_id && earlier.user_id == req.user_id {
            Ok(Decision::Replay(Claim {
                replayed: true,
                ..earlier.clone()
            }))
        } else {
            Err(ClaimError::KeyReused(key))
        };
    }
    let coupon = coupons
        .get_mut(&req.coupon_id)
        .filter(|c| {
            req.offered_in.as_ref().is_none_or(|o| {
                c.merchant_id == o.merchant_id && c.room_id.as_ref().is_none_or(|r| *r == o.room_id)
            })
        })
        .ok_or_else(|| ClaimError::UnknownCoupon(req.coupon_id.clone()))?;
    if !coupon.unlocked && !req.issued {
        return Err(ClaimError::Locked(coupon.id.clone()));
    }
    if coupon.signed_in_only && req.guest {
        return Err(ClaimError::SignInRequired(coupon.id.clone()));
    }
    if req.now_ms < coupon.valid_from_ms {
        return Err(ClaimError::NotYetValid(coupon.id.clone()));
    }
    if coupon.valid_until_ms != 0 && req.now_ms >= coupon.valid_until_ms {
        return Err(ClaimError::Expired(coupon.id.clone()));
    }
    let count = mine
        .entry((req.coupon_id.clone(), req.user_id.clone()))
        .or_default();
    if *count >= u64::from(coupon.per_user_limit) {
        return Err(ClaimError::PerUserLimit {
            coupon_id: coupon.id.clone(),
            user_id: req.user_id.clone(),
            limit: coupon.per_user_limit,
        });
    }
    if coupon.claimed >= coupon.quota {
        return Err(ClaimError::SoldOut(coupon.id.clone()));
    }
    let claim = Claim {
        claim_id: format!("cl_{}", random_id(8)?),
        coupon_id: req.coupon_id.clone(),
        user_id: req.user_id.clone(),
        claimed_ms: req.now_ms,
        replayed: false,
    };
    coupon.claimed += 1;
    *count += 1;
    by_key.insert(key.clone(), claim.clone());
    Ok(Decision::Grant(key, claim))
}
