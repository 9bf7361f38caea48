//! Reads `cmafmux` output from an appsink into a [`Track`] of the chunk ring.
//!
//! Each buffer list the muxer pushes is one CMAF chunk. Its buffers are flagged: the init
//! segment is `DISCONT|HEADER` (first list only), the chunk's `moof`+`mdat` header is `HEADER`,
//! plus `DELTA_UNIT` when the chunk continues a fragment rather than starting one; the header's
//! PTS is the chunk's earliest presentation time and its duration the chunk's duration. A chunk
//! without `DELTA_UNIT` on its header starts a new segment and completes the previous one.

use crate::package::bmff;
use crate::package::ring::{InitInfo, Period, Segment, Track};
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
}

/// Wire `sink` to write into `track`.
pub fn attach(
    sink: &gst_app::AppSink,
    period: Arc<Period>,
    track: Arc<Track>,
    probe: Option<LatencyProbe>,
) {
    let writer = Arc::new(Mutex::new(TrackWriter {
        period,
        track,
        timescale: 0,
        current: None,
        current_ns: 0,
        probe,
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
        let data = Bytes::from(data);
        let pts = chunk_pts.unwrap_or(0);
        if starts_fragment || self.current.is_none() {
            self.start_segment(pts, data);
        } else if let Some(seg) = &self.current {
            seg.push_chunk(data);
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

    fn init(&mut self, data: Bytes) {
        if self.track.init().is_some() {
            tracing::warn!(track = %self.track.rendition.id, "muxer sent a second init segment; keeping the first");
            return;
        }
        let timescale = bmff::timescale(&data).unwrap_or(90_000);
        let codecs = bmff::codecs(&data).unwrap_or_else(|| match self.track.rendition.kind {
            crate::hub::TrackKind::Video => "avc1.64001f".into(),
            crate::hub::TrackKind::Audio => "mp4a.40.2".into(),
        });
        self.timescale = timescale;
        self.track.set_init(data, InitInfo { codecs, timescale });
    }

    fn start_segment(&mut self, pts_ns: u64, data: Bytes) {
        let start = bmff::decode_time(&data).unwrap_or_else(|| to_scale(pts_ns, self.timescale));
        let number = self.period.number_for(pts_ns);
        if self.track.last().is_some_and(|last| last.number >= number) {
            // A fragment that does not reach the next segment slot (an irregular source
            // GOP): keep it in the current segment rather than break the numbering.
            tracing::debug!(track = %self.track.rendition.id, number, "fragment continues the current segment");
            match &self.current {
                Some(seg) => seg.push_chunk(data),
                None => {
                    tracing::warn!(track = %self.track.rendition.id, number, "late fragment dropped")
                }
            }
            return;
        }
        self.finish_current(Some(start));
        if self.track.rendition.kind == crate::hub::TrackKind::Video {
            // availabilityStartTime is when segment 1's first frame was *ingested*, so a
            // player's live latency is the real ingest-to-screen delay; segments that are
            // announced a little before the packager has them are waited for by the origin.
            let origin = self.period.origin_ns().unwrap_or(pts_ns);
            self.period.set_availability_start(
                self.period.media_zero + std::time::Duration::from_nanos(origin),
            );
        }
        let seg = Arc::new(Segment::new(number, start, data));
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
        }
    }

    fn finish(&mut self) {
        self.finish_current(None);
    }
}

fn to_scale(ns: u64, timescale: u32) -> u64 {
    (ns as u128 * timescale as u128 / 1_000_000_000) as u64
}
