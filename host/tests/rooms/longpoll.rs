//! The long-polling fallback carries the same protocol as the WebSocket.

use crate::harness::*;
use serde_json::{Value, json};

async fn lp(s: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, text) = http(s, method, path, None, Some(body.to_string().into_bytes())).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_long_polling_client_chats_with_a_websocket_client() {
    let s = start(fast()).await;
    let (status, opened) = lp(
        &s,
        "POST",
        "/lp",
        json!([{"type": "hello", "v": 1, "name": "Poller"}, {"type": "join", "room": s.room}]),
    )
    .await;
    assert_eq!(status, 200, "{opened}");
    let session = opened["session"].as_str().unwrap_or("").to_owned();
    let types: Vec<_> = opened["frames"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["type"].clone())
        .collect();
    assert_eq!(types, [json!("welcome"), json!("snapshot")]);

    let mut ws = Client::join(&s, &s.room, None).await;
    let (status, _) = lp(
        &s,
        "POST",
        &format!("/lp/{session}"),
        json!([{"type": "comment", "text": "from long polling"}]),
    )
    .await;
    assert_eq!(status, 204);
    let got = ws.expect_type("comment").await;
    assert_eq!(got["comment"]["user"]["name"], "Poller");

    ws.send(json!({"type": "comment", "text": "from websocket"}))
        .await;
    let mut texts = Vec::new();
    for _ in 0..5 {
        let (status, polled) = lp(
            &s,
            "GET",
            &format!("/lp/{session}?wait_ms=2000"),
            json!(null),
        )
        .await;
        assert_eq!(status, 200);
        for f in polled["frames"].as_array().into_iter().flatten() {
            if f["type"] == "comment" {
                texts.push(f["comment"]["text"].as_str().unwrap_or("").to_owned());
            }
        }
        if texts.len() >= 2 {
            break;
        }
    }
    assert_eq!(texts, ["from long polling", "from websocket"]);
}

#[tokio::test]
async fn long_polling_refuses_bad_bodies_and_unknown_sessions() {
    let s = start(fast()).await;
    let (status, body) = lp(&s, "POST", "/lp", json!({"type": "hello"})).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("the body must be a JSON array"),
        "{body}"
    );
    let (status, _) = lp(&s, "GET", "/lp/lp_nope", json!(null)).await;
    assert_eq!(status, 404);
    let (status, _) = lp(&s, "POST", "/lp/lp_nope", json!([])).await;
    assert_eq!(status, 404);
    // A bad handshake closes the session with the same error as over WebSocket.
    let (status, opened) = lp(
        &s,
        "POST",
        "/lp",
        json!([{"type": "hello", "v": 1, "token": "bad"}]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(opened["frames"][0]["code"], "invalid_token");
    assert_eq!(opened["closed"]["code"], 1008);
}
