//! SKUs through the REST API and the room: a product's sizes with their stock, a flash
//! sale that sells by SKU, buys that name one (and a clear refusal when they do not, or
//! when it is sold out), and the room seeing each SKU's stock move.

use crate::harness::*;
use livecart::auth::Role;
use serde_json::{Value, json};

fn tee(skus: Value) -> Value {
    json!({"id": "tee", "title": "棉T恤", "price_cents": 9900, "stock": 60, "skus": skus})
}

async fn buy(c: &mut Client, sale: &Value, sku: Option<&str>, key: &str) -> Value {
    let mut msg = json!({"type": "buy", "sale_id": sale["id"], "quantity": 1, "key": key});
    if let Some(sku) = sku {
        msg["sku"] = json!(sku);
    }
    c.send(msg).await;
    c.expect_type("buy_result").await
}

#[tokio::test]
async fn a_sale_sells_by_sku_and_says_which_one_is_sold_out() {
    let s = start(fast()).await;
    let room = s.room.clone();
    let skus = json!([
        {"id": "m", "name": "M码", "stock": 20},
        {"id": "l", "name": "L码", "stock": 20, "price_cents": 10900}
    ]);
    let (status, p) = api(&s, "POST", "/api/products", tee(skus.clone())).await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["skus"], skus, "{p}");
    // A bad SKU list is refused in words and changes nothing.
    for (bad, want) in [
        (
            json!([{"id": "a", "name": "M", "stock": 1}, {"id": "b", "name": "M", "stock": 1}]),
            "used twice",
        ),
        (json!([{"id": "a", "name": "", "stock": 1}]), "needs a name"),
        (
            json!([{"id": "a", "name": "M", "stock": 1, "colour": "red"}]),
            "unknown field `colour`",
        ),
    ] {
        let (status, err) = api(&s, "POST", "/api/products", tee(bad.clone())).await;
        assert_eq!(status, 422, "{bad}: {err}");
        let msg = err["error"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{bad}: {msg}");
    }
    let (_, kept) = api(&s, "GET", "/api/products/tee", json!({})).await;
    assert_eq!(kept["skus"], skus);

    let sales = format!("/api/rooms/{room}/flash-sales");
    let ends = livecart::store::now_ms() + 60_000;
    let terms = |extra: Value| {
        let mut t = json!({"product_id": "tee", "price_cents": 4900, "per_user_limit": 1,
            "starts_ms": 0, "ends_ms": ends});
        if let (Some(t), Some(e)) = (t.as_object_mut(), extra.as_object()) {
            t.extend(e.clone());
        }
        t
    };
    for (extra, want) in [
        (json!({"stock": 5}), "sum of its SKUs' stock (40)"),
        (
            json!({"skus": [{"id": "xl", "stock": 1}]}),
            "has no SKU \"xl\"",
        ),
        (json!({"skus": [{"id": "m", "stock": 0}]}), "at least 1"),
    ] {
        let (status, err) = api(&s, "POST", &sales, terms(extra.clone())).await;
        assert_eq!(status, 422, "{extra}: {err}");
        let msg = err["error"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{extra}: {msg}");
    }
    let offer =
        json!({"skus": [{"id": "m", "stock": 1}, {"id": "l", "stock": 2, "price_cents": 5900}]});
    let (status, sale) = api(&s, "POST", &sales, terms(offer)).await;
    assert_eq!(status, 201, "{sale}");
    assert_eq!(
        (
            sale["stock"].as_u64(),
            sale["skus"][1]["price_cents"].as_u64()
        ),
        (Some(3), Some(5900))
    );

    let mut first = Client::join(&s, &room, Some(&token(&room, "u1", Role::Viewer))).await;
    let mut second = Client::join(&s, &room, Some(&token(&room, "u2", Role::Viewer))).await;
    assert_eq!(first.snapshot()["flash_sale"]["skus"][0]["name"], "M码");
    let r = buy(&mut first, &sale, None, "k0").await;
    assert_eq!(
        (r["ok"].as_bool(), r["code"].as_str()),
        (Some(false), Some("sku_required")),
        "{r}"
    );
    let r = buy(&mut first, &sale, Some("m"), "k1").await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        (
            r["sku_id"].as_str(),
            r["amount_cents"].as_u64(),
            r["quantity"].as_u64()
        ),
        (Some("m"), Some(4900), Some(1))
    );
    // The room sees M go: the sale's stock frame carries each SKU's count.
    let stock = second
        .expect("M sold out", |m| {
            m["type"] == "flash_sale" && m["event"] == "stock"
        })
        .await;
    let sold = |v: &Value, i: usize| v["sale"]["skus"][i]["sold"].as_u64();
    assert_eq!(
        (sold(&stock, 0), sold(&stock, 1)),
        (Some(1), Some(0)),
        "{stock}"
    );
    let r = buy(&mut second, &sale, Some("m"), "k2").await;
    assert_eq!(
        (r["ok"].as_bool(), r["code"].as_str()),
        (Some(false), Some("sold_out")),
        "{r}"
    );
    let why = r["error"].as_str().unwrap_or_default();
    assert!(why.ends_with(": M码 is sold out"), "{why}");
    let r = buy(&mut second, &sale, Some("l"), "k3").await;
    assert_eq!(
        (r["ok"].as_bool(), r["amount_cents"].as_u64()),
        (Some(true), Some(5900)),
        "{r}"
    );
    // The per-user limit counts across SKUs.
    let r = buy(&mut second, &sale, Some("l"), "k4").await;
    assert_eq!(r["code"], "per_user_limit", "{r}");
    let (_, list) = api(&s, "GET", &sales, json!({})).await;
    assert_eq!(list[0]["sold"], 2, "{list}");
}
