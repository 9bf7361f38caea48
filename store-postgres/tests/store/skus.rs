//! SKUs in both engines: a sale of a product with SKUs sells SKUs, each within its own
//! stock, and a storm (threads, and nodes on PostgreSQL) never oversells one.

use super::*;
use livecart_store::{FlashSale, NewSaleSku, Sku};

fn sku(id: &str, name: &str, stock: u32) -> Sku {
    Sku {
        id: id.into(),
        name: name.into(),
        price_cents: None,
        stock,
    }
}

/// A room and a tee in S, M (priced apart) and L, and a sale of `offer` of them.
fn tee_sale(s: &dyn Store, offer: Vec<NewSaleSku>, per_user: u32) -> FlashSale {
    let room = s.create_room("m1", "Live").expect("room");
    let tee = Product {
        id: "tee".into(),
        title: "棉T恤".into(),
        price_cents: 9900,
        skus: vec![
            sku("s", "S码", 5),
            Sku {
                price_cents: Some(10900),
                ..sku("m", "M码", 5)
            },
            sku("l", "L码", 0),
        ],
        ..Product::default()
    };
    s.upsert_product("m1", &tee).expect("product");
    let stored = s.product("m1", "tee").expect("read").expect("there");
    assert_eq!(stored.skus, tee.skus, "SKUs round-trip");
    s.create_flash_sale("m1", &tee_terms(room.id, offer, 0, per_user))
        .expect("sale")
}

/// A sale of the tee at ¥49 from 0 to 1,000 ms.
fn tee_terms(room_id: String, skus: Vec<NewSaleSku>, stock: u32, per_user: u32) -> NewFlashSale {
    NewFlashSale {
        room_id,
        product_id: "tee".into(),
        price_cents: 4900,
        stock,
        per_user_limit: per_user,
        starts_ms: 0,
        ends_ms: 1_000,
        signed_in_only: false,
        skus,
    }
}

fn offer(id: &str, stock: u32, price_cents: Option<u64>) -> NewSaleSku {
    NewSaleSku {
        id: id.into(),
        stock,
        price_cents,
    }
}

fn buy(sale: &FlashSale, user: &str, sku: Option<&str>, key: &str) -> BuyRequest {
    BuyRequest {
        sku: sku.map(str::to_owned),
        ..BuyRequest::new(&sale.id, user, 1, key, 10)
    }
}

#[test]
fn a_sale_with_skus_sells_each_within_its_own_stock() {
    both("skus", |s| {
        let all = tee_sale(&*s, vec![], 2);
        // Every SKU with stock, at the sale's price; L has none.
        let ids: Vec<&str> = all.skus.iter().map(|k| k.id.as_str()).collect();
        assert_eq!((ids, all.stock), (vec!["s", "m"], 10));
        let sale = tee_sale(&*s, vec![offer("m", 2, Some(5900)), offer("s", 1, None)], 2);
        assert_eq!((sale.stock, sale.skus[0].price_cents), (3, 5900));
        let results = s.buy_flash_sales(&[
            buy(&sale, "u1", None, "a"),      // a sale with SKUs needs one
            buy(&sale, "u1", Some("l"), "b"), // not on sale
            buy(&sale, "u1", Some("m"), "c"), // M at its own sale price
            buy(&sale, "u2", Some("s"), "d"), // the only S
            buy(&sale, "u3", Some("s"), "e"), // S is sold out, though M is not
            buy(&sale, "u3", Some("m"), "f"), // the last M
            buy(&sale, "u4", Some("m"), "g"), // M sold out: the whole sale is
            buy(&sale, "u1", Some("m"), "c"), // a replay
        ]);
        assert!(
            matches!(results[0], Err(BuyError::SkuRequired(_))),
            "{:?}",
            results[0]
        );
        assert!(matches!(results[1], Err(BuyError::UnknownSku { .. })));
        let m = results[2].as_ref().expect("M");
        assert_eq!((m.sku_id.as_deref(), m.amount_cents), (Some("m"), 5900));
        assert!(results[3].is_ok());
        let out = results[4].as_ref().expect_err("S sold out");
        assert_eq!(out.code(), "sold_out");
        assert_eq!(
            out.to_string(),
            format!("flash sale {}: S码 is sold out", sale.id)
        );
        assert!(results[5].is_ok());
        assert!(matches!(results[6], Err(BuyError::SoldOut { left: 0, .. })));
        assert!(results[7].as_ref().expect("replay").replayed);
        let after = s.flash_sale(&sale.id).unwrap().unwrap();
        let sold: Vec<(&str, u32)> = after.skus.iter().map(|k| (k.id.as_str(), k.sold)).collect();
        assert_eq!((after.sold, sold), (3, vec![("m", 2), ("s", 1)]));
        let orders = s.orders_of_sale(&sale.id).unwrap();
        let skus: Vec<_> = orders.iter().map(|o| o.sku_id.as_deref()).collect();
        assert_eq!(skus, [Some("m"), Some("s"), Some("m")]);

        // Bad terms, in words.
        let refused = |offer: Vec<NewSaleSku>, stock: u32| {
            let room = s.create_room("m1", "Live").expect("room");
            s.create_flash_sale("m1", &tee_terms(room.id, offer, stock, 1))
                .expect_err("refused")
                .to_string()
        };
        assert!(refused(vec![offer("xl", 1, None)], 0).contains("has no SKU \"xl\""));
        assert!(refused(vec![offer("m", 0, None)], 0).contains("at least 1"));
        assert!(refused(vec![], 3).contains("sum of its SKUs' stock (10)"));
    });
}

/// `threads` buyers each on `nodes[t % n]`, each trying M then S once: what was sold.
fn storm(nodes: &[Arc<dyn Store>], sale: &FlashSale, threads: usize) -> u32 {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let node = nodes[t % nodes.len()].clone();
                scope.spawn(move || {
                    let batch: Vec<_> = ["m", "s", "m", "s"]
                        .iter()
                        .enumerate()
                        .map(|(i, k)| {
                            buy(sale, &format!("u{t}-{i}"), Some(k), &format!("k{t}-{i}"))
                        })
                        .collect();
                    super::sales::units_sold(&node.buy_flash_sales(&batch))
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    })
}

fn assert_exact(s: &dyn Store, sale: &FlashSale, sold: u32) {
    assert_eq!(sold, 12, "M 7 + S 5");
    let after = s.flash_sale(&sale.id).expect("read").expect("the sale");
    let orders = s.orders_of_sale(&sale.id).expect("orders");
    for k in &after.skus {
        let n = orders
            .iter()
            .filter(|o| o.sku_id.as_deref() == Some(&k.id))
            .count();
        assert_eq!((k.sold, n), (k.stock, k.stock as usize), "SKU {}", k.id);
    }
    assert_eq!((after.sold, orders.len()), (12, 12));
}

#[test]
fn a_storm_never_oversells_a_sku() {
    both("skustorm", |s| {
        let sale = tee_sale(&*s, vec![offer("m", 7, None), offer("s", 5, None)], 1);
        let sold = storm(std::slice::from_ref(&s), &sale, 16);
        assert_exact(&*s, &sale, sold);
    });
    let url = fresh_db("skunodes");
    let nodes: Vec<Arc<dyn Store>> = (0..3)
        .map(|_| Arc::new(PostgresStore::connect(&url).expect("node")) as Arc<dyn Store>)
        .collect();
    let sale = tee_sale(
        &*nodes[0],
        vec![offer("m", 7, None), offer("s", 5, None)],
        1,
    );
    let sold = storm(&nodes, &sale, 24);
    assert_exact(&*nodes[1], &sale, sold);
}
