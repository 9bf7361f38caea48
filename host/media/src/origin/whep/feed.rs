//! What one WHEP session sends, read from the packager's output: H.264 access units of an
//! encoded rung from the ring's CMAF chunks (no B-frames, so decode order is presentation
//! order), the live's one Opus encode ([`Period::opus`]), and the room's timed events.
//!
//! Everything is stamped in media time from the period's origin (the clock the room's
//! events use): video at 90 kHz, audio at 48 kHz. The session adds its RTP offsets.
//! Rung switches ([`Feed::want`]) take effect at the next segment, which starts with a
//! keyframe on every encoded rung at the same media time.

use super::super::{flv, segments, time};
use crate::hub::TrackKind;
use crate::package::bmff;
use crate::package::ring::{Period, Track};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{broadcast, mpsc};

/// Items queued for one session before it counts as too slow.
const QUEUE: usize = 256;

/// One thing to send.
#[derive(Debug)]
pub enum Out {
    /// One access unit in Annex B (parameter sets before each keyframe).
    Video {
        /// Index into [`Feed::rungs`].
        rung: usize,
        media_90k: u64,
        keyframe: bool,
        data: Vec<u8>,
    },
    /// One Opus packet.
    Audio { media_48k: u64, data: bytes::Bytes },
    /// A timed event (a card, a sale), sent as soon as it is known.
    Event {
        id: String,
        media_ms: u64,
        duration_ms: u32,
        payload: bytes::Bytes,
    },
}

/// Why a live cannot be played over WebRTC.
#[derive(Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// Not with this source or ladder; the reason says why.
    Off(String),
    /// Not before the first complete segment tells whether the source sends B-frames.
    NotYet,
}

/// The rungs a session may play and which it wants now.
#[derive(Debug)]
pub struct Feed {
    /// Encoded video rungs, top first.
    pub rungs: Vec<Arc<Track>>,
    want: AtomicUsize,
}

impl Feed {
    /// The rungs of `period` that WebRTC can carry: encoded ones (no B-frames, 8-bit
    /// 4:2:0), and passed-through ones whose source sends no B-frames (a passed-through
    /// source is already refused unless 8-bit 4:2:0). `Err` says why there are none.
    pub fn new(period: &Period) -> Result<Arc<Feed>, Unavailable> {
        let video: Vec<_> = period
            .tracks
            .iter()
            .filter(|t| t.rendition.kind == TrackKind::Video)
            .collect();
        if video.is_empty() {
            return Err(Unavailable::Off(
                "this live has no video; WebRTC is off (use live.mpd)".into(),
            ));
        }
        let mut undecided = false;
        let mut rungs = Vec::new();
        for t in video {
            if !t.rendition.passthrough {
                rungs.push(t.clone());
                continue;
            }
            match without_b_frames(t) {
                Some(true) => rungs.push(t.clone()),
                Some(false) => {}
                None => undecided = true,
            }
        }
        if rungs.is_empty() && undecided {
            return Err(Unavailable::NotYet);
        }
        if rungs.is_empty() {
            return Err(Unavailable::Off("WebRTC needs a rung without B-frames: this room's ladder only passes the source through, and the source sends B-frames (set bframes=0 in the encoder, or add an encoded rung to the ladder)".into()));
        }
        Ok(Arc::new(Feed {
            rungs,
            want: AtomicUsize::new(0),
        }))
    }

    /// Switch to rung `i` at the next segment.
    pub fn want(&self, i: usize) {
        self.want
            .store(i.min(self.rungs.len() - 1), Ordering::Relaxed);
    }

    pub fn wanted(&self) -> usize {
        self.want.load(Ordering::Relaxed)
    }

    /// Start sending from the segment being produced (its keyframe, so a picture comes at
    /// once) until the live ends or the receiver goes away. Also the media ms it starts at.
    pub fn start(self: &Arc<Self>, period: Arc<Period>) -> Option<(u64, mpsc::Receiver<Out>)> {
        let origin_ns = period.origin_ns()?;
        let top = &self.rungs[self.wanted()];
        let first = top.last()?;
        let start_ms = flv::ms(top, first.start, origin_ns);
        let (tx, rx) = mpsc::channel(QUEUE);
        let opus = period.opus.subscribe();
        tokio::spawn(video(
            self.clone(),
            period.clone(),
            first.number,
            tx.clone(),
        ));
        tokio::spawn(audio(opus, origin_ns, start_ms, tx.clone()));
        tokio::spawn(events(period, start_ms, tx));
        Some((start_ms, rx))
    }
}

/// Whether a passed-through rung's newest complete segment has no B-frames (every sample's
/// presentation time is its decode time). `None` before a complete segment exists.
fn without_b_frames(track: &Track) -> Option<bool> {
    let seg = track
        .segments()
        .into_iter()
        .rev()
        .find(|s| s.is_complete())?;
    let data = seg.bytes()?;
    let samples = bmff::samples(&data)?;
    Some(!samples.is_empty() && samples.iter().all(|s| s.cto == 0))
}

/// The wanted rung's access units, segment by segment.
async fn video(feed: Arc<Feed>, period: Arc<Period>, mut n: u64, tx: mpsc::Sender<Out>) {
    let Some(origin_ns) = period.origin_ns() else {
        return;
    };
    let stall = (period.segment_duration * 2).max(std::time::Duration::from_secs(2));
    loop {
        let rung = feed.wanted();
        let track = &feed.rungs[rung];
        let Some((vinit, info)) = track.init() else {
            return;
        };
        let Some(sets) = bmff::decoder_config(vinit).and_then(parameter_sets) else {
            tracing::warn!(rep = %track.rendition.id, "no SPS/PPS in the init segment; WHEP session dropped");
            return;
        };
        let timescale = u64::from(info.timescale.max(1));
        let origin = time::to_timescale(origin_ns, info.timescale);
        let Some(seg) = flv::next_segment(&period, track, n).await else {
            return;
        };
        n = seg.number + 1;
        let mut chunks = std::pin::pin!(segments::chunks(seg, stall));
        while let Some(Ok(chunk)) = chunks.next().await {
            let Some(samples) = bmff::samples(&chunk) else {
                tracing::warn!(rep = %track.rendition.id, "unreadable CMAF chunk; WHEP session dropped");
                return;
            };
            for s in samples {
                let pts = (s.dts as i64 + s.cto).max(0) as u64;
                let media_90k =
                    u128::from(pts.saturating_sub(origin)) * 90_000 / u128::from(timescale);
                let out = Out::Video {
                    rung,
                    media_90k: media_90k as u64,
                    keyframe: s.sync,
                    data: annex_b(s.data, s.sync.then_some(&sets)),
                };
                if tx.send(out).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The live's Opus packets from `start_ms` on.
async fn audio(
    mut opus: broadcast::Receiver<crate::package::ring::OpusPacket>,
    origin_ns: u64,
    start_ms: u64,
    tx: mpsc::Sender<Out>,
) {
    use broadcast::error::RecvError;
    loop {
        let p = match opus.recv().await {
            Ok(p) => p,
            // A slow session skips audio rather than stalling the encode.
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let media_ns = p.pts_ns.saturating_sub(origin_ns);
        if media_ns / 1_000_000 < start_ms {
            continue;
        }
        let out = Out::Audio {
            media_48k: (u128::from(media_ns) * 48_000 / 1_000_000_000) as u64,
            data: p.data,
        };
        if tx.send(out).await.is_err() {
            return;
        }
    }
}

/// The period's timed events at or after `start_ms`, each as soon as it is added.
async fn events(period: Arc<Period>, start_ms: u64, tx: mpsc::Sender<Out>) {
    let mut added = period.events.watch();
    let mut end = period.watch_end();
    let mut last = 0;
    loop {
        added.borrow_and_update();
        for e in period.events.since(last) {
            last = last.max(e.emsg_id);
            if e.media_ms < start_ms {
                continue;
            }
            let out = Out::Event {
                id: e.id.clone(),
                media_ms: e.media_ms,
                duration_ms: e.duration_ms,
                payload: e.payload.clone(),
            };
            if tx.send(out).await.is_err() {
                return;
            }
        }
        if period.ended().is_some() {
            return;
        }
        tokio::select! {
            r = added.changed() => if r.is_err() { return },
            _ = end.changed() => {}
            _ = tx.closed() => return,
        }
    }
}

/// The SPS and PPS NAL units of an `avcC` record.
pub fn parameter_sets(avcc: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut at = 5;
    let sps = usize::from(*avcc.get(at)? & 0x1f);
    at += 1;
    for i in 0..sps + 1 {
        let count = if i == sps {
            let c = usize::from(*avcc.get(at)?);
            at += 1;
            c
        } else {
            1
        };
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([*avcc.get(at)?, *avcc.get(at + 1)?]));
            at += 2;
            out.push(avcc.get(at..at + len)?.to_vec());
            at += len;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A length-prefixed (4-byte) AVC sample as Annex B, with `sets` first (keyframes).
/// A truncated length ends the access unit.
pub fn annex_b(sample: &[u8], sets: Option<&Vec<Vec<u8>>>) -> Vec<u8> {
    const START: [u8; 4] = [0, 0, 0, 1];
    let mut out = Vec::with_capacity(sample.len() + 64);
    for nal in sets.into_iter().flatten() {
        out.extend_from_slice(&START);
        out.extend_from_slice(nal);
    }
    let mut at = 0;
    while let Some(len) = sample.get(at..at + 4) {
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        at += 4;
        let Some(nal) = sample.get(at..at + len) else {
            break;
        };
        out.extend_from_slice(&START);
        out.extend_from_slice(nal);
        at += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avcc_parameter_sets_and_annex_b() {
        // avcC: version 1, profile 100, compat 0, level 31, 0xff, 1 SPS (3 bytes), 1 PPS (2).
        let avcc = [
            1, 100, 0, 31, 0xff, 0xe1, 0, 3, 0x67, 1, 2, 1, 0, 2, 0x68, 9,
        ];
        let sets = parameter_sets(&avcc).expect("sets");
        assert_eq!(sets, vec![vec![0x67, 1, 2], vec![0x68, 9]]);
        let sample = [0, 0, 0, 2, 0x65, 7, 0, 0, 0, 1, 0x06];
        assert_eq!(
            annex_b(&sample, Some(&sets)),
            [
                &[0, 0, 0, 1, 0x67, 1, 2][..],
                &[0, 0, 0, 1, 0x68, 9],
                &[0, 0, 0, 1, 0x65, 7],
                &[0, 0, 0, 1, 0x06]
            ]
            .concat()
        );
        // A length past the end stops there, without panicking.
        assert_eq!(annex_b(&[0, 0, 0, 9, 1], None), Vec::<u8>::new());
        assert!(parameter_sets(&avcc[..9]).is_none());
    }
}
