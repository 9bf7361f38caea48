//! Reads `cmafmux` output from an appsink into a [`Track`] of the chunk ring.
//!
//! Each buffer list the muxer pushes is one CMAF chunk. Its buffers are flagged: the init
//! segment is `DISCONT|HEADER` (first list only), the chunk's `moof`+`mdat` header is `HEADER`,
//! plus `DELTA_UNIT` when the chunk continues a fragment rather than starting one; the header's
//! PTS is the chunk's earliest presentation time and its duration the chunk's duration. A chunk
//! without `DELTA_UNIT` on its header starts a new segment and completes the previous one.
//! Video chunks get the period's due timed events as `emsg` boxes before their `moof`.

use crate::hub::TrackKind;
use crate::package::ring::{ChunkInfo, InitInfo, Period, Segment, Track};
use crate::package::{bmff, emsg};
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Latency of chunks from ingest to availability, for the glass-to-glass measurement.
pub type LatencyProbe = Arc<dyn Fn(&str, std::time::Duration) + Send + Sync>;

struct TrackWriter {
    period: Arc<Period>,
    track: Arc<Track>,
    timescale: u32,
    current: Option<Arc<Segment>>,
    /// Media duration of the current segment so far, ns.
    current_ns: u64,
    probe: Option<LatencyProbe>,
    /// The period has no video: this (audio) track fixes its availability start.
    audio_only: bool,
}

/// Wire `sink` to write into `track`.
pub fn attach(
    sink: &gst_app::AppSink,
    period: Arc<Period>,
    track: Arc<Track>,
    probe: Option<LatencyProbe>,
) {
    let audio_only = !period
        .tracks
        .iter()
        .any(|t| t.rendition.kind == TrackKind::Video);
    let writer = Arc::new(Mutex::new(TrackWriter {
        period,
        track,
        timescale: 0,
        current: None,
        current_ns: 0,
        probe,
        audio_only,
    }));
    let on_eos = writer.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                // Encoders shift their output segment (x264enc by 1000 h): work in running time.
                let segment = sample
                    .segment()
                    .and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned());
                let running = |pts: Option<gst::ClockTime>| -> Option<u64> {
                    let pts = pts?;
                    match &segment {
                        Some(seg) => seg.to_running_time(pts).map(|t| t.nseconds()),
                        None => Some(pts.nseconds()),
                    }
                };
                let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(list) = sample.buffer_list() {
                    w.chunk(list.iter(), running)?;
                } else if let Some(buffer) = sample.buffer() {
                    w.chunk(std::iter::once(buffer), running)?;
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .eos(move |_| {
                on_eos.lock().unwrap_or_else(|e| e.into_inner()).finish();
            })
            .build(),
    );
}

/// Wire the Opus encoder's `sink` to the period's Opus feed (running time, as the tracks).
pub fn attach_opus(sink: &gst_app::AppSink, period: &Arc<Period>) {
    let feed = period.opus.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(buffer) = sample.buffer() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let pts = buffer.pts().and_then(|pts| {
                    match sample
                        .segment()
                        .and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned())
                    {
                        Some(seg) => seg.to_running_time(pts),
                        None => Some(pts),
                    }
                });
                if let (Some(pts), Ok(map)) = (pts, buffer.map_readable()) {
                    // No receivers (no WebRTC viewer) is not an error.
                    let _ = feed.send(crate::package::ring::OpusPacket {
                        pts_ns: pts.nseconds(),
                        data: Bytes::copy_from_slice(&map),
                    });
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

impl TrackWriter {
    fn chunk<'a>(
        &mut self,
        buffers: impl Iterator<Item = &'a gst::BufferRef>,
        running: impl Fn(Option<gst::ClockTime>) -> Option<u64>,
    ) -> Result<(), gst::FlowError> {
        let mut data = Vec::new();
        let mut starts_fragment = false;
        let mut chunk_pts = None;
        let mut chunk_dur = 0u64;
        for b in buffers {
            let flags = b.flags();
            let map = b.map_readable().map_err(|_| gst::FlowError::Error)?;
            if flags.contains(gst::BufferFlags::HEADER | gst::BufferFlags::DISCONT) {
                self.init(Bytes::copy_from_slice(&map));
                continue;
            }
            if flags.contains(gst::BufferFlags::HEADER) {
                starts_fragment = !flags.contains(gst::BufferFlags::DELTA_UNIT);
                chunk_pts = running(b.pts());
                chunk_dur = b.duration().map(|t| t.nseconds()).unwrap_or(0);
            }
            data.extend_from_slice(&map);
        }
        if data.is_empty() {
            return Ok(());
        }
        let pts = chunk_pts.unwrap_or(0);
        let data = Bytes::from(self.with_events(data, pts.saturating_add(chunk_dur)));
        // A fragment starts on a sync sample; every AAC frame is one.
        let info = ChunkInfo {
            duration: to_scale(chunk_dur, self.timescale),
            independent: starts_fragment || self.track.rendition.kind == TrackKind::Audio,
        };
        if starts_fragment || self.current.is_none() {
            self.start_segment(pts, data, info);
        } else if let Some(seg) = &self.current {
            seg.push_chunk(data, info);
        }
        self.current_ns += chunk_dur;
        if let Some(probe) = &self.probe {
            // The chunk's last frame was ingested at media_zero + its end time.
            let ingested = self.period.media_zero
                + std::time::Duration::from_nanos(pts.saturating_add(chunk_dur));
            if let Ok(late) = SystemTime::now().duration_since(ingested) {
                probe(&self.track.rendition.id, late);
            }
        }
        Ok(())
    }

    /// Put the timed events due by the chunk's end (`end_ns`, media time) in front of its
    /// `moof`, video tracks only. Done before the chunk enters the ring: bytes handed out are
    /// never touched again.
    fn with_events(&self, data: Vec<u8>, end_ns: u64) -> Vec<u8> {
        if self.track.rendition.kind != TrackKind::Video || self.timescale == 0 {
            return data;
        }
        let Some(origin) = self.period.origin_ns() else {
            return data;
        };
        let due = self
            .period
            .events
            .take_due(&self.track.rendition.id, end_ns.saturating_sub(origin));
        if due.is_empty() {
            return data;
        }
        let origin = emsg::ticks(origin, self.timescale);
        let boxes: Vec<u8> = due
            .iter()
            .flat_map(|e| emsg::emsg(e, self.timescale, origin))
            .collect();
        tracing::debug!(track = %self.track.rendition.id, events = due.len(), "events in-band");
        emsg::insert_before_moof(&data, &boxes)
    }

    fn init(&mut self, data: Bytes) {
        if self.track.init().is_some() {
            tracing::warn!(track = %self.track.rendition.id, "muxer sent a second init segment; keeping the first");
            return;
        }
        let timescale = bmff::timescale(&data).unwrap_or(90_000);
        let codecs = bmff::codecs(&data).unwrap_or_else(|| match self.track.rendition.kind {
            TrackKind::Video => "avc1.64001f".into(),
            TrackKind::Audio => "mp4a.40.2".into(),
        });
        self.timescale = timescale;
        self.track.set_init(data, InitInfo { codecs, timescale });
    }

    fn start_segment(&mut self, pts_ns: u64, data: Bytes, info: ChunkInfo) {
        let start = bmff::decode_time(&data).unwrap_or_else(|| to_scale(pts_ns, self.timescale));
        let number = self.period.number_for(&self.track.rendition, pts_ns);
        if self.track.last().is_some_and(|last| last.number >= number) {
            // A fragment that does not reach the next segment slot (an irregular source
            // GOP): keep it in the current segment rather than break the numbering.
            tracing::debug!(track = %self.track.rendition.id, number, "fragment continues the current segment");
            match &self.current {
                Some(seg) => seg.push_chunk(data, info),
                None => {
                    tracing::warn!(track = %self.track.rendition.id, number, "late fragment dropped")
                }
            }
            return;
        }
        self.finish_current(Some(start));
        if self.track.rendition.kind == TrackKind::Video || self.audio_only {
            // availabilityStartTime is when segment 1's first frame was *ingested*, so a
            // player's live latency is the real ingest-to-screen delay; segments that are
            // announced a little before the packager has them are waited for by the origin.
            // Video sets it; an audio-only live's audio does.
            let origin = self.period.origin_ns().unwrap_or(pts_ns);
            self.period.set_availability_start(
                self.period.media_zero + std::time::Duration::from_nanos(origin),
            );
        }
        let seg = Arc::new(Segment::new(number, start, data, info));
        self.track.push_segment(seg.clone());
        self.current = Some(seg);
        self.current_ns = 0;
    }

    /// Complete the current segment; its duration is up to `next_start`, or as accumulated.
    fn finish_current(&mut self, next_start: Option<u64>) {
        if let Some(seg) = self.current.take() {
            let dur = match next_start {
                Some(n) if n > seg.start => n - seg.start,
                _ => to_scale(self.current_ns, self.timescale),
            };
            seg.finish(dur);
            let bytes = seg.snapshot().chunks.iter().map(Bytes::len).sum();
            self.track.note_complete(bytes, dur, self.timescale);
        }
    }

    fn finish(&mut self) {
        self.finish_current(None);
    }
}

fn to_scale(ns: u64, timescale: u32) -> u64 {
    (ns as u128 * timescale as u128 / 1_000_000_000) as u64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::package::events::TimedEvent;
    use crate::package::ring::Rendition;
    use std::time::Duration;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn writer(period: &Arc<Period>, i: usize) -> TrackWriter {
        TrackWriter {
            period: period.clone(),
            track: period.tracks[i].clone(),
            timescale: 0,
            current: None,
            current_ns: 0,
            probe: None,
            audio_only: false,
        }
    }

    /// A chunk as cmafmux pushes it: a `HEADER` buffer (moof + mdat header) and the data.
    fn push(w: &mut TrackWriter, pts_ms: u64, starts_fragment: bool) {
        let ts = u64::from(w.timescale);
        let mut tfdt = vec![1, 0, 0, 0];
        tfdt.extend_from_slice(&(pts_ms * ts / 1000).to_be_bytes());
        let mut head = bx(b"moof", &bx(b"traf", &bx(b"tfdt", &tfdt)));
        head.extend_from_slice(&12u32.to_be_bytes());
        head.extend_from_slice(b"mdat");
        let mut h = gst::Buffer::from_mut_slice(head);
        {
            let h = h.get_mut().unwrap();
            h.set_pts(gst::ClockTime::from_mseconds(pts_ms));
            h.set_duration(gst::ClockTime::from_mseconds(200));
            let mut flags = gst::BufferFlags::HEADER;
            if !starts_fragment {
                flags |= gst::BufferFlags::DELTA_UNIT;
            }
            h.set_flags(flags);
        }
        let d = gst::Buffer::from_slice(*b"data");
        w.chunk([h.as_ref(), d.as_ref()].into_iter(), |t| {
            t.map(|t| t.nseconds())
        })
        .unwrap();
    }

    #[test]
    fn events_go_before_the_moof_of_the_chunk_reaching_them() {
        gst::init().unwrap();
        let rendition = |id: &str, kind| Rendition {
            id: id.into(),
            kind,
            width: 320,
            height: 180,
            frame_rate: (30, 1),
            sample_rate: 0,
            channels: 0,
            bandwidth: 1,
            passthrough: false,
        };
        let tracks = vec![
            Arc::new(Track::new(rendition("v0", TrackKind::Video), 8)),
            Arc::new(Track::new(rendition("a0", TrackKind::Audio), 8)),
        ];
        let period = Arc::new(Period::new(
            "p".into(),
            "r".into(),
            1,
            SystemTime::now(),
            Duration::from_secs(1),
            Duration::from_millis(200),
            tracks,
        ));
        // Media time 0 is at 10 s on the track timeline.
        period.set_origin(10_000_000_000);
        let (mut v, mut a) = (writer(&period, 0), writer(&period, 1));
        v.init(Bytes::from_static(b"init"));
        a.init(Bytes::from_static(b"init"));
        assert_eq!(v.timescale, 90_000);
        // Chunks 10.0, 10.2, … ; the event at media 0.5 s belongs in [10.4, 10.6).
        push(&mut v, 10_000, true);
        push(&mut a, 10_000, true);
        let seen = v.track.last().unwrap().snapshot().chunks[0].clone();
        period
            .events
            .add(TimedEvent {
                id: "push-1".into(),
                media_ms: 500,
                duration_ms: 3000,
                payload: br#"{"p":1}"#.to_vec(),
            })
            .unwrap();
        for t in [10_200, 10_400, 10_600] {
            push(&mut v, t, false);
            push(&mut a, t, false);
        }
        let seg = v.track.last().unwrap();
        let chunks = seg.snapshot().chunks;
        assert_eq!(chunks[0], seen, "a chunk in the ring is never modified");
        let with: Vec<usize> = (0..4)
            .filter(|&i| !emsg::find_all(&chunks[i]).is_empty())
            .collect();
        assert_eq!(with, [2], "only the chunk [10.4, 10.6) carries it");
        let kinds: Vec<_> = bmff::boxes(&chunks[2]).map(|b| b.kind).collect();
        assert_eq!(kinds, [*b"emsg", *b"moof", *b"mdat"]);
        let e = &emsg::find_all(&chunks[2])[0];
        assert_eq!(e.presentation_time, 900_000 + 45_000);
        assert_eq!((e.id, e.event_duration), (1, 270_000));
        assert_eq!(e.message_data, br#"{"p":1}"#);
        assert_eq!(bmff::decode_time(&chunks[2]), Some(10_400 * 90));
        // The next segment completes this one: its whole bytes hold the emsg too.
        push(&mut v, 11_000, true);
        let whole = seg.bytes().unwrap();
        assert_eq!(emsg::find_all(&whole), std::slice::from_ref(e));
        let at = chunks[..2].iter().map(Bytes::len).sum::<usize>();
        assert_eq!(&whole[at + 4..at + 8], b"emsg");
        // Audio never carries events.
        for s in a.track.segments() {
            for c in s.snapshot().chunks {
                assert!(emsg::find_all(&c).is_empty());
            }
        }
    }
}
