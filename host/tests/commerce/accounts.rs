//! Merchant token auth, rooms and stream keys, and product isolation between merchants.

use super::{open, product};
use livecart::catalog::Catalog;
use livecart::store::{RoomStatus, StoreCatalog, StoreError};

#[test]
fn merchant_token_finds_its_merchant_and_nothing_else_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (alice, token) = store.create_merchant("Alice's shop").expect("create");
    let (bob, bob_token) = store.create_merchant("Bob's shop").expect("create");

    assert!(
        alice.id.starts_with("m_") && alice.id.len() == 14,
        "{}",
        alice.id
    );
    assert!(token.starts_with("lc_") && token.len() == 51, "{token}");
    assert!(token[3..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(token, bob_token);

    assert_eq!(
        store.merchant_by_token(&token).expect("lookup"),
        Some(alice.clone())
    );
    assert_eq!(
        store.merchant_by_token(&bob_token).expect("lookup"),
        Some(bob)
    );
    assert_eq!(store.merchant_by_token("lc_wrong").expect("lookup"), None);
    assert_eq!(store.merchant_by_token("").expect("lookup"), None);
    let almost = format!("{}0", &token[..token.len() - 1]);
    if almost != token {
        assert_eq!(store.merchant_by_token(&almost).expect("lookup"), None);
    }
    assert_eq!(store.merchant(&alice.id).expect("by id"), Some(alice));
}

#[test]
fn rooms_are_created_looked_up_by_stream_key_and_rotated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let room = store.create_room("m_a", "Friday drop").expect("create");
    let other = store.create_room("m_a", "Saturday drop").expect("create");
    store.create_room("m_b", "Not yours").expect("create");

    assert!(
        room.id.starts_with("r_") && room.id.len() == 12,
        "{}",
        room.id
    );
    assert!(room.stream_key.starts_with("sk_") && room.stream_key.len() == 35);
    assert_eq!(room.status, RoomStatus::Idle);
    assert_eq!((room.started_ms, room.ended_ms), (None, None));
    assert_eq!(store.room(&room.id).expect("get"), Some(room.clone()));
    assert_eq!(store.room("r_missing").expect("get"), None);
    let mine: Vec<String> = store
        .rooms_of("m_a")
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(mine, vec![room.id.clone(), other.id.clone()]);

    let found = store.room_by_stream_key(&room.stream_key).expect("by key");
    assert_eq!(found.map(|r| r.id), Some(room.id.clone()));
    assert_eq!(store.room_by_stream_key("sk_nope").expect("by key"), None);

    let live = store
        .set_room_status(&room.id, RoomStatus::Live)
        .expect("live");
    assert_eq!(live.status, RoomStatus::Live);
    assert!(live.started_ms.is_some() && live.ended_ms.is_none());
    let ended = store
        .set_room_status(&room.id, RoomStatus::Ended)
        .expect("end");
    assert_eq!(ended.status, RoomStatus::Ended);
    assert!(ended.ended_ms.is_some());
    assert_eq!(ended.started_ms, live.started_ms);
    assert_eq!(
        serde_json::to_value(ended.status).expect("json"),
        serde_json::json!("ended")
    );

    let rotated = store.rotate_stream_key(&room.id).expect("rotate");
    assert_ne!(rotated.stream_key, room.stream_key);
    assert_eq!(
        store.room_by_stream_key(&room.stream_key).expect("old"),
        None
    );
    let found = store.room_by_stream_key(&rotated.stream_key).expect("new");
    assert_eq!(found.map(|r| r.id), Some(room.id.clone()));

    assert!(matches!(
        store.set_room_status("r_missing", RoomStatus::Live),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.rotate_stream_key("r_missing"),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn ensure_room_creates_the_demo_room_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let first = store.ensure_room("demo", "m_demo", "Demo").expect("ensure");
    assert_eq!(
        (first.id.as_str(), first.merchant_id.as_str()),
        ("demo", "m_demo")
    );
    let again = store
        .ensure_room("demo", "m_other", "Renamed")
        .expect("ensure");
    assert_eq!(again, first);
}

#[test]
fn merchants_cannot_see_or_touch_each_others_products() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let a = store
        .upsert_product("m_a", &product("p1", "A's shirt", 1999))
        .expect("a");
    let generated = store
        .upsert_product("m_a", &product("", "A's hat", 999))
        .expect("a");
    assert_eq!(a.merchant_id, "m_a");
    assert!(generated.product.id.starts_with("p_") && generated.product.id.len() == 12);

    // Merchant B reads, lists and deletes nothing of A's.
    assert_eq!(store.product("m_b", "p1").expect("b reads"), None);
    assert!(store.products("m_b").expect("b lists").is_empty());
    assert!(!store.delete_product("m_b", "p1").expect("b deletes"));
    // B's own p1 is a different product; A's stays as it was.
    store
        .upsert_product("m_b", &product("p1", "B's mug", 500))
        .expect("b");
    let a_p1 = store
        .product("m_a", "p1")
        .expect("a reads")
        .expect("still there");
    assert_eq!(a_p1, product("p1", "A's shirt", 1999));
    assert_eq!(
        store
            .product("m_b", "p1")
            .expect("b reads")
            .map(|p| p.title),
        Some("B's mug".into())
    );

    // Creation order survives a replace; a soft delete hides the product.
    store
        .upsert_product("m_a", &product("p1", "A's shirt v2", 2499))
        .expect("replace");
    let titles: Vec<String> = store
        .products("m_a")
        .expect("list")
        .into_iter()
        .map(|p| p.title)
        .collect();
    assert_eq!(titles, vec!["A's shirt v2", "A's hat"]);
    assert!(store.delete_product("m_a", "p1").expect("delete"));
    assert!(!store.delete_product("m_a", "p1").expect("delete twice"));
    assert_eq!(store.product("m_a", "p1").expect("read"), None);

    let catalog = StoreCatalog::new(store.clone(), "m_a");
    assert_eq!(catalog.get("p1"), None);
    assert_eq!(
        catalog.get(&generated.product.id),
        Some(generated.product.clone())
    );
    assert_eq!(catalog.list(10), vec![generated.product]);
    assert!(catalog.list(0).is_empty());
    let b_catalog = StoreCatalog::new(store, "m_b");
    assert_eq!(b_catalog.list(10).len(), 1);
}
