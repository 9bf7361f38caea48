//! The WebSocket protocol with real clients.

use crate::harness::*;
use livecart::auth::Role;
use livecart::room::RoomConfig;
use serde_json::json;

#[tokio::test]
async fn join_chat_and_late_joiners_get_recent_comments_in_the_snapshot() {
    let s = start(fast()).await;
    let mut a = Client::join(&s, &s.room, None).await;
    let mut b = Client::join(&s, &s.room, None).await;
    a.send(json!({"type": "comment", "text": "  hello room  "}))
        .await;
    let got = b.expect_type("comment").await;
    assert_eq!(got["comment"]["text"], "hello room");
    assert!(
        got["comment"]["user"]["name"]
            .as_str()
            .unwrap_or("")
            .starts_with("Guest")
    );
    assert_eq!(
        a.expect_type("comment").await["comment"]["text"],
        "hello room"
    );

    let mut c = Client::connect(&s).await;
    c.send(json!({"type": "hello", "v": 1, "name": "Late"}))
        .await;
    assert_eq!(c.expect_type("welcome").await["user"]["name"], "Late");
    c.send(json!({"type": "join", "room": s.room})).await;
    let snap = c.expect_type("snapshot").await;
    assert_eq!(snap["comments"][0]["text"], "hello room");
    assert_eq!(snap["online"], 3);
    assert_eq!(snap["title"], "Spring sale");
}

#[tokio::test]
async fn like_storm_is_aggregated_into_totals() {
    let s = start(fast()).await;
    let mut watcher = Client::join(&s, &s.room, None).await;
    let mut senders = Vec::new();
    for _ in 0..10 {
        senders.push(Client::join(&s, &s.room, None).await);
    }
    for c in &mut senders {
        for _ in 0..20 {
            c.send(json!({"type": "like", "count": 5})).await;
        }
    }
    let last = watcher
        .expect("likes total 1000", |v| {
            v["type"] == "likes" && v["total"] == 1000
        })
        .await;
    assert_eq!(last["total"], 1000);
    let frames = watcher.seen.iter().filter(|v| v["type"] == "likes").count();
    assert!(
        frames < 200,
        "totals are coalesced, not one frame per like message ({frames})"
    );
}

#[tokio::test]
async fn a_plugin_unlocks_a_coupon_that_viewers_then_claim_once() {
    let s = start(fast()).await;
    let (status, version) = upload(&s, &plugin_bytes("like-coupon")).await;
    assert_eq!(status, 201, "{version}");
    let (status, binding) = api(
        &s,
        "POST",
        &format!("/api/rooms/{}/plugins", s.room),
        json!({"hash": version["hash"], "config": {"thresholds": [{"likes": 1000, "coupon": "c-1k", "message": "1k likes!"}]}}),
    )
    .await;
    assert_eq!(status, 200, "{binding}");

    let mut viewer = Client::join(&s, &s.room, None).await;
    viewer
        .send(json!({"type": "comment", "text": "so close"}))
        .await;
    viewer.expect_type("comment").await;
    viewer.send(json!({"type": "like", "count": 1000})).await;
    let unlocked = viewer.expect_type("coupon").await;
    assert_eq!(unlocked["event"], "unlocked");
    assert_eq!(unlocked["coupon"]["id"], "c-1k");
    assert_eq!(viewer.expect_type("system").await["text"], "1k likes!");

    viewer
        .send(json!({"type": "claim", "coupon_id": "c-1k", "key": "k1"}))
        .await;
    let first = viewer.expect_type("claim_result").await;
    assert_eq!(first["ok"], true, "{first}");
    viewer
        .send(json!({"type": "claim", "coupon_id": "c-1k", "key": "k1"}))
        .await;
    let retry = viewer.expect_type("claim_result").await;
    assert_eq!(retry["claim_id"], first["claim_id"], "same key, same claim");
    viewer
        .send(json!({"type": "claim", "coupon_id": "c-1k", "key": "k2"}))
        .await;
    let second = viewer.expect_type("claim_result").await;
    assert_eq!(second["ok"], false);
    assert!(
        second["error"].as_str().unwrap_or("").contains("limit"),
        "{second}"
    );

    // A late joiner sees the unlocked coupon in the snapshot.
    let mut late = Client::connect(&s).await;
    late.send(json!({"type": "hello", "v": 1})).await;
    late.send(json!({"type": "join", "room": s.room})).await;
    let snap = late.expect_type("snapshot").await;
    assert_eq!(snap["coupons"][0]["id"], "c-1k");
    // ... and the plugin's system line among the recent comments, after the comment
    // that came before it.
    let lines: Vec<_> = snap["comments"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| (c["kind"].as_str().unwrap_or("comment"), c["text"].clone()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        lines,
        [
            ("comment", json!("so close")),
            ("system", json!("1k likes!"))
        ],
        "{snap}"
    );
}

#[tokio::test]
async fn a_claim_race_never_oversells() {
    let s = start(fast()).await;
    let mut clients = Vec::new();
    for _ in 0..30 {
        clients.push(Client::join(&s, &s.room, None).await);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(json!({"type": "claim", "coupon_id": "c-race", "key": format!("k{i}")}))
            .await;
    }
    let mut granted = 0;
    for c in &mut clients {
        let r = c.expect_type("claim_result").await;
        if r["ok"] == true {
            granted += 1;
        } else {
            assert!(
                r["error"].as_str().unwrap_or("").contains("sold out"),
                "{r}"
            );
        }
    }
    assert_eq!(granted, 10);
    let coupon = s.store.coupon("c-race").expect("store").expect("coupon");
    assert_eq!(coupon.claimed, 10);
}

#[tokio::test]
async fn reconnecting_clients_resume_from_history_or_get_a_snapshot() {
    let s = start(fast()).await;
    let a = Client::join(&s, &s.room, None).await;
    let snap = a.snapshot();
    let (epoch, offset) = (snap["epoch"].clone(), snap["offset"].as_u64().unwrap_or(0));
    drop(a);

    let mut b = Client::join(&s, &s.room, None).await;
    for i in 0..3 {
        b.send(json!({"type": "comment", "text": format!("missed {i}")}))
            .await;
        b.expect_type("comment").await;
    }

    let mut back = Client::connect(&s).await;
    back.send(json!({"type": "hello", "v": 1})).await;
    back.expect_type("welcome").await;
    back.send(
        json!({"type": "join", "room": s.room, "resume": {"epoch": epoch, "offset": offset}}),
    )
    .await;
    for i in 0..3 {
        let v = back.expect_type("comment").await;
        assert_eq!(v["comment"]["text"], format!("missed {i}"));
    }
    assert!(
        !back.seen.iter().any(|v| v["type"] == "snapshot"),
        "a resume replays, no snapshot"
    );
    // State is not in the history, so a resume sends the current totals after the replay.
    assert_eq!(back.expect_type("likes").await["total"], 0);
    // b and the resumed client (a's old connection may not have been reaped yet).
    let online = back.expect_type("online").await["count"]
        .as_u64()
        .unwrap_or(0);
    assert!((2..=3).contains(&online), "{online}");

    let mut stale = Client::connect(&s).await;
    stale.send(json!({"type": "hello", "v": 1})).await;
    stale
        .send(
            json!({"type": "join", "room": s.room, "resume": {"epoch": "old-epoch", "offset": 1}}),
        )
        .await;
    let snap = stale.expect_type("snapshot").await;
    assert_eq!(snap["comments"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn viewers_cannot_do_what_hosts_and_moderators_can() {
    let s = start(fast()).await;
    let mut viewer = Client::join(&s, &s.room, None).await;
    for msg in [
        json!({"type": "push", "product_id": "sku-tee"}),
        json!({"type": "mute", "user_id": "x"}),
        json!({"type": "hide", "comment_id": "c1"}),
        json!({"type": "pin", "comment_id": "c1"}),
        json!({"type": "block_words", "words": ["x"]}),
    ] {
        viewer.send(msg).await;
        let e = viewer.expect_type("error").await;
        assert_eq!(e["code"], "forbidden", "{e}");
    }

    // A host token for another room is only a viewer here.
    let elsewhere = token("other-room", "h2", Role::Host);
    let mut outsider = Client::join(&s, &s.room, Some(&elsewhere)).await;
    outsider
        .send(json!({"type": "push", "product_id": "sku-tee"}))
        .await;
    assert_eq!(outsider.expect_type("error").await["code"], "forbidden");

    let host_token = token(&s.room, "host-1", Role::Host);
    let mut host = Client::join(&s, &s.room, Some(&host_token)).await;
    host.send(json!({"type": "push", "product_id": "sku-tee", "style": "b"}))
        .await;
    let card = viewer.expect_type("product").await;
    assert_eq!(card["card"]["product"]["title"], "Cotton Tee");
    assert_eq!(card["card"]["style"], "b");
    host.send(json!({"type": "push", "product_id": "nope"}))
        .await;
    assert!(
        host.expect_type("error").await["message"]
            .as_str()
            .unwrap_or("")
            .contains("unknown product")
    );

    let mod_token = token(&s.room, "mod-1", Role::Moderator);
    let mut moderator = Client::join(&s, &s.room, Some(&mod_token)).await;
    let viewer_id = viewer
        .seen
        .iter()
        .find(|v| v["type"] == "welcome")
        .map(|v| v["user"]["id"].clone())
        .expect("welcome");
    moderator
        .send(json!({"type": "mute", "user_id": viewer_id}))
        .await;
    viewer.expect_type("moderation").await;
    viewer
        .send(json!({"type": "comment", "text": "let me speak"}))
        .await;
    assert_eq!(viewer.expect_type("error").await["code"], "muted");
}

#[tokio::test]
async fn invalid_tokens_and_unknown_rooms_are_refused_and_closed() {
    let s = start(fast()).await;
    let mut c = Client::connect(&s).await;
    c.send(json!({"type": "hello", "v": 1, "token": "not.a.token"}))
        .await;
    let e = c.expect_type("error").await;
    assert_eq!(e["code"], "invalid_token");
    assert_eq!(c.closed().await, Some((1008, "invalid token".into())));

    let forged = token(&s.room, "h", Role::Host).replace('.', ".x");
    let mut c = Client::connect(&s).await;
    c.send(json!({"type": "hello", "v": 1, "token": forged}))
        .await;
    assert_eq!(c.expect_type("error").await["code"], "invalid_token");

    let mut c = Client::connect(&s).await;
    c.send(json!({"type": "hello", "v": 1})).await;
    c.send(json!({"type": "join", "room": "no-such-room"}))
        .await;
    assert_eq!(c.expect_type("error").await["code"], "unknown_room");

    let mut c = Client::connect(&s).await;
    c.send(json!({"type": "hello", "v": 9})).await;
    assert_eq!(c.expect_type("error").await["code"], "version");
}

#[tokio::test]
async fn bad_frames_get_clear_errors_and_floods_are_closed() {
    let s = start(RoomConfig {
        max_violations: 8,
        ..fast()
    })
    .await;
    let mut c = Client::join(&s, &s.room, None).await;
    for (raw, code) in [
        ("{not json".to_owned(), "bad_json"),
        (r#"{"type":"teleport"}"#.to_owned(), "unknown_type"),
        (
            format!(r#"{{"type":"comment","text":"{}"}}"#, "x".repeat(5000)),
            "too_large",
        ),
        (
            format!(r#"{{"type":"comment","text":"{}"}}"#, "y".repeat(600)),
            "bad_message",
        ),
        (r#"{"type":"like","count":0}"#.to_owned(), "bad_message"),
        (
            r#"{"type":"claim","coupon_id":"nope","key":"k"}"#.to_owned(),
            "",
        ),
    ] {
        c.send_raw(&raw).await;
        if code.is_empty() {
            let r = c.expect_type("claim_result").await;
            assert_eq!(r["ok"], false);
            assert!(
                r["error"].as_str().unwrap_or("").contains("unknown coupon"),
                "{r}"
            );
        } else {
            let e = c.expect_type("error").await;
            assert_eq!(e["code"], code, "{raw:.40}: {e}");
        }
    }
    // Still usable after bad input.
    c.send(json!({"type": "ping", "client_ms": 7})).await;
    assert_eq!(c.expect_type("pong").await["client_ms"], 7);

    // A flood: far more than the per-second budget.
    for _ in 0..200 {
        if !c.try_send(json!({"type": "like", "count": 1})).await {
            break;
        }
    }
    assert_eq!(c.closed().await, Some((1008, "flooding".to_owned())));
    assert!(c.seen.iter().any(|v| v["code"] == "rate_limited"));
}

#[tokio::test]
async fn blocked_words_shadow_hide_comments_from_everyone_but_the_sender() {
    let s = start(fast()).await;
    let mod_token = token(&s.room, "mod-1", Role::Moderator);
    let mut moderator = Client::join(&s, &s.room, Some(&mod_token)).await;
    moderator
        .send(json!({"type": "block_words", "words": ["SpamWord"]}))
        .await;
    moderator
        .send(json!({"type": "ping", "client_ms": 1}))
        .await;
    moderator.expect_type("pong").await;

    let mut sender = Client::join(&s, &s.room, None).await;
    let mut other = Client::join(&s, &s.room, None).await;
    sender
        .send(json!({"type": "comment", "text": "buy spamword now"}))
        .await;
    assert_eq!(
        sender.expect_type("comment").await["comment"]["text"],
        "buy spamword now"
    );
    sender
        .send(json!({"type": "comment", "text": "nice tee"}))
        .await;
    let seen = other.expect_type("comment").await;
    assert_eq!(
        seen["comment"]["text"], "nice tee",
        "the blocked comment never reached others"
    );
}

#[tokio::test]
async fn coupons_and_sales_of_other_rooms_cannot_be_claimed_or_bought_here() {
    let s = start(fast()).await;
    let (_, other_room) = api(&s, "POST", "/api/rooms", json!({"title": "Other room"})).await;
    let other = other_room["id"].as_str().unwrap_or("").to_owned();
    let (status, coupon) = api(
        &s,
        "POST",
        "/api/coupons",
        json!({"id": "c-elsewhere", "room_id": other, "title": "x", "discount_cents": 1, "quota": 5, "unlocked": true}),
    )
    .await;
    assert_eq!(status, 201, "{coupon}");
    let (b, _) = s.store.create_merchant("Shop B").expect("merchant b");
    let b_coupon = s
        .store
        .create_coupon(
            &b.id,
            &livecart::store::NewCoupon {
                title: "b".into(),
                quota: 5,
                unlocked: true,
                ..livecart::store::NewCoupon::default()
            },
        )
        .expect("coupon");
    let (status, sale) = api(
        &s,
        "POST",
        &format!("/api/rooms/{other}/flash-sales"),
        json!({"product_id": "sku-tee", "price_cents": 1, "stock": 5, "starts_ms": 0, "ends_ms": livecart::store::now_ms() + 60_000, "room_id": ""}),
    )
    .await;
    assert_eq!(status, 201, "{sale}");

    let mut viewer = Client::join(&s, &s.room, None).await;
    for id in ["c-elsewhere", b_coupon.id.as_str()] {
        viewer
            .send(json!({"type": "claim", "coupon_id": id, "key": id}))
            .await;
        let r = viewer.expect_type("claim_result").await;
        assert_eq!(r["ok"], false, "{r}");
        assert!(
            r["error"].as_str().unwrap_or("").contains("unknown coupon"),
            "{r}"
        );
    }
    viewer
        .send(json!({"type": "buy", "sale_id": sale["id"], "quantity": 1, "key": "b1"}))
        .await;
    let r = viewer.expect_type("buy_result").await;
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(
        s.store
            .coupon("c-elsewhere")
            .expect("store")
            .expect("coupon")
            .claimed,
        0
    );
}
