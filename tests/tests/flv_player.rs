//! HTTP-FLV in a real FLV player: `web/tests/flv-play.mjs` plays the demo room's
//! `live.flv` with mpegts.js in Debian's headless Chromium, pushes a
//! product card with the REST API, and checks the card arrives in-band as an `onCuePoint`
//! (mpegts.js's SCRIPTDATA_ARRIVED) stamped with the card's media time.

use livecart_e2e::{Serve, browser};
use std::time::Duration;

#[test]
fn mpegts_js_plays_live_flv_and_gets_pushed_cards_as_cue_points() {
    let _one = browser::one_at_a_time();
    let server = Serve::start(&[]);
    let (report, _) = browser::scenario("flv-play.mjs", &server, &[], Duration::from_secs(90));
    assert!(
        report["frames"].as_u64().is_some_and(|f| f > 60),
        "{report:#}"
    );
    let cue = &report["cue"];
    assert_eq!(cue["name"], "livecart", "{report:#}");
    let cue_ms = cue["time"].as_f64().expect("cue time") * 1000.0;
    let card_ms = report["push"]["media_ms"].as_f64().expect("card media_ms");
    assert!((cue_ms - card_ms).abs() < 1.0, "{report:#}");
    // The top rung: the demo's 320x180, passed through.
    assert_eq!(report["size"][0], 320, "{report:#}");
}
