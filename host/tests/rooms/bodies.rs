//! Request bodies of the REST API (issue 12, defect 5): a `PUT` replaces the whole object
//! and names what is missing instead of resetting it, unknown fields are refused instead of
//! dropped, and every refusal of a body is in the API's `{"error": "..."}` shape.

use crate::harness::*;
use serde_json::{Value, json};

/// The error message of an API error answer, or a panic saying what came instead.
fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not the API's error shape: {body}"))
}

fn whole_coupon(room: Option<&str>, title: &str, unlocked: bool) -> Value {
    json!({
        "room_id": room, "title": title, "discount_cents": 500, "min_spend_cents": 0, "quota": 1000,
        "per_user_limit": 1, "valid_from_ms": 0, "valid_until_ms": 0, "unlocked": unlocked,
        "signed_in_only": false,
    })
}

#[tokio::test]
async fn put_coupon_without_room_id_or_unlocked_resets_nothing() {
    let s = start(fast()).await;
    let (status, body) = api(&s, "POST", "/api/coupons/c-1k/unlock", json!({})).await;
    assert_eq!((status, &body["unlocked"]), (200, &json!(true)), "{body}");

    // The PUT of issue 12: no `room_id`, no `unlocked`. It used to answer 200 and make the
    // coupon valid in every room, and locked.
    let (status, body) = api(
        &s,
        "PUT",
        "/api/coupons/c-1k",
        json!({"title": "renamed", "discount_cents": 500, "quota": 1000}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let msg = error_of(&body);
    for field in [
        "`room_id`",
        "`unlocked`",
        "`per_user_limit`",
        "`valid_until_ms`",
    ] {
        assert!(msg.contains(field), "{field} not named in {msg:?}");
    }
    assert!(!msg.contains("`title`"), "{msg:?}");
    let (_, coupon) = api(&s, "GET", "/api/coupons/c-1k", json!({})).await;
    assert_eq!(
        (&coupon["room_id"], &coupon["unlocked"], &coupon["title"]),
        (&json!(s.room), &json!(true), &json!("c-1k")),
        "a refused PUT changed the coupon: {coupon}"
    );

    // The whole object replaces it, exactly as sent.
    let (status, body) = api(
        &s,
        "PUT",
        "/api/coupons/c-1k",
        whole_coupon(Some(&s.room), "renamed", true),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["room_id"], &body["unlocked"], &body["title"]),
        (&json!(s.room), &json!(true), &json!("renamed"))
    );
    // "Every room" is said with an explicit null.
    let (status, body) = api(
        &s,
        "PUT",
        "/api/coupons/c-1k",
        whole_coupon(None, "renamed", true),
    )
    .await;
    assert_eq!((status, &body["room_id"]), (200, &Value::Null), "{body}");
    // The id cannot be changed through the body.
    let mut other = whole_coupon(None, "renamed", true);
    other["id"] = json!("c-other");
    let (status, body) = api(&s, "PUT", "/api/coupons/c-1k", other).await;
    assert_eq!(status, 422, "{body}");
    assert!(error_of(&body).contains("c-other"), "{body}");

    // 满减: a minimum spend is kept; one not above the discount is refused, naming it.
    let mut spend = whole_coupon(None, "满199减20", true);
    spend["discount_cents"] = json!(2000);
    spend["min_spend_cents"] = json!(19_900);
    let (status, body) = api(&s, "PUT", "/api/coupons/c-1k", spend.clone()).await;
    assert_eq!(
        (status, &body["min_spend_cents"]),
        (200, &json!(19_900)),
        "{body}"
    );
    spend["min_spend_cents"] = json!(2000);
    let (status, body) = api(&s, "PUT", "/api/coupons/c-1k", spend).await;
    assert_eq!(status, 422, "{body}");
    assert!(error_of(&body).contains("min_spend_cents"), "{body}");
    let (_, coupon) = api(&s, "GET", "/api/coupons/c-1k", json!({})).await;
    assert_eq!(
        coupon["min_spend_cents"], 19_900,
        "a refused PUT changed it: {coupon}"
    );
}

#[tokio::test]
async fn put_product_without_every_field_resets_nothing() {
    let s = start(fast()).await;
    let (status, body) = api(
        &s,
        "PUT",
        "/api/products/sku-tee",
        json!({"title": "Linen Tee"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let msg = error_of(&body);
    for field in [
        "`price_cents`",
        "`stock`",
        "`buy_url`",
        "`faq`",
        "`specs`",
        "`skus`",
    ] {
        assert!(msg.contains(field), "{field} not named in {msg:?}");
    }
    let (_, p) = api(&s, "GET", "/api/products/sku-tee", json!({})).await;
    assert_eq!(
        (&p["title"], &p["price_cents"]),
        (&json!("Cotton Tee"), &json!(9900))
    );

    let mut whole = p.clone();
    whole["title"] = json!("Linen Tee");
    let (status, body) = api(&s, "PUT", "/api/products/sku-tee", whole).await;
    assert_eq!(status, 200, "GET → PUT round trip: {body}");
    assert_eq!(
        (&body["title"], &body["stock"]),
        (&json!("Linen Tee"), &json!(100))
    );
}

#[tokio::test]
async fn post_product_with_variants_is_refused_not_dropped() {
    let s = start(fast()).await;
    let (status, body) = api(
        &s,
        "POST",
        "/api/products",
        json!({"id": "sku-hoodie", "title": "Hoodie", "price_cents": 19900,
               "variants": [{"size": "M"}, {"size": "L"}]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        error_of(&body).contains("unknown field `variants`"),
        "{body}"
    );
    let (status, _) = api(&s, "GET", "/api/products/sku-hoodie", json!({})).await;
    assert_eq!(status, 404, "a refused product was stored");
    // Nested objects are checked too.
    let (status, body) = api(
        &s,
        "POST",
        "/api/products",
        json!({"title": "Hoodie", "faq": [{"question": "q", "answer": "a", "votes": 3}]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(error_of(&body).contains("`votes`"), "{body}");
}

#[tokio::test]
async fn every_request_body_refuses_unknown_fields_in_the_error_shape() {
    let s = start(fast()).await;
    let room = s.room.clone();
    let cases = [
        (
            "POST",
            "/api/rooms".to_owned(),
            json!({"title": "x", "colour": "red"}),
        ),
        (
            "POST",
            "/api/coupons".to_owned(),
            json!({"title": "x", "discount_cents": 1, "quota": 1, "unlokced": true}),
        ),
        ("PUT", "/api/coupons/c-1k".to_owned(), {
            let mut c = whole_coupon(None, "x", false);
            c["unlokced"] = json!(true);
            c
        }),
        (
            "POST",
            format!("/api/rooms/{room}/flash-sales"),
            json!({"product_id": "sku-tee", "price_cents": 1, "stock": 1, "starts_ms": 0,
                   "ends_ms": 1, "discount": 5}),
        ),
        (
            "POST",
            format!("/api/rooms/{room}/tokens"),
            json!({"user_id": "u", "name": "n", "role": "viewer", "admin": true}),
        ),
        (
            "POST",
            format!("/api/rooms/{room}/push"),
            json!({"product_id": "sku-tee", "colour": "red"}),
        ),
        (
            "POST",
            format!("/api/rooms/{room}/plugins"),
            json!({"hash": "x", "cfg": {}}),
        ),
    ];
    for (method, path, body) in cases {
        let unknown = body
            .as_object()
            .and_then(|o| o.keys().find(|k| UNKNOWN.contains(&k.as_str())).cloned())
            .expect("each case has an unknown field");
        let (status, answer) = api(&s, method, &path, body).await;
        assert_eq!(status, 422, "{method} {path}: {answer}");
        let msg = error_of(&answer);
        assert!(
            msg.contains(&format!("unknown field `{unknown}`")),
            "{method} {path}: {msg:?}"
        );
    }
    let (_, coupon) = api(&s, "GET", "/api/coupons/c-1k", json!({})).await;
    assert_eq!(coupon["title"], "c-1k", "a refused PUT changed the coupon");
}

const UNKNOWN: &[&str] = &["colour", "unlokced", "discount", "admin", "cfg"];

#[tokio::test]
async fn malformed_bodies_are_answered_in_the_error_shape() {
    let s = start(fast()).await;
    let token = s.merchant_token.clone();
    let send = |method: &'static str, path: &'static str, body: &'static [u8]| {
        let (s, token) = (&s, token.clone());
        async move {
            let (status, text) = http(s, method, path, Some(&token), Some(body.to_vec())).await;
            let json: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text:?}"));
            (status, json)
        }
    };
    let (status, body) = send("POST", "/api/rooms", b"{\"title\": ").await;
    assert_eq!(status, 400, "{body}");
    error_of(&body);
    let (status, body) = send("POST", "/api/rooms", b"{\"title\": 5}").await;
    assert_eq!(status, 422, "{body}");
    assert!(error_of(&body).contains("title"), "{body}");
    let (status, body) = send("PUT", "/api/coupons/c-1k", b"[1, 2]").await;
    assert_eq!(status, 422, "{body}");
    error_of(&body);
    let (status, body) = send("PUT", "/api/products/sku-tee", b"{\"title\": ").await;
    assert_eq!(status, 400, "{body}");
    error_of(&body);
}

#[tokio::test]
async fn openapi_says_a_put_needs_the_whole_object() {
    let s = start(fast()).await;
    let (_, text) = http(&s, "GET", "/api/openapi.json", None, None).await;
    let doc: Value = serde_json::from_str(&text).expect("openapi is JSON");
    let schema = |path: &str| {
        let r = doc["paths"][path]["put"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("#/components/schemas/")
            .to_owned();
        doc["components"]["schemas"][r].clone()
    };
    let coupon = schema("/api/coupons/{id}");
    for field in ["room_id", "unlocked", "title", "quota"] {
        assert!(
            coupon["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!(field))),
            "{field}: {coupon}"
        );
    }
    assert_eq!(coupon["additionalProperties"], false);
    let product = schema("/api/products/{id}");
    assert!(
        product["required"]
            .as_array()
            .is_some_and(|r| r.len() == 10),
        "{product}"
    );
}
