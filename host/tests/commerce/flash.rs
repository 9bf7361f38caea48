//! Flash-sale buy rules and messages, no overselling under concurrency, and plain
//! purchases.

use super::{hammer, open, product};
use livecart::store::{BuyError, NewFlashSale, Store};
use std::collections::HashMap;

/// A merchant with a room, a product and a flash sale of it.
pub(crate) fn flash_setup(store: &dyn Store, stock: u32, per_user_limit: u32) -> (String, String) {
    let room = store.create_room("m_a", "Flash").expect("room");
    store
        .upsert_product("m_a", &product("p1", "Shirt", 2_000))
        .expect("product");
    let sale = store
        .create_flash_sale(
            "m_a",
            &NewFlashSale {
                room_id: room.id.clone(),
                product_id: "p1".into(),
                price_cents: 999,
                stock,
                per_user_limit,
                starts_ms: 1_000,
                ends_ms: 60_000,
                signed_in_only: false,
                skus: vec![],
            },
        )
        .expect("sale");
    (room.id, sale.id)
}

#[test]
fn each_buy_rule_fails_with_its_own_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (room, sale) = flash_setup(&*store, 5, 3);
    let msg = |r: Result<_, BuyError>| match r {
        Ok(order) => panic!("expected an error, got {order:?}"),
        Err(e) => e.to_string(),
    };

    // Only the merchant's own products and rooms can go on sale.
    store
        .upsert_product("m_b", &product("pb", "B's", 100))
        .expect("b product");
    let foreign = NewFlashSale {
        room_id: room.clone(),
        product_id: "pb".into(),
        price_cents: 1,
        stock: 1,
        per_user_limit: 1,
        starts_ms: 0,
        ends_ms: 10,
        signed_in_only: false,
        skus: vec![],
    };
    let err = store
        .create_flash_sale("m_a", &foreign)
        .expect_err("foreign product");
    assert_eq!(err.to_string(), "product pb not found");
    let err = store
        .create_flash_sale(
            "m_b",
            &NewFlashSale {
                product_id: "pb".into(),
                ..foreign.clone()
            },
        )
        .expect_err("foreign room");
    assert_eq!(err.to_string(), format!("room {room} not found"));

    assert_eq!(
        msg(store.buy_flash_sale("fs_nope", "u1", 1, "b0", 2_000)),
        "unknown flash sale fs_nope"
    );
    assert_eq!(
        msg(store.buy_flash_sale(&sale, "u1", 1, "b1", 999)),
        format!("flash sale {sale} has not started yet")
    );
    assert_eq!(
        msg(store.buy_flash_sale(&sale, "u1", 1, "b2", 60_000)),
        format!("flash sale {sale} has ended")
    );
    assert_eq!(
        msg(store.buy_flash_sale(&sale, "u1", 0, "b3", 2_000)),
        "quantity must be at least 1, got 0"
    );
    assert_eq!(
        msg(store.buy_flash_sale(&sale, "u1", 4, "b4", 2_000)),
        format!("user u1 would exceed the limit of 3 unit(s) of flash sale {sale}")
    );

    let order = store
        .buy_flash_sale(&sale, "u1", 2, "b5", 2_000)
        .expect("buy");
    assert_eq!((order.quantity, order.amount_cents), (2, 1_998));
    assert_eq!(order.sale_id.as_deref(), Some(sale.as_str()));
    assert!(order.order_id.starts_with("o_"));
    assert_eq!(
        msg(store.buy_flash_sale(&sale, "u1", 2, "b6", 2_000)),
        format!("user u1 would exceed the limit of 3 unit(s) of flash sale {sale}")
    );
    store
        .buy_flash_sale(&sale, "u2", 2, "b7", 2_000)
        .expect("buy");
    let short = store.buy_flash_sale(&sale, "u3", 2, "b8", 2_000);
    assert_eq!(short.as_ref().err().map(BuyError::code), Some("sold_out"));
    assert_eq!(msg(short), format!("flash sale {sale} has only 1 left"));
    store
        .buy_flash_sale(&sale, "u3", 1, "b9", 2_000)
        .expect("last one");
    assert_eq!(
        msg(store.buy_flash_sale(&sale, "u4", 1, "b10", 2_000)),
        format!("flash sale {sale} is sold out")
    );
    assert_eq!(
        msg(store.buy_flash_sale(&sale, "u2", 1, "b5", 2_000)),
        "idempotency key b5 was already used for another order"
    );

    // A retry replays; sold equals the orders' quantities.
    let again = store
        .buy_flash_sale(&sale, "u1", 2, "b5", 5_000)
        .expect("retry");
    assert!(again.replayed);
    assert_eq!(again.order_id, order.order_id);
    let stored = store.flash_sale(&sale).expect("get").expect("exists");
    assert_eq!(stored.sold, 5);
    let orders = store.orders_of_sale(&sale).expect("orders");
    assert_eq!(orders.iter().map(|o| o.quantity).sum::<u32>(), 5);

    // The sale is active inside its window until ended.
    assert_eq!(store.active_flash_sale(&room, 999).expect("before"), None);
    let active = store.active_flash_sale(&room, 2_000).expect("during");
    assert_eq!(active.map(|s| s.id), Some(sale.clone()));
    let running = store.active_flash_sales(&room, 2_000).expect("during");
    assert_eq!(running.iter().map(|s| &s.id).collect::<Vec<_>>(), [&sale]);
    assert!(
        store
            .active_flash_sales(&room, 999)
            .expect("before")
            .is_empty()
    );
    let ended = store
        .end_flash_sale(&sale, 3_000)
        .expect("end")
        .expect("exists");
    assert_eq!(ended.ends_ms, 3_000);
    assert_eq!(store.active_flash_sale(&room, 3_000).expect("after"), None);
    assert!(matches!(
        store.buy_flash_sale(&sale, "u9", 1, "b11", 3_000),
        Err(BuyError::Ended(_))
    ));
    assert_eq!(store.flash_sales_of_room(&room).expect("list").len(), 1);
}

#[test]
fn concurrent_flash_sale_buys_never_oversell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_room, sale) = flash_setup(&*open(dir.path()), 100, 3);
    let id = sale.clone();
    // 8 threads × 50 attempts from 40 users, some for 2 units, some retries.
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
            let quantity = if j % 7 == 0 { 2 } else { 1 };
            let key = format!("buy-{t}-{j}");
            let outcome = store.buy_flash_sale(&id, &user, quantity, &key, 2_000);
            (user, retry, outcome)
        },
        50,
    );

    let mut units: HashMap<String, u32> = HashMap::new();
    for (user, retry, outcome) in &outcomes {
        match outcome {
            Ok(order) => {
                assert_eq!(order.replayed, *retry);
                if !order.replayed {
                    *units.entry(user.clone()).or_default() += order.quantity;
                    assert_eq!(order.amount_cents, 999 * u64::from(order.quantity));
                }
            }
            Err(BuyError::SoldOut { .. } | BuyError::PerUserLimit { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    let sold: u32 = units.values().sum();
    assert_eq!(sold, 100, "the whole stock and not one unit more");
    assert!(units.values().all(|&n| n <= 3), "per-user limit: {units:?}");

    let store = open(dir.path());
    let stored = store.flash_sale(&sale).expect("get").expect("exists");
    assert_eq!(stored.sold, 100);
    let orders = store.orders_of_sale(&sale).expect("orders");
    assert_eq!(orders.iter().map(|o| o.quantity).sum::<u32>(), 100);
}

#[test]
fn plain_purchases_are_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let first = store
        .record_purchase("r1", "p1", "u1", 2, 3_998, "pay-1", 1_000)
        .expect("purchase");
    assert!(!first.replayed);
    assert_eq!(first.sale_id, None);
    let again = store
        .record_purchase("r1", "p1", "u1", 2, 3_998, "pay-1", 2_000)
        .expect("retry");
    assert!(again.replayed);
    assert_eq!(again.order_id, first.order_id);
    assert!(matches!(
        store.record_purchase("r1", "p1", "u2", 1, 1_999, "pay-1", 2_000),
        Err(BuyError::KeyReused(_))
    ));
    assert!(matches!(
        store.record_purchase("r1", "p1", "u1", 0, 0, "pay-2", 2_000),
        Err(BuyError::BadQuantity(0))
    ));
    assert_eq!(store.orders_of_room("r1").expect("orders").len(), 1);
}
