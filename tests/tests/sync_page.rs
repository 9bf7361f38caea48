//! Product cards in sync with the video, and replays with a product timeline (issue 6), in
//! a real headless Chromium against a real `livecart serve`. Each test starts its own
//! server and runs one scenario script of `web/tests/sync-*.mjs`; they assert the
//! mechanism, not the timing (the sync error itself is measured by
//! `web/tests/bench-sync.mjs`). Screenshots land in `target/test-artifacts/`.
//!
//! - `sync-live.mjs`: in the demo room, cards pushed with the REST API are in the live's
//!   events (events.json, the segment's `emsg`); the viewer page holds each until its video
//!   reaches the card's media time (displayed media time ≥ media_ms − 40), shows them in
//!   media-time order, at least one through the in-band copy; `/analytics/sync` lists every
//!   display with both media times, equal to the page's.
//! - `sync-replay.mjs`: a live published with ffmpeg over RTMP, with three pushes, ends; the
//!   viewer page links to its replay; `/replay/{room}` lists it; its timeline has exactly
//!   the three markers at the pushes' media times; the replay MPD's EventStream reaches the
//!   page; clicking the second marker seeks before it and its card appears at its moment
//!   (`replay.png`).
//!
//! Needs Chromium, Node, ffmpeg and `web/node_modules` (`scripts/test.sh` installs them);
//! the tests fail, rather than skip, without them.

use livecart_e2e::Serve;
use livecart_e2e::browser;
use serde_json::Value;

use std::time::Duration;

/// Run `script` against `server` plus `extra` arguments (see `browser::scenario`).
fn scenario(script: &str, server: &Serve, extra: &[&str]) -> Value {
    browser::scenario(script, server, extra, Duration::from_secs(90)).0
}

fn array<'a>(report: &'a Value, pointer: &str) -> &'a Vec<Value> {
    report
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("report has no array at {pointer}: {report:#}"))
}

#[test]
fn live_cards_show_when_the_video_reaches_their_media_time() {
    let _one = browser::one_at_a_time();
    let server = Serve::start(&[]);
    let report = scenario(
        "sync-live.mjs",
        &server,
        &["--room", "demo", "--pushes", "5"],
    );
    let cards = array(&report, "/cards");
    assert_eq!(cards.len(), 5, "{report:#}");
    let mut last = 0;
    for card in cards {
        let media = card["media_ms"].as_i64().expect("media_ms");
        let shown = card["displayed_media_ms"]
            .as_i64()
            .expect("displayed_media_ms");
        assert!(shown >= media - 40, "shown before its moment: {card}");
        assert!(media >= last, "out of media-time order: {report:#}");
        last = media;
    }
    assert!(
        report["viaEmsg"].as_u64().is_some_and(|n| n >= 1),
        "{report:#}"
    );
    assert_eq!(array(&report, "/sync").len(), 5, "{report:#}");
}

#[test]
fn an_ended_live_replays_with_its_product_timeline() {
    let _one = browser::one_at_a_time();
    let server = Serve::start(&["--no-demo-stream"]);
    let report = scenario("sync-replay.mjs", &server, &["--rtmp", &server.rtmp]);
    let pushes = array(&report, "/pushes");
    let markers = array(&report, "/markers");
    assert_eq!(markers.len(), 3, "{report:#}");
    for (push, marker) in pushes.iter().zip(markers) {
        assert_eq!(push["media_ms"], marker["media_ms"], "{report:#}");
        assert_eq!(push["push_id"], marker["push_id"], "{report:#}");
    }
    let period = pushes[0]["period"].as_str().expect("period");
    assert!(
        report["viewerLink"]
            .as_str()
            .is_some_and(|l| l.ends_with(&format!("/{period}"))),
        "{report:#}"
    );
    assert_eq!(
        report["shown"]["push_id"], pushes[1]["push_id"],
        "{report:#}"
    );
    assert!(
        browser::artifacts().join("replay.png").exists(),
        "replay.png was not saved"
    );
}
