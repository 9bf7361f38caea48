//! Test fixtures: a hand-built period (two video rungs and an audio track) with fake
//! chunks, and a tiny XML reader over quick-xml for asserting on manifests.

use crate::hub::TrackKind;
use crate::package::ring::{ChunkInfo, InitInfo, Period, Rendition, Segment, Track};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const ORIGIN_NS: u64 = 10_000_000_000;
pub const AST_MS: u64 = 1_714_566_896_789;

fn rendition(id: &str, kind: TrackKind, width: u32, height: u32) -> Rendition {
    Rendition {
        id: id.into(),
        kind,
        width,
        height,
        frame_rate: if kind == TrackKind::Video {
            (30, 1)
        } else {
            (0, 1)
        },
        sample_rate: if kind == TrackKind::Audio { 48_000 } else { 0 },
        channels: if kind == TrackKind::Audio { 2 } else { 0 },
        bandwidth: width * 1000 + 128_000,
        passthrough: false,
    }
}

/// A ready period with `complete` finished segments per track and, if `growing`, one more
/// that has a single chunk.
pub fn period(complete: u64, growing: bool) -> Arc<Period> {
    let specs = [
        ("v0", TrackKind::Video, 1280, 720, "avc1.64001f", 90_000),
        ("v1", TrackKind::Video, 640, 360, "avc1.42c01e", 90_000),
        ("a0", TrackKind::Audio, 0, 0, "mp4a.40.2", 48_000),
    ];
    let tracks: Vec<Arc<Track>> = specs
        .iter()
        .map(|&(id, kind, w, h, codecs, ts)| {
            let t = Track::new(rendition(id, kind, w, h), 8);
            let info = InitInfo {
                codecs: codecs.into(),
                timescale: ts,
            };
            t.set_init(Bytes::from(format!("init-{id}")), info);
            let d = 2 * u64::from(ts);
            let origin = ORIGIN_NS * u64::from(ts) / 1_000_000_000;
            for n in 1..=complete + u64::from(growing) {
                let start = origin + (n - 1) * d;
                // Two chunks of 1 s; video's second does not start on a keyframe.
                let part = |independent| ChunkInfo {
                    duration: d / 2,
                    independent,
                };
                let s = Segment::new(n, start, Bytes::from(format!("{id}-{n}-c0;")), part(true));
                if n <= complete {
                    let c1 = Bytes::from(format!("{id}-{n}-c1;"));
                    s.push_chunk(c1, part(kind == TrackKind::Audio));
                    s.finish(d);
                }
                t.push_segment(Arc::new(s));
            }
            Arc::new(t)
        })
        .collect();
    let p = Period::new(
        "p1".into(),
        "room1".into(),
        7,
        UNIX_EPOCH,
        Duration::from_secs(2),
        Duration::from_millis(200),
        tracks,
    );
    p.set_origin(ORIGIN_NS);
    p.set_availability_start(UNIX_EPOCH + Duration::from_millis(AST_MS));
    Arc::new(p)
}

/// An element: its name and attributes.
#[derive(Debug)]
pub struct El {
    pub name: String,
    pub attrs: HashMap<String, String>,
}

/// Parse a document (panicking if it is not well-formed) into its elements in order.
pub fn elements(xml: &str) -> Vec<El> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(xml);
    r.config_mut().check_end_names = true;
    let mut out = Vec::new();
    let mut depth = 0i32;
    loop {
        match r.read_event().expect("well-formed xml") {
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let (e, open) = match ev {
                    Event::Start(e) => (e, true),
                    Event::Empty(e) => (e, false),
                    _ => unreachable!(),
                };
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        let v = a.unescape_value().expect("value").into_owned();
                        (String::from_utf8_lossy(a.key.as_ref()).into_owned(), v)
                    })
                    .collect();
                out.push(El {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    attrs,
                });
                depth += i32::from(open);
            }
            Event::End(_) => depth -= 1,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    out
}

/// The first element named `name`.
pub fn el<'a>(els: &'a [El], name: &str) -> &'a El {
    els.iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no <{name}>"))
}

pub fn attr<'a>(e: &'a El, key: &str) -> &'a str {
    e.attrs
        .get(key)
        .unwrap_or_else(|| panic!("<{}> has no {key}", e.name))
}

pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(AST_MS + 9_000)
}
