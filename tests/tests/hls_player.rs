//! LL-HLS in a real HLS player: `web/tests/hls-play.mjs` plays the demo room's
//! `master.m3u8` with hls.js (`lowLatencyMode`) in Debian's headless Chromium — it must see
//! parts and blocking reloads and hold a median latency of at most 2 s — then opens the
//! viewer page on hls.js (`?player=hls`) and pushes cards, which must show on their frame
//! (the media clock comes from the playlists' PROGRAM-DATE-TIME).

use livecart_e2e::{Serve, browser};
use std::time::Duration;

#[test]
fn hls_js_plays_ll_hls_within_two_seconds_and_cards_show_on_their_frame() {
    let _one = browser::one_at_a_time();
    let server = Serve::start(&[]);
    let (report, _) = browser::scenario("hls-play.mjs", &server, &[], Duration::from_secs(120));
    let p50 = report["hlsjs"]["latency_s"]["p50"]
        .as_f64()
        .expect("latency");
    assert!(p50 <= 2.0, "{report:#}");
    assert!(
        report["hlsjs"]["parts_loaded"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{report:#}"
    );
    assert_eq!(report["page"]["engine"], "hlsjs", "{report:#}");
    let cards = report["cards"].as_array().expect("cards");
    assert_eq!(cards.len(), 3, "{report:#}");
    for c in cards {
        let err = c["displayed_media_ms"].as_i64().unwrap_or(i64::MAX)
            - c["media_ms"].as_i64().unwrap_or(0);
        assert!((-40..=100).contains(&err), "{report:#}");
    }
}
