//! The REST API: authentication, merchant isolation, validation, analytics, OpenAPI.

use crate::harness::*;
use livecart::room::RoomConfig;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn every_merchant_route_needs_a_valid_token() {
    let s = start(fast()).await;
    for (method, path) in [
        ("GET", "/api/rooms".to_owned()),
        ("POST", "/api/rooms".to_owned()),
        ("GET", "/api/products".to_owned()),
        ("POST", "/api/plugins".to_owned()),
        ("GET", format!("/api/rooms/{}/plugins", s.room)),
        ("POST", format!("/api/rooms/{}/push", s.room)),
        ("GET", format!("/api/rooms/{}/analytics", s.room)),
        ("GET", format!("/api/rooms/{}/analytics/sync", s.room)),
    ] {
        let (status, body) = http(&s, method, &path, None, Some(b"{}".to_vec())).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        let (status, _) = http(&s, method, &path, Some("lc_wrong"), Some(b"{}".to_vec())).await;
        assert_eq!(status, 401, "{method} {path} with a wrong token");
    }
}

#[tokio::test]
async fn merchant_b_cannot_touch_merchant_a() {
    let s = start(fast()).await;
    let (_, token_b) = s.store.create_merchant("Shop B").expect("merchant b");
    let b = |method: &'static str, path: String, body: Value| {
        let token_b = token_b.clone();
        let s = &s;
        async move {
            let (status, text) = http(
                s,
                method,
                &path,
                Some(&token_b),
                Some(body.to_string().into_bytes()),
            )
            .await;
            (status, text)
        }
    };
    let room = s.room.clone();
    assert_eq!(
        b("GET", format!("/api/rooms/{room}"), json!({})).await.0,
        404
    );
    assert_eq!(
        b("POST", format!("/api/rooms/{room}/start"), json!({}))
            .await
            .0,
        404
    );
    assert_eq!(
        b(
            "POST",
            format!("/api/rooms/{room}/push"),
            json!({"product_id": "sku-tee"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        b(
            "POST",
            format!("/api/rooms/{room}/tokens"),
            json!({"user_id": "x", "name": "x", "role": "host"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        b("GET", "/api/products/sku-tee".into(), json!({})).await.0,
        404
    );
    assert_eq!(
        b("DELETE", "/api/products/sku-tee".into(), json!({}))
            .await
            .0,
        404
    );
    assert_eq!(
        b("POST", "/api/coupons/c-1k/unlock".into(), json!({}))
            .await
            .0,
        404
    );
    assert_eq!(b("GET", "/api/coupons/c-1k".into(), json!({})).await.0, 404);
    let (status, own) = api(&s, "GET", "/api/coupons/c-1k", json!({})).await;
    assert_eq!((status, own["id"].as_str()), (200, Some("c-1k")), "{own}");
    assert_eq!(
        b(
            "POST",
            "/api/coupons".into(),
            json!({"room_id": room, "title": "x", "discount_cents": 1, "quota": 1})
        )
        .await
        .0,
        404
    );
    let (status, body) = b("GET", "/api/rooms".into(), json!({})).await;
    assert_eq!((status, body.as_str()), (200, "[]"));

    // Merchant A's plugin version cannot be enabled by B, even in B's own room.
    let (_, version) = upload(&s, &plugin_bytes("hello")).await;
    let (status, text) = b("POST", "/api/rooms".into(), json!({"title": "B's room"})).await;
    assert_eq!(status, 201, "{text}");
    let b_room: Value = serde_json::from_str(&text).expect("json");
    let (status, text) = b(
        "POST",
        format!("/api/rooms/{}/plugins", b_room["id"].as_str().unwrap_or("")),
        json!({"hash": version["hash"]}),
    )
    .await;
    assert_eq!(status, 403, "{text}");
    // And nothing of A's shows in B's plugin list.
    assert_eq!(b("GET", "/api/plugins".into(), json!({})).await.1, "[]");
}

#[tokio::test]
async fn bad_plugins_and_configs_are_refused_with_the_reason() {
    let s = start(fast()).await;
    let (status, body) = upload(&s, b"not wasm at all").await;
    assert_eq!(status, 422);
    assert_eq!(
        body["error"],
        "invalid plugin: not a WebAssembly file: it does not start with the `\\0asm` magic bytes"
    );
    let (status, body) = upload(&s, &plugin_bytes("sneaky")).await;
    assert_eq!(status, 422);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("capability `catalog-read` not granted"),
        "{body}"
    );
    // The transport cap, not the policy (that is the code allowance).
    let cap = livecart::plugin::Limits::default().max_upload_bytes;
    let (status, body) = upload(&s, &vec![0u8; cap + 100]).await;
    assert_eq!(status, 413);
    assert_eq!(
        body["error"],
        "upload is larger than the limit of 67108864 bytes"
    );

    let (status, version) = upload(&s, &plugin_bytes("like-coupon")).await;
    assert_eq!(status, 201);
    let (status, body) = api(
        &s,
        "POST",
        &format!("/api/rooms/{}/plugins", s.room),
        json!({"hash": version["hash"], "config": "{\"thresholds\": ["}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("invalid config: not valid JSON"),
        "{body}"
    );
    // Valid JSON the plugin cannot use is refused now, not at the first event of the show.
    let (_, keyword) = upload(&s, &plugin_bytes("keyword-push")).await;
    let (status, body) = api(
        &s,
        "POST",
        &format!("/api/rooms/{}/plugins", s.room),
        json!({"hash": keyword["hash"], "config": {}}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["error"],
        "invalid config: the plugin refused it: missing field `rules` at line 1 column 2"
    );
    let (_, list) = api(
        &s,
        "GET",
        &format!("/api/rooms/{}/plugins", s.room),
        json!({}),
    )
    .await;
    assert_eq!(
        list["plugins"].as_array().map(Vec::len),
        Some(0),
        "nothing was enabled"
    );
    let (status, _) = api(
        &s,
        "POST",
        &format!("/api/rooms/{}/plugins/like-coupon/rollback", s.room),
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn rooms_products_coupons_and_sales_round_trip() {
    let s = start(fast()).await;
    let (status, room) = api(&s, "POST", "/api/rooms", json!({"title": "Evening live"})).await;
    assert_eq!(status, 201);
    let id = room["id"].as_str().unwrap_or("").to_owned();
    let key = room["stream_key"].clone();
    let (_, rotated) = api(
        &s,
        "POST",
        &format!("/api/rooms/{id}/stream-key"),
        json!({}),
    )
    .await;
    assert_ne!(rotated["stream_key"], key);
    let (_, started) = api(&s, "POST", &format!("/api/rooms/{id}/start"), json!({})).await;
    assert_eq!(started["status"], "live");

    let (status, p) = api(&s, "POST", "/api/products", json!({"id": "sku-cup", "title": "Mug", "price_cents": 3900, "buy_url": "https://shop.example/cup"})).await;
    assert_eq!(status, 201, "{p}");
    let (status, body) = api(
        &s,
        "POST",
        "/api/products",
        json!({"title": "", "price_cents": 1}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = api(
        &s,
        "POST",
        "/api/products",
        json!({"title": "x", "buy_url": "javascript:alert(1)"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (_, list) = api(&s, "GET", "/api/products", json!({})).await;
    assert_eq!(list.as_array().map(Vec::len), Some(2));

    let (status, sale) = api(
        &s,
        "POST",
        &format!("/api/rooms/{id}/flash-sales"),
        json!({"product_id": "sku-cup", "price_cents": 1900, "stock": 5, "per_user_limit": 1, "starts_ms": 0, "ends_ms": livecart::store::now_ms() + 60_000}),
    )
    .await;
    assert_eq!(status, 201, "{sale}");
    let host = token(&id, "viewer-9", livecart::auth::Role::Viewer);
    let mut viewer = Client::join(&s, &id, Some(&host)).await;
    let snap = viewer.snapshot();
    assert_eq!(snap["flash_sale"]["id"], sale["id"]);
    // A late joiner who never saw the product's card can still show it.
    let product = &snap["flash_sale"]["product"];
    assert_eq!(product["title"], "Mug", "{snap}");
    assert_eq!(product["price_cents"], 3900, "{snap}");
    viewer
        .send(json!({"type": "buy", "sale_id": sale["id"], "quantity": 1, "key": "o1"}))
        .await;
    let r = viewer.expect_type("buy_result").await;
    assert_eq!(r["ok"], true, "{r}");
    // A second sale while the first runs: both are running, and a joiner sees both.
    let (status, second) = api(
        &s,
        "POST",
        &format!("/api/rooms/{id}/flash-sales"),
        json!({"product_id": "sku-cup", "price_cents": 2900, "stock": 3, "per_user_limit": 1, "starts_ms": 1, "ends_ms": livecart::store::now_ms() + 60_000}),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    let late = Client::join(&s, &id, None).await;
    let snap = late.snapshot();
    let ids: Vec<_> = snap["flash_sales"]
        .as_array()
        .expect("flash_sales")
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    assert_eq!(ids, [sale["id"].clone(), second["id"].clone()], "{snap}");
    assert_eq!(
        snap["flash_sale"]["id"], second["id"],
        "the latest-starting one"
    );
    assert_eq!(snap["flash_sales"][0]["sold"], 1, "{snap}");
    let (status, ended) = api(
        &s,
        "POST",
        &format!("/api/flash-sales/{}/end", sale["id"].as_str().unwrap_or("")),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(
        viewer
            .expect("sale end", |v| v["type"] == "flash_sale"
                && v["event"] == "end")
            .await["sale"]["id"],
        sale["id"]
    );
    // A sale that starts before one already running is the one the POST answers with.
    let (status, third) = api(
        &s,
        "POST",
        &format!("/api/rooms/{id}/flash-sales"),
        json!({"product_id": "sku-cup", "price_cents": 999, "stock": 2, "per_user_limit": 1, "starts_ms": 0, "ends_ms": livecart::store::now_ms() + 60_000}),
    )
    .await;
    assert_eq!(
        (status, &third["price_cents"]),
        (201, &json!(999)),
        "{third}"
    );
    assert_ne!(third["id"], second["id"], "{third}");
}

/// A coupon created claimable reaches the room's viewers at once (it used to wait for
/// their next join), with its minimum spend; one created locked does not.
#[tokio::test]
async fn a_coupon_created_claimable_is_announced_to_the_room() {
    let s = start(fast()).await;
    let room = s.room.clone();
    let mut viewer = Client::join(&s, &room, None).await;
    let body = json!({"id": "c-locked", "room_id": room, "title": "later", "discount_cents": 100, "quota": 5});
    assert_eq!(api(&s, "POST", "/api/coupons", body).await.0, 201);
    let body = json!({"id": "c-199", "room_id": room, "title": "满199减20", "discount_cents": 2000,
        "min_spend_cents": 19_900, "quota": 5, "unlocked": true});
    let (status, created) = api(&s, "POST", "/api/coupons", body).await;
    assert_eq!(
        (status, &created["unlocked"]),
        (201, &json!(true)),
        "{created}"
    );
    let msg = viewer.expect_type("coupon").await;
    assert_eq!(
        msg["coupon"]["id"], "c-199",
        "the locked one was announced: {msg}"
    );
    assert_eq!(msg["coupon"]["min_spend_cents"], 19_900, "{msg}");
    // Claimable at once.
    viewer
        .send(json!({"type": "claim", "coupon_id": "c-199", "key": "k1"}))
        .await;
    let r = viewer.expect_type("claim_result").await;
    assert_eq!(r["ok"], true, "{r}");
    // Created claimable for a room nobody has open: stored unlocked all the same.
    let (_, other) = api(&s, "POST", "/api/rooms", json!({"title": "Quiet"})).await;
    let body = json!({"room_id": other["id"], "title": "x", "discount_cents": 1, "quota": 1, "unlocked": true});
    let (status, quiet) = api(&s, "POST", "/api/coupons", body).await;
    assert_eq!((status, &quiet["unlocked"]), (201, &json!(true)), "{quiet}");
}

/// The live's product bag: set in order, sent to the room's viewers at once and in every
/// later snapshot; bad lists are refused with the reason and keep the old list.
#[tokio::test]
async fn a_room_bag_reaches_viewers_and_refuses_bad_lists() {
    let s = start(fast()).await;
    let room = s.room.clone();
    for (id, title, price) in [("tee", "棉T恤", 4900), ("cap", "Cap", 1900)] {
        let body = json!({"id": id, "title": title, "price_cents": price, "stock": 12});
        assert_eq!(api(&s, "POST", "/api/products", body).await.0, 201);
    }
    let path = format!("/api/rooms/{room}/products");
    let (status, empty) = api(&s, "GET", &path, json!({})).await;
    assert_eq!((status, empty), (200, json!({"products": []})));
    let mut viewer = Client::join(&s, &room, None).await;
    let (status, set) = api(&s, "PUT", &path, json!({"product_ids": ["cap", "tee"]})).await;
    assert_eq!(status, 200, "{set}");
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["id"].as_str().map(Into::into))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(ids(&set["products"]), ["cap", "tee"]);
    assert_eq!(set["products"][1]["title"], "棉T恤");
    assert_eq!(set["products"][1]["stock"], 12);
    let msg = viewer.expect_type("products").await;
    assert_eq!(ids(&msg["products"]), ["cap", "tee"], "{msg}");
    assert!(
        msg["o"].as_u64().is_some_and(|o| o > 0),
        "in history: {msg}"
    );
    let late = Client::join(&s, &room, None).await;
    let snap = late.snapshot();
    assert_eq!(ids(&snap["products"]), ["cap", "tee"], "{snap}");
    // Refusals name the offender and leave the list as it was.
    for (body, want) in [
        (
            json!({"product_ids": ["tee", "tee"]}),
            "product tee is listed twice",
        ),
        (json!({"product_ids": ["nope"]}), "unknown product nope"),
        (json!({}), "missing field `product_ids`"),
        (json!({"product_ids": "tee"}), "invalid product bag"),
    ] {
        let (status, err) = api(&s, "PUT", &path, body.clone()).await;
        assert_eq!(status, 422, "{body}: {err}");
        let msg = err["error"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{body}: {msg}");
    }
    let (_, kept) = api(&s, "GET", &path, json!({})).await;
    assert_eq!(ids(&kept["products"]), ["cap", "tee"]);
    let (status, _) = api(
        &s,
        "PUT",
        "/api/rooms/r_nope/products",
        json!({"product_ids": []}),
    )
    .await;
    assert_eq!(status, 404);
    // Another merchant can neither read nor set it.
    let (_, token_b) = s.store.create_merchant("Shop B").expect("merchant b");
    let body = json!({"product_ids": []}).to_string().into_bytes();
    let (status, _) = http(&s, "PUT", &path, Some(&token_b), Some(body)).await;
    assert_eq!(status, 404);
    let (status, _) = http(&s, "GET", &path, Some(&token_b), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn pushes_acks_and_clicks_show_in_analytics_and_csv() {
    let s = start(fast()).await;
    let mut viewer = Client::join(&s, &s.room, None).await;
    let (status, card) = api(
        &s,
        "POST",
        &format!("/api/rooms/{}/push", s.room),
        json!({"product_id": "sku-tee"}),
    )
    .await;
    assert_eq!(status, 200, "{card}");
    let push_id = card["push_id"].clone();
    viewer.expect_type("product").await;
    let now = livecart::store::now_ms();
    viewer.send(json!({"type": "ack", "acks": [{"push_id": push_id, "received_ms": now, "displayed_ms": now + 5, "displayed_media_ms": 1234}]})).await;
    viewer
        .send(json!({"type": "click", "push_id": push_id, "product_id": "sku-tee"}))
        .await;
    viewer.send(json!({"type": "ping", "client_ms": 1})).await;
    viewer.expect_type("pong").await;

    let (status, body) = api(
        &s,
        "GET",
        &format!("/api/rooms/{}/analytics", s.room),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let rows = body["rows"].as_array().cloned().unwrap_or_default();
    let pushes: u64 = rows.iter().map(|r| r["pushes"].as_u64().unwrap_or(0)).sum();
    let displays: u64 = rows
        .iter()
        .map(|r| r["displays"].as_u64().unwrap_or(0))
        .sum();
    let clicks: u64 = rows.iter().map(|r| r["clicks"].as_u64().unwrap_or(0)).sum();
    assert_eq!((pushes, displays, clicks), (1, 1, 1), "{body}");

    // Without video the push has no media time, so there is no sync error to report.
    let (status, sync) = api(
        &s,
        "GET",
        &format!("/api/rooms/{}/analytics/sync", s.room),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{sync}");
    assert_eq!(sync["summary"]["displays"], 0, "{sync}");

    let (status, csv) = http(
        &s,
        "GET",
        &format!("/api/rooms/{}/analytics?format=csv", s.room),
        Some(&s.merchant_token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        csv.starts_with(
            "minute,product_id,variant,pushes,displays,clicks,claims,purchases,ctr,conversion"
        ),
        "{csv}"
    );
    assert!(csv.contains("sku-tee"));
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let s = start(fast()).await;
    let (status, text) = http(&s, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).expect("openapi is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/rooms",
        "/api/rooms/{room}",
        "/api/rooms/{room}/start",
        "/api/rooms/{room}/stop",
        "/api/rooms/{room}/stream-key",
        "/api/rooms/{room}/tokens",
        "/api/rooms/{room}/push",
        "/api/rooms/{room}/products",
        "/api/rooms/{room}/lives",
        "/api/rooms/{room}/latency-mode",
        "/api/rooms/{room}/playback",
        "/api/images",
        "/images/{id}",
        "/api/products",
        "/api/products/{id}",
        "/api/coupons",
        "/api/coupons/{id}",
        "/api/coupons/{id}/unlock",
        "/api/rooms/{room}/flash-sales",
        "/api/flash-sales/{id}/end",
        "/api/plugins",
        "/api/rooms/{room}/plugins",
        "/api/rooms/{room}/plugins/{name}",
        "/api/rooms/{room}/plugins/{name}/rollback",
        "/api/rooms/{room}/analytics",
        "/api/rooms/{room}/media",
        "/api/rooms/{room}/guest",
        "/api/rooms/{room}/me",
        "/api/rooms/{room}/analytics/sync",
        "/api/me",
        "/api/operator/merchants",
        "/api/operator/merchants/{id}",
        "/api/operator/merchants/{id}/disable",
        "/api/operator/merchants/{id}/enable",
        "/api/operator/merchants/{id}/tokens",
        "/api/operator/merchants/{id}/tokens/{token}/rotate",
        "/api/operator/merchants/{id}/tokens/{token}/revoke",
        "/api/operator/merchants/{id}/plugin-limits",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
}

/// A plugin's push of a product the merchant does not have used to vanish into the log;
/// its merchant now sees it in the plugin's fault log, and the plugin stays enabled.
#[tokio::test]
async fn a_plugin_action_the_room_refuses_is_in_the_fault_log() {
    let s = start(fast()).await;
    let (status, version) = upload(&s, &plugin_bytes("keyword-push")).await;
    assert_eq!(status, 201, "{version}");
    let config = json!({"rules": [{"product": "sku-missing", "keywords": ["size"]}],
                        "cooldown_ms": 0, "duration_ms": 8000});
    let (status, body) = api(
        &s,
        "POST",
        &format!("/api/rooms/{}/plugins", s.room),
        json!({"hash": version["hash"], "config": config.to_string()}),
    )
    .await;
    assert!(status == 200 || status == 201, "{status}: {body}");
    let mut viewer = Client::join(&s, &s.room, None).await;
    viewer
        .send(json!({"type": "comment", "text": "what size is it?"}))
        .await;
    viewer.expect_type("comment").await;
    let path = format!("/api/rooms/{}/plugins", s.room);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let plugin = loop {
        let (_, list) = api(&s, "GET", &path, json!({})).await;
        let plugin = list["plugins"][0].clone();
        let faults = plugin["faults"].as_array().map_or(0, Vec::len);
        if faults > 0 || std::time::Instant::now() > deadline {
            break plugin;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let fault = &plugin["faults"][0];
    assert_eq!(fault["kind"], "action", "{plugin}");
    assert!(
        fault["message"]
            .as_str()
            .is_some_and(|m| m.contains("sku-missing")),
        "{plugin}"
    );
    assert_eq!(plugin["binding"]["enabled"], true, "{plugin}");
}

/// A storm of buys is announced as a few coalesced `stock` frames, not one frame per buy
/// to every viewer, and the last one has the final count.
#[tokio::test]
async fn a_buy_storm_is_announced_as_coalesced_stock_frames() {
    let s = start(RoomConfig {
        flush_every: Duration::from_millis(400),
        ..fast()
    })
    .await;
    let (status, sale) = api(
        &s,
        "POST",
        &format!("/api/rooms/{}/flash-sales", s.room),
        json!({"product_id": "sku-tee", "price_cents": 100, "stock": 20, "per_user_limit": 1, "starts_ms": 0, "ends_ms": livecart::store::now_ms() + 60_000}),
    )
    .await;
    assert_eq!(status, 201, "{sale}");
    let mut watcher = Client::join(&s, &s.room, None).await;
    let mut buyers = Vec::new();
    for _ in 0..12 {
        buyers.push(Client::join(&s, &s.room, None).await);
    }
    let buys = buyers.into_iter().enumerate().map(|(i, mut b)| {
        let sale_id = sale["id"].clone();
        tokio::spawn(async move {
            b.send(json!({"type": "buy", "sale_id": sale_id, "quantity": 1, "key": format!("storm-{i}")}))
                .await;
            b.expect_type("buy_result").await["ok"] == true
        })
    });
    for buy in buys.collect::<Vec<_>>() {
        assert!(buy.await.expect("buyer"), "every buy succeeds");
    }
    let mut frames = 0;
    loop {
        let v = watcher
            .expect("stock", |v| {
                v["type"] == "flash_sale" && v["event"] == "stock"
            })
            .await;
        frames += 1;
        assert_eq!(v["sale"]["id"], sale["id"]);
        if v["sale"]["sold"] == 12 {
            break;
        }
    }
    // One frame per buy would be 12 (a few fewer if two buyers read the same count); the
    // buys take well under a second, so they span one to three 400 ms flushes.
    assert!(
        frames <= 6,
        "{frames} stock frames for 12 buys: they should be coalesced"
    );
}

#[tokio::test]
async fn latency_mode_is_set_by_the_host_and_read_by_any_page() {
    let s = start(fast()).await;
    let room = s.room.clone();
    let playback = |room: String| {
        let s = &s;
        async move { http(s, "GET", &format!("/api/rooms/{room}/playback"), None, None).await }
    };
    // Public, standard by default, with every playback path.
    let (status, text) = playback(room.clone()).await;
    assert_eq!(status, 200, "{text}");
    let p: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(p["latency_mode"], "standard");
    assert_eq!(p["whep"], format!("/media/{room}/whep"));
    assert_eq!(p["dash"], format!("/media/{room}/live.mpd"));

    let path = format!("/api/rooms/{room}/latency-mode");
    let (status, r) = api(&s, "PUT", &path, json!({"mode": "ultra-low"})).await;
    assert_eq!(
        (status, &r["latency_mode"]),
        (200, &json!("ultra-low")),
        "{r}"
    );
    let (_, text) = playback(room.clone()).await;
    assert!(text.contains(r#""latency_mode":"ultra-low""#), "{text}");
    let (_, listed) = api(&s, "GET", &format!("/api/rooms/{room}"), json!({})).await;
    assert_eq!(listed["latency_mode"], "ultra-low");

    // Refused, changing nothing: an unknown mode, a missing one, another merchant's room.
    for bad in [
        json!({"mode": "fast"}),
        json!({}),
        json!({"mode": "standard", "x": 1}),
    ] {
        let (status, body) = api(&s, "PUT", &path, bad.clone()).await;
        assert_eq!(status, 422, "{bad} → {body}");
    }
    let (_, token_b) = s.store.create_merchant("Shop B").expect("merchant b");
    let body = json!({"mode": "standard"}).to_string().into_bytes();
    let (status, _) = http(&s, "PUT", &path, Some(&token_b), Some(body)).await;
    assert_eq!(status, 404);
    let (_, text) = playback(room.clone()).await;
    assert!(text.contains(r#""latency_mode":"ultra-low""#), "{text}");
    let (status, _) = playback("r_nosuchroom".into()).await;
    assert_eq!(status, 404);
}
