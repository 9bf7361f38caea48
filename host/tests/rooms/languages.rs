//! Plugins written in other languages, through the same WIT contract, in a served room:
//! the Python and JavaScript builds of keyword-push push the product card a comment asks
//! about and refuse a config they cannot use with their own message; and the code
//! allowance an upload is judged by is the node's default unless the operator set one
//! for that merchant.

use crate::harness::*;
use livecart::server::accept::HttpLimits;
use serde_json::{Value, json};

/// Upload `name`, enable it with a one-rule config, and comment until its card arrives.
async fn a_comment_pushes_the_card(name: &str) {
    let s = start(fast()).await;
    let (status, version) = upload(&s, &plugin_bytes(name)).await;
    assert_eq!(status, 201, "{version}");
    assert_eq!(version["name"], name, "{version}");
    let plugins = format!("/api/rooms/{}/plugins", s.room);
    // Refused at enable time, with the plugin's own reason.
    let (status, body) = api(
        &s,
        "POST",
        &plugins,
        json!({"hash": version["hash"], "config": {}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"],
        "invalid config: the plugin refused it: missing field `rules` (a list of rules)"
    );
    let config = json!({"rules": [{"product": "sku-tee", "keywords": ["尺码", "size"]}]});
    let (status, body) = api(
        &s,
        "POST",
        &plugins,
        json!({"hash": version["hash"], "config": config.to_string()}),
    )
    .await;
    assert!(status == 200 || status == 201, "{status}: {body}");
    let mut viewer = Client::join(&s, &s.room, None).await;
    // Latin keywords need a word boundary: "sizes" and "oversize" are not "size".
    viewer
        .send(json!({"type": "comment", "text": "oversized fit?"}))
        .await;
    viewer.expect_type("comment").await;
    viewer
        .send(json!({"type": "comment", "text": "这件有什么尺码？"}))
        .await;
    let card = viewer.expect_type("product").await;
    assert_eq!(card["card"]["product"]["id"], "sku-tee", "{card}");
    let (_, list) = api(&s, "GET", &plugins, json!({})).await;
    assert_eq!(list["plugins"][0]["faults"], json!([]), "{list}");
}

#[tokio::test]
async fn the_javascript_keyword_push_pushes_the_card_a_comment_asks_about() {
    a_comment_pushes_the_card("keyword-push-js").await;
}

#[tokio::test]
async fn the_python_keyword_push_pushes_the_card_a_comment_asks_about() {
    a_comment_pushes_the_card("keyword-push-py").await;
}

async fn operator(s: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, text) = http(
        s,
        method,
        path,
        Some(OPERATOR_TOKEN),
        Some(body.to_string().into_bytes()),
    )
    .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn upload_as(s: &Server, token: &str, bytes: &[u8]) -> (u16, Value) {
    let (status, text) = http(s, "POST", "/api/plugins", Some(token), Some(bytes.to_vec())).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn code_over_the_merchant_allowance_is_refused_unless_the_operator_raised_it() {
    // keyword-push holds about 84 KB of code; the default allowance here is 64 KiB.
    let s = start_tuned(fast(), HttpLimits::default(), |e| {
        e.limits.merchant_code_bytes = 64 << 10;
    })
    .await;
    let bytes = plugin_bytes("keyword-push");
    let code = livecart::plugin::precheck::code_bytes(&bytes);
    assert!(code > 64 << 10, "{code}");
    let (status, body) = upload(&s, &bytes).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"],
        format!(
            "invalid plugin: the component holds {code} bytes of code; this merchant's limit (max_code_bytes) is 65536; the operator can raise it for the merchant"
        )
    );
    // A small plugin is within it.
    assert_eq!(upload(&s, &plugin_bytes("hello")).await.0, 201);

    let (status, other) = operator(
        &s,
        "POST",
        "/api/operator/merchants",
        json!({"name": "Shop B"}),
    )
    .await;
    assert_eq!(status, 201, "{other}");
    let me = s
        .store
        .merchant_by_token(&s.merchant_token)
        .expect("lookup")
        .expect("merchant");
    let path = format!("/api/operator/merchants/{}/plugin-limits", me.id);
    let (status, view) = operator(&s, "GET", &path, Value::Null).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["max_code_bytes"], Value::Null, "{view}");
    assert_eq!(view["effective_max_code_bytes"], 64 << 10, "{view}");
    // A PUT names every field; an unknown merchant is 404.
    let (status, body) = operator(&s, "PUT", &path, json!({})).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = operator(
        &s,
        "PUT",
        "/api/operator/merchants/m_nobody/plugin-limits",
        json!({"max_code_bytes": 1}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, view) = operator(&s, "PUT", &path, json!({"max_code_bytes": 1 << 20})).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["effective_max_code_bytes"], 1 << 20, "{view}");

    let (status, version) = upload(&s, &bytes).await;
    assert_eq!(
        status, 201,
        "the raised allowance lets it through: {version}"
    );
    // The other merchant still has the default, even for bytes this node has compiled.
    let secret = other["secret"].as_str().unwrap_or_default();
    let (status, body) = upload_as(&s, secret, &bytes).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("max_code_bytes) is 65536"),
        "{body}"
    );
    // Clearing the override restores the default.
    let (status, view) = operator(&s, "PUT", &path, json!({"max_code_bytes": null})).await;
    assert_eq!(
        (status, view["effective_max_code_bytes"].clone()),
        (200, json!(64 << 10))
    );
}
