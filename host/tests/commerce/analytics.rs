//! Per-minute analytics on a hand-made scenario, the CSV export and A/B assignment.

use super::{T0, open, open_coupon};
use livecart::store::{Ack, ClaimRequest, Click, MinuteRow, Push, ab_variant, analytics_csv};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// One expected analytics row.
fn row(
    minute: u64,
    product: &str,
    variant: &str,
    n: [u64; 5],
    ctr: f64,
    conversion: f64,
) -> MinuteRow {
    MinuteRow {
        minute_ms: minute,
        product_id: product.into(),
        variant: variant.into(),
        pushes: n[0],
        displays: n[1],
        clicks: n[2],
        claims: n[3],
        purchases: n[4],
        ctr,
        conversion,
    }
}

#[test]
fn analytics_count_each_event_in_its_own_minute_and_variant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let room = store.create_room("m_a", "Live").expect("room").id;
    let foreign = store.create_room("m_b", "Elsewhere").expect("room").id;
    let push = |id: &str, room: &str, product: &str, variant: Option<&str>, at: u64| Push {
        push_id: id.into(),
        room_id: room.into(),
        product_id: product.into(),
        variant: variant.map(str::to_owned),
        server_send_ms: at,
        media_ms: None,
        source: "plugin:keyword-push".into(),
    };
    assert!(
        store
            .record_push(&push("P1", &room, "p1", None, T0 + 1_000))
            .expect("push")
    );
    assert!(
        !store
            .record_push(&push("P1", &room, "p1", None, T0 + 2_000))
            .expect("dup")
    );
    // The store keeps a push as sent.
    let p2 = push("P2", &room, "p2", Some("B"), T0 + 61_000);
    store.record_push(&p2).expect("push");
    assert_eq!(store.push("P2").expect("get"), Some(p2));
    store
        .record_push(&push("P9", &foreign, "p1", None, T0 + 1_000))
        .expect("push");

    let ack = |push: &str, variant: &str, displayed: Option<u64>| Ack {
        push_id: push.into(),
        variant: Some(variant.into()),
        received_ms: Some(T0 + 1_500),
        displayed_ms: displayed,
        displayed_media_ms: None,
    };
    store
        .record_acks(&room, "u1", &[ack("P1", "A", Some(T0 + 2_000))])
        .expect("acks");
    store
        .record_acks(&room, "u2", &[ack("P1", "B", Some(T0 + 3_000))])
        .expect("acks");
    // Received but never displayed, then displayed: the later ack fills the gap.
    store
        .record_acks(&room, "u3", &[ack("P1", "A", None)])
        .expect("acks");
    store
        .record_acks(&room, "u3", &[ack("P1", "A", Some(T0 + 4_000))])
        .expect("acks");
    // A duplicate for u1 changes nothing; u4 displays in the next minute.
    store
        .record_acks(
            &room,
            "u1",
            &[
                ack("P1", "B", Some(T0 + 50_000)),
                ack("P1", "A", Some(T0 + 50_000)),
            ],
        )
        .expect("acks");
    store
        .record_acks(&room, "u4", &[ack("P1", "A", Some(T0 + 65_000))])
        .expect("acks");
    store
        .record_acks(&foreign, "u1", &[ack("P9", "A", Some(T0 + 2_000))])
        .expect("acks");

    let click = |push: &str, user: &str, variant: &str, at: u64| Click {
        push_id: push.into(),
        product_id: "p1".into(),
        user_id: user.into(),
        variant: Some(variant.into()),
        at_ms: at,
    };
    assert!(
        store
            .record_click(&click("P1", "u1", "A", T0 + 5_000))
            .expect("click")
    );
    assert!(
        !store
            .record_click(&click("P1", "u1", "A", T0 + 5_500))
            .expect("dup")
    );
    store
        .record_click(&click("P1", "u2", "B", T0 + 70_000))
        .expect("click");
    store
        .record_click(&click("P9", "u1", "A", T0 + 5_000))
        .expect("click");

    let coupon = store
        .create_coupon("m_a", &open_coupon(10, 5))
        .expect("coupon")
        .id;
    let tagged = ClaimRequest {
        push_id: Some("P1".into()),
        variant: Some("A".into()),
        ..ClaimRequest::new(&coupon, "u1", "cl-1", T0 + 6_000)
    };
    let claimed = store.claim_coupons(std::slice::from_ref(&tagged));
    assert!(matches!(claimed.as_slice(), [Ok(_)]), "{claimed:?}");
    let untagged = store
        .claim_coupon(&coupon, "u2", "cl-2", T0 + 6_000)
        .expect("claim");
    let later = store
        .claim_coupon(&coupon, "u3", "cl-3", T0 + 6_000)
        .expect("claim");
    assert!(
        store
            .tag_claim(&later.claim_id, "P1", Some("B"))
            .expect("tag")
    );
    assert!(!store.tag_claim("cl_nope", "P1", None).expect("tag"));
    assert!(
        !untagged.replayed,
        "an untagged claim counts in no product's row"
    );

    let order = store
        .record_purchase(&room, "p1", "u1", 1, 1_999, "pay-1", T0 + 7_000)
        .expect("purchase");
    assert!(
        store
            .tag_order(&order.order_id, "P1", Some("A"))
            .expect("tag")
    );
    store
        .record_purchase(&foreign, "p1", "u1", 1, 1_999, "pay-2", T0 + 7_000)
        .expect("purchase");

    let m1 = T0 + 60_000;
    let expected = vec![
        row(T0, "p1", "", [1, 0, 0, 0, 0], 0.0, 0.0),
        row(T0, "p1", "A", [0, 2, 1, 1, 1], 0.5, 1.0),
        row(T0, "p1", "B", [0, 1, 0, 1, 0], 0.0, 0.0),
        row(m1, "p1", "A", [0, 1, 0, 0, 0], 0.0, 0.0),
        row(m1, "p1", "B", [0, 0, 1, 0, 0], 0.0, 0.0),
        row(m1, "p2", "B", [1, 0, 0, 0, 0], 0.0, 0.0),
    ];
    let all = store
        .analytics_by_minute("m_a", None, T0, T0 + 120_000)
        .expect("analytics");
    assert_eq!(all, expected);
    let one_room = store
        .analytics_by_minute("m_a", Some(&room), T0, T0 + 120_000)
        .expect("analytics");
    assert_eq!(one_room, expected);
    let second_minute = store
        .analytics_by_minute("m_a", None, m1, T0 + 120_000)
        .expect("analytics");
    assert_eq!(second_minute, expected[3..].to_vec());
    // Another merchant's room, or a room filter naming it, shows nothing of m_a.
    assert!(
        store
            .analytics_by_minute("m_a", Some(&foreign), T0, T0 + 120_000)
            .expect("analytics")
            .is_empty()
    );
    let theirs = store
        .analytics_by_minute("m_b", None, T0, T0 + 120_000)
        .expect("analytics");
    assert_eq!(
        theirs,
        vec![
            row(T0, "p1", "", [1, 0, 0, 0, 1], 0.0, 0.0),
            row(T0, "p1", "A", [0, 1, 1, 0, 0], 1.0, 0.0),
        ]
    );
}

#[test]
fn analytics_csv_has_a_header_and_rfc3339_minutes() {
    let rows = vec![
        row(T0, "p1", "", [1, 4, 2, 1, 1], 0.5, 0.5),
        row(T0 + 60_000, "p,2", "=B", [0, 3, 1, 0, 0], 1.0 / 3.0, 0.0),
    ];
    assert_eq!(
        analytics_csv(&rows),
        "minute,product_id,variant,pushes,displays,clicks,claims,purchases,ctr,conversion\n\
         2026-11-21T19:05:00Z,p1,,1,4,2,1,1,0.5000,0.5000\n\
         2026-11-21T19:06:00Z,\"p,2\",'=B,0,3,1,0,0,0.3333,0.0000\n"
    );
    assert_eq!(
        analytics_csv(&[]),
        "minute,product_id,variant,pushes,displays,clicks,claims,purchases,ctr,conversion\n"
    );
}

#[test]
fn ab_variant_is_deterministic_and_spreads_users_evenly() {
    let variants = ["A", "B"];
    for user in ["u1", "u2", "viewer-42", "用户"] {
        let expected = {
            let digest = Sha256::digest(format!("popup-style:{user}").as_bytes());
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            variants[(u64::from_be_bytes(first) % 2) as usize]
        };
        assert_eq!(ab_variant(user, "popup-style", &variants), expected);
        assert_eq!(
            ab_variant(user, "popup-style", &variants),
            ab_variant(user, "popup-style", &variants)
        );
    }

    let mut counts: HashMap<String, u32> = HashMap::new();
    for i in 0..10_000 {
        *counts
            .entry(ab_variant(
                &format!("user-{i}"),
                "popup-style",
                &["A", "B", "C"],
            ))
            .or_default() += 1;
    }
    assert_eq!(counts.len(), 3);
    assert!(
        counts.values().all(|&n| (3_000..3_700).contains(&n)),
        "{counts:?}"
    );

    // Experiments are independent: the same users split differently.
    let differ = (0..200)
        .filter(|i| {
            let user = format!("user-{i}");
            ab_variant(&user, "exp-1", &variants) != ab_variant(&user, "exp-2", &variants)
        })
        .count();
    assert!((60..140).contains(&differ), "{differ}");
    assert_eq!(ab_variant("u1", "exp", &[]), "");
    assert_eq!(ab_variant("u1", "exp", &["only"]), "only");
}
