//! Flash-sale buys in both engines: a batch sees the buys before it; a storm across nodes
//! sells exactly the stock.

use super::*;

/// A sale of `stock` units, at most `per_user` each, open from 0 to 1,000 ms.
fn sale_in_room(s: &dyn Store, stock: u32, per_user: u32) -> livecart_store::FlashSale {
    let room = s.create_room("m1", "Live").expect("room");
    let p = s
        .upsert_product(
            "m1",
            &Product {
                id: "p1".into(),
                ..Product::default()
            },
        )
        .expect("product");
    s.create_flash_sale(
        "m1",
        &NewFlashSale {
            room_id: room.id,
            product_id: p.product.id,
            price_cents: 500,
            stock,
            per_user_limit: per_user,
            starts_ms: 0,
            ends_ms: 1_000,
            signed_in_only: false,
            skus: vec![],
        },
    )
    .expect("sale")
}

#[test]
fn buys_in_one_batch_see_the_ones_before_them() {
    both("buybatch", |s| {
        let sale = sale_in_room(&*s, 3, 2);
        let buy = |user: &str, n: u32, key: &str| BuyRequest::new(&sale.id, user, n, key, 10);
        let results = s.buy_flash_sales(&[
            buy("u1", 2, "a"),
            buy("u1", 1, "b"), // over u1's limit of 2, counting the buy before it
            buy("u1", 2, "a"), // the first one again: a replay
            buy("u2", 2, "c"), // 1 left
            buy("u3", 1, "d"),
            buy("u4", 1, "e"), // sold out
            buy("u5", 0, "f"),
        ]);
        assert_eq!(results[0].as_ref().unwrap().quantity, 2);
        assert!(matches!(results[1], Err(BuyError::PerUserLimit { .. })));
        let replay = results[2].as_ref().unwrap();
        assert!(replay.replayed && replay.order_id == results[0].as_ref().unwrap().order_id);
        assert!(matches!(results[3], Err(BuyError::SoldOut { left: 1, .. })));
        assert!(results[4].is_ok());
        assert!(matches!(results[5], Err(BuyError::SoldOut { left: 0, .. })));
        assert!(matches!(results[6], Err(BuyError::BadQuantity(0))));
        assert_eq!(s.flash_sale(&sale.id).unwrap().unwrap().sold, 3);
        assert_eq!(s.orders_of_sale(&sale.id).unwrap().len(), 2);
    });
}

/// The units a storm's batch sold: sold out is the only refusal it expects.
pub(super) fn units_sold(results: &[Result<livecart_store::Order, BuyError>]) -> u32 {
    results
        .iter()
        .map(|r| match r {
            Ok(o) => o.quantity,
            Err(BuyError::SoldOut { .. }) => 0,
            Err(e) => panic!("unexpected {e:?}"),
        })
        .sum()
}

#[test]
fn a_buy_storm_across_nodes_sells_exactly_the_stock() {
    let url = fresh_db("buystorm");
    let nodes: Vec<Arc<dyn Store>> = (0..3)
        .map(|_| Arc::new(PostgresStore::connect(&url).expect("node")) as Arc<dyn Store>)
        .collect();
    let sale = sale_in_room(&*nodes[0], 40, 1);
    let sold: u32 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..12)
            .map(|t| {
                let (node, id) = (nodes[t % 3].clone(), sale.id.clone());
                scope.spawn(move || {
                    (0..5)
                        .map(|b| {
                            // Batches of five buyers, as the group commit sends them.
                            let batch: Vec<_> = (0..5)
                                .map(|i| {
                                    let user = format!("u{t}-{b}-{i}");
                                    BuyRequest::new(&id, &user, 1, &format!("k-{user}"), 10)
                                })
                                .collect();
                            units_sold(&node.buy_flash_sales(&batch))
                        })
                        .sum::<u32>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    assert_eq!(sold, 40, "300 buyers, 40 units");
    assert_eq!(nodes[1].flash_sale(&sale.id).unwrap().unwrap().sold, 40);
    assert_eq!(nodes[2].orders_of_sale(&sale.id).unwrap().len(), 40);
}
