//! DASH in-band events: ISO/IEC 23009-1 `emsg` boxes (version 1: absolute presentation time
//! in the track timescale) and their insertion into a CMAF chunk right before its `moof`,
//! after any `styp`/`prft`. `trun` data offsets are relative to the `moof`
//! (default-base-is-moof), so nothing in the chunk needs rewriting.

use super::events::{Event, SCHEME, VALUE};

/// Nanoseconds → ticks of `timescale`, rounded to nearest: the same rounding as the MPD's
/// `presentationTimeOffset`, so an event at `media_ms` lands exactly there.
pub fn ticks(ns: u64, timescale: u32) -> u64 {
    ((u128::from(ns) * u128::from(timescale) + 500_000_000) / 1_000_000_000) as u64
}

/// The `emsg` (v1) of `ev` for a track of `timescale` whose presentation time zero is at
/// `origin` ticks.
pub fn emsg(ev: &Event, timescale: u32, origin: u64) -> Vec<u8> {
    let ms = |ms: u64| (u128::from(ms) * u128::from(timescale) / 1000) as u64;
    let presentation_time = origin + ms(ev.media_ms);
    let duration = u32::try_from(ms(u64::from(ev.duration_ms))).unwrap_or(u32::MAX - 1);
    let mut body = Vec::with_capacity(64 + ev.payload.len());
    body.extend_from_slice(&[1, 0, 0, 0]); // version 1, flags 0
    body.extend_from_slice(&timescale.to_be_bytes());
    body.extend_from_slice(&presentation_time.to_be_bytes());
    body.extend_from_slice(&duration.to_be_bytes());
    body.extend_from_slice(&ev.emsg_id.to_be_bytes());
    for s in [SCHEME, VALUE] {
        body.extend_from_slice(s.as_bytes());
        body.push(0);
    }
    body.extend_from_slice(&ev.payload);
    let mut b = Vec::with_capacity(8 + body.len());
    b.extend_from_slice(&((8 + body.len()) as u32).to_be_bytes());
    b.extend_from_slice(b"emsg");
    b.extend_from_slice(&body);
    b
}

/// `chunk` with `boxes` inserted before its first top-level `moof` (at the start if it has
/// none, or if its boxes cannot be walked).
pub fn insert_before_moof(chunk: &[u8], boxes: &[u8]) -> Vec<u8> {
    let at = moof_offset(chunk).unwrap_or(0);
    let mut out = Vec::with_capacity(chunk.len() + boxes.len());
    out.extend_from_slice(&chunk[..at]);
    out.extend_from_slice(boxes);
    out.extend_from_slice(&chunk[at..]);
    out
}

/// Byte offset of the first top-level `moof`.
fn moof_offset(data: &[u8]) -> Option<usize> {
    let mut at = 0usize;
    // (`at` may be far past the end after a huge 64-bit box size: no `at + 8` here.)
    while data.len().saturating_sub(at) >= 8 {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().ok()?) as u64;
        if &data[at + 4..at + 8] == b"moof" {
            return Some(at);
        }
        let size = match size {
            1 => u64::from_be_bytes(data.get(at + 8..at + 16)?.try_into().ok()?),
            0 => return None,
            n => n,
        };
        if size < 8 {
            return None;
        }
        at = at.checked_add(usize::try_from(size).ok()?)?;
    }
    None
}

/// A parsed `emsg` v1, for tests and tools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emsg {
    pub timescale: u32,
    pub presentation_time: u64,
    pub event_duration: u32,
    pub id: u32,
    pub scheme_id_uri: String,
    pub value: String,
    pub message_data: Vec<u8>,
}

/// Parse the body of a version 1 `emsg` (after the box header).
pub fn parse(body: &[u8]) -> Option<Emsg> {
    if *body.first()? != 1 {
        return None;
    }
    let u32_at = |i: usize| Some(u32::from_be_bytes(body.get(i..i + 4)?.try_into().ok()?));
    let pt = u64::from_be_bytes(body.get(8..16)?.try_into().ok()?);
    let rest = body.get(24..)?;
    let nul = rest.iter().position(|&b| b == 0)?;
    let (scheme, rest) = (&rest[..nul], &rest[nul + 1..]);
    let nul = rest.iter().position(|&b| b == 0)?;
    let (value, data) = (&rest[..nul], &rest[nul + 1..]);
    Some(Emsg {
        timescale: u32_at(4)?,
        presentation_time: pt,
        event_duration: u32_at(16)?,
        id: u32_at(20)?,
        scheme_id_uri: String::from_utf8(scheme.to_vec()).ok()?,
        value: String::from_utf8(value.to_vec()).ok()?,
        message_data: data.to_vec(),
    })
}

/// Every `emsg` among the top-level boxes of `data` (a chunk or a whole segment).
pub fn find_all(data: &[u8]) -> Vec<Emsg> {
    super::bmff::boxes(data)
        .filter(|b| &b.kind == b"emsg")
        .filter_map(|b| parse(b.body))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::package::bmff;
    use bytes::Bytes;
    use std::time::Instant;

    fn event() -> Event {
        Event {
            id: "push-7".into(),
            emsg_id: 7,
            media_ms: 12_345,
            duration_ms: 5_000,
            payload: Bytes::from_static(br#"{"sku":"a"}"#),
            added: Instant::now(),
        }
    }

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn emsg_v1_bytes() {
        let b = emsg(&event(), 90_000, 900_000);
        // Header, then every field at its offset.
        assert_eq!(
            u32::from_be_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(&b[4..8], b"emsg");
        assert_eq!(&b[8..12], &[1, 0, 0, 0], "version 1, flags 0");
        assert_eq!(&b[12..16], &90_000u32.to_be_bytes());
        assert_eq!(&b[16..24], &(900_000u64 + 1_111_050).to_be_bytes());
        assert_eq!(&b[24..28], &450_000u32.to_be_bytes());
        assert_eq!(&b[28..32], &7u32.to_be_bytes());
        let tail = b"urn:livecart:event:2026\x001\x00{\"sku\":\"a\"}";
        assert_eq!(&b[32..], tail);
        let parsed = parse(&b[8..]).unwrap();
        assert_eq!(
            parsed,
            Emsg {
                timescale: 90_000,
                presentation_time: 2_011_050,
                event_duration: 450_000,
                id: 7,
                scheme_id_uri: SCHEME.into(),
                value: "1".into(),
                message_data: br#"{"sku":"a"}"#.to_vec(),
            }
        );
        assert!(parse(&[0; 40]).is_none(), "version 0 is not ours");
        assert!(parse(&b[8..30]).is_none(), "truncated");
    }

    #[test]
    fn inserted_before_moof_after_styp() {
        let mut tfdt = vec![1, 0, 0, 0];
        tfdt.extend_from_slice(&77u64.to_be_bytes());
        let moof = bx(b"moof", &bx(b"traf", &bx(b"tfdt", &tfdt)));
        let mdat = bx(b"mdat", b"frames");
        let styp = bx(b"styp", b"cmfs\0\0\0\0");
        let chunk = [styp.clone(), moof.clone(), mdat.clone()].concat();
        let e = emsg(&event(), 90_000, 0);
        let out = insert_before_moof(&chunk, &e);
        assert_eq!(out, [styp, e.clone(), moof.clone(), mdat.clone()].concat());
        let kinds: Vec<_> = bmff::boxes(&out).map(|b| b.kind).collect();
        assert_eq!(kinds, [*b"styp", *b"emsg", *b"moof", *b"mdat"]);
        assert_eq!(bmff::decode_time(&out), Some(77));
        assert_eq!(find_all(&out).len(), 1);
        // A bare chunk: first thing.
        let bare = [moof.clone(), mdat.clone()].concat();
        assert_eq!(insert_before_moof(&bare, &e), [e, moof, mdat].concat());
    }
}
