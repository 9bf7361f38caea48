//! The chunk ring: what the packager produces and the origin serves.
//!
//! A [`Period`] is one publish session of a room, packaged. It has one [`Track`] per
//! representation (each video rung, the audio). A track holds its CMAF init segment and a
//! ring of the most recent [`Segment`]s; a segment is a list of CMAF chunks (`moof`+`mdat`)
//! that grows while the packager works on it and is *complete* once the next one starts.
//!
//! Segment numbers follow the MPD's `$Number$` rule: segment `n` starts at media time
//! `origin + (n - 1) × d`, where `origin` is the period's first video fragment and `d` the
//! representation's segment duration ([`Period::segment_duration_of`]): the period's for
//! video, and for AAC audio the nearest whole number of 1024-sample frames to it
//! ([`aac_segment_duration`]), so every audio segment is exactly as long as the manifests
//! say and their times never drift from the media's.
//! Readers wait on [`Segment::watch`] to stream a growing segment with chunked transfer.

use super::events::PeriodEvents;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// Samples in an AAC (LC) frame.
pub const AAC_FRAME_SAMPLES: u64 = 1024;

/// The audio segment duration for a `target` segment duration at `sample_rate`: the nearest
/// whole number of AAC frames (at least one), rounded up to the nanosecond so a muxer that
/// cuts after the last frame ending within it takes exactly that many. 1 s at 48 kHz is 47
/// frames (1.002667 s, 48128 samples); at 44.1 kHz 43 frames (0.998458 s, 44032 samples).
pub fn aac_segment_duration(target: Duration, sample_rate: u32) -> Duration {
    if sample_rate == 0 {
        return target;
    }
    let rate = u128::from(sample_rate);
    let frame = u128::from(AAC_FRAME_SAMPLES);
    // frames = round(target × rate / frame), in integers.
    let frames =
        ((target.as_nanos() * rate + frame * 500_000_000) / (frame * 1_000_000_000)).max(1);
    let ns = (frames * frame * 1_000_000_000).div_ceil(rate);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// What a representation is, for manifests.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rendition {
    /// Representation id, also its URL path segment: "v0", "v1", …, "a0".
    pub id: String,
    pub kind: crate::hub::TrackKind,
    /// Picture size; 0 for audio.
    pub width: u32,
    pub height: u32,
    /// Frames per second as a fraction (video), e.g. (30, 1).
    pub frame_rate: (u32, u32),
    /// Audio sampling rate and channel count; 0 for video.
    pub sample_rate: u32,
    pub channels: u32,
    /// Target bits per second, for `@bandwidth` / `BANDWIDTH`.
    pub bandwidth: u32,
    /// Passed through from the source without re-encoding.
    pub passthrough: bool,
}

/// Facts learned from the init segment once the muxer has written it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InitInfo {
    /// RFC 6381 codecs string, e.g. "avc1.42c01e", "mp4a.40.2".
    pub codecs: String,
    /// The track's `mdhd` timescale.
    pub timescale: u32,
}

/// What playlists need to know of one CMAF chunk, which LL-HLS lists as a part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Media duration in the track timescale (0: unknown).
    pub duration: u64,
    /// Starts with a sync sample: a player can start decoding here.
    pub independent: bool,
}

/// The state of one segment, as readers see it.
#[derive(Clone, Debug, Default)]
pub struct SegmentState {
    /// CMAF chunks so far, in order; their concatenation is the segment.
    pub chunks: Vec<Bytes>,
    /// What each chunk of `chunks` is, index for index.
    pub infos: Vec<ChunkInfo>,
    /// No more chunks will come.
    pub complete: bool,
    /// Media duration in the track timescale, known once complete.
    pub duration: Option<u64>,
}

/// One segment of a track.
#[derive(Debug)]
pub struct Segment {
    pub number: u64,
    /// Earliest presentation time, in the track timescale (the `tfdt` of its first chunk).
    pub start: u64,
    /// Wall clock at which its first chunk was ready.
    pub first_chunk_at: SystemTime,
    state: watch::Sender<SegmentState>,
    /// The whole segment, concatenated once on first request after completion.
    whole: OnceLock<Bytes>,
}

impl Segment {
    pub fn new(number: u64, start: u64, first_chunk: Bytes, info: ChunkInfo) -> Self {
        let (state, _) = watch::channel(SegmentState {
            chunks: vec![first_chunk],
            infos: vec![info],
            complete: false,
            duration: None,
        });
        Segment {
            number,
            start,
            first_chunk_at: SystemTime::now(),
            state,
            whole: OnceLock::new(),
        }
    }

    /// A finished segment, e.g. loaded from a recording.
    pub fn complete(number: u64, start: u64, duration: u64, data: Bytes) -> Self {
        let info = ChunkInfo {
            duration,
            independent: true,
        };
        let s = Segment::new(number, start, data, info);
        s.finish(duration);
        s
    }

    pub fn push_chunk(&self, chunk: Bytes, info: ChunkInfo) {
        self.state.send_modify(|s| {
            s.chunks.push(chunk);
            s.infos.push(info);
        });
    }

    pub fn finish(&self, duration: u64) {
        self.state.send_modify(|s| {
            s.complete = true;
            s.duration = Some(duration);
        });
    }

    /// Watch the segment grow: borrow for the current chunks, `changed()` for more.
    pub fn watch(&self) -> watch::Receiver<SegmentState> {
        self.state.subscribe()
    }

    pub fn snapshot(&self) -> SegmentState {
        self.state.borrow().clone()
    }

    pub fn is_complete(&self) -> bool {
        self.state.borrow().complete
    }

    /// The whole segment if complete.
    pub fn bytes(&self) -> Option<Bytes> {
        if let Some(b) = self.whole.get() {
            return Some(b.clone());
        }
        let s = self.state.borrow();
        // Every viewer asks for the same segments: concatenate once, not per request.
        s.complete
            .then(|| self.whole.get_or_init(|| concat(&s.chunks)).clone())
    }
}

/// Concatenate chunks into one buffer.
pub fn concat(chunks: &[Bytes]) -> Bytes {
    if chunks.len() == 1 {
        return chunks[0].clone();
    }
    let mut v = Vec::with_capacity(chunks.iter().map(Bytes::len).sum());
    for c in chunks {
        v.extend_from_slice(c);
    }
    v.into()
}

/// One representation of a period.
#[derive(Debug)]
pub struct Track {
    pub rendition: Rendition,
    init: OnceLock<(Bytes, InitInfo)>,
    segments: Mutex<VecDeque<Arc<Segment>>>,
    /// Bumped whenever a segment is added, so readers can wait for one.
    added: watch::Sender<u64>,
    capacity: usize,
    /// The highest bitrate of a complete segment so far (bits per second; 0: none yet).
    peak_bps: AtomicU32,
    /// The origin's last rendering of this track's live playlist and the
    /// [`Period::version`] it was rendered at: viewers woken by the same chunk share it.
    pub playlist_memo: Mutex<Option<(Vec<u64>, Bytes)>>,
}

impl Track {
    pub fn new(rendition: Rendition, capacity: usize) -> Self {
        let (added, _) = watch::channel(0);
        Track {
            rendition,
            init: OnceLock::new(),
            segments: Mutex::new(VecDeque::new()),
            added,
            capacity: capacity.max(2),
            peak_bps: AtomicU32::new(0),
            playlist_memo: Mutex::new(None),
        }
    }

    /// Count a complete segment of `bytes` lasting `duration` ticks of `timescale` in the
    /// track's measured bitrate.
    pub fn note_complete(&self, bytes: usize, duration: u64, timescale: u32) {
        if duration == 0 {
            return;
        }
        let bps = (bytes as u128 * 8 * u128::from(timescale)).div_ceil(u128::from(duration));
        let bps = u32::try_from(bps).unwrap_or(u32::MAX);
        self.peak_bps.fetch_max(bps, Ordering::Relaxed);
    }

    /// `@bandwidth` / `BANDWIDTH` for the manifests: audio's is measured (the highest
    /// segment bitrate so far, container included), since the publisher's AAC bitrate is
    /// not in its codec parameters; video's is the rung's target (the passed-through
    /// source's is `source_kbps`).
    pub fn bandwidth(&self) -> u32 {
        let measured = self.peak_bps.load(Ordering::Relaxed);
        match self.rendition.kind {
            crate::hub::TrackKind::Audio if measured > 0 => measured,
            _ => self.rendition.bandwidth,
        }
    }

    pub fn set_init(&self, data: Bytes, info: InitInfo) {
        let _ = self.init.set((data, info));
        self.added.send_modify(|n| *n += 1);
    }

    pub fn init(&self) -> Option<&(Bytes, InitInfo)> {
        self.init.get()
    }

    /// Add a new segment; the previous one is complete now. Old segments beyond the ring's
    /// capacity are dropped (the recorder has written them already).
    pub fn push_segment(&self, segment: Arc<Segment>) {
        {
            let mut segs = lock(&self.segments);
            segs.push_back(segment);
            while segs.len() > self.capacity {
                segs.pop_front();
            }
        }
        self.added.send_modify(|n| *n += 1);
    }

    /// The last segment (complete or growing).
    pub fn last(&self) -> Option<Arc<Segment>> {
        lock(&self.segments).back().cloned()
    }

    pub fn segment(&self, number: u64) -> Option<Arc<Segment>> {
        let segs = lock(&self.segments);
        let first = segs.front()?.number;
        // Numbers may skip after a lost segment, so search from the expected index back.
        let guess = usize::try_from(number.checked_sub(first)?).ok()?;
        let guess = guess.min(segs.len().saturating_sub(1));
        segs.range(..=guess)
            .rev()
            .find(|s| s.number == number)
            .cloned()
    }

    /// The segments in the ring, oldest first.
    pub fn segments(&self) -> Vec<Arc<Segment>> {
        lock(&self.segments).iter().cloned().collect()
    }

    /// Wait for a change: a new segment or the init segment.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.added.subscribe()
    }
}

/// Why a period ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum PeriodEnd {
    /// The publisher stopped.
    Finished,
    /// The pipeline failed.
    Failed(String),
}

/// Opus packets a WebRTC session may fall behind by before it skips some (about 2 s).
const OPUS_QUEUE: usize = 100;

/// One Opus packet of a live's audio.
#[derive(Clone, Debug)]
pub struct OpusPacket {
    /// Presentation time, ns on the hub session's media clock (as the tracks' samples).
    pub pts_ns: u64,
    pub data: Bytes,
}

/// One publish session, packaged.
#[derive(Debug)]
pub struct Period {
    /// Unique per room and stable: used in recording paths and the MPD's Period@id.
    pub id: String,
    pub room: String,
    /// Hub session id.
    pub session: u64,
    pub segment_duration: Duration,
    /// Target duration of a CMAF chunk.
    pub chunk_duration: Duration,
    /// Wall clock of the hub session's media time zero (ingest).
    pub media_zero: SystemTime,
    /// Media time (ns from media zero) at which segment 1 starts.
    origin_ns: OnceLock<u64>,
    /// availabilityStartTime: wall clock at which segment 1's first frame was ingested.
    ast: OnceLock<SystemTime>,
    pub tracks: Vec<Arc<Track>>,
    /// Timed events, carried in-band by the video tracks.
    pub events: PeriodEvents,
    /// The live's audio encoded once to Opus, for WebRTC viewers (nothing when the live
    /// has no audio or no Opus encoder).
    pub opus: tokio::sync::broadcast::Sender<OpusPacket>,
    ended: watch::Sender<Option<PeriodEnd>>,
}

impl Period {
    pub fn new(
        id: String,
        room: String,
        session: u64,
        media_zero: SystemTime,
        segment_duration: Duration,
        chunk_duration: Duration,
        tracks: Vec<Arc<Track>>,
    ) -> Self {
        let (ended, _) = watch::channel(None);
        let events = PeriodEvents::new(
            tracks
                .iter()
                .filter(|t| t.rendition.kind == crate::hub::TrackKind::Video)
                .map(|t| t.rendition.id.clone()),
        );
        Period {
            id,
            room,
            session,
            segment_duration,
            chunk_duration,
            media_zero,
            origin_ns: OnceLock::new(),
            ast: OnceLock::new(),
            tracks,
            events,
            opus: tokio::sync::broadcast::channel(OPUS_QUEUE).0,
            ended,
        }
    }

    /// How long packaging takes: from the media time of the newest video segment's first
    /// frame (on the ingest clock, `media_zero` + its decode time) to its first CMAF chunk
    /// being ready. `None` before the first segment.
    pub fn packaging_lag(&self) -> Option<Duration> {
        let track = self
            .tracks
            .iter()
            .find(|t| t.rendition.kind == crate::hub::TrackKind::Video)
            .or_else(|| self.tracks.first())?;
        let timescale = u64::from(track.init()?.1.timescale.max(1));
        let segment = track.last()?;
        let media = Duration::from_nanos(
            u64::try_from(u128::from(segment.start) * 1_000_000_000 / u128::from(timescale))
                .unwrap_or(u64::MAX),
        );
        segment
            .first_chunk_at
            .duration_since(self.media_zero + media)
            .ok()
            .or(Some(Duration::ZERO))
    }

    /// Fix the media origin: the media time (ns) at which segment 1 starts. First call wins.
    pub fn set_origin(&self, origin_ns: u64) -> u64 {
        *self.origin_ns.get_or_init(|| origin_ns)
    }

    /// Fix availabilityStartTime (ingest wall clock of segment 1's start). First call wins.
    pub fn set_availability_start(&self, ast: SystemTime) {
        let _ = self.ast.set(ast);
    }

    pub fn origin_ns(&self) -> Option<u64> {
        self.origin_ns.get().copied()
    }

    pub fn availability_start(&self) -> Option<SystemTime> {
        self.ast.get().copied()
    }

    /// The nominal segment duration of representation `r` (see the module header).
    pub fn segment_duration_of(&self, r: &Rendition) -> Duration {
        match r.kind {
            crate::hub::TrackKind::Audio => {
                aac_segment_duration(self.segment_duration, r.sample_rate)
            }
            crate::hub::TrackKind::Video => self.segment_duration,
        }
    }

    /// The number of `r`'s segment for a fragment starting at `pts_ns`.
    pub fn number_for(&self, r: &Rendition, pts_ns: u64) -> u64 {
        let origin = self.origin_ns().unwrap_or(pts_ns);
        let d = self.segment_duration_of(r).as_nanos().max(1) as f64;
        let k = ((pts_ns as f64 - origin as f64) / d).round();
        if k < 0.0 { 1 } else { k as u64 + 1 }
    }

    /// Everything a live playlist is made of, as numbers: per track its oldest and newest
    /// segment, the newest one's chunk count and completeness; the events; the end. Equal
    /// versions give equal playlists.
    pub fn version(&self) -> Vec<u64> {
        let mut v = Vec::with_capacity(self.tracks.len() * 4 + 2);
        for t in &self.tracks {
            let segs = lock(&t.segments);
            let (first, last) = (segs.front(), segs.back());
            v.push(first.map_or(0, |s| s.number));
            v.push(last.map_or(0, |s| s.number));
            let st = last.map(|s| {
                let st = s.state.borrow();
                (st.chunks.len() as u64, u64::from(st.complete))
            });
            v.push(st.map_or(0, |s| s.0));
            v.push(st.map_or(0, |s| s.1));
        }
        v.push(u64::from(*self.events.watch().borrow()));
        v.push(u64::from(self.ended().is_some()));
        v
    }

    pub fn track(&self, id: &str) -> Option<&Arc<Track>> {
        self.tracks.iter().find(|t| t.rendition.id == id)
    }

    /// Ready to announce: every track has its init segment and a first segment.
    pub fn is_ready(&self) -> bool {
        self.ast.get().is_some() && self.tracks.iter().all(|t| t.init().is_some())
    }

    pub fn end(&self, how: PeriodEnd) {
        self.ended.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(how);
                true
            } else {
                false
            }
        });
    }

    pub fn ended(&self) -> Option<PeriodEnd> {
        self.ended.borrow().clone()
    }

    pub fn watch_end(&self) -> watch::Receiver<Option<PeriodEnd>> {
        self.ended.subscribe()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_segments_hold_whole_aac_frames_nearest_the_target() {
        let s = Duration::from_secs(1);
        // 46.875 frames → 47 at 48 kHz; 43.07 → 43 at 44.1 kHz.
        assert_eq!(
            aac_segment_duration(s, 48_000),
            Duration::from_nanos(1_002_666_667)
        );
        assert_eq!(
            aac_segment_duration(s, 44_100),
            Duration::from_nanos(998_458_050)
        );
        // In the track's timescale (its sample rate) that is exact.
        let samples = |d: Duration, rate: u64| d.as_nanos() as u64 * rate / 1_000_000_000;
        assert_eq!(samples(aac_segment_duration(s, 48_000), 48_000), 48_128);
        assert_eq!(samples(aac_segment_duration(s, 44_100), 44_100), 44_032);
        assert_eq!(
            aac_segment_duration(Duration::from_millis(1), 48_000),
            Duration::from_nanos(21_333_334)
        );
        assert_eq!(aac_segment_duration(s, 0), s);
    }
}
