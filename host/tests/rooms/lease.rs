//! A room's plugins move between nodes with their armed timers: the node that takes the
//! room's lease re-arms what the last holder had armed (kept in the store), and the one
//! that gives it up stops running them.

use crate::harness::{Client, api, fast, plugin_bytes, start, upload};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The room's armed timers of `plugin` as the store keeps them: name → due (Unix ms).
fn armed(store: &dyn livecart::store::Store, plugin: &str, room: &str) -> BTreeMap<String, u64> {
    store
        .load(&format!("{plugin}#timers"), room)
        .expect("load")
        .into_iter()
        .filter_map(|(k, v)| Some((k, u64::from_be_bytes(v.try_into().ok()?))))
        .collect()
}

#[tokio::test]
async fn armed_timers_move_with_the_plugins_to_the_next_lease_holder() {
    let s = start(fast()).await;
    let (status, version) = upload(&s, &plugin_bytes("hostile")).await;
    assert_eq!(status, 201, "{version}");
    let (status, body) = api(
        &s,
        "POST",
        &format!("/api/rooms/{}/plugins", s.room),
        json!({"hash": version["hash"], "config": {"mode": "timer-loop"}}),
    )
    .await;
    assert!(status == 200 || status == 201, "{status}: {body}");
    // A comment arms 16 timers of 100 ms, each re-armed when it fires.
    let mut viewer = Client::join(&s, &s.room, None).await;
    viewer.send(json!({"type": "comment", "text": "go"})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while armed(&*s.store, "hostile", &s.room).len() < 16 {
        assert!(
            Instant::now() < deadline,
            "the timers were not kept in the store"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // This node gives the room's lease up (as at the end of a drain): its timers stop.
    s.rooms.release_leases();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let left = armed(&*s.store, "hostile", &s.room);
    assert_eq!(
        left.len(),
        16,
        "the armed timers stay for the next holder: {left:?}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        armed(&*s.store, "hostile", &s.room),
        left,
        "no timer fired after the release"
    );

    // Another node opens the room and takes the lease: the same timers fire there and
    // the plugin re-arms them.
    let other = s.another_node();
    other.open(&s.room).expect("open on the other node");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = armed(&*s.store, "hostile", &s.room);
        if now.len() == 16
            && now
                .iter()
                .all(|(name, due)| left.get(name).is_some_and(|d| due > d))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the timers did not fire on the new holder: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
