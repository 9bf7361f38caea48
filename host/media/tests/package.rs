//! The GStreamer ladder end to end without network: the demo source publishes into the hub,
//! the packager cuts CMAF segments for every rung, and the period ends cleanly at EOS.
#![allow(clippy::unwrap_used)]

mod common;

use common::small_ladder;
use livecart_media::hub::{StreamHub, TrackKind};
use livecart_media::ingest::demo::{self, DemoConfig};
use livecart_media::package::bmff;
use livecart_media::package::ring::{Period, PeriodEnd};
use livecart_media::package::state::MediaState;
use livecart_media::pipeline::Packager;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn small_demo(frames: u32) -> DemoConfig {
    DemoConfig {
        width: 320,
        height: 180,
        fps: 30,
        gop: 30,
        bitrate_kbps: 300,
        realtime: true,
        frames: Some(frames),
    }
}

/// Run the demo into a packager and return the finished period. The demo starts publishing
/// at the first keyframe after both codecs are known, so up to a second may be skipped.
async fn package(passthrough: bool, frames: u32) -> (Arc<Period>, Arc<MediaState>) {
    let hub = StreamHub::new();
    let state = MediaState::new();
    let periods = Arc::new(Mutex::new(Vec::new()));
    let seen = periods.clone();
    Packager {
        hub: hub.clone(),
        state: state.clone(),
        ladder: Arc::new(move |_| small_ladder(passthrough)),
        on_period: Some(Arc::new(move |p| seen.lock().unwrap().push(p))),
        latency: None,
    }
    .spawn();
    let source = demo::start(&hub, "r1", &small_demo(frames)).unwrap();
    tokio::task::spawn_blocking(move || source.wait())
        .await
        .unwrap();
    let period = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(p) = periods.lock().unwrap().first().cloned()
                && p.ended().is_some()
            {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("period ends after the source stops");
    (period, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ladder_cuts_aligned_segments_for_every_rung() {
    let (period, state) = package(false, 120).await;
    assert_eq!(period.ended(), Some(PeriodEnd::Finished));
    let ids: Vec<_> = period
        .tracks
        .iter()
        .map(|t| t.rendition.id.clone())
        .collect();
    assert_eq!(ids, ["v0", "v1", "a0"]);
    let sizes: Vec<_> = period
        .tracks
        .iter()
        .filter(|t| t.rendition.kind == TrackKind::Video)
        .map(|t| (t.rendition.width, t.rendition.height))
        .collect();
    assert_eq!(sizes, [(320, 180), (160, 90)]);
    let mut video_numbers = Vec::new();
    for t in &period.tracks {
        let (init, info) = t.init().expect("init segment");
        assert_eq!(&init[4..8], b"ftyp");
        assert!(info.timescale > 0);
        let segs = t.segments();
        assert!(
            segs.len() >= 3,
            "{}: {} segments",
            t.rendition.id,
            segs.len()
        );
        let last = segs.last().unwrap().number;
        for s in &segs {
            let data = s.bytes().expect("complete at the end");
            assert_eq!(bmff::decode_time(&data), Some(s.start));
            let dur = s.snapshot().duration.unwrap();
            let secs = dur as f64 / info.timescale as f64;
            let ok = if s.number == last {
                secs > 0.0 && secs < 1.5
            } else {
                secs > 0.5 && secs < 1.5
            };
            assert!(ok, "{} #{}: {secs}s", t.rendition.id, s.number);
        }
        let numbers: Vec<_> = segs.iter().map(|s| s.number).collect();
        assert_eq!(numbers[0], 1);
        if t.rendition.kind == TrackKind::Video {
            assert!(info.codecs.starts_with("avc1."), "{}", info.codecs);
            let starts: Vec<_> = segs
                .iter()
                .map(|s| s.start as f64 / info.timescale as f64)
                .collect();
            video_numbers.push((numbers, starts));
        } else {
            assert_eq!(info.codecs, "mp4a.40.2");
        }
    }
    // Keyframes are forced at the same media times: same numbers, same start times.
    let (n0, s0) = &video_numbers[0];
    let (n1, s1) = &video_numbers[1];
    assert_eq!(n0, n1);
    for (a, b) in s0.iter().zip(s1) {
        assert!((a - b).abs() < 0.001, "{s0:?} vs {s1:?}");
    }
    let status = state.status("r1");
    assert!(!status.live);
    assert_eq!(status.periods_started, 1);
    assert!(status.last_error.is_none(), "{:?}", status.last_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_top_rung_keeps_the_source() {
    let (period, _) = package(true, 120).await;
    let v0 = period.track("v0").unwrap();
    assert!(v0.rendition.passthrough);
    let v1 = period.track("v1").unwrap();
    assert_eq!((v1.rendition.width, v1.rendition.height), (160, 90));
    let n0: Vec<_> = v0.segments().iter().map(|s| s.number).collect();
    let n1: Vec<_> = v1.segments().iter().map(|s| s.number).collect();
    assert_eq!(n0, n1, "encoded rung follows the source's keyframes");
    assert!(n0.len() >= 3);
}
