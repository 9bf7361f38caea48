//! The example plugins, run through the real sandbox.

use crate::common::*;
use livecart::ai::RetrievalAnswerer;
use livecart::catalog::MemoryCatalog;
use livecart::plugin::kv::MemoryKv;
use livecart::plugin::model::parse_events;
use livecart::runner::{self, RunLine, Scenario};
use serde_json::json;
use std::sync::Arc;

const LIKE_CONFIG: &str = r#"{"thresholds":[{"likes":10000,"coupon":"c-10k","message":"10k!"},{"likes":1000,"coupon":"c-1k","message":"1k!"}]}"#;

#[test]
fn hello_greets_joining_viewers() {
    let e = epoch_engine();
    let mut s = slot(e, "hello", "{}");
    assert_eq!(
        ok(e, &mut s, joined(1, "Mei")),
        [json!({"type": "system-message", "text": "Welcome, Mei!"})]
    );
}

#[test]
fn like_coupon_unlocks_each_threshold_once_in_order() {
    let e = epoch_engine();
    let kv = Arc::new(MemoryKv::default());
    let mut s = slot_with(e, "like-coupon", LIKE_CONFIG, kv.clone());
    assert!(ok(e, &mut s, likes(1, 500, 500)).is_empty());
    assert!(ok(e, &mut s, likes(2, 499, 999)).is_empty());
    assert_eq!(
        ok(e, &mut s, likes(3, 1, 1000)),
        [
            json!({"type": "unlock-coupon", "coupon_id": "c-1k"}),
            json!({"type": "system-message", "text": "1k!"})
        ]
    );
    assert!(ok(e, &mut s, likes(4, 500, 1500)).is_empty());
    // One flush that jumps past 10k unlocks only the remaining threshold.
    assert_eq!(
        ok(e, &mut s, likes(5, 9000, 10500)),
        [
            json!({"type": "unlock-coupon", "coupon_id": "c-10k"}),
            json!({"type": "system-message", "text": "10k!"})
        ]
    );
    assert!(ok(e, &mut s, likes(6, 100, 10600)).is_empty());

    // A new instance (restart, upgrade) remembers through host KV, not instance memory.
    let mut fresh = slot_with(e, "like-coupon", LIKE_CONFIG, kv);
    assert!(ok(e, &mut fresh, likes(7, 100_000, 110_600)).is_empty());
}

const KEYWORD_CONFIG: &str = r#"{"rules":[{"product":"sku-tee","keywords":["尺码","size","多大"],"style":"compact"},{"product":"sku-cup","keywords":["cup","杯子"]}],"cooldown_ms":30000,"duration_ms":8000}"#;

#[test]
fn keyword_push_matches_chinese_and_english_with_cooldown() {
    let e = epoch_engine();
    let mut s = slot(e, "keyword-push", KEYWORD_CONFIG);
    let tee = json!({"type": "push-product", "product_id": "sku-tee", "style": "compact", "duration_ms": 8000});
    let cup = json!({"type": "push-product", "product_id": "sku-cup", "style": null, "duration_ms": 8000});
    assert_eq!(
        ok(e, &mut s, comment(1, 0, "这件尺码偏大吗")),
        std::slice::from_ref(&tee)
    );
    // Same product inside the 30 s cooldown: no second push.
    assert!(ok(e, &mut s, comment(2, 10_000, "What SIZE should I take?")).is_empty());
    // Another product is not held back by the first one's cooldown.
    assert_eq!(
        ok(e, &mut s, comment(3, 11_000, "is the CUP dishwasher safe")),
        [cup]
    );
    assert!(ok(e, &mut s, comment(4, 12_000, "love the colour")).is_empty());
    assert_eq!(
        ok(e, &mut s, comment(5, 40_001, "size chart please")),
        [tee]
    );
}

#[test]
fn ai_host_answers_questions_from_the_catalog_through_the_runner() {
    let catalog = Arc::new(
        MemoryCatalog::from_json(&repo_file("plugins/ai-host/catalog.json")).expect("catalog"),
    );
    let events = parse_events(
        r#"{"time_ms":1000,"type":"product-pushed","product_id":"sku-tee","push_id":"p1"}
{"time_ms":2000,"type":"comment","comment_id":"c-zh","user_id":"u1","user_name":"小明","text":"这件衣服有什么尺码？"}
{"time_ms":3000,"type":"comment","comment_id":"c-chat","user_id":"u2","user_name":"Bo","text":"love it"}
{"time_ms":4000,"type":"comment","comment_id":"c-en","user_id":"u3","user_name":"Ann","text":"What sizes are there?"}"#,
        "demo",
    )
    .expect("events");
    let ai = RetrievalAnswerer::new(catalog.clone());
    let mut lines = Vec::new();
    let summary = runner::run(
        fuel_engine(),
        &plugin_bytes("ai-host"),
        Scenario {
            config: "{}".into(),
            catalog,
            events,
        },
        &ai,
        &mut |l| lines.push(serde_json::to_value(&l).expect("json")),
        &mut |_| {},
    )
    .expect("run");
    assert_eq!(summary.faults, 0, "{lines:?}");
    let replies: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "reply")
        .map(|l| {
            (
                l["comment_id"].as_str().unwrap_or(""),
                l["text"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(replies.len(), 2, "{lines:?}");
    assert_eq!(replies[0].0, "c-zh");
    assert!(
        replies[0].1.contains('S') && replies[0].1.contains("XL"),
        "{replies:?}"
    );
    assert_eq!(replies[1].0, "c-en");
    assert!(replies[1].1.contains("XL"), "{replies:?}");
    let asks = lines.iter().filter(|l| l["type"] == "ask-ai").count();
    assert_eq!(asks, 2, "the non-question is not sent to the AI");
    assert!(summary.instructions > 0);
}

#[test]
fn ai_host_answers_about_the_product_the_question_names_not_the_pinned_one() {
    let catalog = Arc::new(
        MemoryCatalog::from_json(&repo_file("plugins/ai-host/catalog.json")).expect("catalog"),
    );
    let events = parse_events(
        r#"{"time_ms":1000,"type":"product-pushed","product_id":"sku-cap","push_id":"p1"}
{"time_ms":2000,"type":"comment","comment_id":"c-tee","user_id":"u1","user_name":"Ann","text":"Is the cotton tee true to size?"}
{"time_ms":3000,"type":"comment","comment_id":"c-any","user_id":"u2","user_name":"Bo","text":"is it washable?"}"#,
        "demo",
    )
    .expect("events");
    let ai = RetrievalAnswerer::new(catalog.clone());
    let mut lines = Vec::new();
    runner::run(
        fuel_engine(),
        &plugin_bytes("ai-host"),
        Scenario {
            config: "{}".into(),
            catalog,
            events,
        },
        &ai,
        &mut |l| lines.push(serde_json::to_value(&l).expect("json")),
        &mut |_| {},
    )
    .expect("run");
    let asked: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "ask-ai")
        .map(|l| l["product_id"].as_str().unwrap_or("").to_owned())
        .collect();
    // The named product wins over the pinned cap; a question naming none falls back to it.
    assert_eq!(asked, ["sku-tee", "sku-cap"], "{lines:?}");
}

#[test]
fn ai_host_rate_limits_questions_per_minute() {
    let e = epoch_engine();
    let mut s = slot(e, "ai-host", r#"{"max_questions_per_minute":3}"#);
    let asked: usize = (1..=5)
        .map(|i| ok(e, &mut s, comment(i, 60_000 + i * 100, "how big is it?")).len())
        .sum();
    assert_eq!(asked, 3);
    // The next minute has a fresh budget.
    assert_eq!(ok(e, &mut s, comment(9, 120_500, "what colour?")).len(), 1);
}

#[test]
fn runner_reports_sample_files_for_every_example() {
    for name in ["like-coupon", "keyword-push", "ai-host", "lottery"] {
        let events = parse_events(&repo_file(&format!("plugins/{name}/events.jsonl")), "demo")
            .expect("sample events parse");
        let catalog_text = if name == "ai-host" {
            repo_file("plugins/ai-host/catalog.json")
        } else {
            "[]".into()
        };
        let catalog = Arc::new(MemoryCatalog::from_json(&catalog_text).expect("catalog"));
        let ai = RetrievalAnswerer::new(catalog.clone());
        let mut actions = 0;
        let summary = runner::run(
            fuel_engine(),
            &plugin_bytes(name),
            Scenario {
                config: repo_file(&format!("plugins/{name}/config.json")),
                catalog,
                events,
            },
            &ai,
            &mut |l| actions += usize::from(matches!(l, RunLine::Action { .. })),
            &mut |_| {},
        )
        .expect("run");
        assert_eq!(summary.faults, 0, "{name}");
        assert!(actions > 0, "{name}'s sample produces actions");
        assert!(summary.peak_memory_bytes > 0);
    }
}
