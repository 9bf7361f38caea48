//! Per-user limits that hold against guests (issue 12, §6): a guest who reconnects is
//! throttled per device and per network, and coupons and sales for signed-in viewers only
//! refuse guests while serving the viewers the merchant signed in.

use crate::harness::*;
use serde_json::{Value, json};

/// A server that trusts 127.0.0.1 as its proxy, so tests can say which network a client
/// comes from with `X-Forwarded-For`.
async fn behind_a_proxy() -> Server {
    let mut config = fast();
    config.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    start(config).await
}

async fn claim(c: &mut Client, coupon: &str, key: &str) -> Value {
    c.send(json!({"type": "claim", "coupon_id": coupon, "key": key}))
        .await;
    c.expect_type("claim_result").await
}

fn code(r: &Value) -> &str {
    r["code"].as_str().unwrap_or("ok")
}

#[tokio::test]
async fn a_guest_reconnecting_twenty_times_claims_a_limit_one_coupon_once() {
    let s = behind_a_proxy().await;
    let (status, _) = api(&s, "POST", "/api/coupons/c-1k/unlock", json!({})).await;
    assert_eq!(status, 200);
    let mut granted = 0;
    for i in 0..20 {
        // A new guest identity each time, on the same device.
        let mut c =
            Client::join_as(&s, &s.room, "203.0.113.7", json!({"device": "device-0001"})).await;
        let r = claim(&mut c, "c-1k", &format!("k{i}")).await;
        if r["ok"] == true {
            granted += 1;
        } else {
            assert_eq!(code(&r), "guest_limit", "{r}");
            assert!(
                r["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("this device has reached the guest limit of 1")),
                "{r}"
            );
        }
    }
    assert_eq!(granted, 1);
    assert_eq!(
        s.store
            .coupon("c-1k")
            .expect("store")
            .expect("coupon")
            .claimed,
        1
    );
}

#[tokio::test]
async fn guests_on_one_network_share_five_times_the_limit_and_others_are_not_affected() {
    let s = behind_a_proxy().await;
    api(&s, "POST", "/api/coupons/c-1k/unlock", json!({})).await;
    let mut codes = Vec::new();
    for i in 0..8 {
        // A fresh device id each time (storage cleared), on one network.
        let device = format!("device-{i:04}");
        let mut c = Client::join_as(
            &s,
            &s.room,
            "198.51.100.1, 203.0.113.7",
            json!({"device": device}),
        )
        .await;
        codes.push(code(&claim(&mut c, "c-1k", &format!("k{i}")).await).to_owned());
    }
    assert_eq!(
        codes,
        [
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "guest_limit",
            "guest_limit",
            "guest_limit"
        ]
    );
    // Another network is another count; no device id is no device count.
    let mut other = Client::join_as(&s, &s.room, "192.0.2.44", json!({})).await;
    assert_eq!(code(&claim(&mut other, "c-1k", "k-other").await), "ok");
}

#[tokio::test]
async fn signed_in_only_offers_refuse_guests_and_serve_the_merchants_viewers() {
    let s = start(fast()).await;
    let coupon = json!({"id": "c-vip", "room_id": s.room, "title": "VIP ¥20", "discount_cents": 2000,
        "quota": 100, "per_user_limit": 1, "unlocked": true, "signed_in_only": true});
    let (status, body) = api(&s, "POST", "/api/coupons", coupon).await;
    assert_eq!(
        (status, &body["signed_in_only"]),
        (201, &json!(true)),
        "{body}"
    );

    let mut guest = Client::join(&s, &s.room, None).await;
    let r = claim(&mut guest, "c-vip", "g1").await;
    assert_eq!(
        (r["ok"].clone(), code(&r)),
        (json!(false), "sign_in_required"),
        "{r}"
    );
    assert_eq!(
        r["error"],
        "coupon c-vip is for signed-in viewers only; sign in to claim it"
    );

    // The merchant signs its shopper in and mints the viewer's token.
    let path = format!("/api/rooms/{}/tokens", s.room);
    let (status, minted) = api(
        &s,
        "POST",
        &path,
        json!({"user_id": "shopper-1", "name": "Mei", "role": "viewer"}),
    )
    .await;
    assert_eq!(status, 200, "{minted}");
    let token = minted["token"].as_str().expect("token").to_owned();
    let mut shopper = Client::join(&s, &s.room, Some(&token)).await;
    assert_eq!(claim(&mut shopper, "c-vip", "s1").await["ok"], true);
    assert_eq!(
        code(&claim(&mut shopper, "c-vip", "s2").await),
        "per_user_limit"
    );
    // Guest ids are livecart's: the merchant cannot mint one.
    let (status, body) = api(
        &s,
        "POST",
        &path,
        json!({"user_id": "g_123", "name": "x", "role": "viewer"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // A flash sale for signed-in viewers only, likewise.
    let now = livecart::store::now_ms();
    let sale = json!({"product_id": "sku-tee", "price_cents": 4900, "stock": 5, "per_user_limit": 1,
        "starts_ms": now - 1000, "ends_ms": now + 60_000, "signed_in_only": true});
    let (status, body) = api(
        &s,
        "POST",
        &format!("/api/rooms/{}/flash-sales", s.room),
        sale,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let sale_id = body["id"].as_str().expect("id").to_owned();
    guest
        .send(json!({"type": "buy", "sale_id": sale_id, "quantity": 1, "key": "gb"}))
        .await;
    let r = guest.expect_type("buy_result").await;
    assert_eq!(code(&r), "sign_in_required", "{r}");
    shopper
        .send(json!({"type": "buy", "sale_id": sale_id, "quantity": 1, "key": "sb"}))
        .await;
    assert_eq!(shopper.expect_type("buy_result").await["ok"], true);
}
