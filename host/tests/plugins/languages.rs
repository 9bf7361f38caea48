//! The Python and JavaScript builds of keyword-push (plugins/keyword-push-py, -js) behave
//! as the Rust one does, through the same sandbox and contract.

use crate::common::*;
use serde_json::json;

const CONFIG: &str = r#"{"rules":[{"product":"sku-tee","keywords":["尺码","Size","多大"],"style":"compact"},{"product":"sku-cap","keywords":["hat","T恤"]}],"cooldown_ms":30000,"duration_ms":8000}"#;

const BUILDS: [&str; 3] = ["keyword-push", "keyword-push-js", "keyword-push-py"];

#[test]
fn every_build_matches_keywords_and_keeps_the_cooldown_alike() {
    let e = epoch_engine();
    for name in BUILDS {
        let mut s = slot(e, name, CONFIG);
        let tee = json!({"type": "push-product", "product_id": "sku-tee", "style": "compact", "duration_ms": 8000});
        let cap = json!({"type": "push-product", "product_id": "sku-cap", "style": null, "duration_ms": 8000});
        let mut push = |id, at, text: &str| ok(e, &mut s, comment(id, at, text));
        // CJK by substring, ASCII case-insensitively.
        assert_eq!(
            push(1, 0, "这件尺码偏大吗"),
            std::slice::from_ref(&tee),
            "{name}"
        );
        // Same product within the cooldown (event time): nothing.
        assert!(
            push(2, 10_000, "What SIZE should I take?").is_empty(),
            "{name}"
        );
        // Latin keywords only on word boundaries.
        assert!(
            push(3, 11_000, "that is nice, what a show").is_empty(),
            "{name}"
        );
        assert!(push(4, 11_500, "ST恤").is_empty(), "{name}");
        assert_eq!(push(5, 12_000, "那个hat多少钱"), [cap], "{name}");
        assert!(push(6, 13_000, "love the colour").is_empty(), "{name}");
        assert_eq!(push(7, 40_001, "size chart please"), [tee], "{name}");
    }
}

#[test]
fn every_build_refuses_an_unusable_config_when_it_is_read() {
    let e = epoch_engine();
    for name in BUILDS {
        for bad in [
            "{}",
            r#"{"rules":[]}"#,
            r#"{"rules":[{"product":"","keywords":["a"]}]}"#,
            r#"{"rules":[{"product":"p","keywords":[""]}]}"#,
        ] {
            let mut s = slot(e, name, bad);
            let report = s.handle(e, &[comment(1, 0, "size?")]);
            let fault = report.fault.map(|f| f.to_string()).unwrap_or_default();
            assert!(fault.contains("invalid config"), "{name} {bad}: {fault}");
        }
    }
}

#[test]
fn the_python_and_javascript_builds_run_within_the_default_memory_limit() {
    let e = epoch_engine();
    for name in ["keyword-push-js", "keyword-push-py"] {
        let mut s = slot(e, name, CONFIG);
        let report = s.handle(e, &[comment(1, 0, "尺码?")]);
        assert!(report.fault.is_none(), "{name}: {:?}", report.fault);
        assert!(
            report.peak_memory <= livecart::plugin::Limits::default().memory_bytes,
            "{name}: {}",
            report.peak_memory
        );
    }
}
