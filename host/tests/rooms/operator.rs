//! The operator API (`/api/operator/…`) and what it does to merchants: who may call it,
//! creating and listing merchants, disabling them (their tokens, room tokens stop at once),
//! and issuing, rotating and revoking their API tokens; plus `GET /api/me`.

use crate::harness::*;
use livecart::auth::Role;
use serde_json::{Value, json};

/// A request with any token (or none); the body parsed as JSON when it is.
async fn call(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let body = if body.is_null() {
        None
    } else {
        Some(body.to_string().into_bytes())
    };
    let (status, text) = http(s, method, path, token, body).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn op(s: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
    call(s, method, path, Some(OPERATOR_TOKEN), body).await
}

/// The id of the test server's merchant.
fn merchant_id(s: &Server) -> String {
    s.store
        .merchant_by_token(&s.merchant_token)
        .expect("lookup")
        .expect("merchant")
        .id
}

fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn every_operator_route_refuses_missing_and_wrong_tokens_and_merchant_tokens() {
    let s = start(fast()).await;
    let m = merchant_id(&s);
    for (method, path) in [
        ("GET", "/api/operator/merchants".to_owned()),
        ("POST", "/api/operator/merchants".to_owned()),
        ("GET", format!("/api/operator/merchants/{m}")),
        ("POST", format!("/api/operator/merchants/{m}/disable")),
        ("POST", format!("/api/operator/merchants/{m}/enable")),
        ("GET", format!("/api/operator/merchants/{m}/tokens")),
        ("POST", format!("/api/operator/merchants/{m}/tokens")),
        (
            "POST",
            format!("/api/operator/merchants/{m}/tokens/tk_x/rotate"),
        ),
        (
            "POST",
            format!("/api/operator/merchants/{m}/tokens/tk_x/revoke"),
        ),
        ("GET", format!("/api/operator/merchants/{m}/plugin-limits")),
        ("PUT", format!("/api/operator/merchants/{m}/plugin-limits")),
    ] {
        let body = json!({"name": "Intruder"});
        let (status, v) = call(&s, method, &path, None, body.clone()).await;
        assert_eq!(status, 401, "{method} {path}: {v}");
        assert!(error_of(&v).contains("operator token"), "{v}");
        let (status, v) = call(
            &s,
            method,
            &path,
            Some("op_wrong_but_long_enough"),
            body.clone(),
        )
        .await;
        assert_eq!(status, 401, "{method} {path} with a wrong token: {v}");
        assert_eq!(error_of(&v), "invalid operator token");
        let (status, v) = call(&s, method, &path, Some(&s.merchant_token), body).await;
        assert_eq!(status, 403, "{method} {path} with a merchant token: {v}");
        assert!(error_of(&v).contains("merchant's api token"), "{v}");
    }
    // Nothing was changed by any of them.
    assert_eq!(s.store.merchants().expect("list").len(), 1);
    assert!(s.store.merchant(&m).expect("get").expect("m").is_enabled());
}

#[tokio::test]
async fn the_operator_token_is_refused_on_merchant_routes() {
    let s = start(fast()).await;
    let (status, v) = call(&s, "GET", "/api/rooms", Some(OPERATOR_TOKEN), Value::Null).await;
    assert_eq!(status, 403, "{v}");
    assert!(error_of(&v).contains("operator token"), "{v}");
}

#[tokio::test]
async fn operator_creates_a_merchant_whose_token_works_and_names_the_shop() {
    let s = start(fast()).await;
    let (status, created) = op(
        &s,
        "POST",
        "/api/operator/merchants",
        json!({"name": " 小红的店 "}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["merchant"]["name"], "小红的店");
    assert_eq!(created["merchant"]["disabled_ms"], Value::Null);
    assert_eq!(created["token"]["label"], "initial");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let id = created["merchant"]["id"].as_str().expect("id").to_owned();

    let (status, me) = call(&s, "GET", "/api/me", Some(&secret), Value::Null).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["id"].as_str(), me["name"].as_str()),
        (Some(id.as_str()), Some("小红的店"))
    );
    let (status, rooms) = call(&s, "GET", "/api/rooms", Some(&secret), Value::Null).await;
    assert_eq!(
        (status, rooms),
        (200, json!([])),
        "a new merchant sees none of A's rooms"
    );

    let (status, list) = op(&s, "GET", "/api/operator/merchants", Value::Null).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["Shop A", "小红的店"]);

    let (status, detail) = op(
        &s,
        "GET",
        &format!("/api/operator/merchants/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["tokens"][0]["id"], created["token"]["id"]);
    assert!(
        !detail.to_string().contains(&secret),
        "a listing never shows a secret"
    );
}

#[tokio::test]
async fn creating_a_merchant_refuses_bad_bodies_with_422() {
    let s = start(fast()).await;
    for body in [
        json!({}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(81)}),
        json!({"name": 7}),
        json!({"name": "Shop", "owner": "me"}),
    ] {
        let (status, v) = op(&s, "POST", "/api/operator/merchants", body.clone()).await;
        assert_eq!(status, 422, "{body}: {v}");
        assert!(!error_of(&v).is_empty(), "{v}");
    }
    let (status, text) = http(
        &s,
        "POST",
        "/api/operator/merchants",
        Some(OPERATOR_TOKEN),
        Some(b"{nope".to_vec()),
    )
    .await;
    assert_eq!(status, 422, "{text}");
    assert_eq!(s.store.merchants().expect("list").len(), 1);
}

#[tokio::test]
async fn an_unknown_merchant_or_token_is_404() {
    let s = start(fast()).await;
    let m = merchant_id(&s);
    for (method, path) in [
        ("GET", "/api/operator/merchants/m_missing".to_owned()),
        (
            "POST",
            "/api/operator/merchants/m_missing/disable".to_owned(),
        ),
        (
            "POST",
            "/api/operator/merchants/m_missing/enable".to_owned(),
        ),
        ("GET", "/api/operator/merchants/m_missing/tokens".to_owned()),
        (
            "POST",
            "/api/operator/merchants/m_missing/tokens".to_owned(),
        ),
        (
            "POST",
            format!("/api/operator/merchants/{m}/tokens/tk_missing/rotate"),
        ),
        (
            "POST",
            format!("/api/operator/merchants/{m}/tokens/tk_missing/revoke"),
        ),
    ] {
        let (status, v) = op(&s, method, &path, Value::Null).await;
        assert_eq!(status, 404, "{method} {path}: {v}");
        assert!(error_of(&v).starts_with("unknown "), "{v}");
    }
}

#[tokio::test]
async fn a_disabled_merchants_tokens_are_refused_at_once_and_work_again_when_enabled() {
    let s = start(fast()).await;
    let m = merchant_id(&s);
    let (status, v) = op(
        &s,
        "POST",
        &format!("/api/operator/merchants/{m}/enable"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 409, "enabling an enabled merchant: {v}");

    let (status, v) = op(
        &s,
        "POST",
        &format!("/api/operator/merchants/{m}/disable"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["disabled_ms"].is_u64(), "{v}");
    for path in ["/api/me", "/api/rooms", "/api/products"] {
        let (status, v) = call(&s, "GET", path, Some(&s.merchant_token), Value::Null).await;
        assert_eq!(status, 403, "{path}: {v}");
        assert_eq!(
            error_of(&v),
            format!("merchant {m} is disabled; ask the operator to re-enable it")
        );
    }
    let (status, v) = op(
        &s,
        "POST",
        &format!("/api/operator/merchants/{m}/disable"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 409, "disabling twice: {v}");
    assert_eq!(error_of(&v), format!("merchant {m} is already disabled"));

    let (status, v) = op(
        &s,
        "POST",
        &format!("/api/operator/merchants/{m}/enable"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["disabled_ms"], Value::Null);
    let (status, _) = call(
        &s,
        "GET",
        "/api/rooms",
        Some(&s.merchant_token),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn issued_rotated_and_revoked_tokens_work_exactly_while_they_should() {
    let s = start(fast()).await;
    let m = merchant_id(&s);
    let tokens = format!("/api/operator/merchants/{m}/tokens");
    let (status, issued) = op(&s, "POST", &tokens, json!({"label": "ci"})).await;
    assert_eq!(status, 201, "{issued}");
    let ci = issued["secret"].as_str().expect("secret").to_owned();
    let ci_id = issued["token"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        call(&s, "GET", "/api/me", Some(&ci), Value::Null).await.0,
        200
    );
    // An empty body is a token without a label.
    let (status, unlabelled) = op(&s, "POST", &tokens, Value::Null).await;
    assert_eq!(
        (status, unlabelled["token"]["label"].as_str()),
        (201, Some("")),
        "{unlabelled}"
    );
    let (status, v) = op(&s, "POST", &tokens, json!({"label": "l".repeat(61)})).await;
    assert_eq!(status, 422, "{v}");

    let (status, rotated) = op(&s, "POST", &format!("{tokens}/{ci_id}/rotate"), Value::Null).await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["replaces"], ci_id.as_str());
    assert_eq!(rotated["token"]["label"], "ci");
    let ci2 = rotated["secret"].as_str().expect("secret").to_owned();
    let (status, v) = call(&s, "GET", "/api/me", Some(&ci), Value::Null).await;
    assert_eq!(
        (status, error_of(&v)),
        (401, "invalid api token"),
        "the rotated-away token"
    );
    assert_eq!(
        call(&s, "GET", "/api/me", Some(&ci2), Value::Null).await.0,
        200
    );
    let (status, v) = op(&s, "POST", &format!("{tokens}/{ci_id}/rotate"), Value::Null).await;
    assert_eq!(status, 409, "rotating a revoked token: {v}");

    let ci2_id = rotated["token"]["id"].as_str().expect("id").to_owned();
    let (status, v) = op(
        &s,
        "POST",
        &format!("{tokens}/{ci2_id}/revoke"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["revoked_ms"].is_u64(), "{v}");
    let (status, _) = call(&s, "GET", "/api/rooms", Some(&ci2), Value::Null).await;
    assert_eq!(status, 401, "a revoked token");
    let (status, v) = op(
        &s,
        "POST",
        &format!("{tokens}/{ci2_id}/revoke"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 409, "revoking twice: {v}");
    assert_eq!(error_of(&v), format!("token {ci2_id} is already revoked"));
    // The merchant's first token was never touched.
    assert_eq!(
        call(&s, "GET", "/api/me", Some(&s.merchant_token), Value::Null)
            .await
            .0,
        200
    );
    let (_, list) = op(&s, "GET", &tokens, Value::Null).await;
    assert_eq!(list.as_array().map(Vec::len), Some(4), "{list}");
}

#[tokio::test]
async fn a_disabled_merchants_host_token_cannot_join_but_viewers_still_can() {
    let s = start(fast()).await;
    let m = merchant_id(&s);
    let host = token(&s.room, "host-1", Role::Host);
    let moderator = token(&s.room, "mod-1", Role::Moderator);
    drop(Client::join(&s, &s.room, Some(&host)).await);
    s.store.set_merchant_disabled(&m, true).expect("disable");
    for staff in [&host, &moderator] {
        let mut c = Client::connect(&s).await;
        c.send(json!({"type": "hello", "v": 1, "token": staff}))
            .await;
        c.expect_type("welcome").await;
        c.send(json!({"type": "join", "room": s.room})).await;
        let e = c.expect_type("error").await;
        assert_eq!(e["code"], "merchant_disabled", "{e}");
        assert_eq!(c.closed().await.map(|(code, _)| code), Some(1008));
    }
    drop(Client::join(&s, &s.room, None).await);
    s.store.set_merchant_disabled(&m, false).expect("enable");
    drop(Client::join(&s, &s.room, Some(&host)).await);
}
