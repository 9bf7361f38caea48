//! One WHEP session: a str0m `Rtc` (sans-IO) driven on one UDP socket by one task, until
//! the viewer leaves (`DELETE`, ICE lost), the live ends, or it never connects.
//!
//! Once ICE and DTLS are up it plays the [`Feed`]: video at 90 kHz and Opus at 48 kHz, each
//! with a random per-session RTP offset, on one wall clock (the live's availability start
//! mapped to an `Instant`), so the browser's lip sync holds. The room's timed events go on
//! the viewer's data channel with the RTP timestamp of their frame ([`event_message`]).
//! The bandwidth estimate (TWCC, else REMB) picks the rung ([`pick_rung`]): down when the
//! rung's bitrate exceeds it, up to a rung that fits in 85 % of it; taken at the next
//! keyframe.

use super::feed::{Feed, Out};
use super::{Registry, SessionInfo};
use crate::package::ring::Period;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use str0m::bwe::BweKind;
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// A session that has not connected by then is dropped.
const CONNECT_WITHIN: Duration = Duration::from_secs(15);
/// Timed events kept for a data channel that is not open yet.
const PENDING_EVENTS: usize = 64;

pub(super) struct Session {
    pub rtc: Rtc,
    pub socket: UdpSocket,
    pub feed: Arc<Feed>,
    pub period: Arc<Period>,
    pub info: Arc<SessionInfo>,
    pub registry: Arc<Registry>,
    pub close: oneshot::Receiver<()>,
}

/// Per-session RTP state.
struct Tx {
    video: Option<(Mid, Pt)>,
    audio: Option<(Mid, Pt)>,
    channel: Option<ChannelId>,
    /// Events waiting for the data channel.
    pending: Vec<String>,
    video_offset: u32,
    audio_offset: u32,
    /// `Instant` of media time zero (the live's availability start).
    zero: Instant,
    /// Media ms of the first frame sent (the page unwraps RTP time from there).
    start_ms: u64,
    period: String,
}

impl Session {
    pub(super) async fn run(mut self) {
        let id = self.info.id.clone();
        if let Err(e) = self.drive().await {
            tracing::debug!(session = %id, error = %e, "WHEP session ended with an error");
        }
        self.registry.remove(&id);
    }

    async fn drive(&mut self) -> Result<(), String> {
        let local = self.socket.local_addr().map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut tx = Tx {
            video: None,
            audio: None,
            channel: None,
            pending: Vec::new(),
            video_offset: rand_u32(),
            audio_offset: rand_u32(),
            zero: zero_instant(&self.period),
            start_ms: 0,
            period: self.period.id.clone(),
        };
        let mut media: Option<mpsc::Receiver<Out>> = None;
        let mut end = self.period.watch_end();
        let mut buf = vec![0u8; 2048];
        loop {
            let timeout = self.drain(&mut tx, &mut media).await?;
            if !self.rtc.is_alive() {
                return Ok(());
            }
            if media.is_none() && started.elapsed() > CONNECT_WITHIN {
                return Err("did not connect in time".into());
            }
            let wait = timeout.saturating_duration_since(Instant::now());
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    let (n, source) = r.map_err(|e| e.to_string())?;
                    let Ok(contents) = buf[..n].try_into() else { continue };
                    let input = Input::Receive(Instant::now(), Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: local,
                        contents,
                    });
                    if self.rtc.accepts(&input) {
                        self.rtc.handle_input(input).map_err(|e| e.to_string())?;
                    }
                }
                _ = tokio::time::sleep(wait) => {
                    self.rtc.handle_input(Input::Timeout(Instant::now())).map_err(|e| e.to_string())?;
                }
                out = next(&mut media) => match out {
                    Some(out) => self.write(&mut tx, out)?,
                    None => return Ok(()),
                },
                _ = &mut self.close => {
                    self.rtc.disconnect();
                    return Ok(());
                }
                _ = end.changed() => {
                    if self.period.ended().is_some() {
                        self.rtc.disconnect();
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Send what str0m has to send and act on its events; the next timeout.
    async fn drain(
        &mut self,
        tx: &mut Tx,
        media: &mut Option<mpsc::Receiver<Out>>,
    ) -> Result<Instant, String> {
        loop {
            match self.rtc.poll_output().map_err(|e| e.to_string())? {
                Output::Timeout(t) => return Ok(t),
                Output::Transmit(t) => {
                    // A lost datagram is the network's business; RTP copes.
                    let _ = self.socket.send_to(&t.contents, t.destination).await;
                }
                Output::Event(e) => self.on_event(tx, media, e)?,
            }
        }
    }

    fn on_event(
        &mut self,
        tx: &mut Tx,
        media: &mut Option<mpsc::Receiver<Out>>,
        e: Event,
    ) -> Result<(), String> {
        match e {
            Event::Connected => {
                let (start_ms, rx) = self
                    .feed
                    .start(self.period.clone())
                    .ok_or("the live has no segment yet")?;
                tracing::debug!(session = %self.info.id, start_ms, "WHEP session connected");
                self.info.mark_connected();
                tx.start_ms = start_ms;
                *media = Some(rx);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.rtc.disconnect();
            }
            Event::MediaAdded(m) => {
                let pt = self.pick_pt(m.mid, m.kind);
                match (m.kind, pt) {
                    (MediaKind::Video, Some(pt)) => tx.video = Some((m.mid, pt)),
                    (MediaKind::Audio, Some(pt)) => tx.audio = Some((m.mid, pt)),
                    _ => {}
                }
            }
            Event::ChannelOpen(id, _label) => {
                tx.channel = Some(id);
                let hello = serde_json::json!({
                    "type": "hello",
                    "period": tx.period,
                    "rtp_offset": tx.video_offset,
                    "clock_rate": 90_000,
                    "start_ms": tx.start_ms,
                })
                .to_string();
                let pending = std::mem::take(&mut tx.pending);
                if let Some(mut ch) = self.rtc.channel(id) {
                    for text in std::iter::once(hello).chain(pending) {
                        let _ = ch.write(false, text.as_bytes());
                    }
                }
            }
            Event::ChannelClose(_) => tx.channel = None,
            Event::EgressBitrateEstimate(
                BweKind::Twcc { estimate, .. } | BweKind::Remb { estimate, .. },
            ) => {
                let bps = estimate.as_u64();
                let rates: Vec<u64> = self
                    .feed
                    .rungs
                    .iter()
                    .map(|t| u64::from(t.rendition.bandwidth))
                    .collect();
                let rung = pick_rung(&rates, self.feed.wanted(), bps);
                if rung != self.feed.wanted() {
                    tracing::debug!(session = %self.info.id, bps, rung, "WHEP rung switch");
                    self.feed.want(rung);
                }
                self.info.set_estimate(bps);
            }
            _ => {}
        }
        Ok(())
    }

    /// The payload type to send `kind` with: H.264 (High, packetization mode 1 preferred)
    /// or Opus, among those the viewer's offer accepted.
    fn pick_pt(&mut self, mid: Mid, kind: MediaKind) -> Option<Pt> {
        let w = self.rtc.writer(mid)?;
        let mut best: Option<(u8, Pt)> = None;
        for p in w.payload_params() {
            let spec = p.spec();
            let score = match (kind, spec.codec) {
                (MediaKind::Audio, Codec::Opus) => 1,
                (MediaKind::Video, Codec::H264) => {
                    let f = spec.format;
                    1 + u8::from(f.packetization_mode == Some(1)) * 2
                        + u8::from(f.profile_level_id.is_some_and(|id| id >> 16 == 0x64))
                }
                _ => 0,
            };
            if score > 0 && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, p.pt()));
            }
        }
        best.map(|(_, pt)| pt)
    }

    fn write(&mut self, tx: &mut Tx, out: Out) -> Result<(), String> {
        match out {
            Out::Video {
                media_90k,
                keyframe,
                data,
                rung,
            } => {
                let Some((mid, pt)) = tx.video else {
                    return Ok(());
                };
                if keyframe {
                    self.info.set_rung(&self.feed.rungs[rung].rendition.id);
                }
                let rtp = u64::from(tx.video_offset.wrapping_add(media_90k as u32));
                let wall = tx.zero + Duration::from_micros(media_90k * 100 / 9);
                if let Some(w) = self.rtc.writer(mid) {
                    w.write(pt, wall, MediaTime::from_90khz(rtp), data)
                        .map_err(|e| e.to_string())?;
                    self.info.count_frame();
                }
            }
            Out::Audio { media_48k, data } => {
                let Some((mid, pt)) = tx.audio else {
                    return Ok(());
                };
                let rtp = u64::from(tx.audio_offset.wrapping_add(media_48k as u32));
                let wall = tx.zero + Duration::from_micros(media_48k * 1000 / 48);
                if let Some(w) = self.rtc.writer(mid) {
                    w.write(
                        pt,
                        wall,
                        MediaTime::new(rtp, str0m::media::Frequency::FORTY_EIGHT_KHZ),
                        data.to_vec(),
                    )
                    .map_err(|e| e.to_string())?;
                }
            }
            Out::Event {
                id,
                media_ms,
                duration_ms,
                payload,
            } => {
                let at = EventAt {
                    media_ms,
                    duration_ms,
                    offset: tx.video_offset,
                };
                let text = event_message(&id, &payload, at, &tx.period);
                match tx.channel.and_then(|c| self.rtc.channel(c)) {
                    Some(mut ch) => {
                        let _ = ch.write(false, text.as_bytes());
                    }
                    None if tx.pending.len() < PENDING_EVENTS => tx.pending.push(text),
                    None => {}
                }
            }
        }
        Ok(())
    }
}

/// The rung to send at estimate `bps`, from `current` (`rates` top first, bits/s): down
/// to the highest that fits when the current one no longer does; up only to one that fits
/// with 15 % to spare, so an estimate hovering at a rung's rate does not flap.
fn pick_rung(rates: &[u64], current: usize, bps: u64) -> usize {
    let last = rates.len().saturating_sub(1);
    let current = current.min(last);
    if rates[current] > bps {
        return rates.iter().position(|&r| r <= bps).unwrap_or(last);
    }
    match rates.iter().position(|&r| r * 100 <= bps * 85) {
        Some(up) if up < current => up,
        _ => current,
    }
}

async fn next(media: &mut Option<mpsc::Receiver<Out>>) -> Option<Out> {
    match media {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// When an event is, for [`event_message`]: its media time and duration, and the session's
/// video RTP offset.
#[derive(Clone, Copy, Debug)]
pub struct EventAt {
    pub media_ms: u64,
    pub duration_ms: u32,
    pub offset: u32,
}

/// A timed event on the data channel: its id, media time and duration, payload (the JSON
/// the room published) and `rtp`, the RTP timestamp of the video frame it belongs to:
/// `(offset + media_ms × 90) mod 2³²`.
pub fn event_message(id: &str, payload: &[u8], at: EventAt, period: &str) -> String {
    let EventAt {
        media_ms,
        duration_ms,
        offset,
    } = at;
    let rtp = offset.wrapping_add((media_ms.wrapping_mul(90)) as u32);
    let payload: serde_json::Value = serde_json::from_slice(payload)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(payload).into()));
    serde_json::json!({
        "type": "event",
        "id": id,
        "period": period,
        "media_ms": media_ms,
        "duration_ms": duration_ms,
        "rtp": rtp,
        "payload": payload,
    })
    .to_string()
}

/// The `Instant` at which the live's media time zero was ingested.
fn zero_instant(period: &Period) -> Instant {
    let now = Instant::now();
    let ago = period
        .availability_start()
        .and_then(|ast| SystemTime::now().duration_since(ast).ok())
        .unwrap_or_default();
    now.checked_sub(ago).unwrap_or(now)
}

/// A random 32-bit value, from std's randomly keyed hasher: RTP offsets and session ids
/// need to be unpredictable and distinct, not cryptographic.
pub(super) fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_follow_the_estimate_without_flapping() {
        let rates = [2_500_000, 800_000];
        // The initial estimate (top + audio) keeps the top rung.
        assert_eq!(pick_rung(&rates, 0, 2_564_000), 0);
        // A weak network drops to the lower rung, and below every rung to the lowest.
        assert_eq!(pick_rung(&rates, 0, 1_000_000), 1);
        assert_eq!(pick_rung(&rates, 0, 300_000), 1);
        // Back up only with room to spare.
        assert_eq!(pick_rung(&rates, 1, 2_600_000), 1);
        assert_eq!(pick_rung(&rates, 1, 3_000_000), 0);
    }

    #[test]
    fn event_targets_wrap_at_32_bits() {
        let at = |media_ms, offset| EventAt {
            media_ms,
            duration_ms: 500,
            offset,
        };
        let m: serde_json::Value = serde_json::from_str(&event_message(
            "push-1",
            br#"{"kind":"card"}"#,
            at(2_000, u32::MAX - 89),
            "p1",
        ))
        .expect("json");
        // (2^32 - 90) + 180000 wraps to 179910.
        assert_eq!(m["rtp"], 179_910);
        assert_eq!(m["payload"]["kind"], "card");
        assert_eq!(
            (m["media_ms"].as_u64(), m["duration_ms"].as_u64()),
            (Some(2_000), Some(500))
        );
        let m: serde_json::Value =
            serde_json::from_str(&event_message("x", b"not json", at(0, 5), "p1")).expect("json");
        assert_eq!(m["payload"], "not json");
        assert_eq!(m["rtp"], 5);
    }
}
