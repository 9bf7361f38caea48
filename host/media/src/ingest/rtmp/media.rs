//! Turns one publish's RTMP audio/video messages into hub frames.
//!
//! Collects the codec parameters (AVC sequence header, AAC sequence header, onMetaData),
//! decides when the hub session starts (first video keyframe after the AVC header, or an
//! audio-only start when no video header has come within the first second of media), and
//! maps RTMP's wrapping 32-bit millisecond timestamps onto the hub's i64 nanoseconds from
//! the session's first frame. No I/O here, so it is tested directly.

use super::flv::{self, AudioTag, FlvError, VideoTag};
use crate::hub::{AudioParams, Frame, StreamInfo, TrackKind, VideoParams};
use bytes::Bytes;
use rml_rtmp::sessions::StreamMetadata;

/// How long (media time) to wait for a video sequence header before starting audio-only.
pub const AUDIO_ONLY_AFTER_MS: i64 = 1000;

/// What the connection should do with a message.
#[derive(Debug)]
pub enum Output {
    Nothing,
    /// Start the hub session with this info and send this first frame.
    Start(StreamInfo, Frame),
    /// Send a frame into the running session.
    Frame(Frame),
    /// Codec parameters changed: end the running session; the next one starts at the next
    /// keyframe (the assembler has already forgotten the old one).
    Restart,
}

/// Unwraps RTMP's 32-bit millisecond timestamps into a continuous i64 timeline. Successive
/// timestamps (audio and video interleaved) are taken to be within ±2^31 ms of each other,
/// as RTMP defines.
#[derive(Debug, Default, Clone)]
pub struct Unwrapper {
    last: Option<u32>,
    ext: i64,
}

impl Unwrapper {
    pub fn unwrap_ms(&mut self, ts: u32) -> i64 {
        match self.last {
            None => self.ext = i64::from(ts),
            Some(last) => self.ext += i64::from(ts.wrapping_sub(last) as i32),
        }
        self.last = Some(ts);
        self.ext
    }
}

#[derive(Debug, Default)]
pub struct Assembler {
    clock: Unwrapper,
    /// Unwrapped timestamp of the first media message (for the audio-only wait).
    first_ms: Option<i64>,
    video: Option<VideoParams>,
    audio: Option<AudioParams>,
    metadata: Option<StreamMetadata>,
    /// The running session's info and its media time zero (unwrapped ms).
    running: Option<(StreamInfo, i64)>,
}

fn ns(ms: i64) -> i64 {
    ms.saturating_mul(1_000_000)
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    #[cfg(test)]
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    pub fn on_metadata(&mut self, metadata: StreamMetadata) {
        self.metadata = Some(metadata);
    }

    /// onMetaData announced a stream without video.
    fn metadata_says_no_video(&self) -> bool {
        self.metadata
            .as_ref()
            .is_some_and(|m| m.video_codec_id.is_none() && m.video_width.is_none())
    }

    fn tick(&mut self, ts: u32) -> i64 {
        let ms = self.clock.unwrap_ms(ts);
        self.first_ms.get_or_insert(ms);
        ms
    }

    pub fn on_video(&mut self, ts: u32, data: &Bytes) -> Result<Output, FlvError> {
        let tag = flv::parse_video(data)?;
        let ms = self.tick(ts);
        match tag {
            VideoTag::Ignored => Ok(Output::Nothing),
            VideoTag::SequenceHeader(params) => {
                if self.video.as_ref() == Some(&params) {
                    return Ok(Output::Nothing);
                }
                tracing::debug!(
                    width = params.width,
                    height = params.height,
                    "AVC sequence header"
                );
                self.video = Some(params);
                Ok(self.params_changed())
            }
            VideoTag::Nalus {
                keyframe,
                cts,
                data,
            } => {
                let Some(video) = &self.video else {
                    return Ok(Output::Nothing);
                };
                if !flv::nalus_well_formed(&data, flv::nal_length_size(&video.avcc)) {
                    tracing::debug!("dropping a video frame with broken NAL length prefixes");
                    return Ok(Output::Nothing);
                }
                let frame = |origin: i64| {
                    let dts = ns(ms - origin);
                    Frame {
                        track: TrackKind::Video,
                        dts,
                        pts: dts.saturating_add(ns(i64::from(cts))),
                        keyframe,
                        discont: false,
                        data,
                    }
                };
                match &self.running {
                    Some((info, origin)) if info.video.is_some() => {
                        Ok(Output::Frame(frame(*origin)))
                    }
                    Some(_) => Ok(Output::Nothing),
                    None if keyframe => {
                        let info = StreamInfo {
                            video: self.video.clone(),
                            audio: self.audio.clone(),
                        };
                        self.running = Some((info.clone(), ms));
                        Ok(Output::Start(info, frame(ms)))
                    }
                    None => Ok(Output::Nothing),
                }
            }
        }
    }

    pub fn on_audio(&mut self, ts: u32, data: &Bytes) -> Result<Output, FlvError> {
        let Some(tag) = flv::parse_audio(data)? else {
            return Ok(Output::Nothing);
        };
        let ms = self.tick(ts);
        match tag {
            AudioTag::SequenceHeader(params) => {
                if self.audio.as_ref() == Some(&params) {
                    return Ok(Output::Nothing);
                }
                tracing::debug!(
                    sample_rate = params.sample_rate,
                    channels = params.channels,
                    "AAC sequence header"
                );
                self.audio = Some(params);
                Ok(self.params_changed())
            }
            AudioTag::Raw(data) => {
                if self.audio.is_none() {
                    return Ok(Output::Nothing);
                }
                let frame = |origin: i64| Frame {
                    track: TrackKind::Audio,
                    dts: ns(ms - origin),
                    pts: ns(ms - origin),
                    keyframe: true,
                    discont: false,
                    data,
                };
                match &self.running {
                    Some((info, origin)) if info.audio.is_some() => {
                        Ok(Output::Frame(frame(*origin)))
                    }
                    Some(_) => Ok(Output::Nothing),
                    None => {
                        let waited = ms - self.first_ms.unwrap_or(ms);
                        let audio_only = self.video.is_none()
                            && (waited >= AUDIO_ONLY_AFTER_MS || self.metadata_says_no_video());
                        if !audio_only {
                            return Ok(Output::Nothing);
                        }
                        let info = StreamInfo {
                            video: None,
                            audio: self.audio.clone(),
                        };
                        self.running = Some((info.clone(), ms));
                        Ok(Output::Start(info, frame(ms)))
                    }
                }
            }
        }
    }

    /// New or different parameters: a running session that does not carry them must end.
    fn params_changed(&mut self) -> Output {
        let Some((info, _)) = &self.running else {
            return Output::Nothing;
        };
        let same_video = info.video.is_none() || info.video == self.video;
        let same_audio = info.audio.is_none() || info.audio == self.audio;
        let gained = (info.video.is_none() && self.video.is_some())
            || (info.audio.is_none() && self.audio.is_some());
        if same_video && same_audio && !gained {
            return Output::Nothing;
        }
        self.running = None;
        Output::Restart
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SPS: &[u8] = &[
        0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0x9f, 0x9f, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
        0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
    ];

    fn avc_header() -> Bytes {
        let mut v = vec![0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x0d, 0xff, 0xe1];
        v.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
        v.extend_from_slice(SPS);
        v.extend_from_slice(&[1, 0, 4, 0x68, 0xce, 0x3c, 0x80]);
        Bytes::from(v)
    }

    fn nalu(key: bool, cts: i32) -> Bytes {
        let c = (cts as u32).to_be_bytes();
        Bytes::from(vec![
            if key { 0x17 } else { 0x27 },
            1,
            c[1],
            c[2],
            c[3],
            0,
            0,
            0,
            2,
            if key { 0x65 } else { 0x41 },
            0x88,
        ])
    }

    fn aac_header() -> Bytes {
        Bytes::from_static(&[0xaf, 0, 0x11, 0x88])
    }

    fn aac() -> Bytes {
        Bytes::from_static(&[0xaf, 1, 0x21, 0x10, 0x04])
    }

    #[test]
    fn unwrapper_handles_wraparound_and_small_reorders() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap_ms(u32::MAX - 10), i64::from(u32::MAX) - 10);
        assert_eq!(u.unwrap_ms(5), i64::from(u32::MAX) + 6);
        assert_eq!(u.unwrap_ms(3), i64::from(u32::MAX) + 4);
        assert_eq!(u.unwrap_ms(1000), i64::from(u32::MAX) + 1001);
    }

    #[test]
    fn starts_on_first_keyframe_after_header_with_audio() {
        let mut a = Assembler::new();
        // Frames before the header are dropped.
        assert!(matches!(
            a.on_video(0, &nalu(true, 0)).unwrap(),
            Output::Nothing
        ));
        assert!(matches!(
            a.on_video(0, &avc_header()).unwrap(),
            Output::Nothing
        ));
        assert!(matches!(
            a.on_audio(0, &aac_header()).unwrap(),
            Output::Nothing
        ));
        // Audio before the keyframe: dropped (video is expected).
        assert!(matches!(a.on_audio(10, &aac()).unwrap(), Output::Nothing));
        assert!(matches!(
            a.on_video(33, &nalu(false, 0)).unwrap(),
            Output::Nothing
        ));
        let Output::Start(info, f) = a.on_video(66, &nalu(true, 33)).unwrap() else {
            panic!()
        };
        assert_eq!(
            info.video.as_ref().map(|v| (v.width, v.height)),
            Some((320, 180))
        );
        assert_eq!(
            info.audio.as_ref().map(|a| (a.sample_rate, a.channels)),
            Some((48000, 1))
        );
        assert_eq!((f.dts, f.pts, f.keyframe), (0, 33_000_000, true));
        assert_eq!(&f.data[..], &[0, 0, 0, 2, 0x65, 0x88]);
        let Output::Frame(f) = a.on_audio(70, &aac()).unwrap() else {
            panic!()
        };
        assert_eq!(
            (f.track, f.dts, f.keyframe),
            (TrackKind::Audio, 4_000_000, true)
        );
        let Output::Frame(f) = a.on_video(99, &nalu(false, -10)).unwrap() else {
            panic!()
        };
        assert_eq!((f.dts, f.pts, f.keyframe), (33_000_000, 23_000_000, false));
        // The same header again changes nothing.
        assert!(matches!(
            a.on_video(99, &avc_header()).unwrap(),
            Output::Nothing
        ));
    }

    #[test]
    fn timestamps_keep_counting_across_the_32_bit_wrap() {
        let mut a = Assembler::new();
        let t0 = u32::MAX - 20;
        a.on_video(t0, &avc_header()).unwrap();
        assert!(matches!(
            a.on_video(t0, &nalu(true, 0)).unwrap(),
            Output::Start(..)
        ));
        let Output::Frame(f) = a.on_video(t0.wrapping_add(40), &nalu(false, 0)).unwrap() else {
            panic!()
        };
        assert_eq!(f.dts, 40_000_000);
    }

    #[test]
    fn audio_only_after_a_second_without_video() {
        let mut a = Assembler::new();
        a.on_audio(500, &aac_header()).unwrap();
        assert!(matches!(a.on_audio(500, &aac()).unwrap(), Output::Nothing));
        assert!(matches!(a.on_audio(1400, &aac()).unwrap(), Output::Nothing));
        let Output::Start(info, f) = a.on_audio(1521, &aac()).unwrap() else {
            panic!()
        };
        assert!(info.video.is_none());
        assert_eq!(f.dts, 0);
        // Late video joins through a restart.
        assert!(matches!(
            a.on_video(1600, &avc_header()).unwrap(),
            Output::Restart
        ));
        assert!(!a.is_running());
        assert!(matches!(a.on_audio(1610, &aac()).unwrap(), Output::Nothing));
        let Output::Start(info, _) = a.on_video(1633, &nalu(true, 0)).unwrap() else {
            panic!()
        };
        assert!(info.video.is_some() && info.audio.is_some());
    }

    #[test]
    fn metadata_without_video_starts_audio_at_once() {
        let mut a = Assembler::new();
        let mut m = StreamMetadata::new();
        m.audio_codec_id = Some(10);
        a.on_metadata(m);
        a.on_audio(0, &aac_header()).unwrap();
        assert!(matches!(a.on_audio(0, &aac()).unwrap(), Output::Start(..)));
    }

    #[test]
    fn unsupported_codecs_are_errors() {
        let mut a = Assembler::new();
        assert!(
            a.on_video(0, &Bytes::from_static(&[0x1c, 0, 0, 0, 0]))
                .is_err()
        );
        assert!(
            a.on_audio(0, &Bytes::from_static(&[0x2f, 0xff, 0xfb]))
                .is_err()
        );
    }
}
