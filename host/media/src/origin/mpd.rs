//! The MPDs, written by us rather than by a muxer: a live low-latency DASH MPD
//! ([`live_mpd`]: number-based `SegmentTemplate`, chunked availability through
//! `availabilityTimeOffset`, `ServiceDescription` latency targets, `UTCTiming` against our
//! own clock) and a static replay MPD ([`vod_mpd`]: `SegmentTimeline` with the exact
//! recorded durations).
//!
//! Live URLs are relative to `/media/{room}/live.mpd`; replay URLs to
//! `/media/{room}/replay/{period}.mpd`, hence their `../{period}/…`.

use super::MpdOptions;
use super::recording::{RecordedEvent, RecordedTrack, Recording};
use super::time::{self, iso8601, secs, to_timescale, xs_duration};
use super::xml::{Xml, attrs};
use crate::hub::TrackKind;
use crate::package::events::{SCHEME, VALUE};
use crate::package::ring::{InitInfo, Period, Rendition};
use std::time::{Duration, SystemTime};

const PROFILES: &str = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019";
const NS: &str = "urn:mpeg:dash:schema:mpd:2011";

/// The live MPD of `period`, or `None` until it is ready (origin, AST and every init known)
/// and has been live for the target latency: a player cannot sit that far behind a live edge
/// that is younger than that (ffmpeg even computes a negative segment number).
/// Once the period has ended it becomes `type="static"` with the period's real length as
/// `mediaPresentationDuration` (the DASH way to end a live: a dynamic MPD turned static),
/// so players play to the end and stop. A dynamic MPD with a duration was not enough:
/// ffmpeg 5.1 keeps computing segment numbers from the wall clock while an MPD is dynamic
/// and asks for ever later segments, tens of thousands of 404s a minute. (A reader that
/// read the MPD while it was dynamic does not read it again: ffmpeg 5.1 never refreshes a
/// `$Number$` template MPD. The origin's 404 limiter bounds what such a reader costs.)
pub fn live_mpd(period: &Period, opts: &MpdOptions, now: SystemTime) -> Option<String> {
    if !period.is_ready() {
        return None;
    }
    let ast = period.availability_start()?;
    let delay = Duration::from_millis(u64::from(opts.target_latency_ms));
    if period.ended().is_none() && now.duration_since(ast).unwrap_or_default() < delay {
        return None;
    }
    let origin_ns = period.origin_ns()?;
    let reps = period
        .tracks
        .iter()
        .map(|t| t.init().map(|(_, info)| (t, &t.rendition, info)))
        .collect::<Option<Vec<_>>>()?;
    let d = period.segment_duration;
    // The live window is what the rings hold (the growing segment included).
    let window = period
        .tracks
        .iter()
        .map(|t| t.segments().len())
        .min()
        .unwrap_or(0)
        .max(1);
    let mut max_seg = d;
    let mut end = Duration::ZERO;
    for (t, _, info) in &reps {
        for s in t.segments() {
            if let Some(dur) = s.snapshot().duration {
                max_seg = max_seg.max(time::from_timescale(dur, info.timescale));
                let origin = to_timescale(origin_ns, info.timescale);
                let e = (s.start + dur).saturating_sub(origin);
                end = end.max(time::from_timescale(e, info.timescale));
            }
        }
    }
    let target = Duration::from_millis(opts.target_latency_ms.into());

    let ended = period.ended().is_some();

    let mut x = Xml::new();
    let mut mpd = Vec::from(attrs![
        ("xmlns", NS),
        ("type", if ended { "static" } else { "dynamic" }),
        ("profiles", PROFILES),
        ("availabilityStartTime", iso8601(ast)),
        ("publishTime", iso8601(now)),
    ]);
    if ended {
        mpd.push(("mediaPresentationDuration", xs_duration(end)));
    } else {
        mpd.extend(attrs![
            ("minimumUpdatePeriod", xs_duration(opts.min_update_period)),
            (
                "timeShiftBufferDepth",
                xs_duration(d.saturating_mul(window as u32))
            ),
        ]);
    }
    mpd.extend(attrs![
        ("maxSegmentDuration", xs_duration(max_seg)),
        (
            "minBufferTime",
            xs_duration(min_buffer(period.chunk_duration))
        ),
    ]);
    if !ended {
        mpd.push(("suggestedPresentationDelay", xs_duration(target)));
    }
    x.open("MPD", &mpd);
    x.open("ServiceDescription", &attrs![("id", 0)]);
    x.empty(
        "Latency",
        &attrs![
            ("target", opts.target_latency_ms),
            ("max", opts.max_latency_ms.max(opts.target_latency_ms)),
            ("min", opts.min_latency_ms.min(opts.target_latency_ms)),
        ],
    );
    x.empty("PlaybackRate", &attrs![("min", "0.96"), ("max", "1.04")]);
    x.close();
    x.open("Period", &attrs![("id", period.id), ("start", "PT0S")]);
    // With the measured bandwidth where there is one (audio).
    let measured: Vec<Rendition> = reps
        .iter()
        .map(|(t, r, _)| Rendition {
            bandwidth: t.bandwidth(),
            ..(*r).clone()
        })
        .collect();
    let reps: Vec<(&Rendition, &InitInfo)> = measured
        .iter()
        .zip(&reps)
        .map(|(r, (_, _, i))| (r, *i))
        .collect();
    adaptation_sets(&mut x, &reps, true, |x, r, info| {
        // Audio's is a whole number of AAC frames, close to the video's (see `ring`).
        let d = period.segment_duration_of(r);
        let ato = d.saturating_sub(period.chunk_duration);
        let mut template = Vec::from(attrs![
            ("timescale", info.timescale),
            (
                "duration",
                to_timescale(d.as_nanos() as u64, info.timescale)
            ),
            ("startNumber", 1),
            (
                "presentationTimeOffset",
                to_timescale(origin_ns, info.timescale)
            ),
            (
                "initialization",
                format!("{}/$RepresentationID$/init.mp4", period.id)
            ),
            (
                "media",
                format!("{}/$RepresentationID$/$Number$.m4s", period.id)
            ),
        ]);
        // Every segment of an ended live is complete: no early, chunked availability.
        if !ended {
            template.extend(attrs![
                ("availabilityTimeOffset", secs(ato)),
                ("availabilityTimeComplete", "false"),
            ]);
        }
        x.empty("SegmentTemplate", &template);
    });
    x.close();
    x.empty(
        "UTCTiming",
        &attrs![
            ("schemeIdUri", "urn:mpeg:dash:utc:http-iso:2014"),
            (
                "value",
                format!("{}/media/time", opts.base_url.trim_end_matches('/'))
            ),
        ],
    );
    Some(x.finish())
}

/// The static MPD of a recording. Each representation gets a `SegmentTimeline` of its
/// exact segment times; `$Number$` addressing when its numbers have no holes, `t$Time$`
/// otherwise (served by the segment route from the recording). The live's timed events are
/// a Period-level `EventStream` (ms timescale, payload JSON as the Event's text); the
/// segments' `emsg`s are not declared, so players see each event once.
pub fn vod_mpd(rec: &Recording, events: &[RecordedEvent], _opts: &MpdOptions) -> String {
    let mut x = Xml::new();
    x.open(
        "MPD",
        &attrs![
            ("xmlns", NS),
            ("type", "static"),
            ("profiles", PROFILES),
            ("mediaPresentationDuration", xs_duration(rec.duration())),
            (
                "maxSegmentDuration",
                xs_duration(rec.max_segment_duration())
            ),
            ("minBufferTime", xs_duration(rec.segment_duration())),
        ],
    );
    x.open("Period", &attrs![("id", rec.period), ("start", "PT0S")]);
    if !events.is_empty() {
        x.open(
            "EventStream",
            &attrs![
                ("schemeIdUri", SCHEME),
                ("value", VALUE),
                ("timescale", 1000)
            ],
        );
        let mut sorted: Vec<&RecordedEvent> = events.iter().collect();
        sorted.sort_by_key(|e| (e.media_ms, e.emsg_id));
        for e in sorted {
            x.text(
                "Event",
                &attrs![
                    ("presentationTime", e.media_ms),
                    ("duration", e.duration_ms),
                    ("id", e.emsg_id),
                ],
                &e.payload_text(),
            );
        }
        x.close();
    }
    let renditions: Vec<(Rendition, InitInfo)> = rec
        .tracks
        .iter()
        .map(|t| (t.rendition(), t.info()))
        .collect();
    let reps: Vec<(&Rendition, &InitInfo)> = renditions.iter().map(|(r, i)| (r, i)).collect();
    adaptation_sets(&mut x, &reps, false, |x, r, info| {
        let Some(track) = rec.track(&r.id) else {
            return;
        };
        let base = format!("../{}/$RepresentationID$", rec.period);
        let (media, start) = if track.contiguous() {
            (
                format!("{base}/$Number$.m4s"),
                track.segments.first().map_or(1, |s| s.number),
            )
        } else {
            (format!("{base}/t$Time$.m4s"), 1)
        };
        x.open(
            "SegmentTemplate",
            &attrs![
                ("timescale", info.timescale),
                ("startNumber", start),
                (
                    "presentationTimeOffset",
                    to_timescale(rec.origin_ns, info.timescale)
                ),
                ("initialization", format!("{base}/init.mp4")),
                ("media", media),
            ],
        );
        timeline(x, track);
        x.close();
    });
    x.finish()
}

/// `<SegmentTimeline>` with run-length `r` for equal, back-to-back segments; `t` only where
/// a segment does not start where the previous one ended.
fn timeline(x: &mut Xml, track: &RecordedTrack) {
    x.open("SegmentTimeline", &[]);
    let mut runs: Vec<(u64, u64, u64, bool)> = Vec::new(); // (t, d, r, explicit t)
    let mut next = None;
    for s in &track.segments {
        match runs.last_mut() {
            Some(run) if next == Some(s.start) && run.1 == s.duration => run.2 += 1,
            _ => runs.push((s.start, s.duration, 0, next != Some(s.start))),
        }
        next = Some(s.start + s.duration);
    }
    for (t, d, r, explicit) in runs {
        let mut a = Vec::new();
        if explicit {
            a.push(("t", t.to_string()));
        }
        a.push(("d", d.to_string()));
        if r > 0 {
            a.push(("r", r.to_string()));
        }
        x.empty("S", &a);
    }
    x.close();
}

/// One AdaptationSet for the video representations, one for the audio ones; `template`
/// writes each Representation's SegmentTemplate. With `inband`, the video set declares the
/// `emsg` event stream its segments carry.
fn adaptation_sets(
    x: &mut Xml,
    reps: &[(&Rendition, &InitInfo)],
    inband: bool,
    mut template: impl FnMut(&mut Xml, &Rendition, &InitInfo),
) {
    let video: Vec<_> = reps
        .iter()
        .filter(|(r, _)| r.kind == TrackKind::Video)
        .collect();
    let audio: Vec<_> = reps
        .iter()
        .filter(|(r, _)| r.kind == TrackKind::Audio)
        .collect();
    if !video.is_empty() {
        let max_w = video.iter().map(|(r, _)| r.width).max().unwrap_or(0);
        let max_h = video.iter().map(|(r, _)| r.height).max().unwrap_or(0);
        x.open(
            "AdaptationSet",
            &attrs![
                ("id", 0),
                ("contentType", "video"),
                ("mimeType", "video/mp4"),
                ("segmentAlignment", "true"),
                ("startWithSAP", 1),
                ("maxWidth", max_w),
                ("maxHeight", max_h),
            ],
        );
        if inband {
            // RepresentationBaseType order: InbandEventStream comes after the properties
            // (none here) and before the AdaptationSet's own Role/…/Representation.
            x.empty(
                "InbandEventStream",
                &attrs![("schemeIdUri", SCHEME), ("value", VALUE)],
            );
        }
        for (r, info) in video {
            x.open(
                "Representation",
                &attrs![
                    ("id", r.id),
                    ("mimeType", "video/mp4"),
                    ("codecs", info.codecs),
                    ("bandwidth", r.bandwidth),
                    ("width", r.width),
                    ("height", r.height),
                    ("frameRate", frame_rate(r.frame_rate)),
                    ("sar", "1:1"),
                ],
            );
            template(x, r, info);
            x.close();
        }
        x.close();
    }
    if !audio.is_empty() {
        x.open(
            "AdaptationSet",
            &attrs![
                ("id", 1),
                ("contentType", "audio"),
                ("mimeType", "audio/mp4"),
                ("lang", "und"),
                ("segmentAlignment", "true"),
                ("startWithSAP", 1),
            ],
        );
        for (r, info) in audio {
            x.open(
                "Representation",
                &attrs![
                    ("id", r.id),
                    ("mimeType", "audio/mp4"),
                    ("codecs", info.codecs),
                    ("bandwidth", r.bandwidth),
                    ("audioSamplingRate", r.sample_rate),
                ],
            );
            x.empty(
                "AudioChannelConfiguration",
                &attrs![
                    (
                        "schemeIdUri",
                        "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
                    ),
                    ("value", r.channels),
                ],
            );
            template(x, r, info);
            x.close();
        }
        x.close();
    }
}

/// `30`, or `30000/1001`.
fn frame_rate((n, d): (u32, u32)) -> String {
    match d {
        0 | 1 => n.to_string(),
        d => format!("{n}/{d}"),
    }
}

/// Enough buffer to start on a couple of chunks.
fn min_buffer(chunk: Duration) -> Duration {
    (chunk * 2).max(Duration::from_millis(500))
}

#[cfg(test)]
#[path = "mpd_tests.rs"]
mod tests;
