//! The merchant console (`/console`) in a real headless Chromium against a real
//! `livecart serve`: each test starts its own server and runs one scenario script of
//! `web/tests/console-*.mjs`, which drives the page like a merchant and checks what the
//! page shows and what the server stored. Screenshots land in `target/test-artifacts/`.
//!
//! - `console-basics.mjs`: sign-in refused then accepted, a room with its OBS settings,
//!   products, coupons, a flash sale, analytics and the CSV export, a 401, sign-out.
//! - `console-plugin.mjs`: upload keyword-push, enable it with a config, and see a viewer
//!   page (`/live/{room}`) react to a keyword comment; a non-wasm upload is refused;
//!   upgrade, rollback, fault log, disable.
//! - `console-bad-input.mjs`: 413 and 422 refusals are shown and nothing is lost.
//!
//! Needs Chromium, Node and `web/node_modules` (`scripts/test.sh` installs them); the
//! tests fail, rather than skip, without them.

use livecart_e2e::browser;
use livecart_e2e::{Serve, plugin};
use std::path::Path;

use std::time::Duration;

/// A server for the console: the demo shop (products, coupons, plugins) without the demo
/// video, which these tests do not watch.
fn serve() -> Serve {
    Serve::start(&["--no-demo-stream"])
}

/// Run `script` against `server` plus `extra` arguments (see `browser::scenario`).
fn scenario(script: &str, server: &Serve, extra: &[&str]) -> (serde_json::Value, Duration) {
    browser::scenario(script, server, extra, Duration::from_secs(180))
}

/// The names of the steps a scenario passed.
fn steps(report: &serde_json::Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| match s {
                    serde_json::Value::String(name) => Some(name.clone()),
                    serde_json::Value::Object(o) => o.keys().next().cloned(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn assert_steps(report: &serde_json::Value, expected: &[&str]) {
    let passed = steps(report);
    for step in expected {
        assert!(
            passed.iter().any(|s| s == step),
            "step {step:?} missing from {passed:?}:\n{report:#}"
        );
    }
}

fn assert_screenshot(name: &str) {
    let path = browser::artifacts().join(name);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1000, "{} is missing or empty", path.display());
}

/// PNG width and height from the IHDR chunk.
fn png_size(path: &Path) -> Option<(u32, u32)> {
    let bytes = std::fs::read(path).ok()?;
    let dim = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some((dim(16)?, dim(20)?))
}

#[test]
fn console_signs_in_and_manages_a_room_its_catalog_and_analytics() {
    let _one = browser::one_at_a_time();
    let server = serve();
    let (report, _) = scenario("console-basics.mjs", &server, &[]);
    assert_steps(
        &report,
        &[
            "wrong token refused",
            "right token accepted",
            "room created",
            "OBS settings shown",
            "product created",
            "product edited",
            "product pushed",
            "product deleted",
            "coupon created",
            "coupon edited and unlocked",
            "flash sale started",
            "flash sale ended",
            "CSV exported",
            "tablet layout fits",
            "401 brings the sign-in back",
            "signed out",
        ],
    );
    assert_screenshot("console.png");
    assert_eq!(
        png_size(&browser::artifacts().join("console.png")),
        Some((1280, 900)),
        "console.png is not 1280x900"
    );
    for name in [
        "console-products.png",
        "console-commerce.png",
        "console-analytics.png",
        "console-tablet.png",
    ] {
        assert_screenshot(name);
    }
}

#[test]
fn console_uploads_a_plugin_that_reacts_in_a_viewer_page() {
    let _one = browser::one_at_a_time();
    let wasm = plugin("keyword-push");
    let server = serve();
    let wasm = wasm.display().to_string();
    let (report, _) = scenario("console-plugin.mjs", &server, &["--plugin", &wasm]);
    assert_steps(
        &report,
        &[
            "non-wasm refused",
            "keyword-push uploaded",
            "enabled with config",
            "viewer sees the kp-tee card",
            "second build dropped",
            "upgraded: viewer sees the kp-cap card",
            "rolled back: viewer sees the kp-tee card again",
            "refused config: the room keeps running the old one",
            "disabled and enabled again",
        ],
    );
    // The upload's progress bar ended at 100 %.
    let progress = report["steps"]
        .as_array()
        .and_then(|s| s.iter().find_map(|s| s.get("keyword-push uploaded")))
        .and_then(|s| s["progress"].as_array())
        .and_then(|p| p.last())
        .and_then(serde_json::Value::as_u64);
    assert_eq!(progress, Some(100), "{report:#}");
    assert_screenshot("console-plugins.png");
    assert_screenshot("viewer-keyword-card.png");
}

#[test]
fn console_shows_refusals_and_loses_nothing() {
    let _one = browser::one_at_a_time();
    let server = serve();
    let (report, _) = scenario("console-bad-input.mjs", &server, &[]);
    assert_steps(
        &report,
        &[
            "room without a title refused",
            "oversized plugin refused",
            "broken configs caught before sending",
            "invalid URL refused",
            "empty title refused",
            "bad price caught before sending",
            "form disabled while saving; the fixed product saved",
            "refused edit changed nothing",
            "coupon without quota refused",
            "满减 coupon with a minimum order under its discount refused",
            "sale of a vanished product refused",
        ],
    );
    let text = report.to_string();
    assert!(
        text.contains("Too large (413): upload is larger than the limit of 67108864 bytes"),
        "{report:#}"
    );
    // Refusals in plain words, without the developer's "Refused (422)".
    assert!(
        text.contains("Coupon quota must be at least 1"),
        "{report:#}"
    );
    assert!(!text.contains("Refused (422)"), "{report:#}");
    assert_screenshot("console-bad-input.png");
}
