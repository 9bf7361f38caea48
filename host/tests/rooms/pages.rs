//! The web pages and the viewer identity they use: pages served with their security
//! headers, unknown rooms and odd asset names refused, guest tokens that keep one identity
//! across connections, and "who am I" with the A/B variant.

use crate::harness::*;
use livecart::auth::Role;
use serde_json::{Value, json};

/// Status, lower-cased head and body of a GET.
async fn get(s: &Server, path: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn pages_are_served_with_a_strict_content_security_policy() {
    let s = start(fast()).await;
    for path in [format!("/live/{}", s.room), "/console".to_owned()] {
        let (status, head, body) = get(&s, &path).await;
        assert_eq!(status, 200, "{path}: {head}");
        assert!(head.contains("content-type: text/html"), "{path}: {head}");
        assert!(head.contains("script-src 'self'"), "{path}: {head}");
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        assert!(body.contains("<script"), "{path} loads its script");
    }
    let (status, head, _) = get(&s, "/").await;
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("location: /console"), "{head}");
}

#[tokio::test]
async fn an_unknown_room_page_is_a_404_page() {
    let s = start(fast()).await;
    let (status, head, body) = get(&s, "/live/r_nope").await;
    assert_eq!(status, 404);
    assert!(head.contains("text/html"), "{head}");
    assert!(body.contains("No such live room"), "{body}");
}

#[tokio::test]
async fn assets_are_cached_by_etag_and_odd_names_are_refused() {
    let s = start(fast()).await;
    let (status, head, body) = get(&s, "/assets/dash.all.min.js").await;
    assert_eq!(status, 200, "dash.js is embedded: {head}");
    assert!(head.contains("text/javascript"), "{head}");
    assert!(body.len() > 100_000, "the whole player");
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .to_owned();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let req = format!(
        "GET /assets/dash.all.min.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
    );
    c.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.expect("read");
    assert!(
        out.starts_with(b"HTTP/1.1 304"),
        "{}",
        String::from_utf8_lossy(&out)
    );

    // Compressed for clients that take gzip: another representation, another tag.
    let mut c = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let req = "GET /assets/dash.all.min.js HTTP/1.1\r\nHost: x\r\n\
               Accept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n";
    c.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.expect("read");
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let (gz_head, gz_body) = out.split_at(split);
    let gz_head = String::from_utf8_lossy(gz_head).to_ascii_lowercase();
    assert!(gz_head.contains("content-encoding: gzip"), "{gz_head}");
    assert!(gz_head.contains("vary: accept-encoding"), "{gz_head}");
    assert!(!gz_head.contains(&format!("etag: {etag}")), "{gz_head}");
    assert!(gz_body.starts_with(&[0x1f, 0x8b]), "a gzip stream");
    assert!(
        gz_body.len() < body.len() / 2,
        "{} of {}",
        gz_body.len(),
        body.len()
    );

    for path in [
        "/assets/..%2fCargo.toml",
        "/assets/.hidden",
        "/assets/nope.js",
        "/assets/%2e%2e",
    ] {
        let (status, _, _) = get(&s, path).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn a_guest_token_keeps_one_identity_across_connections() {
    let s = start(fast()).await;
    let path = format!("/api/rooms/{}/guest", s.room);
    let body = json!({"name": "  Mei with a name far longer than thirty-two characters  "});
    let (status, text) = http(&s, "POST", &path, None, Some(body.to_string().into_bytes())).await;
    assert_eq!(status, 200, "{text}");
    let guest: Value = serde_json::from_str(&text).expect("json");
    let token = guest["token"].as_str().expect("token");
    let id = guest["user"]["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("g_"), "{guest}");
    assert_eq!(guest["user"]["role"], "viewer");
    assert_eq!(
        guest["user"]["name"].as_str().map(|n| n.chars().count()),
        Some(32)
    );
    assert!(
        matches!(guest["variant"].as_str(), Some("a" | "b")),
        "{guest}"
    );

    // Two connections with the token are the same user.
    for _ in 0..2 {
        let mut c = Client::connect(&s).await;
        c.send(json!({"type": "hello", "v": 1, "token": token}))
            .await;
        let welcome = c.expect_type("welcome").await;
        assert_eq!(welcome["user"]["id"], id.as_str(), "{welcome}");
    }

    // Who am I: the same user and variant.
    let me = format!("/api/rooms/{}/me", s.room);
    let (status, text) = http(&s, "GET", &me, Some(token), None).await;
    assert_eq!(status, 200, "{text}");
    let me_body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(me_body["user"]["id"], id.as_str());
    assert_eq!(me_body["variant"], guest["variant"]);

    // Without a body the guest gets a generated name.
    let (status, text) = http(&s, "POST", &path, None, None).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Guest "), "{text}");
}

#[tokio::test]
async fn viewer_identity_refusals() {
    let s = start(fast()).await;
    // Unknown room.
    let (status, _) = http(&s, "POST", "/api/rooms/r_nope/guest", None, None).await;
    assert_eq!(status, 404);
    // Unknown field.
    let bad = json!({"name": "x", "role": "host"})
        .to_string()
        .into_bytes();
    let path = format!("/api/rooms/{}/guest", s.room);
    let (status, text) = http(&s, "POST", &path, None, Some(bad)).await;
    assert_eq!(status, 422, "{text}");
    // "Who am I" without, with a forged and with a merchant token.
    let me = format!("/api/rooms/{}/me", s.room);
    for token in [
        None,
        Some("eyJhbGciOiJub25lIn0.e30."),
        Some(s.merchant_token.as_str()),
    ] {
        let (status, text) = http(&s, "GET", &me, token, None).await;
        assert_eq!(status, 401, "{token:?}: {text}");
    }
    // A host token of another room is a viewer here.
    let other = token("r_other", "ann", Role::Host);
    let (status, text) = http(&s, "GET", &me, Some(&other), None).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"role\":\"viewer\""), "{text}");
}

/// Renaming a guest keeps its identity (so its coupon claims still count); only guest
/// tokens of the room may be renamed.
#[tokio::test]
async fn a_guest_renames_itself_and_stays_the_same_user() {
    let s = start(fast()).await;
    let path = format!("/api/rooms/{}/guest", s.room);
    let (_, text) = http(&s, "POST", &path, None, None).await;
    let guest: Value = serde_json::from_str(&text).expect("json");
    let token = guest["token"].as_str().expect("token");
    let body = || Some(json!({"name": " Mei "}).to_string().into_bytes());
    let (status, text) = http(&s, "PUT", &path, Some(token), body()).await;
    assert_eq!(status, 200, "{text}");
    let renamed: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(renamed["user"]["id"], guest["user"]["id"], "{renamed}");
    assert_eq!(renamed["user"]["name"], "Mei");
    assert_eq!(renamed["variant"], guest["variant"]);

    // Refused: no token, an empty name, a merchant-minted token, a guest of another room.
    let (status, _) = http(&s, "PUT", &path, None, body()).await;
    assert_eq!(status, 401);
    let empty = Some(json!({"name": "  "}).to_string().into_bytes());
    let (status, _) = http(&s, "PUT", &path, Some(token), empty).await;
    assert_eq!(status, 422);
    let minted = crate::harness::token(&s.room, "vip-1", Role::Viewer);
    let (status, _) = http(&s, "PUT", &path, Some(&minted), body()).await;
    assert_eq!(status, 403);
    let (_, other_room) = api(&s, "POST", "/api/rooms", json!({"title": "Other"})).await;
    let other = format!(
        "/api/rooms/{}/guest",
        other_room["id"].as_str().unwrap_or("")
    );
    let (status, _) = http(&s, "PUT", &other, Some(token), body()).await;
    assert_eq!(status, 403);
}
