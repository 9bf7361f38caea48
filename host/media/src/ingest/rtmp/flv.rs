//! FLV tag bodies as RTMP carries them: H.264 video tags (with the avcC record) and AAC audio
//! tags (with the AudioSpecificConfig), parsed into what the hub needs. Everything here is
//! peer data: lengths are checked, nothing panics, and codecs other than H.264 / AAC are
//! reported as unsupported rather than guessed at.

use super::sps::{SpsError, parse_sps};
use crate::hub::{AudioParams, VideoParams};
use bytes::Bytes;

/// A tag that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlvError {
    #[error("unsupported video codec {0} (only H.264/AVC is accepted)")]
    UnsupportedVideoCodec(String),
    #[error("unsupported audio codec {0} (only AAC is accepted)")]
    UnsupportedAudioCodec(String),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("bad SPS in avcC: {0}")]
    Sps(#[from] SpsError),
}

/// A parsed video tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoTag {
    /// AVC sequence header: the avcC record and what its SPS says.
    SequenceHeader(VideoParams),
    /// One access unit, AVC length-prefixed.
    Nalus {
        keyframe: bool,
        /// Composition time offset, ms (pts − dts).
        cts: i32,
        data: Bytes,
    },
    /// End of sequence, video info/command frames: nothing to forward.
    Ignored,
}

/// A parsed audio tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioTag {
    SequenceHeader(AudioParams),
    Raw(Bytes),
}

fn video_codec_name(id: u8) -> String {
    match id {
        1 => "JPEG".into(),
        2 => "Sorenson H.263".into(),
        3 => "Screen video".into(),
        4 => "On2 VP6".into(),
        5 => "On2 VP6 with alpha".into(),
        6 => "Screen video v2".into(),
        12 => "HEVC (non-standard FLV id 12)".into(),
        13 => "AV1 (non-standard FLV id 13)".into(),
        other => format!("FLV video codec id {other}"),
    }
}

fn audio_codec_name(id: u8) -> String {
    match id {
        0 | 3 => "linear PCM".into(),
        1 => "ADPCM".into(),
        2 => "MP3".into(),
        4..=6 => "Nellymoser".into(),
        7 => "G.711 A-law".into(),
        8 => "G.711 mu-law".into(),
        9 => "enhanced RTMP audio (FourCC)".into(),
        11 => "Speex".into(),
        14 => "MP3 8 kHz".into(),
        other => format!("FLV audio codec id {other}"),
    }
}

/// Parse an RTMP video message body (an FLV VIDEODATA tag body).
pub fn parse_video(data: &Bytes) -> Result<VideoTag, FlvError> {
    let Some(&first) = data.first() else {
        return Ok(VideoTag::Ignored);
    };
    if first & 0x80 != 0 {
        // Enhanced RTMP: IsExHeader set, FourCC follows the packet type.
        let fourcc = data
            .get(1..5)
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .unwrap_or_else(|| "?".into());
        if fourcc == "avc1" {
            return Err(FlvError::UnsupportedVideoCodec(
                "H.264 in enhanced RTMP framing (use classic FLV AVC)".into(),
            ));
        }
        return Err(FlvError::UnsupportedVideoCodec(format!(
            "enhanced RTMP {fourcc:?}"
        )));
    }
    let frame_type = first >> 4;
    let codec_id = first & 0x0f;
    if codec_id != 7 {
        return Err(FlvError::UnsupportedVideoCodec(video_codec_name(codec_id)));
    }
    if frame_type == 5 {
        // Video info / command frame: no AVC payload.
        return Ok(VideoTag::Ignored);
    }
    if data.len() < 5 {
        return Err(FlvError::Malformed("AVC video tag (shorter than 5 bytes)"));
    }
    let packet_type = data[1];
    // SI24 composition time offset.
    let raw = (u32::from(data[2]) << 16) | (u32::from(data[3]) << 8) | u32::from(data[4]);
    let cts = ((raw << 8) as i32) >> 8;
    let body = data.slice(5..);
    match packet_type {
        0 => Ok(VideoTag::SequenceHeader(parse_avcc(body)?)),
        1 => Ok(VideoTag::Nalus {
            keyframe: frame_type == 1,
            cts,
            data: body,
        }),
        2 => Ok(VideoTag::Ignored),
        _ => Err(FlvError::Malformed("AVC packet type")),
    }
}

/// Parse an AVCDecoderConfigurationRecord and the size of its first SPS.
pub fn parse_avcc(avcc: Bytes) -> Result<VideoParams, FlvError> {
    if avcc.len() < 7 {
        return Err(FlvError::Malformed("avcC (too short)"));
    }
    if avcc[0] != 1 {
        return Err(FlvError::Malformed("avcC (configurationVersion is not 1)"));
    }
    let num_sps = usize::from(avcc[5] & 0x1f);
    if num_sps == 0 {
        return Err(FlvError::Malformed("avcC (no SPS)"));
    }
    let mut pos = 6;
    let mut first_sps: Option<&[u8]> = None;
    for _ in 0..num_sps {
        let len_bytes = avcc
            .get(pos..pos + 2)
            .ok_or(FlvError::Malformed("avcC (truncated SPS length)"))?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        pos += 2;
        let sps = avcc
            .get(pos..pos + len)
            .ok_or(FlvError::Malformed("avcC (truncated SPS)"))?;
        pos += len;
        first_sps.get_or_insert(sps);
    }
    let num_pps = usize::from(
        *avcc
            .get(pos)
            .ok_or(FlvError::Malformed("avcC (missing PPS count)"))?,
    );
    pos += 1;
    if num_pps == 0 {
        return Err(FlvError::Malformed("avcC (no PPS)"));
    }
    for _ in 0..num_pps {
        let len_bytes = avcc
            .get(pos..pos + 2)
            .ok_or(FlvError::Malformed("avcC (truncated PPS length)"))?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        pos += 2 + len;
        if pos > avcc.len() {
            return Err(FlvError::Malformed("avcC (truncated PPS)"));
        }
    }
    let sps = parse_sps(first_sps.ok_or(FlvError::Malformed("avcC (no SPS)"))?)?;
    Ok(VideoParams {
        avcc,
        width: sps.width,
        height: sps.height,
    })
}

/// The NAL length size (1, 2 or 4 bytes) an avcC announces.
pub fn nal_length_size(avcc: &[u8]) -> usize {
    avcc.get(4).map_or(4, |b| usize::from(b & 3) + 1)
}

/// True when `data` is a whole number of well-formed length-prefixed NAL units.
pub fn nalus_well_formed(data: &[u8], length_size: usize) -> bool {
    if length_size == 3 || data.is_empty() {
        return false;
    }
    let mut pos = 0usize;
    while pos < data.len() {
        let Some(prefix) = data.get(pos..pos + length_size) else {
            return false;
        };
        let len = prefix
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        pos += length_size;
        if len == 0 || len > data.len() - pos {
            return false;
        }
        pos += len;
    }
    true
}

/// Parse an RTMP audio message body (an FLV AUDIODATA tag body).
pub fn parse_audio(data: &Bytes) -> Result<Option<AudioTag>, FlvError> {
    let Some(&first) = data.first() else {
        return Ok(None);
    };
    let format = first >> 4;
    if format != 10 {
        return Err(FlvError::UnsupportedAudioCodec(audio_codec_name(format)));
    }
    let Some(&packet_type) = data.get(1) else {
        return Err(FlvError::Malformed("AAC audio tag (no packet type)"));
    };
    let body = data.slice(2..);
    match packet_type {
        0 => Ok(Some(AudioTag::SequenceHeader(parse_asc(body)?))),
        1 if body.is_empty() => Ok(None),
        1 => Ok(Some(AudioTag::Raw(body))),
        _ => Err(FlvError::Malformed("AAC packet type")),
    }
}

const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Parse the start of an MPEG-4 AudioSpecificConfig: object type, sample rate (including the
/// explicit 24-bit escape) and channel configuration.
pub fn parse_asc(asc: Bytes) -> Result<AudioParams, FlvError> {
    let mut r = super::sps::BitReader::new(&asc);
    let bad = |_| FlvError::Malformed("AudioSpecificConfig (truncated)");
    let mut object_type = r.bits(5).map_err(bad)?;
    if object_type == 31 {
        object_type = 32 + r.bits(6).map_err(bad)?;
    }
    if object_type == 0 {
        return Err(FlvError::Malformed("AudioSpecificConfig (object type 0)"));
    }
    let index = r.bits(4).map_err(bad)?;
    let sample_rate = if index == 15 {
        r.bits(24).map_err(bad)?
    } else {
        *SAMPLE_RATES.get(index as usize).ok_or(FlvError::Malformed(
            "AudioSpecificConfig (sampling frequency index)",
        ))?
    };
    if sample_rate == 0 {
        return Err(FlvError::Malformed(
            "AudioSpecificConfig (zero sample rate)",
        ));
    }
    let channels = match r.bits(4).map_err(bad)? {
        0 => {
            return Err(FlvError::UnsupportedAudioCodec(
                "AAC with a program config element channel layout".into(),
            ));
        }
        c @ 1..=6 => c,
        7 => 8,
        _ => {
            return Err(FlvError::Malformed(
                "AudioSpecificConfig (channel configuration)",
            ));
        }
    };
    Ok(AudioParams {
        asc,
        sample_rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SPS_320X180: &[u8] = &[
        0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0x9f, 0x9f, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
        0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
    ];

    fn avcc() -> Vec<u8> {
        let mut v = vec![1, 0x42, 0xc0, 0x0d, 0xff, 0xe1];
        v.extend_from_slice(&(SPS_320X180.len() as u16).to_be_bytes());
        v.extend_from_slice(SPS_320X180);
        v.extend_from_slice(&[1, 0, 4, 0x68, 0xce, 0x3c, 0x80]);
        v
    }

    #[test]
    fn avc_sequence_header() {
        let mut tag = vec![0x17, 0, 0, 0, 0];
        tag.extend(avcc());
        let VideoTag::SequenceHeader(p) = parse_video(&Bytes::from(tag)).unwrap() else {
            panic!("not a sequence header")
        };
        assert_eq!((p.width, p.height), (320, 180));
        assert_eq!(&p.avcc[..], &avcc()[..]);
        assert_eq!(nal_length_size(&p.avcc), 4);
    }

    #[test]
    fn avc_nalus_with_negative_composition_time() {
        let tag = Bytes::from_static(&[0x27, 1, 0xff, 0xff, 0xfe, 0, 0, 0, 2, 0x41, 0x9a]);
        assert_eq!(
            parse_video(&tag).unwrap(),
            VideoTag::Nalus {
                keyframe: false,
                cts: -2,
                data: Bytes::from_static(&[0, 0, 0, 2, 0x41, 0x9a]),
            }
        );
        let tag = Bytes::from_static(&[0x17, 1, 0, 0, 66, 0, 0, 0, 1, 0x65]);
        let VideoTag::Nalus { keyframe, cts, .. } = parse_video(&tag).unwrap() else {
            panic!()
        };
        assert!(keyframe);
        assert_eq!(cts, 66);
    }

    #[test]
    fn other_video_codecs_are_refused() {
        assert!(matches!(
            parse_video(&Bytes::from_static(&[0x12, 0, 0])),
            Err(FlvError::UnsupportedVideoCodec(_))
        ));
        assert!(matches!(
            parse_video(&Bytes::from_static(b"\x90hvc1\0\0\0")),
            Err(FlvError::UnsupportedVideoCodec(_))
        ));
        assert!(matches!(
            parse_video(&Bytes::from_static(&[0x17, 0])),
            Err(FlvError::Malformed(_))
        ));
        // Truncated avcC records.
        let full = avcc();
        for cut in 0..full.len() {
            let mut tag = vec![0x17, 0, 0, 0, 0];
            tag.extend_from_slice(&full[..cut]);
            assert!(parse_video(&Bytes::from(tag)).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn nalu_framing_check() {
        assert!(nalus_well_formed(&[0, 0, 0, 1, 0x65, 0, 0, 0, 2, 1, 2], 4));
        assert!(!nalus_well_formed(&[0, 0, 0, 3, 0x65], 4));
        assert!(!nalus_well_formed(&[0, 0, 0], 4));
        assert!(!nalus_well_formed(&[], 4));
        assert!(nalus_well_formed(&[0, 1, 0x65], 2));
    }

    #[test]
    fn aac_headers() {
        // AAC-LC, 48 kHz (index 3), mono.
        let tag = Bytes::from_static(&[0xaf, 0, 0x11, 0x88]);
        let Some(AudioTag::SequenceHeader(p)) = parse_audio(&tag).unwrap() else {
            panic!()
        };
        assert_eq!((p.sample_rate, p.channels), (48000, 1));
        assert_eq!(&p.asc[..], &[0x11, 0x88]);
        // AAC-LC, 44.1 kHz, stereo.
        let p = parse_asc(Bytes::from_static(&[0x12, 0x10])).unwrap();
        assert_eq!((p.sample_rate, p.channels), (44100, 2));
        // Explicit frequency escape: index 15 then 24 bits (here 37800 Hz), 2 channels.
        // 00010 1111 000000001001001110101000 0010 ...
        let bits = "00010".to_string() + "1111" + &format!("{:024b}", 37800) + "0010" + "000";
        let bytes: Vec<u8> = bits
            .as_bytes()
            .chunks(8)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap())
            .collect();
        let p = parse_asc(Bytes::from(bytes)).unwrap();
        assert_eq!((p.sample_rate, p.channels), (37800, 2));
        // Escaped object type (31 → 32 + 6 bits): object type 42 (USAC), 48 kHz, 7 → 8 ch.
        let bits = "11111".to_string() + "001010" + "0011" + "0111" + "0";
        let bytes: Vec<u8> = bits
            .as_bytes()
            .chunks(8)
            .map(|c| {
                let s = format!("{:0<8}", std::str::from_utf8(c).unwrap());
                u8::from_str_radix(&s, 2).unwrap()
            })
            .collect();
        let p = parse_asc(Bytes::from(bytes)).unwrap();
        assert_eq!((p.sample_rate, p.channels), (48000, 8));
        // Raw frame.
        assert_eq!(
            parse_audio(&Bytes::from_static(&[0xaf, 1, 0x21, 0x00])).unwrap(),
            Some(AudioTag::Raw(Bytes::from_static(&[0x21, 0x00])))
        );
    }

    #[test]
    fn bad_audio() {
        assert!(matches!(
            parse_audio(&Bytes::from_static(&[0x2f, 0xff])),
            Err(FlvError::UnsupportedAudioCodec(_))
        ));
        assert!(parse_asc(Bytes::from_static(&[0x11])).is_err());
        assert!(parse_asc(Bytes::new()).is_err());
        // Reserved frequency index 13.
        assert!(parse_asc(Bytes::from_static(&[0x16, 0x88])).is_err());
        assert!(parse_audio(&Bytes::from_static(&[0xaf])).is_err());
    }
}
