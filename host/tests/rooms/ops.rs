//! Operations: readiness and draining, as a load balancer and a deploy see them.

use crate::harness::*;
use serde_json::{Value, json};

async fn readyz(s: &Server) -> (u16, Value) {
    let (status, body) = http(s, "GET", "/readyz", None, None).await;
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, body)
}

#[tokio::test]
async fn readyz_is_ready_while_the_store_answers_and_says_draining_after() {
    let s = start(fast()).await;
    assert_eq!(readyz(&s).await, (200, json!({"ready": true})));
    let (status, health) = http(&s, "GET", "/healthz", None, None).await;
    assert_eq!((status, health.as_str()), (200, "ok"));
    assert!(s.rooms.begin_drain());
    assert!(!s.rooms.begin_drain(), "draining starts once");
    let (status, body) = readyz(&s).await;
    assert_eq!(
        (status, &body["ready"], &body["reason"]),
        (503, &json!(false), &json!("draining")),
        "{body}"
    );
    // Alive all the same: a draining node must not be restarted by its liveness probe.
    assert_eq!(http(&s, "GET", "/healthz", None, None).await.0, 200);
    assert_no_panics();
}

#[tokio::test]
async fn a_draining_node_tells_joined_clients_to_reconnect_then_closes_with_1001() {
    let s = start(fast()).await;
    let mut viewer = Client::join(&s, &s.room, None).await;
    let mut host = Client::join(
        &s,
        &s.room,
        Some(&token(&s.room, "h1", livecart::auth::Role::Host)),
    )
    .await;
    s.rooms.begin_drain();
    for c in [&mut viewer, &mut host] {
        let reconnect = c.expect_type("reconnect").await;
        assert_eq!(reconnect["reason"], "draining", "{reconnect}");
        assert!(reconnect["retry_ms"].as_u64().is_some(), "{reconnect}");
        let (code, _) = c.closed().await.expect("a close frame");
        assert_eq!(code, 1001, "{:?}", c.seen);
    }
    assert_no_panics();
}
