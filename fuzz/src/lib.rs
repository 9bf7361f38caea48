//! One harness function per fuzz target: each takes arbitrary bytes and calls the real
//! parser (never a copy), checking the properties that must hold for any input. A harness
//! panics only when the code under test misbehaves; afl records that as a crash, and
//! `tests/corpus.rs` replays every corpus and regression file through the same functions.
//! See docs/fuzzing.md.

use bytes::Bytes;
use livecart_media::ingest::rtmp::{self, flv, guard};
use livecart_media::package::{bmff, emsg};

/// A harness: arbitrary bytes in, a panic only on a bug.
pub type Harness = fn(&[u8]);

/// Every target: its corpus directory name and its harness.
pub const TARGETS: &[(&str, Harness)] = &[
    ("rtmp_chunks", rtmp_chunks),
    ("amf", amf),
    ("flv_tags", flv_tags),
    ("sps", sps),
    ("mp4_boxes", mp4_boxes),
    #[cfg(feature = "host")]
    ("room_protocol", room_protocol),
    #[cfg(feature = "host")]
    ("plugin_config", plugin_config),
];

/// A publisher's byte stream from its first handshake byte: handshake, chunk stream, the
/// AMF guard, `ServerSession`, and the FLV/SPS parsing of its media, as a connection runs
/// them. Panics inside `rml_rtmp` are caught there as they are in the server; anything
/// that escapes (or overflows the stack) is a bug.
pub fn rtmp_chunks(data: &[u8]) {
    let _ = rtmp::replay(data);
}

/// One AMF0 message body through the guard. What the guard lets through must be safe for
/// `rml_amf0`, and must hold as many top-level values as `rml_amf0` reads from it.
pub fn amf(data: &[u8]) {
    let Ok(summary) = guard::check_amf(data) else {
        return;
    };
    let mut cursor = std::io::Cursor::new(data);
    if let Ok(values) = rml_rtmp::rml_amf0::deserialize(&mut cursor) {
        assert_eq!(summary.count, values.len(), "guard and rml_amf0 disagree");
    }
}

/// FLV tag bodies: the first byte picks the parser, the rest is its input.
pub fn flv_tags(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let body = Bytes::copy_from_slice(rest);
    match which % 5 {
        0 => {
            let _ = flv::parse_video(&body);
        }
        1 => {
            let _ = flv::parse_audio(&body);
        }
        2 => {
            if flv::parse_avcc(body).is_ok() {
                let size = flv::nal_length_size(rest);
                assert!((1..=4).contains(&size), "NAL length size {size}");
            }
        }
        3 => {
            let _ = flv::parse_asc(body);
        }
        _ => {
            let _ = flv::nalus_well_formed(rest, usize::from(which >> 6) + 1);
        }
    }
}

/// An H.264 SPS NAL unit (with its header byte).
pub fn sps(data: &[u8]) {
    let _ = rtmp::parse_sps(data);
}

/// ISO BMFF readers: an init segment's timescale and codecs, a fragment's decode time, the
/// `emsg` boxes of a chunk, and the `emsg` injection that walks a chunk to its `moof`.
pub fn mp4_boxes(data: &[u8]) {
    let _ = bmff::timescale(data);
    let _ = bmff::codecs(data);
    let _ = bmff::decode_time(data);
    let _ = bmff::decoder_config(data);
    for s in bmff::samples(data).unwrap_or_default() {
        assert!(s.data.len() <= data.len(), "a sample larger than its chunk");
    }
    for b in bmff::boxes(data) {
        let _ = emsg::parse(b.body);
    }
    let _ = emsg::find_all(data);
    let injected = emsg::insert_before_moof(data, b"\0\0\0\x08free");
    assert!(injected.len() >= data.len(), "injection lost bytes");
}

/// A client frame of the room protocol, as the WebSocket reader hands it over (text frames
/// only: binary frames are refused before decoding).
#[cfg(feature = "host")]
pub fn room_protocol(data: &[u8]) {
    use livecart::room::protocol::decode;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = decode(text, 16 * 1024);
    let _ = decode(text, data.len() / 2);
}

/// A merchant's plugin config at enable time: the host-side check that runs before the
/// plugin's own `config-changed`. Normalizing must be idempotent.
#[cfg(feature = "host")]
pub fn plugin_config(data: &[u8]) {
    use livecart::plugin::registry::normalize_config;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(once) = normalize_config(text) {
        let twice = normalize_config(&once);
        assert_eq!(twice.ok().as_deref(), Some(once.as_str()), "not idempotent");
    }
}
