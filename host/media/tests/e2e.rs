//! The whole media path against real peers: ffmpeg publishes over RTMP or RTMPS (or
//! GStreamer's RTSP server is pulled), the packager runs the ladder, the origin serves the
//! live MPD over HTTP, and ffprobe/ffmpeg read every rung from it. A dropped and reconnected
//! publisher starts a new period with a valid MPD, an ended live replays from the start
//! through its static MPD, and ffmpeg on an ended live's MPD stops (or is held to a few
//! requests a second). Real-encoder formats are in `formats.rs`, HTTP-FLV in `flv.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use common::stack::{KEY, ROOM, decode, expected_streams, probe, stack};
use common::{Server, free_port, publish};
use livecart_media::hub::TakeoverPolicy;
use livecart_media::ingest::rtsp::{self, RtspSource, RtspStatus};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmp_live_is_served_then_replays_from_the_start() {
    let s = stack().await;
    let publisher = publish(&format!("rtmp://{}/live/{KEY}", s.rtmp), 30, s.dir.path());
    let mpd = s.live_mpd(1).await;
    assert!(mpd.contains(r#"type="dynamic""#), "{mpd}");
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(probe(&live).await, expected_streams());
    // Each rung plays from the live MPD.
    for map in ["0:v:0", "0:v:1", "0:a:0"] {
        assert!(s.decode_live(map, 2).await > 10, "{map} decodes");
    }
    // The publisher vanishes mid-stream (killed, no unpublish): the period still ends
    // cleanly and becomes a replay.
    let published = publisher.started.elapsed();
    drop(publisher);
    s.wait_ended().await;
    // Players already on the live URL get its last MPD, now with its length, and play
    // to the end rather than into a 404.
    let ended = reqwest::get(&live).await.unwrap();
    assert_eq!(ended.status(), 200);
    let ended = ended.text().await.unwrap();
    assert!(ended.contains("mediaPresentationDuration"), "{ended}");

    let list: serde_json::Value = reqwest::get(s.url(&format!("/media/{ROOM}/replays")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let period = list["replays"][0]["period"].as_str().unwrap().to_string();
    let replay = s.url(&format!("/media/{ROOM}/replay/{period}.mpd"));
    let text = reqwest::get(&replay).await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"type="static""#), "{text}");
    assert_eq!(probe(&replay).await, expected_streams());
    // The replay starts at the beginning and holds the whole live: every frame published
    // from the first keyframe on (30 fps), give or take the second before packaging began.
    let frames = decode(&replay, "0:v:0", 60).await;
    let expected = published.as_secs_f64() * 30.0;
    assert!(
        frames as f64 > expected - 45.0 && frames as f64 <= expected + 15.0,
        "replay has {frames} frames, {expected:.0} published"
    );
}

/// A phone held upright publishes portrait video: its rungs follow the short side, as a
/// landscape source's do, so the top rung keeps every pixel (180x320 → 180x320 and 90x160,
/// not 102x180 and 50x90).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmps_publish_is_served() {
    let s = stack().await;
    let _publisher = publish(&format!("rtmps://{}/live/{KEY}", s.rtmps), 20, s.dir.path());
    s.live_mpd(1).await;
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(probe(&live).await, expected_streams());
    assert!(s.decode_live("0:v:1", 2).await > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_publisher_starts_a_new_valid_period() {
    let s = stack().await;
    let url = format!("rtmp://{}/live/{KEY}", s.rtmp);
    let mut first = publish(&url, 3, s.dir.path());
    let mpd1 = s.live_mpd(1).await;
    first.wait(Duration::from_secs(20)).await;
    s.wait_ended().await;
    // The publisher comes back (OBS reconnecting).
    let _second = publish(&url, 20, s.dir.path());
    let mpd2 = s.live_mpd(2).await;
    let period_of = |mpd: &str| {
        let at = mpd.find("<Period id=\"").unwrap() + 12;
        mpd[at..at + mpd[at..].find('"').unwrap()].to_string()
    };
    assert_ne!(period_of(&mpd1), period_of(&mpd2), "a new period");
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(probe(&live).await, expected_streams());
    assert!(s.decode_live("0:v:0", 2).await > 10);
    let status = s.state.status(ROOM);
    assert_eq!(status.periods_started, 2);
    assert!(status.last_error.is_none(), "{:?}", status.last_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtsp_pull_is_served() {
    let s = stack().await;
    let port = free_port();
    let _server = Server::start(port, "/cam", None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (status_tx, _status_rx) = watch::channel(RtspStatus::default());
    let source = RtspSource {
        room: ROOM.into(),
        url: format!("rtsp://127.0.0.1:{port}/cam"),
        username: None,
        password: None,
        transport: Default::default(),
    };
    let task = tokio::spawn(rtsp::run(
        source,
        s.hub.clone(),
        TakeoverPolicy::Refuse,
        stop_rx,
        status_tx,
    ));
    s.live_mpd(1).await;
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(probe(&live).await, expected_streams());
    assert!(s.decode_live("0:v:0", 2).await > 10);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_event_is_in_band_in_every_video_rung() {
    use livecart_media::package::{bmff, emsg, events::TimedEvent};
    let s = stack().await;
    let _publisher = publish(&format!("rtmp://{}/live/{KEY}", s.rtmp), 20, s.dir.path());
    s.live_mpd(1).await;
    let period = s.state.live(ROOM).unwrap();
    // What the host does: media time = now − availabilityStartTime.
    let media_ms = period
        .availability_start()
        .unwrap()
        .elapsed()
        .unwrap()
        .as_millis() as u64;
    let payload = br#"{"push":"e2e","product":"sku-1"}"#.to_vec();
    s.state
        .add_event(
            ROOM,
            &period.id,
            TimedEvent {
                id: "push-e2e".into(),
                media_ms,
                duration_ms: 5000,
                payload: payload.clone(),
            },
        )
        .unwrap();
    for rep in ["v0", "v1"] {
        let track = period.track(rep).unwrap().clone();
        let ts = track.init().unwrap().1.timescale;
        let at = emsg::ticks(period.origin_ns().unwrap(), ts) + media_ms * u64::from(ts) / 1000;
        // Wait until the segment holding the event's time is complete.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !track
            .segments()
            .iter()
            .any(|seg| seg.start > at && seg.is_complete())
        {
            assert!(
                Instant::now() < deadline,
                "{rep}: no segment past the event"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let init = reqwest::get(s.url(&format!("/media/{ROOM}/{}/{rep}/init.mp4", period.id)))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(bmff::timescale(&init), Some(ts));
        let mut found = None;
        for seg in track.segments() {
            let url = s.url(&format!(
                "/media/{ROOM}/{}/{rep}/{}.m4s",
                period.id, seg.number
            ));
            let data = reqwest::get(url).await.unwrap().bytes().await.unwrap();
            let events = emsg::find_all(&data);
            if !events.is_empty() {
                assert!(found.is_none(), "{rep}: the event is in one segment only");
                found = Some((seg.number, data, events));
            }
        }
        let (number, data, events) = found.unwrap_or_else(|| panic!("{rep}: no emsg"));
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.scheme_id_uri, "urn:livecart:event:2026");
        assert_eq!(e.value, "1");
        assert_eq!((e.timescale, e.presentation_time), (ts, at));
        assert_eq!(e.event_duration, 5 * ts);
        assert_eq!(e.id, 1);
        assert_eq!(e.message_data, payload);
        // Right before the moof of the chunk whose time span reaches the event.
        let kinds: Vec<_> = bmff::boxes(&data).map(|b| b.kind).collect();
        let i = kinds.iter().position(|k| k == b"emsg").unwrap();
        assert_eq!(&kinds[i + 1], b"moof", "{rep}: {kinds:?}");
        let offset: usize = bmff::boxes(&data)
            .take(i + 1)
            .map(|b| b.body.len() + 8)
            .sum();
        let tfdt = bmff::decode_time(&data[offset..]).unwrap();
        let chunk = u64::from(ts) / 5;
        assert!(
            tfdt <= at && at < tfdt + chunk + chunk / 2,
            "{rep}: event at {at} in the chunk from {tfdt}"
        );
        // Players still decode the segment.
        let file = s.dir.path().join(format!("{rep}-{number}.mp4"));
        std::fs::write(&file, [&init[..], &data[..]].concat()).unwrap();
        let path = file.to_str().unwrap();
        assert_eq!(probe(path).await[0].0, "h264");
        assert!(decode(path, "0:v:0", 2).await >= 25, "{rep} decodes");
    }
    assert_eq!(period.events.in_stream_delays().len(), 2);
    // The live MPD still plays. Over 2 s: ffmpeg's `-t` counts from the earliest stream,
    // and at 48 kHz the audio segment holding the start time begins up to a segment before
    // the video one (segment k of 47 AAC frames spans (k-1)·1.0027 s to k·1.0027 s).
    assert!(s.decode_live("0:v:0", 2).await > 10);
}

/// `ffmpeg -i {url} -f null -`, logging to `dir`; killed when dropped.
fn read_to_null(url: &str, dir: &std::path::Path, name: &str) -> common::ChildGuard {
    let log = dir.join(format!("{name}.log"));
    let child = Command::new("/usr/bin/ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "warning", "-i", url])
        .args(["-f", "null", "-"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    common::ChildGuard {
        child,
        log,
        started: Instant::now(),
    }
}

/// Issue 12, defect 7: ffmpeg 5.1 on the live MPD of an ended live never finished (50,717
/// segment requests in 23 s, SIGTERM ignored). Now a reader that opens the ended live's
/// MPD plays it to the end and exits by itself with a handful of requests; a reader that
/// was on the MPD while it was dynamic (ffmpeg never reads it again) is held to a few
/// requests a second by the 404 limiter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_on_an_ended_live_mpd_stops() {
    let s = stack().await;
    let mut publisher = publish(&format!("rtmp://{}/live/{KEY}", s.rtmp), 3, s.dir.path());
    s.live_mpd(1).await;
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    let mut on_air = read_to_null(&live, s.dir.path(), "on-air");
    assert!(publisher.wait(Duration::from_secs(30)).await.success());
    s.wait_ended().await;

    // The reader that was on the live when it ended: bounded, whatever it does.
    let before = s.requests.load(Ordering::Relaxed);
    let window = Duration::from_secs(5);
    let ended = Instant::now();
    let mut exited = None;
    while ended.elapsed() < window && exited.is_none() {
        exited = on_air.child.try_wait().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let asked = s.requests.load(Ordering::Relaxed) - before;
    assert!(
        asked < 150,
        "the reader on the live asked {asked} times in {window:?} after the end (exited: \
         {exited:?}); log:\n{}",
        on_air.log()
    );
    eprintln!("on-air reader: {asked} requests in {window:?} after the end, exited: {exited:?}");
    drop(on_air);
    // Every reader here is 127.0.0.1, one client to the limiter: let its bucket refill
    // (30 404s at 5 a second).
    tokio::time::sleep(Duration::from_millis(6500)).await;

    // A reader that opens the ended live's MPD: static, played to the end, then exit 0.
    let mpd = reqwest::get(&live).await.unwrap().text().await.unwrap();
    assert!(mpd.contains(r#"type="static""#), "{mpd}");
    let before = s.requests.load(Ordering::Relaxed);
    let mut after = read_to_null(&live, s.dir.path(), "after-end");
    let status = after.wait(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}; log:\n{}", after.log());
    let asked = s.requests.load(Ordering::Relaxed) - before;
    assert!(
        asked < 60,
        "{asked} requests to play a 3 s live; log:\n{}",
        after.log()
    );
}
