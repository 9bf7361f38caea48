//! The viewer page (`/live/{room}`) in a real headless Chromium against a real
//! `livecart serve`: each test starts its own server and runs one scenario script of
//! `web/tests/viewer-*.mjs`, which drives the page as viewers do (phone viewport) and
//! checks what the page shows and what the server recorded. Screenshots land in
//! `target/test-artifacts/` (`viewer.png` is the phone view with a product card).
//!
//! - `viewer-play-card.mjs`: the demo live plays (≥ 3 s, no stall, latency shown); a card
//!   pushed with the REST API appears with title, price, image and buy link; the click and
//!   the display ack reach the analytics.
//! - `viewer-chat.mjs`: chat round-trips between two guests; hostile markup stays text; a
//!   too-long comment is refused on the page; without MSE the page falls back to HLS.
//! - `viewer-likes.mjs`: 300 taps merged into few `like` messages; both viewers and the
//!   room total reach +300; the tapper's count never goes backwards.
//! - `viewer-coupon.mjs`: an unlocked coupon is claimed once; after a reload (same guest)
//!   the second claim shows the server's "reached the limit"; a flash sale is bought; a
//!   second sale while it runs is listed under it with its countdown, shown on a tap, and
//!   a late joiner sees both.
//! - `viewer-reconnect.mjs`: a dropped socket and a 3.5 s outage are resumed without a
//!   reload or a snapshot; the missed comments appear; the indicator shows only for the
//!   outage.
//! - `viewer-moderation.mjs`: pin, hide, blocked words, mute; plugin replies and a
//!   plugin-pushed card in the host's style; gifts.
//! - `viewer-lifecycle.mjs`: a room not live yet waits for the host, plays when ffmpeg
//!   publishes over RTMP, and says the live ended when it stops.
//! - `viewer-abr.mjs`: with a two-rung ladder and Chrome's network shaping, the player
//!   climbs to the top rung, drops to the lower one at 700 kb/s, and climbs back.
//! - `viewer-layout.mjs`: on a 390×844 phone the video covers ≥ 60 % of the height and,
//!   with a coupon, a sale and a card showing, nothing covers the composer and the chat
//!   keeps ≥ 3 lines (also on 360×640); in landscape the offers and card cover neither the
//!   room bar, chat nor composer; on a desktop the video is beside the chat; text over the
//!   video keeps 4.5:1; the latency badge waits for a live; "Tap"/"Click to unmute"; the
//!   chat is no live region but a mention is announced; the unknown-room page is styled.
//! - `viewer-states.mjs`: zh-CN and en pages through idle, live, coupon, confirm (a buy's
//!   confirmation step), sale, card, bag and muted, on a phone (portrait, landscape) and a desktop: no text in the other language
//!   outside what viewers and the shop wrote, the switch and its memory, the same string
//!   keys in both; screenshots in `viewer-states/<lang>/<state>-<view>.png`.
//! - `viewer-bag.mjs`: the product bag lists the live's products and marks the presented one.
//! - `viewer-skus.mjs`: a sale by SKU: a size must be chosen, a confirmation names it and
//!   its price, the order is said in words and the button says the limit is reached; a
//!   viewer whose size sold out under its confirmation is told so and buys another.
//!
//! Needs Chromium, Node, ffmpeg and `web/node_modules` (`scripts/test.sh` installs them);
//! the tests fail, rather than skip, without them.

use livecart_e2e::Serve;
use livecart_e2e::browser;
use serde_json::{Value, json};

use std::time::Duration;

/// A server without the demo video, for scenarios that do not watch it.
fn serve_without_video() -> Serve {
    Serve::start(&["--no-demo-stream"])
}

/// Run `script` against `server` in room `demo` plus `extra` arguments (see
/// `browser::scenario`).
fn scenario(script: &str, server: &Serve, extra: &[&str]) -> (Value, Duration) {
    let mut args = vec!["--room", "demo"];
    args.extend_from_slice(extra);
    browser::scenario(script, server, &args, Duration::from_secs(150))
}

fn number(report: &Value, pointer: &str) -> f64 {
    report
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("report has no number at {pointer}: {report:#}"))
}

#[test]
fn viewer_plays_the_live_and_sees_a_pushed_card() {
    let _one = browser::one_at_a_time();
    let server = Serve::start(&[]);
    let (report, _) = scenario("viewer-play-card.mjs", &server, &[]);
    assert!(number(&report, "/playback/advanced") >= 3.0, "{report:#}");
    assert_eq!(number(&report, "/playback/stalls"), 0.0, "{report:#}");
    let latency = number(&report, "/playback/latency");
    assert!(latency > 0.0 && latency < 10.0, "latency {latency} s");
    assert_eq!(report["card"]["title"], "Cotton Tee", "{report:#}");
    assert!(number(&report, "/analytics/clicks") >= 1.0, "{report:#}");
    assert!(number(&report, "/analytics/displays") >= 1.0, "{report:#}");
    assert!(
        browser::artifacts().join("viewer.png").exists(),
        "viewer.png was not saved"
    );
}

#[test]
fn chat_round_trips_between_two_viewers_as_text() {
    let _one = browser::one_at_a_time();
    let server = serve_without_video();
    let (report, _) = scenario("viewer-chat.mjs", &server, &[]);
    assert_eq!(report["hostile"]["imgs"], 0, "{report:#}");
    assert_ne!(report["users"]["a"], report["users"]["b"], "{report:#}");
    assert_eq!(report["hlsFallback"]["engine"], "hls", "{report:#}");
}

#[test]
fn like_storm_reaches_every_count() {
    let _one = browser::one_at_a_time();
    let server = serve_without_video();
    let (report, _) = scenario("viewer-likes.mjs", &server, &["--taps", "300"]);
    let before = number(&report, "/before");
    for who in ["a", "b", "server"] {
        assert_eq!(
            number(&report, &format!("/shown/{who}")),
            before + 300.0,
            "{report:#}"
        );
    }
    // Merged: far fewer messages than taps.
    assert!(number(&report, "/likeMessages") < 60.0, "{report:#}");
}

#[test]
fn coupon_claim_succeeds_once_then_hits_the_limit() {
    let _one = browser::one_at_a_time();
    let server = serve_without_video();
    let (report, _) = scenario("viewer-coupon.mjs", &server, &["--coupon", "c-1k"]);
    assert_eq!(report["first"]["ok"], "true", "{report:#}");
    assert_eq!(report["second"]["ok"], "false", "{report:#}");
    assert!(
        report["second"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("reached the limit")),
        "{report:#}"
    );
    assert_eq!(report["claimed"], 1, "{report:#}");
    // Two sales at once: both on the page, the second a tap away, both for a late joiner.
    let late = &report["concurrent"]["lateJoiner"];
    assert_eq!(
        late["others"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
}

#[test]
fn viewer_reconnects_and_resumes_unnoticed() {
    let _one = browser::one_at_a_time();
    let server = serve_without_video();
    let (report, _) = scenario("viewer-reconnect.mjs", &server, &[]);
    assert!(number(&report, "/after/reconnects") >= 1.0, "{report:#}");
    assert_eq!(report["shortDrop"]["indicatorShown"], false, "{report:#}");
    assert_eq!(report["snapshots"], 1, "{report:#}");
}

#[test]
fn moderation_and_plugins_show_in_the_viewer_page() {
    let _one = browser::one_at_a_time();
    let server = serve_without_video();
    let (report, _) = scenario("viewer-moderation.mjs", &server, &[]);
    assert_eq!(report["shadowSeenByOthers"], false, "{report:#}");
    assert_eq!(report["pluginCard"]["variant"], "b", "{report:#}");
}

#[test]
fn viewer_waits_for_the_host_plays_then_sees_the_end() {
    let _one = browser::one_at_a_time();
    let server = serve_without_video();
    let (report, _) = scenario(
        "viewer-lifecycle.mjs",
        &server,
        &["--rtmp", &server.rtmp, "--seconds", "8"],
    );
    assert_eq!(report["waiting"]["state"], "waiting", "{report:#}");
    assert_eq!(report["ended"]["state"], "ended", "{report:#}");
}

#[test]
fn player_switches_rungs_on_a_weak_network() {
    let _one = browser::one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let ladder = dir.path().join("ladder.json");
    std::fs::write(
        &ladder,
        r#"{"rungs":[{"height":180,"bitrate_kbps":600},{"height":90,"bitrate_kbps":150}]}"#,
    )
    .expect("write the ladder");
    let ladder = ladder.display().to_string();
    let server = Serve::start(&["--ladder", &ladder]);
    let (report, _) = scenario("viewer-abr.mjs", &server, &[]);
    assert_eq!(number(&report, "/weak/quality"), 0.0, "{report:#}");
    assert_eq!(number(&report, "/recovered/quality"), 1.0, "{report:#}");
}

#[test]
fn viewer_layouts_fit_phones_and_desktops() {
    let _one = browser::one_at_a_time();
    let server = Serve::start(&[]);
    let (report, _) = scenario("viewer-layout.mjs", &server, &[]);
    assert!(
        number(&report, "/portrait/videoHeightShare") >= 0.6,
        "{report:#}"
    );
    for view in ["portrait", "small", "landscape"] {
        assert!(
            number(&report, &format!("/{view}/chatLines")) >= 3.0,
            "{report:#}"
        );
    }
    for view in ["portrait", "small", "landscape", "desktop"] {
        assert_eq!(report[view]["composerCovered"], json!([]), "{report:#}");
        assert_eq!(report[view]["lowContrast"], json!([]), "{report:#}");
        let shot = format!("layout-{view}.png");
        assert!(browser::artifacts().join(&shot).exists(), "{shot} missing");
    }
    assert_eq!(report["idleLatencyBadgeHidden"], true, "{report:#}");
    assert_eq!(report["announcedAfterBusyChat"], "", "{report:#}");
    assert_eq!(
        report["unmuteDesktop"].as_str().map(str::trim),
        Some("Click to unmute"),
        "{report:#}"
    );
    assert_eq!(report["missing-zh-CN"]["status"], 404, "{report:#}");
}

#[test]
fn product_bag_lists_the_live_and_marks_the_presented_product() {
    let _one = browser::one_at_a_time();
    let server = Serve::start(&[]);
    let (report, _) = scenario("viewer-bag.mjs", &server, &[]);
    assert_eq!(report["hiddenWhenEmpty"], true, "{report:#}");
    assert_eq!(report["buttonLabel"], "本场商品 2 件", "{report:#}");
    assert_eq!(
        report["listed"].as_array().map(Vec::len),
        Some(2),
        "{report:#}"
    );
    assert_eq!(report["presenting"][0]["id"], "sku-tee", "{report:#}");
    assert_eq!(report["presenting"][0]["badge"], "讲解中", "{report:#}");
    assert_eq!(report["card"]["acked"], false, "{report:#}");
    for shot in [
        "viewer-bag.png",
        "viewer-bag-presenting.png",
        "viewer-bag-card.png",
    ] {
        assert!(browser::artifacts().join(shot).exists(), "{shot} missing");
    }
}

#[test]
fn a_sale_by_sku_confirms_then_says_the_order_and_a_sold_out_size() {
    let _one = browser::one_at_a_time();
    let server = Serve::start(&[]);
    let (report, _) = scenario("viewer-skus.mjs", &server, &[]);
    assert_eq!(
        report["sent"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    assert_eq!(
        report["ordered"]["result"], "已下单：Cotton Tee M ¥49",
        "{report:#}"
    );
    assert_eq!(
        report["ordered"]["button"]["text"], "已达限购",
        "{report:#}"
    );
    assert_eq!(
        report["other"]["result"], "M已抢光，换个规格试试。",
        "{report:#}"
    );
    assert_eq!(report["stored"], json!(["m 1/1", "l 1/3"]), "{report:#}");
    for shot in [
        "viewer-sku-confirm.png",
        "viewer-sku-ordered.png",
        "viewer-sku-sold-out.png",
    ] {
        assert!(browser::artifacts().join(shot).exists(), "{shot} missing");
    }
}

#[test]
fn viewer_speaks_one_language_in_every_state() {
    let _one = browser::one_at_a_time();
    let server = Serve::start(&[]);
    let (report, _) = scenario("viewer-states.mjs", &server, &[]);
    assert_eq!(report["violations"], json!([]), "{report:#}");
    assert_eq!(number(&report, "/screenshots"), 48.0, "{report:#}");
    assert_eq!(report["afterReload"], "zh-CN", "{report:#}");
    assert_eq!(report["minSpend"]["zh-CN"], "满199减20", "{report:#}");
    for lang in ["zh-CN", "en"] {
        for state in [
            "idle", "live", "coupon", "confirm", "sale", "card", "bag", "muted",
        ] {
            for view in ["phone-portrait", "phone-landscape", "desktop"] {
                let shot = format!("viewer-states/{lang}/{state}-{view}.png");
                assert!(browser::artifacts().join(&shot).exists(), "{shot} missing");
            }
        }
    }
}

#[test]
fn ultra_low_latency_rooms_play_webrtc_and_fall_back_to_ll_dash() {
    let _one = browser::one_at_a_time();
    let server = Serve::start(&[]);
    let (report, _) = scenario("viewer-webrtc.mjs", &server, &[]);
    assert_eq!(report["ultra"]["via"], "webrtc", "{report:#}");
    assert_eq!(report["fallback_endpoint"]["via"], "dash", "{report:#}");
    assert_eq!(report["fallback_udp"]["via"], "dash", "{report:#}");
    // Every card shown on its frame, by its data-channel copy.
    let cards = report["cards"].as_array().expect("cards");
    assert_eq!(cards.len(), 3, "{report:#}");
    assert!(cards.iter().all(|c| c["source"] == "emsg"), "{report:#}");
}
