//! What real encoders send, end to end: portrait and high-bit-depth/4:4:4 sources, audio
//! segments that match the manifests at 48 and 44.1 kHz, audio-only lives, and refusals the
//! publisher is told.
#![allow(clippy::unwrap_used)]

mod common;

use common::stack::{KEY, ROOM, decode, expected_streams, probe, stack, stack_with, stdout_of};
use common::{publish_as, publish_audio_only};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portrait_publish_gets_portrait_rungs_by_the_short_side() {
    let s = stack().await;
    let _publisher = common::publish_sized(
        &format!("rtmp://{}/live/{KEY}", s.rtmp),
        15,
        "180x320",
        s.dir.path(),
    );
    s.live_mpd(1).await;
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(
        probe(&live).await,
        vec![
            ("aac".into(), 0, 0),
            ("h264".into(), 90, 160),
            ("h264".into(), 180, 320),
        ]
    );
}

/// ffprobe's (profile, pixel format) of every video stream of a manifest.
async fn video_formats(url: &str) -> Vec<(String, String)> {
    let args = ["ffprobe", "-v", "error", "-select_streams", "v"];
    let entries = [
        "-show_entries",
        "stream=profile,pix_fmt",
        "-of",
        "csv=p=0",
        url,
    ];
    let out = stdout_of(30, &[&args[..], &entries[..]].concat()).await;
    let mut formats: Vec<_> = out
        .lines()
        .filter_map(|l| l.split_once(','))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    formats.sort();
    formats.dedup();
    formats
}

/// A High 4:4:4 or High 10 source (a capture card, a camera's "quality" mode) gets rungs
/// phones play: every rung is 8-bit 4:2:0 (Baseline, Main or High), the source is not passed through, and the
/// status says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_444_and_high_10_sources_get_8_bit_420_rungs_only() {
    for (pix_fmt, profile) in [
        ("yuv444p", "High 4:4:4 Predictive"),
        ("yuv420p10le", "High 10"),
    ] {
        let s = stack_with(true).await;
        let _publisher = publish_as(
            &format!("rtmp://{}/live/{KEY}", s.rtmp),
            15,
            "320x180",
            &["-pix_fmt", pix_fmt],
            s.dir.path(),
        );
        s.live_mpd(1).await;
        let live = s.url(&format!("/media/{ROOM}/live.mpd"));
        // (The tests' x264 preset, ultrafast, makes Constrained Baseline.)
        let formats = video_formats(&live).await;
        assert!(
            formats.iter().all(|(profile, pix)| {
                let phone = ["Constrained Baseline", "Baseline", "Main", "High"];
                phone.contains(&profile.as_str()) && pix == "yuv420p"
            }),
            "{pix_fmt}: {formats:?}"
        );
        // Both rungs are encoded (the 180p one at the source's size), none passed through.
        assert_eq!(probe(&live).await, expected_streams(), "{pix_fmt}");
        let error = s.state.status(ROOM).last_error.unwrap_or_default();
        assert!(
            error.starts_with(&format!("passthrough refused: the source is {profile}")),
            "{pix_fmt}: {error}"
        );
    }
}

/// The value of attribute `name` in the first `<tag …>` of `xml` from `from` on.
fn attr(xml: &str, from: usize, tag: &str, name: &str) -> Option<String> {
    let start = from + xml[from..].find(&format!("<{tag} "))?;
    let end = start + xml[start..].find('>')?;
    let open = &xml[start..end];
    let at = open.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(open[at..].split('"').next()?.to_string())
}

/// A CMAF segment's first `tfdt` and the sum of its samples' durations, read from every
/// `moof` (`tfhd` default duration, `trun` per-sample durations).
fn fragment_times(segment: &[u8]) -> (u64, u64) {
    use livecart_media::package::bmff::{boxes, find};
    let u32_at = |b: &[u8], at: usize| u32::from_be_bytes(b[at..at + 4].try_into().unwrap());
    let (mut first, mut total) = (None, 0u64);
    for moof in boxes(segment).filter(|b| &b.kind == b"moof") {
        let traf = find(moof.body, &[b"traf"]).expect("traf");
        let tfdt = find(traf, &[b"tfdt"]).expect("tfdt");
        let t = if tfdt[0] == 1 {
            u64::from_be_bytes(tfdt[4..12].try_into().unwrap())
        } else {
            u64::from(u32_at(tfdt, 4))
        };
        first.get_or_insert(t);
        let tfhd = find(traf, &[b"tfhd"]).expect("tfhd");
        let flags = u32_at(tfhd, 0) & 0xff_ffff;
        // After version/flags and track_ID: base_data_offset (0x01), sample_description_index (0x02).
        let at = 8 + if flags & 1 != 0 { 8 } else { 0 } + if flags & 2 != 0 { 4 } else { 0 };
        let default = (flags & 8 != 0).then(|| u32_at(tfhd, at));
        let trun = find(traf, &[b"trun"]).expect("trun");
        let flags = u32_at(trun, 0) & 0xff_ffff;
        let count = u32_at(trun, 4) as usize;
        let mut at = 8 + if flags & 1 != 0 { 4 } else { 0 } + if flags & 4 != 0 { 4 } else { 0 };
        let per = [0x100, 0x200, 0x400, 0x800]
            .iter()
            .filter(|f| flags & **f != 0)
            .count()
            * 4;
        for _ in 0..count {
            let d = if flags & 0x100 != 0 {
                u32_at(trun, at)
            } else {
                default.expect("sample durations")
            };
            total += u64::from(d);
            at += per;
        }
    }
    (first.expect("a moof"), total)
}

/// What a publisher's AAC at 48 and 44.1 kHz becomes: every audio segment starts and lasts
/// what the MPD's template and the HLS playlist say (whole AAC frames, no drift), and the
/// audio `@bandwidth` is the measured bitrate of a 160 kb/s source, not a fixed 128000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_segments_are_where_the_manifests_say_at_48_and_44_1_khz() {
    for rate in [48_000u64, 44_100] {
        let s = stack().await;
        let ar = rate.to_string();
        let _publisher = publish_as(
            &format!("rtmp://{}/live/{KEY}", s.rtmp),
            20,
            "320x180",
            &["-ar", &ar, "-b:a", "160k"],
            s.dir.path(),
        );
        s.live_mpd(1).await;
        // Enough complete segments to see a drift of a few ms per segment.
        let period = s.state.serving(ROOM).unwrap();
        let audio = period.track("a0").unwrap().clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        while audio.segments().iter().filter(|g| g.is_complete()).count() < 8 {
            assert!(Instant::now() < deadline, "audio segments at {rate} Hz");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mpd = reqwest::get(s.url(&format!("/media/{ROOM}/live.mpd")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let set = mpd.find(r#"contentType="audio""#).expect("audio set");
        let set = mpd[..set].rfind("<AdaptationSet").unwrap();
        let num = |tag: &str, name: &str| -> u64 {
            attr(&mpd, set, tag, name)
                .unwrap_or_else(|| panic!("{tag}@{name}: {mpd}"))
                .parse()
                .unwrap()
        };
        let (timescale, d, pto) = (
            num("SegmentTemplate", "timescale"),
            num("SegmentTemplate", "duration"),
            num("SegmentTemplate", "presentationTimeOffset"),
        );
        assert_eq!(timescale, rate, "{mpd}");
        // Whole AAC frames, nearest 1 s: 47 × 1024 at 48 kHz, 43 × 1024 at 44.1 kHz.
        assert_eq!(d, if rate == 48_000 { 48_128 } else { 44_032 }, "{mpd}");
        let bandwidth = num("Representation", "bandwidth");
        // ffmpeg's AAC encoder spends a little under its target on a tone.
        assert!(
            (140_000..200_000).contains(&bandwidth),
            "audio @bandwidth {bandwidth}"
        );

        let playlist = reqwest::get(s.url(&format!("/media/{ROOM}/{}/a0/index.m3u8", period.id)))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut extinf = std::collections::HashMap::new();
        let mut last = None;
        for line in playlist.lines() {
            if let Some(v) = line.strip_prefix("#EXTINF:") {
                last = v.trim_end_matches(',').parse::<f64>().ok();
            } else if let Some(n) = line.strip_suffix(".m4s") {
                extinf.insert(n.parse::<u64>().unwrap(), last.take().unwrap());
            }
        }
        let complete: Vec<u64> = audio
            .segments()
            .iter()
            .filter(|g| g.is_complete())
            .map(|g| g.number)
            .collect();
        for n in complete {
            let url = s.url(&format!("/media/{ROOM}/{}/a0/{n}.m4s", period.id));
            let bytes = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
            let (tfdt, duration) = fragment_times(&bytes);
            // The template's start of segment n, within one AAC frame (the audio's first
            // frame is not exactly on the video's), and never drifting.
            let nominal = pto + (n - 1) * d;
            assert!(
                tfdt.abs_diff(nominal) <= 1024,
                "{rate} Hz segment {n}: tfdt {tfdt}, the MPD says {nominal}"
            );
            assert_eq!(
                duration, d,
                "{rate} Hz segment {n} lasts {duration}, the MPD says {d}"
            );
            if let Some(secs) = extinf.get(&n) {
                let actual = duration as f64 / rate as f64;
                assert!(
                    (secs - actual).abs() < 1e-5,
                    "{rate} Hz segment {n}: EXTINF {secs}, {actual} s"
                );
            }
        }
        assert!(extinf.len() >= 7, "{playlist}");
    }
}

/// A radio-style live (audio only) is served on the same URLs as any live, DASH and HLS,
/// and recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audio_only_live_is_served_and_recorded() {
    let s = stack().await;
    let publisher = publish_audio_only(&format!("rtmp://{}/live/{KEY}", s.rtmp), 8, s.dir.path());
    let mpd = s.live_mpd(1).await;
    assert!(mpd.contains(r#"contentType="audio""#), "{mpd}");
    assert!(!mpd.contains(r#"contentType="video""#), "{mpd}");
    let aac = vec![("aac".to_string(), 0, 0)];
    let live = s.url(&format!("/media/{ROOM}/live.mpd"));
    assert_eq!(probe(&live).await, aac);
    // 2 s of 48 kHz AAC is about 94 frames.
    assert!(decode(&live, "0:a:0", 2).await > 60);
    let master = s.url(&format!("/media/{ROOM}/master.m3u8"));
    assert_eq!(probe(&master).await, aac);
    drop(publisher);
    s.wait_ended().await;
    let list: serde_json::Value = reqwest::get(s.url(&format!("/media/{ROOM}/replays")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let period = list["replays"][0]["period"]
        .as_str()
        .expect("a replay")
        .to_string();
    let replay = s.url(&format!("/media/{ROOM}/replay/{period}.mpd"));
    assert_eq!(probe(&replay).await, aac);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_codec_is_told_to_the_publisher_and_shown_in_the_status() {
    let s = stack().await;
    let mut ff = publish_as(
        &format!("rtmp://{}/live/{KEY}", s.rtmp),
        10,
        "320x180",
        &["-c:a", "libmp3lame", "-b:a", "64k"],
        s.dir.path(),
    );
    let status = ff.wait(Duration::from_secs(20)).await;
    let log = ff.log();
    assert!(!status.success(), "MP3 was accepted: {log}");
    // ffmpeg prints an RTMP onStatus error as "Server error: <description>".
    assert!(
        log.contains("Server error: unsupported audio codec MP3 (only AAC is accepted)"),
        "{log}"
    );
    // Recorded by the packager as the hub announces the refusal.
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.state.status(ROOM).last_error.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let media = s.state.status(ROOM);
    let error = media.last_error.unwrap_or_default();
    assert!(
        error.starts_with("publish from rtmp 127.0.0.1:")
            && error.ends_with("refused: unsupported audio codec MP3 (only AAC is accepted)"),
        "{error}"
    );
    assert!(media.last_error_ms.is_some());
    assert!(!media.live);
}
