//! Product images through the REST API: an upload is stored and served to anyone, cached
//! for good and revalidated by ETag; a product may use its path; wrong types, lies about
//! the type, empty and too-large bodies are refused in words and store nothing.

use crate::harness::*;
use serde_json::{Value, json};

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xfc, 0xcf, 0xc0, 0x50,
    0x0f, 0x00, 0x04, 0x85, 0x01, 0x80, 0x84, 0xa9, 0x8c, 0x21, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A raw request with the merchant's token and a `Content-Type`.
async fn send(s: &Server, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let url = format!("http://{}{path}", s.addr);
    let r = reqwest::Client::new()
        .post(url)
        .bearer_auth(&s.merchant_token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_uploaded_image_is_served_cached_and_usable_by_a_product() {
    let s = start(fast()).await;
    let (status, image) = send(&s, "/api/images", "image/png", PNG.to_vec()).await;
    assert_eq!(status, 201, "{image}");
    let url = image["url"].as_str().unwrap_or_default().to_owned();
    assert!(url.starts_with("/images/img_"), "{image}");
    assert_eq!(
        (&image["content_type"], &image["size"]),
        (&json!("image/png"), &json!(PNG.len()))
    );
    // The same bytes again are the same image.
    let (status, again) = send(&s, "/api/images", "image/png", PNG.to_vec()).await;
    assert_eq!((status, &again["url"]), (201, &json!(url)));

    // Served to anyone (no token), cached for good, revalidated by its ETag.
    let client = reqwest::Client::new();
    let full = format!("http://{}{url}", s.addr);
    let r = client.get(&full).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 200);
    let header = |r: &reqwest::Response, h: &str| {
        r.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header(&r, "content-type"), "image/png");
    assert_eq!(
        header(&r, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    let etag = header(&r, "etag");
    assert_eq!(r.bytes().await.expect("body").as_ref(), PNG);
    let r = client
        .get(&full)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(r.status().as_u16(), 304);
    let missing = format!("http://{}/images/img_{}", s.addr, "0".repeat(32));
    assert_eq!(
        client
            .get(&missing)
            .send()
            .await
            .expect("get")
            .status()
            .as_u16(),
        404
    );
    let odd = format!("http://{}/images/..%2Fetc", s.addr);
    assert_eq!(
        client
            .get(&odd)
            .send()
            .await
            .expect("get")
            .status()
            .as_u16(),
        404
    );

    // A product may use it; a made-up image path is no URL.
    let (status, p) = api(
        &s,
        "POST",
        "/api/products",
        json!({"title": "Tee", "image_url": url}),
    )
    .await;
    assert_eq!((status, &p["image_url"]), (201, &json!(url)), "{p}");
    let (status, _) = api(
        &s,
        "POST",
        "/api/products",
        json!({"title": "Tee", "image_url": "/images/x"}),
    )
    .await;
    assert_eq!(status, 422);

    // Refusals, in words.
    for (content_type, body, want_status, want) in [
        (
            "image/jpeg",
            PNG.to_vec(),
            422,
            "the image is image/png but was sent as \"image/jpeg\"",
        ),
        (
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            422,
            "not a PNG, JPEG, GIF or WebP image",
        ),
        ("image/png", Vec::new(), 422, "the image is empty"),
        (
            "image/png",
            [PNG, &vec![0; 2 * 1024 * 1024]].concat(),
            413,
            "larger than the limit of 2097152 bytes (2 MiB)",
        ),
    ] {
        let (status, err) = send(&s, "/api/images", content_type, body).await;
        assert_eq!(status, want_status, "{content_type}: {err}");
        let msg = err["error"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{content_type}: {msg}");
    }
    // Without a token, no upload.
    let r = client
        .post(format!("http://{}/api/images", s.addr))
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 401);
}
