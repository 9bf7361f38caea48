//! Group-committed claims and buys: a batch is decided in order (each request sees the ones
//! before it), limited to one room's coupons or sales when asked, and kept as a whole; the
//! commit queue gives concurrent claimers and buyers exactly the quota and stock, durably.

use super::flash::flash_setup;
use super::{T0, open, open_coupon};
use livecart::store::{
    BuyError, BuyRequest, ClaimError, ClaimRequest, CommitQueue, NewCoupon, OfferedIn,
};
use std::collections::HashSet;

/// Run `n` requesters at once on a two-thread runtime; their outcomes in order.
fn at_once<T: Send + 'static, F: Future<Output = T> + Send + 'static>(
    n: usize,
    requester: impl Fn(usize) -> F,
) -> Vec<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(requester(i))).collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("task"));
        }
        outcomes
    })
}

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
fn the_commit_queue_gives_concurrent_claimers_exactly_the_quota() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let coupon = store
        .create_coupon("m_a", &open_coupon(100, 1))
        .expect("create");
    let queue = std::sync::Arc::new(CommitQueue::new(store.clone()));
    // 400 claimers at once, each also retrying its own key once.
    let id = coupon.id.clone();
    let outcomes = at_once(400, move |i| {
        let queue = queue.clone();
        let req = ClaimRequest::new(&id, &format!("u{i}"), &format!("k{i}"), T0);
        async move { (queue.claim(req.clone()).await, queue.claim(req).await) }
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

#[test]
fn a_batch_of_buys_is_decided_in_order_and_committed_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (room, sale) = flash_setup(&*store, 3, 2);
    let at = 2_000;
    let in_room = |req: BuyRequest, room: &str| BuyRequest {
        in_room: Some(room.into()),
        ..req
    };
    let batch = vec![
        in_room(BuyRequest::new(&sale, "u1", 2, "o1", at), &room),
        BuyRequest::new(&sale, "u1", 2, "o1", at),
        BuyRequest::new(&sale, "u1", 1, "o2", at),
        BuyRequest::new(&sale, "u2", 2, "o3", at),
        BuyRequest::new(&sale, "u2", 1, "o4", at),
        BuyRequest::new(&sale, "u3", 1, "o5", at),
        BuyRequest::new(&sale, "u4", 0, "o6", at),
        in_room(BuyRequest::new(&sale, "u5", 1, "o7", at), "r_elsewhere"),
    ];
    let words: Vec<String> = store
        .buy_flash_sales(&batch)
        .iter()
        .map(|r| match r {
            Ok(order) if order.replayed => format!("replay {}", order.user_id),
            Ok(order) => format!("ok {} ×{}", order.user_id, order.quantity),
            Err(e) => e.code().to_owned(),
        })
        .collect();
    assert_eq!(
        words,
        [
            "ok u1 ×2",
            "replay u1",
            "per_user_limit",
            "sold_out",
            "ok u2 ×1",
            "sold_out",
            "bad_quantity",
            "unknown_sale",
        ]
    );
    drop(store);
    let store = open(dir.path());
    let stored = store.flash_sale(&sale).expect("get").expect("exists");
    assert_eq!(stored.sold, 3, "sold equals the orders' quantities");
}

#[test]
fn the_commit_queue_sells_concurrent_buyers_exactly_the_stock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (_room, sale) = flash_setup(&*store, 50, 1);
    let queue = std::sync::Arc::new(CommitQueue::new(store.clone()));
    let sale_id = sale.clone();
    let outcomes = at_once(200, move |i| {
        let queue = queue.clone();
        let req = BuyRequest::new(&sale_id, &format!("u{i}"), 1, &format!("o{i}"), 2_000);
        async move { (queue.buy(req.clone()).await, queue.buy(req).await) }
    });
    let mut sold = 0;
    for (first, retry) in &outcomes {
        match (first, retry) {
            (Ok(order), Ok(again)) => {
                assert!(!order.replayed && again.replayed);
                assert_eq!(order.order_id, again.order_id);
                sold += 1;
            }
            (Err(BuyError::SoldOut { .. }), Err(BuyError::SoldOut { .. })) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(sold, 50, "exactly the stock");
    let store = open(dir.path());
    assert_eq!(
        store.flash_sale(&sale).expect("get").expect("exists").sold,
        50
    );
}
