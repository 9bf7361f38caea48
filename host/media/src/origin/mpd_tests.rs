//! Unit tests of the MPD writers.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::origin::fixture::{self, attr, el, elements};
use crate::origin::recording::{RecordedSegment, Recording};
use crate::package::ring::PeriodEnd;
use std::time::UNIX_EPOCH;

#[test]
fn not_ready_is_none() {
    let p = Period::new(
        "p".into(),
        "r".into(),
        1,
        SystemTime::UNIX_EPOCH,
        Duration::from_secs(2),
        Duration::from_millis(200),
        vec![],
    );
    assert!(live_mpd(&p, &MpdOptions::default(), fixture::now()).is_none());
}

#[test]
fn withheld_until_live_for_the_target_latency() {
    let p = fixture::period(3, true);
    let opts = MpdOptions::default();
    let ast = UNIX_EPOCH + Duration::from_millis(fixture::AST_MS);
    let early = ast + Duration::from_millis(u64::from(opts.target_latency_ms) - 100);
    assert!(live_mpd(&p, &opts, early).is_none());
    let later = ast + Duration::from_millis(u64::from(opts.target_latency_ms));
    assert!(live_mpd(&p, &opts, later).is_some());
}

#[test]
fn live_mpd_attributes() {
    let p = fixture::period(3, true);
    let s = live_mpd(&p, &MpdOptions::default(), fixture::now()).unwrap();
    let els = elements(&s);
    let mpd = el(&els, "MPD");
    assert_eq!(attr(mpd, "type"), "dynamic");
    assert_eq!(attr(mpd, "profiles"), PROFILES);
    assert_eq!(
        attr(mpd, "availabilityStartTime"),
        "2024-05-01T12:34:56.789Z"
    );
    assert_eq!(attr(mpd, "publishTime"), "2024-05-01T12:35:05.789Z");
    assert_eq!(attr(mpd, "minimumUpdatePeriod"), "PT2S");
    assert_eq!(attr(mpd, "timeShiftBufferDepth"), "PT8S"); // 4 segments in the ring
    assert_eq!(attr(mpd, "maxSegmentDuration"), "PT2S");
    assert_eq!(attr(mpd, "suggestedPresentationDelay"), "PT1.5S");
    assert!(!mpd.attrs.contains_key("mediaPresentationDuration"));
    assert_eq!(attr(el(&els, "Latency"), "target"), "1500");
    assert_eq!(attr(el(&els, "PlaybackRate"), "max"), "1.04");
    let per = el(&els, "Period");
    assert_eq!((attr(per, "id"), attr(per, "start")), ("p1", "PT0S"));
    let sets: Vec<_> = els.iter().filter(|e| e.name == "AdaptationSet").collect();
    assert_eq!(sets.len(), 2);
    let reps: Vec<_> = els.iter().filter(|e| e.name == "Representation").collect();
    assert_eq!(reps.len(), 3);
    assert_eq!(attr(reps[0], "codecs"), "avc1.64001f");
    assert_eq!(attr(reps[0], "width"), "1280");
    assert_eq!(attr(reps[0], "frameRate"), "30");
    assert_eq!(attr(reps[2], "audioSamplingRate"), "48000");
    assert_eq!(attr(el(&els, "AudioChannelConfiguration"), "value"), "2");
    let tpl: Vec<_> = els.iter().filter(|e| e.name == "SegmentTemplate").collect();
    assert_eq!(tpl.len(), 3);
    // Video: 90 kHz; 2 s = 180000 ticks; origin 10 s = 900000 ticks.
    assert_eq!(attr(tpl[0], "timescale"), "90000");
    assert_eq!(attr(tpl[0], "duration"), "180000");
    assert_eq!(attr(tpl[0], "presentationTimeOffset"), "900000");
    assert_eq!(attr(tpl[0], "startNumber"), "1");
    assert_eq!(attr(tpl[0], "media"), "p1/$RepresentationID$/$Number$.m4s");
    assert_eq!(
        attr(tpl[0], "initialization"),
        "p1/$RepresentationID$/init.mp4"
    );
    assert_eq!(attr(tpl[0], "availabilityTimeOffset"), "1.8");
    assert_eq!(attr(tpl[0], "availabilityTimeComplete"), "false");
    // Audio: 48 kHz, whole AAC frames nearest 2 s (94 × 1024, 2.005333 s).
    assert_eq!(attr(tpl[2], "duration"), "96256");
    assert_eq!(attr(tpl[2], "availabilityTimeOffset"), "1.805");
    assert_eq!(attr(tpl[2], "presentationTimeOffset"), "480000");
    let utc = el(&els, "UTCTiming");
    assert_eq!(attr(utc, "schemeIdUri"), "urn:mpeg:dash:utc:http-iso:2014");
    assert_eq!(attr(utc, "value"), "/media/time");
}

#[test]
fn ended_live_mpd_is_static_with_its_duration() {
    let p = fixture::period(3, false);
    p.end(PeriodEnd::Finished);
    let opts = MpdOptions {
        base_url: "https://cdn.example/".into(),
        ..MpdOptions::default()
    };
    let s = live_mpd(&p, &opts, fixture::now()).unwrap();
    let els = elements(&s);
    let mpd = el(&els, "MPD");
    // Issue 12, defect 7: a dynamic MPD made ffmpeg ask for segments past the end forever.
    assert_eq!(attr(mpd, "type"), "static");
    assert_eq!(attr(mpd, "mediaPresentationDuration"), "PT6S");
    for live_only in [
        "minimumUpdatePeriod",
        "timeShiftBufferDepth",
        "suggestedPresentationDelay",
    ] {
        assert!(!mpd.attrs.contains_key(live_only), "{live_only}");
    }
    for tpl in els.iter().filter(|e| e.name == "SegmentTemplate") {
        assert_eq!(attr(tpl, "startNumber"), "1");
        assert!(!tpl.attrs.contains_key("availabilityTimeOffset"));
        assert!(!tpl.attrs.contains_key("availabilityTimeComplete"));
    }
    assert_eq!(
        attr(el(&els, "UTCTiming"), "value"),
        "https://cdn.example/media/time"
    );
}

fn recording() -> Recording {
    let p = fixture::period(0, false);
    let mut rec = Recording::start(&p).unwrap();
    for t in &mut rec.tracks {
        let ts = u64::from(t.timescale);
        let mut start = 10 * ts;
        // 2 s, 2 s, 2.5 s, 2 s.
        for (n, half_secs) in [(1, 4), (2, 4), (3, 5), (4, 4)] {
            let duration = half_secs * ts / 2;
            t.segments.push(RecordedSegment {
                number: n,
                start,
                duration,
            });
            start += duration;
        }
    }
    rec.ended = true;
    rec
}

#[test]
fn vod_mpd_timeline() {
    let rec = recording();
    let s = vod_mpd(&rec, &[], &MpdOptions::default());
    let els = elements(&s);
    let mpd = el(&els, "MPD");
    assert_eq!(attr(mpd, "type"), "static");
    assert_eq!(attr(mpd, "mediaPresentationDuration"), "PT8.5S");
    assert_eq!(attr(mpd, "maxSegmentDuration"), "PT2.5S");
    let tpl = el(&els, "SegmentTemplate");
    assert_eq!(attr(tpl, "media"), "../p1/$RepresentationID$/$Number$.m4s");
    assert_eq!(
        attr(tpl, "initialization"),
        "../p1/$RepresentationID$/init.mp4"
    );
    assert_eq!(attr(tpl, "presentationTimeOffset"), "900000");
    let ss: Vec<_> = els.iter().filter(|e| e.name == "S").take(3).collect();
    assert_eq!(attr(ss[0], "t"), "900000");
    assert_eq!(attr(ss[0], "d"), "180000");
    assert_eq!(attr(ss[0], "r"), "1");
    assert_eq!(attr(ss[1], "d"), "225000");
    assert!(!ss[1].attrs.contains_key("t") && !ss[1].attrs.contains_key("r"));
    assert_eq!(attr(ss[2], "d"), "180000");
    assert!(!s.contains("UTCTiming"));
}

#[test]
fn vod_mpd_with_a_hole_uses_time() {
    let mut rec = recording();
    for t in &mut rec.tracks {
        t.segments.remove(1);
    }
    let s = vod_mpd(&rec, &[], &MpdOptions::default());
    let els = elements(&s);
    let tpl = el(&els, "SegmentTemplate");
    assert_eq!(attr(tpl, "media"), "../p1/$RepresentationID$/t$Time$.m4s");
    let ss: Vec<_> = els.iter().filter(|e| e.name == "S").take(3).collect();
    assert_eq!((attr(ss[0], "t"), attr(ss[0], "d")), ("900000", "180000"));
    assert_eq!((attr(ss[1], "t"), attr(ss[1], "d")), ("1260000", "225000"));
    assert!(!ss[2].attrs.contains_key("t"));
}

#[test]
fn escapes_outside_text() {
    let mut rec = recording();
    rec.period = "a\"<b>&".into();
    let s = vod_mpd(&rec, &[], &MpdOptions::default());
    let els = elements(&s);
    assert_eq!(attr(el(&els, "Period"), "id"), "a\"<b>&");
}

fn event(id: &str, emsg_id: u32, media_ms: u64) -> RecordedEvent {
    RecordedEvent {
        id: id.into(),
        emsg_id,
        media_ms,
        duration_ms: 4000,
        payload: serde_json::json!({"product": id, "note": "a<b & \"c\""}),
    }
}

#[test]
fn live_mpd_declares_inband_events_on_video() {
    let p = fixture::period(3, true);
    let s = live_mpd(&p, &MpdOptions::default(), fixture::now()).unwrap();
    let els = elements(&s);
    let names: Vec<&str> = els.iter().map(|e| e.name.as_str()).collect();
    let at = names
        .iter()
        .position(|n| *n == "InbandEventStream")
        .unwrap();
    assert_eq!(names[at - 1], "AdaptationSet");
    assert_eq!(attr(&els[at - 1], "contentType"), "video");
    assert_eq!(names[at + 1], "Representation");
    assert_eq!(
        names.iter().filter(|n| **n == "InbandEventStream").count(),
        1
    );
    assert_eq!(attr(&els[at], "schemeIdUri"), "urn:livecart:event:2026");
    assert_eq!(attr(&els[at], "value"), "1");
}

#[test]
fn vod_mpd_carries_events_as_an_event_stream() {
    let rec = recording();
    let s = vod_mpd(&rec, &[], &MpdOptions::default());
    assert!(!s.contains("EventStream"));
    let events = [event("push-2", 2, 3_500), event("push-1", 1, 1_250)];
    let s = vod_mpd(&rec, &events, &MpdOptions::default());
    let els = elements(&s);
    let names: Vec<&str> = els.iter().map(|e| e.name.as_str()).collect();
    let at = names.iter().position(|n| *n == "EventStream").unwrap();
    assert_eq!(names[at - 1], "Period");
    assert_eq!(names[at + 3], "AdaptationSet", "{names:?}");
    assert!(
        !names.contains(&"InbandEventStream"),
        "emsgs are not declared"
    );
    let es = &els[at];
    assert_eq!(attr(es, "schemeIdUri"), "urn:livecart:event:2026");
    assert_eq!(attr(es, "value"), "1");
    assert_eq!(attr(es, "timescale"), "1000");
    let (e1, e2) = (&els[at + 1], &els[at + 2]);
    assert_eq!(
        (
            attr(e1, "presentationTime"),
            attr(e1, "duration"),
            attr(e1, "id")
        ),
        ("1250", "4000", "1")
    );
    assert_eq!(attr(e2, "presentationTime"), "3500");
    // The payload is the Event's text, escaped, and parses back to the same JSON.
    let mut r = quick_xml::Reader::from_str(&s);
    let mut texts = Vec::new();
    let mut in_event = false;
    loop {
        match r.read_event().unwrap() {
            quick_xml::events::Event::Start(e) => {
                in_event = e.name().as_ref() == b"Event";
                if in_event {
                    texts.push(String::new());
                }
            }
            quick_xml::events::Event::Text(t) if in_event => {
                texts.last_mut().unwrap().push_str(&t.decode().unwrap());
            }
            quick_xml::events::Event::GeneralRef(g) if in_event => {
                let c = g.resolve_char_ref().ok().flatten();
                let s = match (c, g.decode().unwrap().as_ref()) {
                    (Some(c), _) => c.to_string(),
                    (_, "lt") => "<".into(),
                    (_, "gt") => ">".into(),
                    (_, "amp") => "&".into(),
                    (_, "quot") => "\"".into(),
                    (_, "apos") => "'".into(),
                    (_, other) => panic!("{other}"),
                };
                texts.last_mut().unwrap().push_str(&s);
            }
            quick_xml::events::Event::End(_) => in_event = false,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(texts.len(), 2, "{texts:?}");
    let v: serde_json::Value = serde_json::from_str(&texts[0]).unwrap();
    assert_eq!(v, events[1].payload);
}
