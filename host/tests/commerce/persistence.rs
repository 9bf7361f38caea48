//! Everything written survives closing and reopening the database file.

use super::{T0, open, open_coupon, product};
use livecart::store::{Ack, NewFlashSale, Push};

#[test]
fn everything_survives_reopening_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (token, room, coupon, claim_id, sale, order_id);
    {
        let store = open(dir.path());
        let (merchant, t) = store.create_merchant("Shop").expect("merchant");
        token = t;
        room = store.create_room(&merchant.id, "Live").expect("room").id;
        store
            .upsert_product(&merchant.id, &product("p1", "Shirt", 2_000))
            .expect("product");
        coupon = store
            .create_coupon(&merchant.id, &open_coupon(10, 1))
            .expect("coupon")
            .id;
        claim_id = store
            .claim_coupon(&coupon, "u1", "c-1", T0)
            .expect("claim")
            .claim_id;
        sale = store
            .create_flash_sale(
                &merchant.id,
                &NewFlashSale {
                    room_id: room.clone(),
                    product_id: "p1".into(),
                    price_cents: 999,
                    stock: 10,
                    per_user_limit: 2,
                    starts_ms: T0,
                    ends_ms: T0 + 60_000,
                    signed_in_only: false,
                    skus: vec![],
                },
            )
            .expect("sale")
            .id;
        order_id = store
            .buy_flash_sale(&sale, "u1", 1, "o-1", T0 + 1)
            .expect("buy")
            .order_id;
        store
            .record_push(&Push {
                push_id: "push-1".into(),
                room_id: room.clone(),
                product_id: "p1".into(),
                variant: None,
                server_send_ms: T0,
                media_ms: Some(42),
                source: "host".into(),
            })
            .expect("push");
        store
            .record_acks(
                &room,
                "u1",
                &[Ack {
                    push_id: "push-1".into(),
                    displayed_ms: Some(T0 + 5),
                    ..Ack::default()
                }],
            )
            .expect("acks");
    }

    let store = open(dir.path());
    let merchant = store
        .merchant_by_token(&token)
        .expect("auth")
        .expect("merchant");
    assert_eq!(store.products(&merchant.id).expect("products").len(), 1);
    assert_eq!(store.rooms_of(&merchant.id).expect("rooms").len(), 1);
    assert_eq!(
        store
            .coupon(&coupon)
            .expect("coupon")
            .expect("exists")
            .claimed,
        1
    );
    let replay = store
        .claim_coupon(&coupon, "u1", "c-1", T0 + 9)
        .expect("replay");
    assert!(replay.replayed);
    assert_eq!(replay.claim_id, claim_id);
    assert_eq!(
        store.flash_sale(&sale).expect("sale").expect("exists").sold,
        1
    );
    let orders = store.orders_of_room(&room).expect("orders");
    assert_eq!(
        orders
            .iter()
            .map(|o| o.order_id.clone())
            .collect::<Vec<_>>(),
        vec![order_id]
    );
    assert_eq!(
        store.push("push-1").expect("push").and_then(|p| p.media_ms),
        Some(42)
    );
    let rows = store
        .analytics_by_minute(&merchant.id, None, T0, T0 + 60_000)
        .expect("analytics");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].pushes, rows[0].displays, rows[0].purchases),
        (1, 1, 1)
    );
}
