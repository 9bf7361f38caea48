//! Group-committed claims: a batch is decided in order (each claim sees the ones before it),
//! limited to the coupons offered in a room when asked, and kept as a whole; the claim
//! queue gives concurrent claimers exactly the quota, durably.

use super::{T0, open, open_coupon};
use livecart::store::{ClaimError, ClaimQueue, ClaimRequest, NewCoupon, OfferedIn};
use std::collections::HashSet;

fn offered(req: ClaimRequest, merchant: &str, room: &str) -> ClaimRequest {
    ClaimRequest {
        offered_in: Some(OfferedIn {
            merchant_id: merchant.into(),
            room_id: room.into(),
        }),
        ..req
    }
}

#[test]
fn a_batch_is_decided_in_order_and_committed_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let two = store
        .create_coupon("m_a", &open_coupon(2, 1))
        .expect("create");
    let theirs = store
        .create_coupon("m_b", &open_coupon(5, 1))
        .expect("create");
    let other_room = store
        .create_coupon(
            "m_a",
            &NewCoupon {
                room_id: Some("r_other".into()),
                ..open_coupon(5, 1)
            },
        )
        .expect("create");
    let c = two.id.as_str();
    let batch = vec![
        offered(ClaimRequest::new(c, "u1", "k1", T0), "m_a", "r_1"),
        // The same key again in the same batch: the first claim, replayed.
        ClaimRequest::new(c, "u1", "k1", T0),
        ClaimRequest::new(c, "u1", "k2", T0),
        ClaimRequest::new(c, "u2", "k3", T0),
        ClaimRequest::new(c, "u3", "k4", T0),
        ClaimRequest::new(c, "u4", "k1", T0),
        ClaimRequest::new("c_nope", "u5", "k5", T0),
        offered(ClaimRequest::new(&theirs.id, "u6", "k6", T0), "m_a", "r_1"),
        offered(
            ClaimRequest::new(&other_room.id, "u7", "k7", T0),
            "m_a",
            "r_1",
        ),
        // Offered where it is claimed: merchant and room match.
        offered(
            ClaimRequest::new(&other_room.id, "u7", "k8", T0),
            "m_a",
            "r_other",
        ),
    ];
    let results = store.claim_coupons(&batch);
    assert_eq!(results.len(), batch.len(), "one result per request");
    let words: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(claim) if claim.replayed => format!("replay {}", claim.user_id),
            Ok(claim) => format!("ok {}", claim.user_id),
            Err(e) => e.code().to_owned(),
        })
        .collect();
    assert_eq!(
        words,
        [
            "ok u1",
            "replay u1",
            "per_user_limit",
            "ok u2",
            "sold_out",
            "key_reused",
            "unknown_coupon",
            "unknown_coupon",
            "unknown_coupon",
            "ok u7",
        ]
    );
    let first = results[0].as_ref().expect("first claim");
    let replay = results[1].as_ref().expect("replay");
    assert_eq!(
        first.claim_id, replay.claim_id,
        "a replay names its original"
    );

    // All of it is durable, and the counters equal the rows.
    drop(store);
    let store = open(dir.path());
    let stored = store.coupon(c).expect("get").expect("exists");
    assert_eq!(stored.claimed, 2);
    let rows = store.claims_of_coupon(c).expect("claims");
    let users: Vec<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
    assert_eq!(users, ["u1", "u2"]);
    assert_eq!(store.claims_of_coupon(&theirs.id).expect("claims").len(), 0);
    assert_eq!(
        store
            .claims_of_coupon(&other_room.id)
            .expect("claims")
            .len(),
        1
    );
    // A retry after the batch still replays.
    let again = store.claim_coupon(c, "u1", "k1", T0).expect("replay");
    assert!(again.replayed);
    assert_eq!(again.claim_id, first.claim_id);
}

#[test]
fn the_claim_queue_gives_concurrent_claimers_exactly_the_quota() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let coupon = store
        .create_coupon("m_a", &open_coupon(100, 1))
        .expect("create");
    let queue = std::sync::Arc::new(ClaimQueue::new(store.clone()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    // 400 claimers at once, each also retrying its own key once.
    let outcomes = runtime.block_on(async {
        let tasks: Vec<_> = (0..400)
            .map(|i| {
                let queue = queue.clone();
                let id = coupon.id.clone();
                tokio::spawn(async move {
                    let req = ClaimRequest::new(&id, &format!("u{i}"), &format!("k{i}"), T0);
                    let first = queue.claim(req.clone()).await;
                    let retry = queue.claim(req).await;
                    (first, retry)
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("task"));
        }
        outcomes
    });
    let mut granted = HashSet::new();
    for (first, retry) in &outcomes {
        match (first, retry) {
            (Ok(claim), Ok(again)) => {
                assert!(!claim.replayed && again.replayed);
                assert_eq!(claim.claim_id, again.claim_id);
                assert!(granted.insert(claim.claim_id.clone()));
            }
            (Err(ClaimError::SoldOut(_)), Err(ClaimError::SoldOut(_))) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(granted.len(), 100, "exactly the quota");
    drop(queue);
    let store = open(dir.path());
    assert_eq!(
        store
            .coupon(&coupon.id)
            .expect("get")
            .expect("exists")
            .claimed,
        100
    );
    assert_eq!(
        store.claims_of_coupon(&coupon.id).expect("claims").len(),
        100
    );
}
