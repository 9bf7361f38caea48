//! A live in numbers: `GET /api/rooms/{room}/lives` after going live with viewers in the
//! room, a coupon claim and flash-sale orders: orders, buyers, GMV and claims as placed,
//! and the audience the room metered (peak, average, watch time).

use crate::harness::*;
use livecart::auth::Role;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn a_live_counts_its_orders_claims_and_audience() {
    let s = start(fast()).await;
    let room = s.room.clone();
    let path = format!("/api/rooms/{room}/lives");
    let (status, none) = api(&s, "GET", &path, json!({})).await;
    assert_eq!((status, none), (200, json!({"lives": []})));
    let (status, _) = api(&s, "POST", &format!("/api/rooms/{room}/start"), json!({})).await;
    assert_eq!(status, 200);
    let mut viewers = Vec::new();
    for i in 0..3 {
        let t = token(&room, &format!("u{i}"), Role::Viewer);
        viewers.push(Client::join(&s, &room, Some(&t)).await);
    }
    let (status, sale) = api(
        &s,
        "POST",
        &format!("/api/rooms/{room}/flash-sales"),
        json!({"product_id": "sku-tee", "price_cents": 4900, "stock": 5, "per_user_limit": 1,
            "starts_ms": 0, "ends_ms": livecart::store::now_ms() + 60_000}),
    )
    .await;
    assert_eq!(status, 201, "{sale}");
    for (i, v) in viewers.iter_mut().take(2).enumerate() {
        v.send(
            json!({"type": "buy", "sale_id": sale["id"], "quantity": 1, "key": format!("b{i}")}),
        )
        .await;
        assert_eq!(v.expect_type("buy_result").await["ok"], true);
    }
    let (status, _) = api(&s, "POST", "/api/coupons/c-1k/unlock", json!({})).await;
    assert_eq!(status, 200);
    viewers[2]
        .send(json!({"type": "claim", "coupon_id": "c-1k", "key": "c1"}))
        .await;
    let claim = viewers[2].expect_type("claim_result").await;
    assert_eq!(claim["ok"], true, "{claim}");

    // The audience arrives every 20 flushes (2 s here): wait for 3 viewers' time.
    let mut live = Value::Null;
    for _ in 0..60 {
        let (_, body) = api(&s, "GET", &path, json!({})).await;
        live = body["lives"][0].clone();
        if live["peak_viewers"].as_u64() >= Some(3) && live["watch_ms"].as_u64() > Some(3_000) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(live["ended_ms"], Value::Null, "{live}");
    assert_eq!(
        (
            &live["orders"],
            &live["buyers"],
            &live["gmv_cents"],
            &live["claims"]
        ),
        (&json!(2), &json!(2), &json!(9800), &json!(1)),
        "{live}"
    );
    assert_eq!(live["peak_viewers"], 3, "{live}");
    let watch = live["watch_ms"].as_u64().unwrap_or(0);
    let duration = live["duration_ms"].as_u64().unwrap_or(0);
    // Three viewers watched (nearly) the whole live so far, a report interval behind.
    assert!(watch > 3_000 && watch <= 3 * (duration + 500), "{live}");
    assert!(
        live["avg_viewers"]
            .as_f64()
            .is_some_and(|a| a > 0.0 && a <= 3.0),
        "{live}"
    );

    let (status, _) = api(&s, "POST", &format!("/api/rooms/{room}/stop"), json!({})).await;
    assert_eq!(status, 200);
    let (_, body) = api(&s, "GET", &path, json!({})).await;
    assert!(body["lives"][0]["ended_ms"].as_u64().is_some(), "{body}");
    // Another merchant's token cannot read it.
    let (_, token_b) = s.store.create_merchant("Shop B").expect("merchant b");
    let (status, _) = http(&s, "GET", &path, Some(&token_b), None).await;
    assert_eq!(status, 404);
}
