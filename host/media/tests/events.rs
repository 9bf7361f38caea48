//! Timed events through the origin and the recorder over real HTTP: a hand-built period
//! (fake chunks) gets events while live; the live MPD declares them, the live playlists and
//! `events.json` list them, the recorder writes them to `events.jsonl`, and once the period
//! ended the replay MPD, replay playlists and `replay/{period}/events.json` carry them.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use livecart_media::hub::TrackKind;
use livecart_media::origin::{MpdOptions, Origin, Recorder, router};
use livecart_media::package::events::{EventError, TimedEvent};
use livecart_media::package::ring::{InitInfo, Period, PeriodEnd, Rendition, Segment, Track};
use livecart_media::package::state::MediaState;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ORIGIN_S: u64 = 10;

fn period() -> Arc<Period> {
    let tracks = [
        ("v0", TrackKind::Video, 90_000),
        ("a0", TrackKind::Audio, 48_000),
    ]
    .iter()
    .map(|&(id, kind, ts)| {
        let t = Track::new(
            Rendition {
                id: id.into(),
                kind,
                width: 320,
                height: 180,
                frame_rate: (30, 1),
                sample_rate: 48_000,
                channels: 2,
                bandwidth: 100_000,
                passthrough: false,
            },
            8,
        );
        let info = InitInfo {
            codecs: "avc1.64001f".into(),
            timescale: ts,
        };
        t.set_init(Bytes::from_static(b"init"), info);
        Arc::new(t)
    })
    .collect();
    let p = Period::new(
        "p1".into(),
        "room1".into(),
        1,
        UNIX_EPOCH,
        Duration::from_secs(1),
        Duration::from_millis(200),
        tracks,
    );
    p.set_origin(ORIGIN_S * 1_000_000_000);
    p.set_availability_start(SystemTime::now() - Duration::from_secs(10));
    Arc::new(p)
}

/// Complete segments 1..=n (1 s each) on every track.
fn segments(p: &Period, n: u64) {
    for t in &p.tracks {
        let ts = u64::from(t.init().unwrap().1.timescale);
        for k in 1..=n {
            let s = Segment::complete(k, (ORIGIN_S + k - 1) * ts, ts, Bytes::from_static(b"x"));
            t.push_segment(Arc::new(s));
        }
    }
}

fn event(id: &str, media_ms: u64) -> TimedEvent {
    TimedEvent {
        id: id.into(),
        media_ms,
        duration_ms: 2000,
        payload: serde_json::to_vec(&json!({"push": id, "text": "<b>\"hi\"</b>"})).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_recording_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let state = MediaState::new();
    let recorder = Recorder::new(dir.path(), Duration::from_secs(3600)).unwrap();
    let p = period();
    segments(&p, 3);
    state.start_period(p.clone(), "test");
    let recording = recorder.record(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(Origin {
        state: state.clone(),
        recordings: recorder.clone(),
        opts: MpdOptions::default(),
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let get = |path: &str| reqwest::get(format!("http://{addr}{path}"));
    let text = |path: &'static str| async move {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.text().await.unwrap()
    };

    state
        .add_event("room1", "p1", event("push-1", 1_500))
        .unwrap();
    state
        .add_event("room1", "p1", event("push-2", 2_250))
        .unwrap();
    assert!(matches!(
        state.add_event("room1", "p0", event("push-3", 1)),
        Err(EventError::PeriodMismatch { .. })
    ));
    assert_eq!(
        state.add_event("other", "p1", event("push-3", 1)),
        Err(EventError::NotLive("other".into()))
    );

    // Live.
    let mpd = text("/media/room1/live.mpd").await;
    assert!(
        mpd.contains("<InbandEventStream schemeIdUri=\"urn:livecart:event:2026\" value=\"1\"/>"),
        "{mpd}"
    );
    let m3u8 = text("/media/room1/p1/v0/index.m3u8").await;
    assert_eq!(
        m3u8.matches("#EXT-X-DATERANGE:ID=\"push-").count(),
        2,
        "{m3u8}"
    );
    let live: Value = serde_json::from_str(&text("/media/room1/events.json").await).unwrap();
    assert_eq!(live["period"], "p1");
    assert_eq!(live["events"][0]["id"], "push-1");
    assert_eq!(live["events"][1]["media_ms"], 2250);
    assert_eq!(live["events"][1]["emsg_id"], 2);
    assert_eq!(live["events"][1]["payload"]["text"], "<b>\"hi\"</b>");

    // Recorded as they come.
    let jsonl = dir.path().join("room1/p1/events.jsonl");
    for _ in 0..200 {
        if std::fs::read_to_string(&jsonl).is_ok_and(|s| s.lines().count() == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap().lines().count(), 2);
    state
        .add_event("room1", "p1", event("push-3", 2_900))
        .unwrap();

    p.end(PeriodEnd::Finished);
    state.end_period("room1", "p1");
    tokio::time::timeout(Duration::from_secs(10), recording)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        state.add_event("room1", "p1", event("push-4", 3_000)),
        Err(EventError::NotLive(_))
    ));
    // The live URL keeps answering for the just-ended live (players finishing it).
    let live: Value = serde_json::from_str(&text("/media/room1/events.json").await).unwrap();
    assert_eq!(live["period"], "p1");

    // Replay.
    let rec: Value =
        serde_json::from_str(&text("/media/room1/replay/p1/events.json").await).unwrap();
    let events = rec["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["id"], "push-3");
    assert_eq!(events[2]["media_ms"], 2900);
    assert_eq!(events[2]["duration_ms"], 2000);
    assert_eq!(
        events[2]["payload"],
        json!({"push": "push-3", "text": "<b>\"hi\"</b>"})
    );
    let vod = text("/media/room1/replay/p1.mpd").await;
    assert!(vod.contains(
        "<EventStream schemeIdUri=\"urn:livecart:event:2026\" value=\"1\" timescale=\"1000\">"
    ));
    assert!(vod.contains(
        "<Event presentationTime=\"1500\" duration=\"2000\" id=\"1\">\
         {&quot;push&quot;:&quot;push-1&quot;,&quot;text&quot;:&quot;&lt;b&gt;\\&quot;hi\\&quot;&lt;/b&gt;&quot;}</Event>"
    ), "{vod}");
    assert!(!vod.contains("InbandEventStream"));
    let vod_hls = text("/media/room1/p1/a0/index.m3u8").await;
    assert_eq!(vod_hls.matches("#EXT-X-DATERANGE").count(), 3, "{vod_hls}");
    assert!(vod_hls.contains("#EXT-X-ENDLIST"));
    // Unknown periods and bad ids.
    assert_eq!(
        get("/media/room1/replay/p9/events.json")
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        get("/media/room1/replay/p.1/events.json")
            .await
            .unwrap()
            .status(),
        400
    );
}
