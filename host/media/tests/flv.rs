//! HTTP-FLV and RTMP playback end to end: `live.flv` and `rtmp://…/live/{room}` serve every
//! rung to ffprobe and ffmpeg, starting on a keyframe, with each timed event as an
//! `onCuePoint` script tag at its media time.
#![allow(clippy::unwrap_used)]

mod common;

use common::publish;
use common::stack::{KEY, ROOM, decode, probe, stack};
use std::process::Command;
use std::time::Duration;

/// FLV tags read from `live.flv` for `secs`: (type, timestamp ms, body).
async fn flv_tags(url: &str, secs: u64) -> Vec<(u8, u32, Vec<u8>)> {
    let mut resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    assert_eq!(resp.headers()["content-type"], "video/x-flv");
    let mut data = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, resp.chunk()).await {
        data.extend_from_slice(&chunk);
    }
    assert_eq!(&data[..3], b"FLV", "an FLV header");
    let mut tags = Vec::new();
    let mut at = 13;
    while at + 11 <= data.len() {
        let size = u32::from_be_bytes([0, data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let ts = u32::from_be_bytes([data[at + 7], data[at + 4], data[at + 5], data[at + 6]]);
        if at + 11 + size + 4 > data.len() {
            break;
        }
        tags.push((data[at], ts, data[at + 11..at + 11 + size].to_vec()));
        at += 11 + size + 4;
    }
    tags
}

/// HTTP-FLV and RTMP playback for WeChat's `<live-player>` and the FLV players: ffprobe
/// and ffmpeg read every rung from `live.flv` and from `rtmp://…/live/{room}`, the stream
/// starts on a keyframe after its codec headers, and a
/// timed event (a pushed card) arrives in-band as an `onCuePoint` at its media time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_flv_serves_every_rung_with_cue_points() {
    use livecart_media::package::events::TimedEvent;
    let s = stack().await;
    let _publisher = publish(&format!("rtmp://{}/live/{KEY}", s.rtmp), 25, s.dir.path());
    s.live_mpd(1).await;
    let flv = s.url(&format!("/media/{ROOM}/live.flv"));
    assert_eq!(
        probe(&flv).await,
        vec![("aac".into(), 0, 0), ("h264".into(), 320, 180)]
    );
    let low = format!("{flv}?rung=v1");
    assert_eq!(
        probe(&low).await,
        vec![("aac".into(), 0, 0), ("h264".into(), 160, 90)]
    );
    assert!(decode(&flv, "0:v:0", 2).await > 30);
    assert!(decode(&flv, "0:a:0", 2).await > 60);
    let missing = reqwest::get(format!("{flv}?rung=v9")).await.unwrap();
    assert_eq!(missing.status(), 404);
    // RTMP playback on the ingest port, no stream key: the same rungs.
    // (ffmpeg also lists the data messages an RTMP play starts with, such as
    // `onStatus(NetStream.Data.Start)`, as data streams: only audio and video count.)
    let rtmp = format!("rtmp://{}/live/{ROOM}", s.rtmp);
    let av = |streams: Vec<(String, u32, u32)>| -> Vec<(String, u32, u32)> {
        streams
            .into_iter()
            .filter(|(c, _, _)| c == "aac" || c == "h264")
            .collect()
    };
    assert_eq!(
        av(probe(&rtmp).await),
        vec![("aac".into(), 0, 0), ("h264".into(), 320, 180)]
    );
    assert_eq!(
        av(probe(&format!("{rtmp}?rung=v1")).await),
        vec![("aac".into(), 0, 0), ("h264".into(), 160, 90)]
    );
    assert!(decode(&rtmp, "0:v:0", 2).await > 30);
    // A room that is not live is refused with the reason.
    let out = Command::new("timeout")
        .args(["20", "ffprobe", "-v", "error"])
        .arg(format!("rtmp://{}/live/nobody", s.rtmp))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("room is not live"), "{err}");

    // A card pushed 1.5 s ahead of the live edge, while a viewer is watching.
    let period = s.state.live(ROOM).unwrap();
    let now_ms = period
        .availability_start()
        .unwrap()
        .elapsed()
        .unwrap()
        .as_millis() as u64;
    let media_ms = now_ms + 1500;
    let reader = tokio::spawn({
        let flv = flv.clone();
        async move { flv_tags(&flv, 6).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.state
        .add_event(
            ROOM,
            &period.id,
            TimedEvent {
                id: "push-flv".into(),
                media_ms,
                duration_ms: 5000,
                payload: br#"{"push":"flv"}"#.to_vec(),
            },
        )
        .unwrap();
    let tags = reader.await.unwrap();
    // onMetaData, the AVC and AAC sequence headers, then a keyframe.
    assert_eq!(tags[0].0, 18);
    assert!(String::from_utf8_lossy(&tags[0].2).contains("onMetaData"));
    assert_eq!((tags[1].0, tags[1].2[0], tags[1].2[1]), (9, 0x17, 0));
    assert_eq!((tags[2].0, tags[2].2[0], tags[2].2[1]), (8, 0xAF, 0));
    let first_video = tags.iter().skip(3).find(|t| t.0 == 9).unwrap();
    assert_eq!(
        (first_video.2[0], first_video.2[1]),
        (0x17, 1),
        "starts on a keyframe"
    );
    let cues: Vec<_> = tags
        .iter()
        .filter(|t| t.0 == 18 && String::from_utf8_lossy(&t.2).contains("onCuePoint"))
        .collect();
    assert_eq!(cues.len(), 1, "one cue point");
    assert_eq!(u64::from(cues[0].1), media_ms, "at the event's media time");
    let text = String::from_utf8_lossy(&cues[0].2);
    assert!(
        text.contains("push-flv") && text.contains(r#"{"push":"flv"}"#),
        "{text}"
    );
    // Video timestamps never go back.
    let video: Vec<u32> = tags
        .iter()
        .skip(3)
        .filter(|t| t.0 == 9)
        .map(|t| t.1)
        .collect();
    assert!(video.windows(2).all(|w| w[0] <= w[1]), "{video:?}");
}
