//! The store test suite, run against both engines: each test body takes an
//! `Arc<dyn Store>` and runs once on SQLite and once on a throwaway PostgreSQL cluster.
//! The claim storm and the cross-store replay use several Postgres stores (separate pools,
//! as separate nodes would have) on one database.

use livecart_e2e::PgCluster;
use livecart_store::{
    Ack, BuyError, BuyRequest, ClaimError, ClaimRequest, LogRecord, NewCoupon, NewFlashSale,
    PluginLimits, Product, Push, RoomStatus, Store, StoreError, VersionRecord,
};
use livecart_store_postgres::PostgresStore;
use livecart_store_sqlite::SqliteStore;
use std::sync::{Arc, OnceLock};

#[path = "store/audience.rs"]
mod audience;
#[path = "store/bag.rs"]
mod bag;
#[path = "store/images.rs"]
mod images;
#[path = "store/sales.rs"]
mod sales;
#[path = "store/skus.rs"]
mod skus;

/// One cluster for the whole binary; each test gets a database of its own.
fn cluster() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(PgCluster::start)
}

fn fresh_db(name: &str) -> String {
    cluster().create_db(name)
}

fn both(name: &str, body: impl Fn(Arc<dyn Store>)) {
    body(Arc::new(SqliteStore::in_memory().expect("sqlite")));
    let url = fresh_db(name);
    body(Arc::new(PostgresStore::connect(&url).expect("postgres")));
}

fn coupon(quota: u32, per_user: u32) -> NewCoupon {
    NewCoupon {
        title: "10 off".into(),
        discount_cents: 1000,
        quota,
        per_user_limit: per_user,
        unlocked: true,
        ..NewCoupon::default()
    }
}

#[test]
fn merchants_tokens_disable_and_rotate() {
    both("merchants", |s| {
        let (m, token) = s.create_merchant("  Shop  ").expect("create");
        assert_eq!(m.name, "Shop");
        assert_eq!(s.merchant_by_token(&token).unwrap().unwrap().id, m.id);
        assert!(s.merchant_by_token("").unwrap().is_none());
        let off = s.set_merchant_disabled(&m.id, true).unwrap();
        assert!(off.disabled_ms.is_some());
        assert!(matches!(
            s.set_merchant_disabled(&m.id, true),
            Err(StoreError::Conflict(_))
        ));
        assert!(!s.merchant_by_token(&token).unwrap().unwrap().is_enabled());
        s.set_merchant_disabled(&m.id, false).unwrap();
        // The operator's plugin limits: none, set, cleared; unknown merchants are NotFound.
        assert!(s.plugin_limits(&m.id).unwrap().is_empty());
        let more = PluginLimits {
            max_code_bytes: Some(32 << 20),
        };
        assert_eq!(s.set_plugin_limits(&m.id, &more).unwrap(), more);
        assert_eq!(s.plugin_limits(&m.id).unwrap(), more);
        s.set_plugin_limits(&m.id, &PluginLimits::default())
            .unwrap();
        assert!(s.plugin_limits(&m.id).unwrap().is_empty());
        assert!(matches!(
            s.plugin_limits("m_nobody"),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.set_plugin_limits("m_nobody", &more),
            Err(StoreError::NotFound(_))
        ));
        let tokens = s.tokens_of(&m.id).unwrap();
        assert_eq!(tokens.len(), 1);
        let (new, secret) = s.rotate_token(&m.id, &tokens[0].id).unwrap();
        assert_eq!(new.label, "initial");
        assert!(
            s.merchant_by_token(&token).unwrap().is_none(),
            "old token revoked"
        );
        assert!(s.merchant_by_token(&secret).unwrap().is_some());
        assert!(matches!(
            s.revoke_token(&m.id, &tokens[0].id),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.revoke_token("m_nobody", &new.id),
            Err(StoreError::NotFound(_))
        ));
        s.revoke_token(&m.id, &new.id).unwrap();
        assert!(s.merchant_by_token(&secret).unwrap().is_none());
        let (_, other) = s.issue_token(&m.id, "ci").unwrap();
        assert!(s.merchant_by_token(&other).unwrap().is_some());
        assert_eq!(s.merchants().unwrap().len(), 1);
    });
}

#[test]
fn rooms_products_and_coupons_keep_their_contract() {
    both("catalog", |s| {
        let room = s.create_room("m1", "Live").unwrap();
        assert!(room.id.starts_with("r_") && room.stream_key.starts_with("sk_"));
        assert_eq!(s.ensure_room(&room.id, "m2", "other").unwrap(), room);
        let live = s.set_room_status(&room.id, RoomStatus::Live).unwrap();
        assert!(live.started_ms.is_some() && live.ended_ms.is_none());
        let idle = s.set_room_status(&room.id, RoomStatus::Idle).unwrap();
        assert_eq!(idle.started_ms, live.started_ms);
        let rotated = s.rotate_stream_key(&room.id).unwrap();
        assert!(s.room_by_stream_key(&room.stream_key).unwrap().is_none());
        assert_eq!(
            s.room_by_stream_key(&rotated.stream_key)
                .unwrap()
                .unwrap()
                .id,
            room.id
        );
        assert!(matches!(
            s.set_room_status("r_none", RoomStatus::Live),
            Err(StoreError::NotFound(_))
        ));

        let p = s
            .upsert_product(
                "m1",
                &Product {
                    title: "Tea".into(),
                    ..Product::default()
                },
            )
            .unwrap();
        assert!(p.product.id.starts_with("p_"));
        assert!(s.product("m2", &p.product.id).unwrap().is_none());
        assert!(s.delete_product("m1", &p.product.id).unwrap());
        assert!(s.products("m1").unwrap().is_empty());
        s.upsert_product("m1", &p.product).unwrap();
        assert_eq!(s.products("m1").unwrap().len(), 1);

        let c = s
            .create_coupon(
                "m1",
                &NewCoupon {
                    id: Some("c-1".into()),
                    ..coupon(2, 1)
                },
            )
            .unwrap();
        assert!(matches!(
            s.create_coupon(
                "m1",
                &NewCoupon {
                    id: Some("c-1".into()),
                    ..coupon(2, 1)
                }
            ),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(s.coupons_of_room(&room.id).unwrap(), vec![c.clone()]);
        assert!(matches!(
            s.create_coupon("m1", &coupon(0, 1)),
            Err(StoreError::Invalid(_))
        ));
        s.claim_coupon("c-1", "u1", "k1", 5).unwrap();
        assert!(matches!(
            s.update_coupon("m1", "c-1", &coupon(0, 1)),
            Err(StoreError::Invalid(_))
        ));
        assert!(
            s.update_coupon("m2", "c-1", &coupon(5, 1))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            s.update_coupon("m1", "c-1", &coupon(5, 1))
                .unwrap()
                .unwrap()
                .quota,
            5
        );
        // 满减: a minimum spend is kept and updated; one not above the discount is refused.
        let spend = |min| NewCoupon {
            min_spend_cents: min,
            ..coupon(5, 1)
        };
        assert_eq!(
            s.update_coupon("m1", "c-1", &spend(19_900))
                .unwrap()
                .unwrap()
                .min_spend_cents,
            19_900
        );
        assert_eq!(s.coupon("c-1").unwrap().unwrap().min_spend_cents, 19_900);
        for bad in [1000, 500] {
            match s.update_coupon("m1", "c-1", &spend(bad)) {
                Err(StoreError::Invalid(msg)) => assert!(msg.contains("min_spend_cents"), "{msg}"),
                other => panic!("min spend {bad}: {other:?}"),
            }
        }
        let fresh = s.create_coupon("m1", &spend(5000)).unwrap();
        assert_eq!(fresh.min_spend_cents, 5000);
        assert_eq!(
            s.create_coupon("m1", &coupon(1, 1))
                .unwrap()
                .min_spend_cents,
            0
        );
        assert!(s.delete_coupon("m1", "c-1").unwrap());
        assert!(s.coupon("c-1").unwrap().is_none());
    });
}

#[test]
fn claims_replay_limit_and_sell_out_in_one_batch() {
    both("claims", |s| {
        let c = s.create_coupon("m1", &coupon(2, 1)).unwrap();
        let locked = s
            .create_coupon(
                "m1",
                &NewCoupon {
                    unlocked: false,
                    ..coupon(1, 1)
                },
            )
            .unwrap();
        let req = |user: &str, key: &str| ClaimRequest::new(&c.id, user, key, 10);
        let results = s.claim_coupons(&[
            req("u1", "k1"),
            req("u1", "k1"),
            req("u1", "k2"),
            req("u2", "k3"),
            req("u3", "k4"),
            ClaimRequest::new(&locked.id, "u1", "k5", 10),
            req("u9", "k3"),
            ClaimRequest::new("c_none", "u1", "k6", 10),
            // A plugin's issue gives a locked coupon; its per-user limit still holds.
            ClaimRequest::new(&locked.id, "u2", "k7", 10).issue(),
            ClaimRequest::new(&locked.id, "u2", "k8", 10).issue(),
        ]);
        let codes: Vec<&str> = results
            .iter()
            .map(|r| match r {
                Ok(c) if c.replayed => "replayed",
                Ok(_) => "ok",
                Err(e) => e.code(),
            })
            .collect();
        assert_eq!(
            codes,
            [
                "ok",
                "replayed",
                "per_user_limit",
                "ok",
                "sold_out",
                "locked",
                "key_reused",
                "unknown_coupon",
                "ok",
                "per_user_limit"
            ]
        );
        assert!(
            !s.coupon(&locked.id).unwrap().unwrap().unlocked,
            "still locked for others"
        );
        assert_eq!(s.coupon(&c.id).unwrap().unwrap().claimed, 2);
        assert_eq!(s.claims_of_coupon(&c.id).unwrap().len(), 2);
        // A replay after the batch returns the same claim.
        let again = s.claim_coupon(&c.id, "u1", "k1", 99).unwrap();
        assert!(again.replayed);
        assert_eq!(again.claim_id, results[0].as_ref().unwrap().claim_id);
        assert!(s.tag_claim(&again.claim_id, "push1", Some("a")).unwrap());
        assert!(matches!(
            s.claim_coupon(&c.id, "u4", "", 10),
            Err(ClaimError::SoldOut(_))
        ));
    });
}

#[test]
fn buys_and_purchases_share_one_key_space() {
    both("buys", |s| {
        let room = s.create_room("m1", "Live").unwrap();
        let p = s
            .upsert_product(
                "m1",
                &Product {
                    id: "p1".into(),
                    ..Product::default()
                },
            )
            .unwrap();
        let sale = s
            .create_flash_sale(
                "m1",
                &NewFlashSale {
                    room_id: room.id.clone(),
                    product_id: p.product.id.clone(),
                    price_cents: 500,
                    stock: 3,
                    per_user_limit: 2,
                    starts_ms: 0,
                    ends_ms: 1_000,
                    signed_in_only: false,
                    skus: vec![],
                },
            )
            .unwrap();
        assert_eq!(
            s.active_flash_sale(&room.id, 10).unwrap().unwrap().id,
            sale.id
        );
        let running = s.active_flash_sales(&room.id, 10).unwrap();
        assert_eq!(
            running.iter().map(|x| &x.id).collect::<Vec<_>>(),
            [&sale.id]
        );
        assert!(s.active_flash_sales(&room.id, 1_000).unwrap().is_empty());
        let o = s.buy_flash_sale(&sale.id, "u1", 2, "b1", 10).unwrap();
        assert_eq!(o.amount_cents, 1000);
        assert!(
            s.buy_flash_sale(&sale.id, "u1", 2, "b1", 10)
                .unwrap()
                .replayed
        );
        assert!(matches!(
            s.buy_flash_sale(&sale.id, "u1", 1, "b2", 10),
            Err(BuyError::PerUserLimit { .. })
        ));
        assert!(matches!(
            s.buy_flash_sale(&sale.id, "u2", 2, "b3", 10),
            Err(BuyError::SoldOut { left: 1, .. })
        ));
        assert!(matches!(
            s.buy_flash_sale(&sale.id, "u2", 1, "b4", 2_000),
            Err(BuyError::Ended(_))
        ));
        assert!(matches!(
            s.record_purchase(&room.id, "p1", "u3", 1, 100, "b1", 10),
            Err(BuyError::KeyReused(_))
        ));
        let plain = s
            .record_purchase(&room.id, "p1", "u3", 1, 100, "pk", 10)
            .unwrap();
        assert!(
            s.record_purchase(&room.id, "p1", "u3", 1, 100, "pk", 10)
                .unwrap()
                .replayed
        );
        assert!(s.tag_order(&plain.order_id, "push1", None).unwrap());
        assert_eq!(s.orders_of_room(&room.id).unwrap().len(), 2);
        assert_eq!(s.orders_of_sale(&sale.id).unwrap().len(), 1);
        assert_eq!(s.flash_sale(&sale.id).unwrap().unwrap().sold, 2);
        let ended = s.end_flash_sale(&sale.id, 50).unwrap().unwrap();
        assert_eq!(ended.ends_ms, 50);
    });
}

#[test]
fn analytics_plugins_and_kv() {
    both("analytics", |s| {
        let room = s.create_room("m1", "Live").unwrap();
        let push = Push {
            push_id: "push1".into(),
            room_id: room.id.clone(),
            product_id: "p1".into(),
            variant: Some("a".into()),
            server_send_ms: 60_000,
            media_ms: Some(1_000),
            source: "host".into(),
        };
        assert!(s.record_push(&push).unwrap());
        assert!(!s.record_push(&push).unwrap());
        let ack = Ack {
            push_id: "push1".into(),
            displayed_ms: Some(61_000),
            displayed_media_ms: Some(1_040),
            ..Ack::default()
        };
        s.record_acks(&room.id, "u1", &[ack]).unwrap();
        let rows = s
            .analytics_by_minute("m1", Some(&room.id), 0, 600_000)
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (rows[0].minute_ms, rows[0].pushes, rows[0].displays),
            (60_000, 1, 1)
        );
        let samples = s.sync_samples(&room.id, 0, 600_000).unwrap();
        assert_eq!(samples[0].error_ms, 40);

        let v = VersionRecord {
            hash: "h1".into(),
            owner: "m1".into(),
            name: "hello".into(),
            label: "1.0".into(),
            manifest: serde_json::json!({"name": "hello"}),
            size: 3,
            uploaded_ms: 1,
        };
        assert!(s.put_plugin_version(&v, b"abc").unwrap());
        assert!(!s.put_plugin_version(&v, b"abc").unwrap());
        assert_eq!(s.plugin_wasm("h1").unwrap().unwrap(), b"abc");
        s.put_plugin_version(
            &VersionRecord {
                hash: "h2".into(),
                ..v.clone()
            },
            b"d",
        )
        .unwrap();
        s.bind_plugin(&room.id, "hello", "h1", "{}").unwrap();
        s.bind_plugin(&room.id, "hello", "h2", "{}").unwrap();
        assert_eq!(
            s.previous_binding(&room.id, "hello", "h2").unwrap(),
            Some(("h1".into(), "{}".into()))
        );
        assert!(s.bind_plugin(&room.id, "x", "h_missing", "{}").is_err());
        assert!(
            s.set_plugin_enabled(&room.id, "hello", false, Some("faults"))
                .unwrap()
        );
        assert!(!s.binding(&room.id, "hello").unwrap().unwrap().enabled);
        s.apply(
            "hello",
            &room.id,
            &[
                ("a".into(), Some(b"1".to_vec())),
                ("b".into(), Some(b"2".to_vec())),
            ],
        )
        .unwrap();
        s.apply("hello", &room.id, &[("a".into(), None)]).unwrap();
        assert_eq!(
            s.load("hello", &room.id).unwrap(),
            vec![("b".to_string(), b"2".to_vec())]
        );
    });
}

/// Three stores (three nodes' pools) and twelve threads claim one coupon of quota 50 for
/// 300 users: exactly 50 claims, and the counter equals the claim rows.
#[test]
fn a_claim_storm_across_nodes_grants_exactly_the_quota() {
    let url = fresh_db("storm");
    let nodes: Vec<Arc<dyn Store>> = (0..3)
        .map(|_| Arc::new(PostgresStore::connect(&url).expect("node")) as Arc<dyn Store>)
        .collect();
    let c = nodes[0].create_coupon("m1", &coupon(50, 1)).unwrap();
    let granted: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..12)
            .map(|t| {
                let (node, id) = (nodes[t % 3].clone(), c.id.clone());
                scope.spawn(move || {
                    (0..25)
                        .map(|i| {
                            let user = format!("u{t}-{i}");
                            // Batches of two, as the group commit sends them.
                            let batch = [
                                ClaimRequest::new(&id, &user, &format!("k-{user}"), 10),
                                ClaimRequest::new(&id, &user, &format!("k-{user}"), 10),
                            ];
                            let results = node.claim_coupons(&batch);
                            match (&results[0], &results[1]) {
                                (Ok(a), Ok(b)) => {
                                    assert!(b.replayed && a.claim_id == b.claim_id);
                                    1
                                }
                                (Err(ClaimError::SoldOut(_)), Err(ClaimError::SoldOut(_))) => 0,
                                other => panic!("unexpected {other:?}"),
                            }
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    assert_eq!(granted, 50);
    assert_eq!(nodes[1].coupon(&c.id).unwrap().unwrap().claimed, 50);
    assert_eq!(nodes[2].claims_of_coupon(&c.id).unwrap().len(), 50);
    // A retry on another node replays the claim it got on the first.
    let first = nodes[0].claims_of_coupon(&c.id).unwrap().remove(0);
    let retried = nodes[2]
        .claim_coupon(&c.id, &first.user_id, &format!("k-{}", first.user_id), 11)
        .unwrap();
    assert!(retried.replayed);
    assert_eq!(retried.claim_id, first.claim_id);
}

#[test]
fn migrations_are_recorded_once_across_nodes() {
    let url = fresh_db("migrations");
    let stores: Vec<PostgresStore> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| PostgresStore::connect(&url).expect("connect")))
            .collect();
        starts
            .into_iter()
            .map(|s| s.join().expect("start"))
            .collect()
    });
    // Every migration applied, each once (a second run would have failed on CREATE TABLE).
    assert_eq!(stores[0].schema_version().unwrap(), 10);
}

#[test]
fn an_unreachable_database_is_an_error_at_connect() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let err = PostgresStore::connect(&format!("postgres://livecart@127.0.0.1:{port}/x"))
        .expect_err("nothing listens there");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
}

#[test]
fn plugin_logs_keep_the_newest_lines_per_plugin_and_room() {
    both("logs", |s| {
        let line = |name: &str, message: &str| LogRecord {
            room: "r1".into(),
            name: name.into(),
            hash: "h".into(),
            at_ms: 5,
            level: "info".into(),
            source: "host".into(),
            message: message.into(),
        };
        s.record_plugin_logs(&[line("lottery", "a"), line("lottery", "b")], 2)
            .unwrap();
        s.record_plugin_logs(&[line("other", "x")], 2).unwrap();
        s.record_plugin_logs(&[line("lottery", "c")], 2).unwrap();
        s.record_plugin_logs(&[], 2).unwrap();
        let kept: Vec<String> = s
            .plugin_logs("r1", "lottery", 10)
            .unwrap()
            .into_iter()
            .map(|l| l.message)
            .collect();
        assert_eq!(kept, ["c", "b"], "newest first, trimmed to two");
        assert_eq!(s.plugin_logs("r1", "other", 10).unwrap().len(), 1);
        assert_eq!(s.plugin_logs("r1", "lottery", 1).unwrap()[0].message, "c");
    });
}

#[test]
fn offers_for_signed_in_viewers_refuse_guests_in_both_engines() {
    both("signed_in", |s| {
        let vip = s
            .create_coupon(
                "m1",
                &NewCoupon {
                    signed_in_only: true,
                    ..coupon(5, 1)
                },
            )
            .unwrap();
        assert!(s.coupon(&vip.id).unwrap().unwrap().signed_in_only, "kept");
        let guest = ClaimRequest {
            guest: true,
            ..ClaimRequest::new(&vip.id, "g_1", "k1", 10)
        };
        let signed = ClaimRequest::new(&vip.id, "shopper", "k2", 10);
        let codes: Vec<&str> = s
            .claim_coupons(&[guest, signed])
            .iter()
            .map(|r| r.as_ref().map_or_else(|e| e.code(), |_| "ok"))
            .collect();
        assert_eq!(codes, ["sign_in_required", "ok"]);
        assert_eq!(s.coupon(&vip.id).unwrap().unwrap().claimed, 1);

        let room = s.create_room("m1", "signed").unwrap();
        s.upsert_product(
            "m1",
            &Product {
                id: "p1".into(),
                ..Product::default()
            },
        )
        .unwrap();
        let sale = s
            .create_flash_sale(
                "m1",
                &NewFlashSale {
                    room_id: room.id.clone(),
                    product_id: "p1".into(),
                    price_cents: 100,
                    stock: 3,
                    per_user_limit: 1,
                    starts_ms: 0,
                    ends_ms: 1_000,
                    signed_in_only: true,
                    skus: vec![],
                },
            )
            .unwrap();
        let guest = BuyRequest {
            guest: true,
            ..BuyRequest::new(&sale.id, "g_1", 1, "b1", 10)
        };
        let results =
            s.buy_flash_sales(&[guest, BuyRequest::new(&sale.id, "shopper", 1, "b2", 10)]);
        let codes: Vec<&str> = results
            .iter()
            .map(|r| r.as_ref().map_or_else(|e| e.code(), |_| "ok"))
            .collect();
        assert_eq!(codes, ["sign_in_required", "ok"]);
    });
}
