//! One connection: DESCRIBE/SETUP/PLAY with retina, then retina's frames turned into hub
//! sessions and frames (see the parent module for the timestamp rules).

use super::target::Target;
use super::{CONNECT_TIMEOUT, IDLE_TIMEOUT, RtspError, RtspStatus};
use crate::hub::{
    AudioParams, Frame, HubError, PublishLease, Publisher, StreamHub, StreamInfo, TakeoverPolicy,
    TrackKind, VideoParams,
};
use bytes::Bytes;
use futures_util::StreamExt;
use retina::client::{
    Demuxed, InitialTimestampPolicy, PlayOptions, Session, SessionOptions, SetupOptions,
};
use retina::codec::{AudioFrame, CodecItem, FrameFormat, ParametersRef, VideoFrame};
use std::time::Instant;
use tokio::sync::watch;

/// An RTP timestamp as ns of normal play time (since the stream's `RTP-Info` start).
fn npt_ns(ts: retina::Timestamp) -> i64 {
    let ns = i128::from(ts.elapsed()) * 1_000_000_000 / i128::from(ts.clock_rate().get());
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

/// DESCRIBE, SETUP, PLAY: the demuxed session and the indices of the video and audio streams.
async fn connect(t: &Target) -> Result<(Demuxed, Option<usize>, Option<usize>), RtspError> {
    let options = SessionOptions::default()
        .creds(t.creds.clone())
        .user_agent(format!("livecart/{}", env!("CARGO_PKG_VERSION")));
    let mut session = Session::describe(t.url.clone(), options).await?;
    let streams = session.streams();
    let video = streams
        .iter()
        .position(|s| s.media() == "video" && s.encoding_name() == "h264");
    let audio = streams.iter().position(|s| {
        s.media() == "audio"
            && s.encoding_name() == "mpeg4-generic"
            && matches!(s.parameters(), Some(ParametersRef::Audio(_)))
    });
    if video.is_none() && audio.is_none() {
        return Err(RtspError::NoUsableStream);
    }
    for i in [video, audio].into_iter().flatten() {
        let setup = SetupOptions::default()
            .transport(t.transport())
            .frame_format(FrameFormat::MP4);
        session.setup(i, setup).await?;
    }
    // Use RTP-Info's rtptime to align the streams when the server gives it for all of them.
    let play = PlayOptions::default().initial_timestamp(InitialTimestampPolicy::Permissive);
    let demuxed = session.play(play).await?.demuxed()?;
    Ok((demuxed, video, audio))
}

/// One connection, from connect to failure. Sets `playing_since` once playing.
pub(super) async fn pull(
    t: &Target,
    hub: &StreamHub,
    policy: TakeoverPolicy,
    status: &watch::Sender<RtspStatus>,
    playing_since: &mut Option<Instant>,
) -> RtspError {
    let (mut demuxed, video_i, audio_i) =
        match tokio::time::timeout(CONNECT_TIMEOUT, connect(t)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return e,
            Err(_) => return RtspError::ConnectTimeout(CONNECT_TIMEOUT),
        };
    let source = format!("rtsp {}", t.label);
    let lease = match hub.claim(&t.room, &source, policy) {
        Ok(l) => l,
        Err(e) => return e.into(),
    };
    let audio = audio_i.and_then(|i| audio_params(&demuxed, i));
    *playing_since = Some(Instant::now());
    status.send_modify(|s| {
        s.connected = true;
        s.next_retry_ms = None;
    });
    tracing::info!(room = %t.room, url = %t.label, video = video_i.is_some(), audio = audio.is_some(), "rtsp playing");
    let mut feed = Feed {
        hub,
        room: &t.room,
        source,
        policy,
        lease: Some(lease),
        live: None,
        has_video: video_i.is_some(),
        audio,
    };
    loop {
        let item = match tokio::time::timeout(IDLE_TIMEOUT, demuxed.next()).await {
            Err(_) => return RtspError::Idle(IDLE_TIMEOUT),
            Ok(None) => return RtspError::Eof,
            Ok(Some(Err(e))) => return e.into(),
            Ok(Some(Ok(item))) => item,
        };
        let result = match item {
            CodecItem::VideoFrame(f) if Some(f.stream_id()) == video_i => {
                let params = feed
                    .wants_video_params(&f)
                    .then(|| video_params(&demuxed, f.stream_id()))
                    .flatten();
                feed.video(f, params)
            }
            CodecItem::AudioFrame(f) if Some(f.stream_id()) == audio_i => feed.audio(f),
            _ => Ok(()),
        };
        if let Err(e) = result {
            return e;
        }
        if feed.is_revoked() {
            return HubError::Replaced.into();
        }
    }
}

fn video_params(demuxed: &Demuxed, i: usize) -> Option<VideoParams> {
    let Some(ParametersRef::Video(v)) = demuxed.streams().get(i)?.parameters() else {
        return None;
    };
    let (width, height) = v.pixel_dimensions();
    let avcc = v.extra_data();
    (!avcc.is_empty() && width > 0 && height > 0).then(|| VideoParams {
        avcc: Bytes::copy_from_slice(avcc),
        width,
        height,
    })
}

/// AAC parameters. retina reads the sample rate and channel count from the
/// AudioSpecificConfig (its clock rate for AAC is the sampling frequency).
fn audio_params(demuxed: &Demuxed, i: usize) -> Option<AudioParams> {
    let Some(ParametersRef::Audio(a)) = demuxed.streams().get(i)?.parameters() else {
        return None;
    };
    let asc = a.extra_data();
    (!asc.is_empty() && a.clock_rate() > 0).then(|| AudioParams {
        asc: Bytes::copy_from_slice(asc),
        sample_rate: a.clock_rate(),
        channels: u32::from(a.channels().get()),
    })
}

/// The hub side of one connection: the lease, then the live session.
struct Feed<'a> {
    hub: &'a StreamHub,
    room: &'a str,
    source: String,
    policy: TakeoverPolicy,
    /// Held from connect until the first session starts.
    lease: Option<PublishLease>,
    live: Option<Live>,
    has_video: bool,
    audio: Option<AudioParams>,
}

struct Live {
    publisher: Publisher,
    /// Normal play time of the session's media time zero, ns.
    zero_ns: i64,
    video: Option<VideoParams>,
}

impl Feed<'_> {
    fn is_revoked(&self) -> bool {
        match (&self.live, &self.lease) {
            (Some(live), _) => live.publisher.is_revoked(),
            (None, Some(lease)) => lease.is_revoked(),
            (None, None) => false,
        }
    }

    fn start(&mut self, video: Option<VideoParams>, zero_ns: i64) -> Result<(), RtspError> {
        let lease = match self.lease.take() {
            Some(l) => l,
            None => self.hub.claim(self.room, &self.source, self.policy)?,
        };
        let info = StreamInfo {
            video: video.clone(),
            audio: self.audio.clone(),
        };
        let publisher = lease.start(info)?;
        self.live = Some(Live {
            publisher,
            zero_ns,
            video,
        });
        Ok(())
    }

    /// Whether [`Feed::video`] needs the stream's current parameters with this frame.
    fn wants_video_params(&self, f: &VideoFrame) -> bool {
        self.live.is_none() || f.has_new_parameters()
    }

    /// `params`: the video stream's parameters as of `f`, when [`Feed::wants_video_params`].
    fn video(&mut self, f: VideoFrame, params: Option<VideoParams>) -> Result<(), RtspError> {
        let npt = npt_ns(f.timestamp());
        if let Some(live) = &self.live
            && params.is_some()
            && params != live.video
        {
            tracing::info!(room = %self.room, "rtsp video parameters changed; starting a new session");
            self.live = None;
        }
        if self.live.is_none() {
            let Some(params) = params.filter(|_| f.is_random_access_point()) else {
                return Ok(()); // wait for a keyframe with known parameters
            };
            self.start(Some(params), npt)?;
        }
        let Some(live) = &self.live else {
            return Ok(());
        };
        let pts = npt.saturating_sub(live.zero_ns);
        if pts >= 0 {
            live.publisher.send(Frame {
                track: TrackKind::Video,
                pts,
                dts: pts, // no DTS in RTP; see the module header
                keyframe: f.is_random_access_point(),
                discont: false,
                data: Bytes::from(f.into_data()),
            });
        }
        Ok(())
    }

    fn audio(&mut self, f: AudioFrame) -> Result<(), RtspError> {
        if self.audio.is_none() {
            return Ok(());
        }
        let npt = npt_ns(f.timestamp());
        if self.live.is_none() && !self.has_video {
            self.start(None, npt)?;
        }
        let Some(live) = &self.live else {
            return Ok(());
        };
        let pts = npt.saturating_sub(live.zero_ns);
        if pts >= 0 {
            live.publisher.send(Frame {
                track: TrackKind::Audio,
                pts,
                dts: pts,
                keyframe: true,
                discont: false,
                data: Bytes::copy_from_slice(f.data()),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_become_ns() {
        let clock = std::num::NonZeroU32::new(90_000).expect("nonzero");
        let ts = retina::Timestamp::new(1_000 + 90_000 * 3 / 2, clock, 1_000).expect("valid");
        assert_eq!(npt_ns(ts), 1_500_000_000);
        let ts = retina::Timestamp::new(i64::MAX, std::num::NonZeroU32::MIN, 0).expect("valid");
        assert_eq!(npt_ns(ts), i64::MAX);
    }
}
