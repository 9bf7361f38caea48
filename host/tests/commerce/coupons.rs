//! Coupon claim rules and messages, idempotent retries, updates, and no over-claiming
//! under concurrency.

use super::{hammer, open, open_coupon};
use livecart::store::{ClaimError, NewCoupon, StoreError};
use std::collections::{HashMap, HashSet};

#[test]
fn each_claim_rule_fails_with_its_own_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let msg = |r: Result<_, ClaimError>| match r {
        Ok(claim) => panic!("expected an error, got {claim:?}"),
        Err(e) => e.to_string(),
    };

    assert_eq!(
        msg(store.claim_coupon("c_nope", "u1", "k0", 1_000)),
        "unknown coupon c_nope"
    );

    let locked = store
        .create_coupon(
            "m_a",
            &NewCoupon {
                title: "locked".into(),
                quota: 10,
                ..NewCoupon::default()
            },
        )
        .expect("create");
    assert!(!locked.unlocked);
    let l = &locked.id;
    assert_eq!(
        msg(store.claim_coupon(l, "u1", "k1", 1_000)),
        format!("coupon {l} is locked")
    );
    assert!(
        store
            .unlock_coupon(l)
            .expect("unlock")
            .expect("exists")
            .unlocked
    );
    assert!(store.claim_coupon(l, "u1", "k1", 1_000).is_ok());
    assert_eq!(store.unlock_coupon("c_nope").expect("unlock"), None);

    let window = store
        .create_coupon(
            "m_a",
            &NewCoupon {
                valid_from_ms: 2_000,
                valid_until_ms: 3_000,
                ..open_coupon(10, 1)
            },
        )
        .expect("create");
    let w = &window.id;
    assert_eq!(
        msg(store.claim_coupon(w, "u1", "k2", 1_999)),
        format!("coupon {w} is not valid yet")
    );
    assert_eq!(
        msg(store.claim_coupon(w, "u1", "k3", 3_000)),
        format!("coupon {w} has expired")
    );
    assert!(store.claim_coupon(w, "u1", "k4", 2_999).is_ok());

    let single = store
        .create_coupon("m_a", &open_coupon(1, 1))
        .expect("create");
    let s = &single.id;
    store
        .claim_coupon(s, "u1", "k5", 1_000)
        .expect("first claim");
    let sold_out = store.claim_coupon(s, "u2", "k6", 1_000);
    assert!(matches!(&sold_out, Err(ClaimError::SoldOut(_))));
    assert_eq!(msg(sold_out), format!("coupon {s} is sold out"));

    let twice = store
        .create_coupon("m_a", &open_coupon(10, 2))
        .expect("create");
    let t = &twice.id;
    store.claim_coupon(t, "u1", "k7", 1_000).expect("first");
    store.claim_coupon(t, "u1", "k8", 1_000).expect("second");
    let third = store.claim_coupon(t, "u1", "k9", 1_000);
    assert_eq!(
        third.as_ref().err().map(ClaimError::code),
        Some("per_user_limit")
    );
    assert_eq!(
        msg(third),
        format!("user u1 has reached the limit of 2 claim(s) of coupon {t}")
    );

    // The same key from another user, or for another coupon, is refused.
    assert_eq!(
        msg(store.claim_coupon(t, "u2", "k7", 1_000)),
        "idempotency key k7 was already used by another user or coupon"
    );
    assert_eq!(
        msg(store.claim_coupon(l, "u1", "k7", 1_000)),
        "idempotency key k7 was already used by another user or coupon"
    );
    assert_eq!(store.coupon(t).expect("get").expect("exists").claimed, 2);

    // Bad terms are refused before anything is stored.
    assert!(matches!(
        store.create_coupon("m_a", &open_coupon(0, 1)),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.update_coupon("m_a", t, &open_coupon(1, 1)),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn a_retried_claim_returns_the_original_and_counts_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let room = store.create_room("m_a", "Live").expect("room");
    let coupon = store
        .create_coupon(
            "m_a",
            &NewCoupon {
                room_id: Some(room.id.clone()),
                ..open_coupon(5, 1)
            },
        )
        .expect("create");
    let first = store
        .claim_coupon(&coupon.id, "u1", "retry-1", 1_000)
        .expect("claim");
    assert!(!first.replayed);
    assert!(first.claim_id.starts_with("cl_"));
    let again = store
        .claim_coupon(&coupon.id, "u1", "retry-1", 9_000)
        .expect("retry");
    assert!(again.replayed);
    assert_eq!(again.claim_id, first.claim_id);
    assert_eq!(again.claimed_ms, 1_000);

    let stored = store.coupon(&coupon.id).expect("get").expect("exists");
    assert_eq!(stored.claimed, 1);
    assert_eq!(store.claims_of_coupon(&coupon.id).expect("claims").len(), 1);
    assert_eq!(
        store.coupons_of_room(&room.id).expect("room coupons"),
        vec![stored.clone()]
    );
    assert_eq!(
        store.coupons_of("m_a").expect("merchant coupons"),
        vec![stored]
    );

    // A retry still works after the coupon is sold out or deleted for everyone else.
    assert!(store.delete_coupon("m_a", &coupon.id).expect("delete"));
    let late = store
        .claim_coupon(&coupon.id, "u1", "retry-1", 9_000)
        .expect("retry");
    assert_eq!(late.claim_id, first.claim_id);
    assert!(matches!(
        store.claim_coupon(&coupon.id, "u2", "fresh", 9_000),
        Err(ClaimError::UnknownCoupon(_))
    ));
    assert!(
        !store
            .delete_coupon("m_b", &coupon.id)
            .expect("delete foreign")
    );
}

#[test]
fn a_room_offers_its_own_and_its_merchants_room_free_coupons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let room = store.create_room("m_a", "Live").expect("room").id;
    let other_room = store.create_room("m_a", "Other").expect("room").id;
    let bound = |room: &str| NewCoupon {
        room_id: Some(room.to_owned()),
        ..open_coupon(5, 1)
    };
    let everywhere = store
        .create_coupon("m_a", &open_coupon(5, 1))
        .expect("c")
        .id;
    let here = store.create_coupon("m_a", &bound(&room)).expect("c").id;
    store.create_coupon("m_a", &bound(&other_room)).expect("c");
    store.create_coupon("m_b", &open_coupon(5, 1)).expect("c");
    let ids: Vec<String> = store
        .coupons_of_room(&room)
        .expect("list")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec![everywhere, here]);
    assert_eq!(store.coupons_of("m_a").expect("list").len(), 3);
}

#[test]
fn coupon_updates_keep_claims_and_respect_the_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let coupon = store
        .create_coupon("m_a", &open_coupon(5, 1))
        .expect("create");
    store
        .claim_coupon(&coupon.id, "u1", "k1", 1_000)
        .expect("claim");
    let updated = store
        .update_coupon(
            "m_a",
            &coupon.id,
            &NewCoupon {
                title: "10 off".into(),
                ..open_coupon(3, 2)
            },
        )
        .expect("update")
        .expect("exists");
    assert_eq!(
        (updated.title.as_str(), updated.quota, updated.claimed),
        ("10 off", 3, 1)
    );
    assert_eq!(
        store
            .update_coupon("m_b", &coupon.id, &open_coupon(3, 2))
            .expect("foreign"),
        None
    );
    assert!(
        !store
            .delete_coupon("m_b", &coupon.id)
            .expect("foreign delete")
    );
}

#[test]
fn concurrent_claims_never_exceed_quota_or_per_user_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coupon = open(dir.path())
        .create_coupon("m_a", &open_coupon(100, 3))
        .expect("create");
    let id = coupon.id.clone();
    // 8 threads × 50 attempts from 40 users; every fifth attempt retries the previous key.
    let outcomes = hammer(
        dir.path(),
        8,
        move |store, t, i| {
            let (j, retry) = if i % 5 == 4 {
                (i - 1, true)
            } else {
                (i, false)
            };
            let user = format!("u{}", (t * 13 + j * 7) % 40);
            let key = format!("k-{t}-{j}");
            let outcome = store.claim_coupon(&id, &user, &key, 1_000);
            (user, retry, outcome)
        },
        50,
    );

    let mut fresh: HashMap<String, u32> = HashMap::new();
    let mut claim_ids = HashSet::new();
    let (mut sold_out, mut limited) = (0, 0);
    for (user, retry, outcome) in &outcomes {
        match outcome {
            Ok(claim) => {
                assert_eq!(claim.replayed, *retry, "only retries replay");
                assert_eq!(&claim.user_id, user);
                if !claim.replayed {
                    *fresh.entry(user.clone()).or_default() += 1;
                    assert!(
                        claim_ids.insert(claim.claim_id.clone()),
                        "duplicate claim id"
                    );
                } else {
                    assert!(
                        claim_ids.contains(&claim.claim_id),
                        "a replay names its original"
                    );
                }
            }
            Err(ClaimError::SoldOut(_)) => sold_out += 1,
            Err(ClaimError::PerUserLimit { .. }) => limited += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    let total: u32 = fresh.values().sum();
    assert_eq!(total, 100, "exactly the quota is claimed");
    assert!(fresh.values().all(|&n| n <= 3), "per-user limit: {fresh:?}");
    assert!(
        sold_out > 0 && limited > 0,
        "{sold_out} sold out, {limited} limited"
    );

    let store = open(dir.path());
    let stored = store.coupon(&coupon.id).expect("get").expect("exists");
    let rows = store.claims_of_coupon(&coupon.id).expect("claims");
    assert_eq!(stored.claimed, 100);
    assert_eq!(rows.len(), 100, "claimed counter equals rows");
    let mut per_user: HashMap<&str, u32> = HashMap::new();
    for row in &rows {
        *per_user.entry(row.user_id.as_str()).or_default() += 1;
        assert!(claim_ids.contains(&row.claim_id));
    }
    assert!(per_user.values().all(|&n| n <= 3));
}

/// A coupon id the merchant chose that already exists used to end as an internal error
/// (the insert was retried unchanged); it is now a clear refusal, and nothing changes.
#[test]
fn a_taken_coupon_id_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let chosen = NewCoupon {
        id: Some("c-spring".into()),
        ..open_coupon(5, 1)
    };
    store.create_coupon("m_a", &chosen).expect("first");
    let again = store.create_coupon("m_a", &chosen).expect_err("taken");
    assert!(matches!(again, StoreError::Invalid(_)), "{again:?}");
    assert_eq!(
        again.to_string(),
        "invalid input: coupon id c-spring is taken"
    );
    assert_eq!(store.coupons_of("m_a").expect("list").len(), 1);
}
