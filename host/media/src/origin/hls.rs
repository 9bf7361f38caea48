//! HLS over the same CMAF segments as DASH: a multivariant playlist (video variants with an
//! audio rendition group) and media playlists with `EXT-X-MAP` and exact `EXTINF`s.
//!
//! Live media playlists are Low-Latency HLS ([`llhls`]): the complete segments of the ring,
//! each with its `EXT-X-PROGRAM-DATE-TIME`, the `EXT-X-PART`s (the CMAF chunks) of those
//! ending within three target durations of the live edge, then the growing segment's parts
//! so far, an `EXT-X-PRELOAD-HINT` for the next part and an `EXT-X-RENDITION-REPORT` per
//! other rendition. A hole in the numbering becomes an `EXT-X-GAP` entry so media sequence
//! numbers stay equal to segment numbers. Replays get VOD playlists built from the
//! recording.
//!
//! Timed events are `EXT-X-DATERANGE` tags in every media playlist (`CLASS` = the event
//! scheme, `START-DATE` = availability start + media time, the payload base64 in
//! `X-LIVECART-PAYLOAD`, since a quoted-string cannot hold `"`), each placed before the
//! segment it starts in. Live playlists carry the events from their first segment on.
//!
//! URLs: the live multivariant playlist is `/media/{room}/master.m3u8` (variants at
//! `{period}/{rep}/index.m3u8`), the replay one `/media/{room}/replay/{period}.m3u8`
//! (variants at `../{period}/{rep}/index.m3u8`); a media playlist's segments and init sit
//! next to it.

use super::llhls;
use super::recording::{RecordedEvent, Recording};
use super::time::{from_timescale, iso8601, to_timescale};
use crate::hub::TrackKind;
use crate::package::events::SCHEME;
use crate::package::ring::{ChunkInfo, InitInfo, Period, Rendition};
use bytes::Bytes;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

/// The live multivariant playlist, once the period is ready.
pub fn live_master(period: &Period) -> Option<String> {
    if !period.is_ready() {
        return None;
    }
    let reps = period
        .tracks
        .iter()
        .map(|t| {
            let r = Rendition {
                bandwidth: t.bandwidth(),
                ..t.rendition.clone()
            };
            t.init().map(|(_, i)| (r, i.clone()))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(master(&reps, &format!("{}/", period.id)))
}

/// The replay multivariant playlist of a recording.
pub fn vod_master(rec: &Recording) -> String {
    let reps: Vec<_> = rec
        .tracks
        .iter()
        .map(|t| (t.rendition(), t.info()))
        .collect();
    master(&reps, &format!("../{}/", rec.period))
}

fn master(reps: &[(Rendition, InitInfo)], prefix: &str) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let audio: Vec<_> = reps
        .iter()
        .filter(|(r, _)| r.kind == TrackKind::Audio)
        .collect();
    let video: Vec<_> = reps
        .iter()
        .filter(|(r, _)| r.kind == TrackKind::Video)
        .collect();
    for (i, (r, _)) in audio.iter().enumerate() {
        let _ = writeln!(
            s,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"{id}\",DEFAULT={def},\
             AUTOSELECT=YES,CHANNELS=\"{ch}\",URI=\"{prefix}{id}/index.m3u8\"",
            id = quoted(&r.id),
            def = if i == 0 { "YES" } else { "NO" },
            ch = r.channels,
        );
    }
    let first_audio = audio.first();
    for (r, info) in &video {
        let mut codecs = info.codecs.clone();
        let mut bandwidth = u64::from(r.bandwidth);
        if let Some((a, ai)) = first_audio {
            codecs = format!("{codecs},{}", ai.codecs);
            bandwidth += u64::from(a.bandwidth);
        }
        let fps = f64::from(r.frame_rate.0) / f64::from(r.frame_rate.1.max(1));
        let _ = write!(
            s,
            "#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={}x{},FRAME-RATE={fps:.3},\
             CODECS=\"{}\"",
            r.width,
            r.height,
            quoted(&codecs)
        );
        if first_audio.is_some() {
            s.push_str(",AUDIO=\"aud\"");
        }
        let _ = writeln!(s, "\n{prefix}{}/index.m3u8", quoted(&r.id));
    }
    if video.is_empty() {
        // Audio only: the audio playlists are the variants.
        for (r, info) in &audio {
            let _ = writeln!(
                s,
                "#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"{}\"\n{prefix}{}/index.m3u8",
                r.bandwidth,
                quoted(&info.codecs),
                quoted(&r.id)
            );
        }
    }
    s
}

/// Attribute values are quoted-strings: no `"` or line breaks.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '"' | '\n' | '\r'))
        .collect()
}

/// A media playlist's inputs, live or recorded.
struct Media {
    timescale: u32,
    /// Presentation time zero (the period origin) in the timescale.
    origin: u64,
    ast: SystemTime,
    nominal: Duration,
    /// The complete segments, in order.
    segments: Vec<Seg>,
    ended: bool,
    vod: bool,
    /// Timed events, in media time order.
    events: Vec<Mark>,
    /// Live: what LL-HLS adds (parts, the growing segment, hints, reports).
    low: Option<LowLatency>,
}

/// One segment of a playlist; `parts` are its chunks (live only).
struct Seg {
    number: u64,
    start: u64,
    duration: u64,
    parts: Vec<ChunkInfo>,
}

/// The LL-HLS side of a live media playlist.
struct LowLatency {
    part_target: Duration,
    part_hold_back: Duration,
    /// The segment being written, with its parts so far.
    growing: Option<Seg>,
    /// The next part to come, `(segment, part)`; none once the live has ended.
    preload: Option<(u64, usize)>,
    reports: Vec<llhls::Report>,
}

/// A timed event, for a playlist.
struct Mark {
    id: String,
    media_ms: u64,
    duration_ms: u32,
    payload: Bytes,
}

/// The live media playlist of representation `rep`, once it has its init segment: the
/// complete segments of the ring, the parts of the last few and of the growing one
/// (LL-HLS, [`llhls`]), a preload hint for the next part and the other renditions' reports.
pub fn live_media(period: &Period, rep: &str) -> Option<String> {
    let track = period.track(rep)?;
    let (_, info) = track.init()?;
    let mut segments = Vec::new();
    let mut growing = None;
    for seg in track.segments() {
        let st = seg.snapshot();
        let s = Seg {
            number: seg.number,
            start: seg.start,
            duration: st.duration.unwrap_or(0),
            parts: st.infos,
        };
        match st.duration {
            Some(d) if d > 0 => segments.push(s),
            Some(_) => {}
            None => growing = Some(s),
        }
    }
    let ended = period.ended().is_some();
    let nominal = period.segment_duration_of(&track.rendition);
    let preload = match (&growing, segments.last()) {
        _ if ended => None,
        (Some(g), _) => Some(llhls::next_part(
            g.number,
            &g.parts,
            nominal,
            info.timescale,
        )),
        (None, Some(last)) => Some((last.number + 1, 0)),
        (None, None) => None,
    };
    let events = period
        .events
        .list()
        .iter()
        .map(|e| Mark {
            id: e.id.clone(),
            media_ms: e.media_ms,
            duration_ms: e.duration_ms,
            payload: e.payload.clone(),
        })
        .collect();
    let low = LowLatency {
        part_target: llhls::part_target(period, track),
        part_hold_back: llhls::part_hold_back(period),
        growing,
        preload,
        reports: llhls::reports(period, rep),
    };
    Some(media(&Media {
        timescale: info.timescale,
        origin: to_timescale(period.origin_ns()?, info.timescale),
        ast: period.availability_start()?,
        nominal,
        segments,
        ended,
        vod: false,
        events,
        low: Some(low),
    }))
}

/// [`live_media`], rendered once per [`Period::version`] and shared (a blocking reload
/// wakes every viewer of a rendition with the same chunk).
pub fn live_media_shared(period: &Period, rep: &str) -> Option<Bytes> {
    let track = period.track(rep)?;
    let version = period.version();
    let memo = || {
        track
            .playlist_memo
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    };
    if let Some((v, body)) = memo().as_ref()
        && *v == version
    {
        return Some(body.clone());
    }
    let body = Bytes::from(live_media(period, rep)?);
    *memo() = Some((version, body.clone()));
    Some(body)
}

/// The media playlist of a recorded representation, with the recorded events.
pub fn vod_media(rec: &Recording, events: &[RecordedEvent], rep: &str) -> Option<String> {
    let t = rec.track(rep)?;
    Some(media(&Media {
        timescale: t.timescale,
        origin: to_timescale(rec.origin_ns, t.timescale),
        ast: rec.availability_start(),
        nominal: rec.segment_duration(),
        segments: t
            .segments
            .iter()
            .map(|s| Seg {
                number: s.number,
                start: s.start,
                duration: s.duration,
                parts: Vec::new(),
            })
            .collect(),
        ended: rec.ended,
        vod: true,
        events: events
            .iter()
            .map(|e| Mark {
                id: e.id.clone(),
                media_ms: e.media_ms,
                duration_ms: e.duration_ms,
                payload: e.payload_text().into(),
            })
            .collect(),
        low: None,
    }))
}

fn media(m: &Media) -> String {
    let longest = m
        .segments
        .iter()
        .map(|s| from_timescale(s.duration, m.timescale))
        .max()
        .unwrap_or_default()
        .max(m.nominal);
    let target = longest.as_secs_f64().round().max(1.0) as u64;
    let growing = m.low.as_ref().and_then(|l| l.growing.as_ref());
    let first = m.segments.first().or(growing).map_or(1, |s| s.number);
    let mut s = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n\
         #EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    );
    if m.vod && m.ended {
        s.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
    }
    // Parts are listed for the segments that end within three target durations of the
    // live edge (RFC 8216bis §4.4.4.9 lets older ones go).
    let mut parts_from = u64::MAX;
    if let Some(low) = &m.low {
        let _ = write!(
            s,
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3}\n\
             #EXT-X-PART-INF:PART-TARGET={:.3}\n",
            low.part_hold_back.as_secs_f64(),
            low.part_target.as_secs_f64()
        );
        let edge = growing
            .map(|g| g.start + g.parts.iter().map(|p| p.duration).sum::<u64>())
            .or_else(|| m.segments.last().map(|l| l.start + l.duration))
            .unwrap_or(0);
        parts_from = edge.saturating_sub(3 * target * u64::from(m.timescale));
    }
    s.push_str("#EXT-X-MAP:URI=\"init.mp4\"\n");
    let mut marks: Vec<&Mark> = m.events.iter().collect();
    marks.sort_by_key(|e| e.media_ms);
    let tick = |ms: u64| m.origin + (u128::from(ms) * u128::from(m.timescale) / 1000) as u64;
    // Live: only events from the first listed segment on (older ones left with it).
    let from = match m.segments.first().or(growing) {
        Some(seg) if !m.vod => seg.start,
        _ => 0,
    };
    let mut marks = marks
        .into_iter()
        .filter(|e| tick(e.media_ms) >= from)
        .peekable();
    let mut next = first;
    for seg in &m.segments {
        while let Some(e) = marks.next_if(|e| tick(e.media_ms) < seg.start + seg.duration) {
            daterange(&mut s, e, m.ast);
        }
        if !m.vod {
            gaps(&mut s, next..seg.number, m.nominal);
        }
        next = seg.number + 1;
        program_date_time(&mut s, m, seg.start);
        if seg.start + seg.duration > parts_from {
            parts(&mut s, seg, m.timescale);
        }
        let _ = writeln!(
            s,
            "#EXTINF:{:.6},\n{}.m4s",
            from_timescale(seg.duration, m.timescale).as_secs_f64(),
            seg.number
        );
    }
    // Events past the last complete segment (in the growing one or later), only once there
    // is a PROGRAM-DATE-TIME to place them against.
    if !m.segments.is_empty() || growing.is_some() {
        for e in marks {
            daterange(&mut s, e, m.ast);
        }
    }
    if let Some(low) = &m.low {
        if let Some(g) = growing {
            gaps(&mut s, next..g.number, m.nominal);
            program_date_time(&mut s, m, g.start);
            parts(&mut s, g, m.timescale);
        }
        if let Some((n, i)) = low.preload {
            let _ = writeln!(s, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{n}.{i}.m4s\"");
        }
        for r in &low.reports {
            let _ = writeln!(
                s,
                "#EXT-X-RENDITION-REPORT:URI=\"../{}/index.m3u8\",LAST-MSN={},LAST-PART={}",
                quoted(&r.rep),
                r.msn,
                r.part
            );
        }
    }
    if m.ended {
        s.push_str("#EXT-X-ENDLIST\n");
    }
    s
}

/// `EXT-X-GAP` entries for the missing segment numbers, so that media sequence numbers
/// stay equal to segment numbers across holes.
fn gaps(s: &mut String, missing: std::ops::Range<u64>, nominal: Duration) {
    for n in missing {
        let _ = writeln!(
            s,
            "#EXT-X-GAP\n#EXTINF:{:.6},\n{n}.m4s",
            nominal.as_secs_f64()
        );
    }
}

fn program_date_time(s: &mut String, m: &Media, start: u64) {
    let at = m.ast + from_timescale(start.saturating_sub(m.origin), m.timescale);
    let _ = writeln!(s, "#EXT-X-PROGRAM-DATE-TIME:{}", iso8601(at));
}

/// The `EXT-X-PART`s of a segment; none if a chunk's duration is unknown.
fn parts(s: &mut String, seg: &Seg, timescale: u32) {
    if seg.parts.iter().any(|p| p.duration == 0) {
        return;
    }
    for (i, p) in seg.parts.iter().enumerate() {
        let _ = writeln!(
            s,
            "#EXT-X-PART:DURATION={:.5},URI=\"{}.{i}.m4s\"{}",
            from_timescale(p.duration, timescale).as_secs_f64(),
            seg.number,
            if p.independent {
                ",INDEPENDENT=YES"
            } else {
                ""
            }
        );
    }
}

/// `#EXT-X-DATERANGE` of one event. Ids are `[A-Za-z0-9_.:-]` (checked on entry).
fn daterange(s: &mut String, e: &Mark, ast: SystemTime) {
    let _ = write!(
        s,
        "#EXT-X-DATERANGE:ID=\"{}\",CLASS=\"{SCHEME}\",START-DATE=\"{}\"",
        quoted(&e.id),
        iso8601(ast + Duration::from_millis(e.media_ms)),
    );
    if e.duration_ms > 0 {
        let _ = write!(s, ",DURATION={:.3}", f64::from(e.duration_ms) / 1000.0);
    }
    let _ = writeln!(s, ",X-LIVECART-PAYLOAD=\"{}\"", base64(&e.payload));
}

/// Standard base64 (RFC 4648 §4) with padding.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::origin::fixture;
    use crate::package::ring::PeriodEnd;

    #[test]
    fn master_lists_variants_and_audio() {
        let p = fixture::period(2, true);
        let m = live_master(&p).unwrap();
        assert!(m.starts_with("#EXTM3U\n#EXT-X-VERSION:7\n"));
        assert!(m.contains(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"a0\",DEFAULT=YES,AUTOSELECT=YES,\
             CHANNELS=\"2\",URI=\"p1/a0/index.m3u8\"\n"
        ));
        assert!(m.contains(
            "#EXT-X-STREAM-INF:BANDWIDTH=1536000,RESOLUTION=1280x720,FRAME-RATE=30.000,\
             CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"aud\"\np1/v0/index.m3u8\n"
        ));
        assert!(m.contains("RESOLUTION=640x360"));
        assert_eq!(m.matches("#EXT-X-STREAM-INF").count(), 2);
    }

    #[test]
    fn live_media_playlist() {
        let p = fixture::period(3, true);
        let m = live_media(&p, "v0").unwrap();
        let lines: Vec<&str> = m.lines().collect();
        assert_eq!(lines[0], "#EXTM3U");
        assert!(lines.contains(&"#EXT-X-TARGETDURATION:2"));
        assert!(lines.contains(&"#EXT-X-MEDIA-SEQUENCE:1"));
        assert!(lines.contains(&"#EXT-X-MAP:URI=\"init.mp4\""));
        assert_eq!(m.matches("#EXTINF:2.000000,").count(), 3);
        assert!(m.contains(
            "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:34:56.789Z\n\
             #EXT-X-PART:DURATION=1.00000,URI=\"1.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PART:DURATION=1.00000,URI=\"1.1.m4s\"\n#EXTINF:2.000000,\n1.m4s\n"
        ));
        assert!(m.contains("#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:35:00.789Z\n"));
        assert!(
            !m.contains("\n4.m4s"),
            "the growing segment is not listed whole"
        );
        assert!(!m.contains("ENDLIST"));
        p.tracks[0].last().unwrap().finish(180_000);
        p.end(PeriodEnd::Finished);
        let m = live_media(&p, "v0").unwrap();
        assert!(m.contains("\n4.m4s\n#EXT-X-RENDITION-REPORT"));
        assert!(m.ends_with("#EXT-X-ENDLIST\n"));
        assert!(!m.contains("PRELOAD-HINT"), "no hint once ended");
        assert!(live_media(&p, "nope").is_none());
    }

    #[test]
    fn a_shared_playlist_is_rendered_again_only_when_the_period_changed() {
        use crate::package::ring::ChunkInfo;
        let p = fixture::period(3, true);
        let a = live_media_shared(&p, "v0").unwrap();
        let b = live_media_shared(&p, "v0").unwrap();
        assert_eq!(a.as_ptr(), b.as_ptr(), "the same rendering");
        assert_eq!(a, live_media(&p, "v0").unwrap());
        // A chunk of another track changes the rendition reports: rendered again.
        let part = ChunkInfo {
            duration: 48_000,
            independent: true,
        };
        p.track("a0")
            .unwrap()
            .last()
            .unwrap()
            .push_chunk(Bytes::from_static(b"x"), part);
        let c = live_media_shared(&p, "v0").unwrap();
        assert_ne!(a, c);
        assert!(c.ends_with(b"URI=\"../a0/index.m3u8\",LAST-MSN=4,LAST-PART=1\n"));
    }

    #[test]
    fn live_media_playlist_is_low_latency() {
        // Six complete 2 s segments and a growing seventh with one part: the live edge is
        // at 13 s, so parts are listed for the segments ending after 13 - 3 × 2 = 7 s.
        let p = fixture::period(6, true);
        let m = live_media(&p, "v0").unwrap();
        assert!(m.contains(
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.000\n\
             #EXT-X-PART-INF:PART-TARGET=1.000\n"
        ));
        for old in ["1.0.m4s", "2.1.m4s", "3.0.m4s"] {
            assert!(!m.contains(old), "{old} is too old to be listed: {m}");
        }
        assert!(m.contains("URI=\"4.0.m4s\",INDEPENDENT=YES\n"));
        assert!(m.ends_with(
            "6.m4s\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:35:08.789Z\n\
             #EXT-X-PART:DURATION=1.00000,URI=\"7.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7.1.m4s\"\n\
             #EXT-X-RENDITION-REPORT:URI=\"../v1/index.m3u8\",LAST-MSN=7,LAST-PART=0\n\
             #EXT-X-RENDITION-REPORT:URI=\"../a0/index.m3u8\",LAST-MSN=7,LAST-PART=0\n"
        ));
        // Audio parts are all independent.
        let a = live_media(&p, "a0").unwrap();
        assert!(a.contains("URI=\"6.1.m4s\",INDEPENDENT=YES\n"));
        // Once the growing segment completes, the hint is for the next one's first part.
        for t in &p.tracks {
            let ts = u64::from(t.init().unwrap().1.timescale);
            t.last().unwrap().finish(2 * ts);
        }
        let m = live_media(&p, "v0").unwrap();
        assert!(m.contains("\n7.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"8.0.m4s\"\n"));
    }

    #[test]
    fn vod_media_and_master() {
        let p = fixture::period(3, false);
        p.end(PeriodEnd::Finished);
        let mut rec = crate::origin::Recording::start(&p).unwrap();
        rec.ended = true;
        let ts = 48_000;
        rec.tracks[2].segments = vec![
            crate::origin::recording::RecordedSegment {
                number: 1,
                start: 10 * ts,
                duration: 2 * ts,
            },
            crate::origin::recording::RecordedSegment {
                number: 3,
                start: 14 * ts,
                duration: 3 * ts,
            },
        ];
        let m = vod_media(&rec, &[], "a0").unwrap();
        assert!(m.contains("#EXT-X-TARGETDURATION:3\n"));
        assert!(m.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"));
        assert!(m.contains(
            "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:35:00.789Z\n#EXTINF:3.000000,\n3.m4s\n"
        ));
        assert!(!m.contains("GAP"));
        assert!(m.ends_with("#EXT-X-ENDLIST\n"));
        let master = vod_master(&rec);
        assert!(master.contains("\n../p1/v1/index.m3u8\n"));
        assert!(master.contains("URI=\"../p1/a0/index.m3u8\""));
    }

    #[test]
    fn base64_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn live_media_playlist_has_dateranges() {
        use crate::package::events::TimedEvent;
        let p = fixture::period(3, true);
        let add = |id: &str, media_ms, duration_ms| {
            p.events
                .add(TimedEvent {
                    id: id.into(),
                    media_ms,
                    duration_ms,
                    payload: br#"{"sku":"x\"y"}"#.to_vec(),
                })
                .unwrap();
        };
        // Segments are 2 s: 1 = [0, 2), 2 = [2, 4), 3 = [4, 6), 4 growing.
        add("late", 6_500, 0);
        add("push-1", 2_500, 5_000);
        for rep in ["v0", "a0"] {
            let m = live_media(&p, rep).unwrap();
            let want = "#EXT-X-DATERANGE:ID=\"push-1\",CLASS=\"urn:livecart:event:2026\",\
                        START-DATE=\"2024-05-01T12:34:59.289Z\",DURATION=5.000,\
                        X-LIVECART-PAYLOAD=\"eyJza3UiOiJ4XCJ5In0=\"\n\
                        #EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:34:58.789Z\n#EXT-X-PART:";
            assert!(m.contains(want), "{m}");
            // Past the last complete segment: after it, before the growing segment's
            // parts, without DURATION.
            assert!(m.contains(
                "3.m4s\n#EXT-X-DATERANGE:ID=\"late\",CLASS=\"urn:livecart:event:2026\",\
                 START-DATE=\"2024-05-01T12:35:03.289Z\",\
                 X-LIVECART-PAYLOAD=\"eyJza3UiOiJ4XCJ5In0=\"\n\
                 #EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:35:02.789Z\n#EXT-X-PART:"
            ));
        }
    }

    #[test]
    fn vod_media_has_dateranges_before_their_segment() {
        let p = fixture::period(0, false);
        let mut rec = crate::origin::Recording::start(&p).unwrap();
        rec.ended = true;
        rec.tracks[0].segments = (1..=3)
            .map(|n| crate::origin::recording::RecordedSegment {
                number: n,
                start: 900_000 + (n - 1) * 180_000,
                duration: 180_000,
            })
            .collect();
        let events = [crate::origin::RecordedEvent {
            id: "e1".into(),
            emsg_id: 1,
            media_ms: 5_999,
            duration_ms: 1500,
            payload: serde_json::json!({"a": 1}),
        }];
        let m = vod_media(&rec, &events, "v0").unwrap();
        assert!(m.contains(
            "#EXT-X-DATERANGE:ID=\"e1\",CLASS=\"urn:livecart:event:2026\",\
             START-DATE=\"2024-05-01T12:35:02.788Z\",DURATION=1.500,\
             X-LIVECART-PAYLOAD=\"eyJhIjoxfQ==\"\n#EXT-X-PROGRAM-DATE-TIME:\
             2024-05-01T12:35:00.789Z\n#EXTINF:2.000000,\n3.m4s\n"
        ));
        assert_eq!(m.matches("DATERANGE").count(), 1);
    }
}
