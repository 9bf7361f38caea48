//! HTTP-FLV: `GET /media/{room}/live.flv`, the live as one endless FLV over chunked HTTP, for
//! WeChat's `<live-player>` (FLV and RTMP only), flv.js, mpegts.js and in-app players; and
//! the same messages for RTMP players on the ingest ports ([`FlvPlayback`]).
//!
//! Built from the packager's CMAF chunks, not from the hub: any rung can be asked for
//! (`?rung=v1`; the top rung by default), and no encoding happens per viewer. A chunk's
//! samples are already AVC length-prefixed NAL units and raw AAC frames, which is what FLV
//! carries; the `avcC` and AudioSpecificConfig come from the init segments. Tag timestamps
//! are milliseconds of media time from the period's origin, the clock the room's timed events
//! use, so each commerce event goes in-band as an `onCuePoint` script tag at its media time.
//!
//! The stream starts on a keyframe. With the GOP cache (`MpdOptions::flv_gop_cache`, on by
//! default; `?gop=0` turns it off for one request) it starts at the beginning of the segment
//! being produced, so a player shows a picture at once but sits up to one segment (a GOP)
//! behind; without it, it waits for the next segment to start: lower latency, a slower start.
//! Video and audio are each sent as their chunks come (200 ms apart), so the two interleave
//! within a chunk's duration. A viewer too slow to take the stream loses it (the response
//! ends); the live itself ending ends it cleanly.

use super::routes::{HttpError, NO_STORE, not_found, reply};
use super::segments;
use super::{Origin, time};
use crate::hub::TrackKind;
use crate::ingest::rtmp::{PlayMessage, PlaySource};
use crate::package::bmff;
use crate::package::ring::{Period, Track};
use crate::package::state::MediaState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Tags queued for one viewer before it counts as too slow.
const QUEUE: usize = 512;

#[derive(Debug, serde::Deserialize)]
pub(super) struct FlvQuery {
    /// Representation id of the video rung ("v0" is the top one).
    rung: Option<String>,
    /// `0`: start at the next keyframe instead of the cached one.
    gop: Option<u8>,
}

pub(super) async fn live_flv(
    State(o): State<Origin>,
    Path(room): Path<String>,
    Query(q): Query<FlvQuery>,
) -> Result<Response, HttpError> {
    let gop_cache = q.gop.map_or(o.opts.flv_gop_cache, |g| g != 0);
    let (has_audio, rx) = open(&o.state, &room, q.rung.as_deref(), gop_cache).map_err(not_found)?;
    // Signature, version 1, flags (audio 4 | video 1), header size 9; PreviousTagSize0.
    let flags = if has_audio { 5 } else { 1 };
    let head = Bytes::from_static(&[b'F', b'L', b'V', 1, 0, 0, 0, 0, 9, 0, 0, 0, 0]);
    let mut head = head.to_vec();
    head[4] = flags;
    let first = futures_util::stream::once(async move { Ok::<_, io::Error>(Bytes::from(head)) });
    let tags = futures_util::stream::unfold(rx, |mut rx| async move {
        let t = rx.recv().await?;
        let mut out = BytesMut::with_capacity(t.payload.len() + 15);
        tag(&mut out, t.type_id, t.ts_ms, &t.payload);
        Some((Ok::<_, io::Error>(out.freeze()), rx))
    });
    Ok(reply(
        axum::body::Body::from_stream(first.chain(tags)),
        "video/x-flv",
        NO_STORE,
    ))
}

/// The live of `room` as FLV tags (RTMP messages): `onMetaData`, the codec configuration,
/// then rung `rung` (the top one by default) and the audio from a keyframe on, with the
/// room's timed events as cue points. Also whether it has audio. `Err` says why not (not
/// live, no such rung, not ready yet).
pub fn open(
    state: &MediaState,
    room: &str,
    rung: Option<&str>,
    gop_cache: bool,
) -> Result<(bool, mpsc::Receiver<PlayMessage>), String> {
    let period = state
        .serving(room)
        .filter(|p| p.ended().is_none())
        .ok_or("room is not live")?;
    let video = match rung {
        Some(id) => period
            .track(id)
            .filter(|t| t.rendition.kind == TrackKind::Video)
            .ok_or_else(|| format!("no video rung {id:?}"))?,
        None => period
            .tracks
            .iter()
            .find(|t| t.rendition.kind == TrackKind::Video)
            .ok_or("this live has no video (use live.mpd)")?,
    }
    .clone();
    let audio = period
        .tracks
        .iter()
        .find(|t| t.rendition.kind == TrackKind::Audio)
        .cloned();
    let head = header(&video, audio.as_deref()).ok_or("live stream is not ready yet")?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let has_audio = audio.is_some();
    tokio::spawn(pump(period, video, audio, gop_cache, head, tx));
    Ok((has_audio, rx))
}

/// [`open`] for RTMP playback on the ingest port (`rtmp://host/live/{room}[?rung=v1]`).
pub struct FlvPlayback {
    pub state: Arc<MediaState>,
    pub gop_cache: bool,
}

impl PlaySource for FlvPlayback {
    fn play(&self, room: &str, rung: Option<&str>) -> Result<mpsc::Receiver<PlayMessage>, String> {
        open(&self.state, room, rung, self.gop_cache).map(|(_, rx)| rx)
    }
}

/// `onMetaData` and the codec configuration messages; `None` until the tracks have their
/// init segments.
fn header(video: &Track, audio: Option<&Track>) -> Option<Vec<PlayMessage>> {
    let (vinit, _) = video.init()?;
    let avcc = bmff::decoder_config(vinit)?;
    let asc = match audio {
        Some(a) => Some(bmff::decoder_config(&a.init()?.0)?.to_vec()),
        None => None,
    };
    let r = &video.rendition;
    let fps = f64::from(r.frame_rate.0) / f64::from(r.frame_rate.1.max(1));
    let mut meta = vec![
        ("duration", Amf::Number(0.0)),
        ("width", Amf::Number(f64::from(r.width))),
        ("height", Amf::Number(f64::from(r.height))),
        ("framerate", Amf::Number(fps)),
        ("videocodecid", Amf::Number(7.0)),
        (
            "videodatarate",
            Amf::Number(f64::from(video.bandwidth()) / 1000.0),
        ),
    ];
    if let Some(a) = audio {
        let r = &a.rendition;
        meta.extend([
            ("audiocodecid", Amf::Number(10.0)),
            ("audiosamplerate", Amf::Number(f64::from(r.sample_rate))),
            ("stereo", Amf::Bool(r.channels > 1)),
            (
                "audiodatarate",
                Amf::Number(f64::from(a.bandwidth()) / 1000.0),
            ),
        ]);
    }
    let mut script = amf_string("onMetaData");
    Amf::Ecma(meta).write(&mut script);
    let msg = |type_id, payload: Vec<u8>| PlayMessage {
        type_id,
        ts_ms: 0,
        payload: payload.into(),
    };
    let mut out = vec![msg(SCRIPT, script)];
    // AVC sequence header: keyframe + AVC, packet type 0, composition time 0.
    out.push(msg(VIDEO, [&[0x17, 0, 0, 0, 0][..], avcc].concat()));
    if let Some(asc) = asc {
        out.push(msg(AUDIO, [&[AAC, 0][..], &asc].concat()));
    }
    Some(out)
}

/// Send the header, then both tracks from the first keyframe on, until the live ends or
/// the viewer goes away.
async fn pump(
    period: Arc<Period>,
    video: Arc<Track>,
    audio: Option<Arc<Track>>,
    gop_cache: bool,
    head: Vec<PlayMessage>,
    tx: mpsc::Sender<PlayMessage>,
) {
    for m in head {
        if tx.send(m).await.is_err() {
            return;
        }
    }
    let first = match video.last() {
        Some(s) if gop_cache => s.number,
        Some(s) => s.number + 1,
        None => 1,
    };
    let Some(start) = next_segment(&period, &video, first).await else {
        return;
    };
    let Some(origin_ns) = period.origin_ns() else {
        return;
    };
    let start_ms = ms(&video, start.start, origin_ns);
    if let Some(audio) = audio {
        // The audio segment holding the video's start; earlier samples are dropped.
        let n = audio
            .segments()
            .iter()
            .rev()
            .find(|s| ms(&audio, s.start, origin_ns) <= start_ms)
            .map_or(1, |s| s.number);
        let (period, tx) = (period.clone(), tx.clone());
        tokio::spawn(async move {
            follow(&period, &audio, n, start_ms, origin_ns, &tx).await;
        });
    }
    follow(&period, &video, start.number, start_ms, origin_ns, &tx).await;
}

/// Stream `track` from segment `n` on as FLV tags: its chunks' samples at or after
/// `from_ms`, and (video) the period's timed events as cue points once the stream reaches
/// their media time.
async fn follow(
    period: &Period,
    track: &Track,
    mut n: u64,
    from_ms: u64,
    origin_ns: u64,
    tx: &mpsc::Sender<PlayMessage>,
) {
    let video = track.rendition.kind == TrackKind::Video;
    let Some(timescale) = track.init().map(|(_, i)| u64::from(i.timescale.max(1))) else {
        return;
    };
    let origin = time::to_timescale(origin_ns, timescale as u32);
    // Events before the start are not repeated.
    let mut cued = period
        .events
        .list()
        .iter()
        .filter(|e| e.media_ms < from_ms)
        .map(|e| e.emsg_id)
        .max()
        .unwrap_or(0);
    let stall = (period.segment_duration * 2).max(Duration::from_secs(2));
    while let Some(seg) = next_segment(period, track, n).await {
        n = seg.number + 1;
        let mut chunks = std::pin::pin!(segments::chunks(seg, stall));
        while let Some(Ok(chunk)) = chunks.next().await {
            let Some(samples) = bmff::samples(&chunk) else {
                tracing::warn!(rep = %track.rendition.id, "unreadable CMAF chunk; FLV viewer dropped");
                return;
            };
            let mut out = Vec::new();
            for s in samples {
                let at = s.dts.saturating_sub(origin) * 1000 / timescale;
                if at < from_ms {
                    continue;
                }
                if video {
                    for e in period.events.since(cued) {
                        if e.media_ms > at {
                            break;
                        }
                        cued = e.emsg_id;
                        out.push(PlayMessage {
                            type_id: SCRIPT,
                            ts_ms: e.media_ms,
                            payload: cue_point(&e.id, &e.payload, e.media_ms).into(),
                        });
                    }
                    let cts = s.cto * 1000 / timescale as i64;
                    let mut body = Vec::with_capacity(5 + s.data.len());
                    body.push(if s.sync { 0x17 } else { 0x27 });
                    body.push(1);
                    body.extend_from_slice(&(cts as i32).to_be_bytes()[1..]);
                    body.extend_from_slice(s.data);
                    out.push(PlayMessage {
                        type_id: VIDEO,
                        ts_ms: at,
                        payload: body.into(),
                    });
                } else {
                    let mut body = Vec::with_capacity(2 + s.data.len());
                    body.extend_from_slice(&[AAC, 1]);
                    body.extend_from_slice(s.data);
                    out.push(PlayMessage {
                        type_id: AUDIO,
                        ts_ms: at,
                        payload: body.into(),
                    });
                }
            }
            for m in out {
                if tx.send(m).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Segment `n` of `track` once it exists (or the newest, if `n` fell out of the ring);
/// `None` once the live has ended without it.
pub(super) async fn next_segment(
    period: &Period,
    track: &Track,
    n: u64,
) -> Option<Arc<crate::package::ring::Segment>> {
    let mut added = track.watch();
    let mut end = period.watch_end();
    loop {
        added.borrow_and_update();
        if let Some(seg) = track.segment(n) {
            return Some(seg);
        }
        match track.last() {
            // Behind the ring: jump to the newest segment (a keyframe).
            Some(last) if last.number > n => return Some(last),
            _ => {}
        }
        if period.ended().is_some() {
            return None;
        }
        tokio::select! {
            r = added.changed() => r.ok()?,
            _ = end.changed() => {}
        }
    }
}

/// Media ms from the period origin of a time in `track`'s timescale.
pub(super) fn ms(track: &Track, t: u64, origin_ns: u64) -> u64 {
    let ts = track.init().map_or(1, |(_, i)| i.timescale.max(1));
    t.saturating_sub(time::to_timescale(origin_ns, ts)) * 1000 / u64::from(ts)
}

use crate::ingest::rtmp::{AUDIO, SCRIPT, VIDEO};
/// AAC, 44 kHz, 16-bit, stereo: the only sound format byte FLV allows for AAC.
const AAC: u8 = 0xAF;

/// Append one FLV tag and its PreviousTagSize.
fn tag(out: &mut BytesMut, kind: u8, ts_ms: u64, body: &[u8]) {
    let size = body.len() as u32;
    let ts = ts_ms as u32;
    out.put_u8(kind);
    out.put_slice(&size.to_be_bytes()[1..]);
    out.put_slice(&ts.to_be_bytes()[1..]);
    out.put_u8((ts >> 24) as u8);
    out.put_slice(&[0, 0, 0]);
    out.put_slice(body);
    out.put_u32(size + 11);
}

/// `onCuePoint` for a timed event: name "livecart", its id and JSON payload as strings.
fn cue_point(id: &str, payload: &[u8], media_ms: u64) -> Vec<u8> {
    let mut out = amf_string("onCuePoint");
    Amf::Object(vec![
        ("name", Amf::Str("livecart".into())),
        ("time", Amf::Number(media_ms as f64 / 1000.0)),
        ("type", Amf::Str("event".into())),
        (
            "parameters",
            Amf::Object(vec![
                ("id", Amf::Str(id.into())),
                ("payload", Amf::Str(String::from_utf8_lossy(payload).into())),
            ]),
        ),
    ])
    .write(&mut out);
    out
}

/// The few AMF0 values script tags need.
enum Amf {
    Number(f64),
    Bool(bool),
    Str(String),
    Object(Vec<(&'static str, Amf)>),
    Ecma(Vec<(&'static str, Amf)>),
}

fn amf_string(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    Amf::Str(s.into()).write(&mut out);
    out
}

impl Amf {
    fn write(&self, out: &mut Vec<u8>) {
        let key = |out: &mut Vec<u8>, k: &str| {
            out.extend_from_slice(&(k.len() as u16).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
        };
        match self {
            Amf::Number(n) => {
                out.push(0);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Amf::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
            Amf::Str(s) => {
                // Short strings; longer ones (over 64 KiB) as long strings.
                match u16::try_from(s.len()) {
                    Ok(n) => {
                        out.push(2);
                        out.extend_from_slice(&n.to_be_bytes());
                    }
                    Err(_) => {
                        out.push(0x0c);
                        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
                    }
                }
                out.extend_from_slice(s.as_bytes());
            }
            Amf::Object(fields) | Amf::Ecma(fields) => {
                if let Amf::Ecma(_) = self {
                    out.push(8);
                    out.extend_from_slice(&(fields.len() as u32).to_be_bytes());
                } else {
                    out.push(3);
                }
                for (k, v) in fields {
                    key(out, k);
                    v.write(out);
                }
                out.extend_from_slice(&[0, 0, 9]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_carry_size_timestamp_and_previous_size() {
        let mut out = BytesMut::new();
        tag(&mut out, VIDEO, 0x0123_4567, b"abc");
        assert_eq!(
            &out[..],
            &[
                9, 0, 0, 3, 0x23, 0x45, 0x67, 0x01, 0, 0, 0, b'a', b'b', b'c', 0, 0, 0, 14
            ]
        );
    }

    #[test]
    fn cue_points_are_amf0_with_the_event() {
        let body = cue_point("push-1", br#"{"a":1}"#, 1500);
        let text = String::from_utf8_lossy(&body);
        assert!(body.starts_with(&[2, 0, 10]));
        assert!(
            text.contains("onCuePoint") && text.contains("push-1") && text.contains(r#"{"a":1}"#)
        );
        assert!(body.ends_with(&[0, 0, 9, 0, 0, 9]));
    }
}
