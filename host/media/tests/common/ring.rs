//! A hand-built live period over real HTTP, for the origin tests: two video rungs and
//! audio with fake chunks (`{rep}-{n}-c{i};`), segments and chunks added by hand, and the
//! router on a port-0 listener.

use bytes::Bytes;
use livecart_media::hub::TrackKind;
use livecart_media::origin::{Origin, router};
use livecart_media::package::ring::{ChunkInfo, InitInfo, Period, Rendition, Segment, Track};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const ORIGIN_NS: u64 = 10_000_000_000;
pub const TRACKS: [(&str, TrackKind, u32); 3] = [
    ("v0", TrackKind::Video, 90_000),
    ("v1", TrackKind::Video, 90_000),
    ("a0", TrackKind::Audio, 48_000),
];

pub fn period(room: &str, segment: Duration, capacity: usize) -> Arc<Period> {
    let tracks = TRACKS
        .iter()
        .map(|&(id, kind, ts)| {
            let video = kind == TrackKind::Video;
            let t = Track::new(
                Rendition {
                    id: id.into(),
                    kind,
                    width: if video {
                        1280 / (1 + u32::from(id == "v1"))
                    } else {
                        0
                    },
                    height: if video {
                        720 / (1 + u32::from(id == "v1"))
                    } else {
                        0
                    },
                    frame_rate: (30, 1),
                    sample_rate: if video { 0 } else { 48_000 },
                    channels: if video { 0 } else { 2 },
                    bandwidth: if video { 2_000_000 } else { 128_000 },
                    passthrough: false,
                },
                capacity,
            );
            let codecs = if video { "avc1.64001f" } else { "mp4a.40.2" };
            let info = InitInfo {
                codecs: codecs.into(),
                timescale: ts,
            };
            t.set_init(Bytes::from(format!("init-{id}")), info);
            Arc::new(t)
        })
        .collect();
    let p = Period::new(
        "p1".into(),
        room.into(),
        1,
        UNIX_EPOCH,
        segment,
        segment / 10,
        tracks,
    );
    p.set_origin(ORIGIN_NS);
    // Live for a while already: the MPD is withheld for the first target latency.
    p.set_availability_start(SystemTime::now() - Duration::from_secs(10));
    Arc::new(p)
}

pub fn seg_ticks(p: &Period, ts: u32) -> u64 {
    (p.segment_duration.as_nanos() * u128::from(ts) / 1_000_000_000) as u64
}

/// Finish the growing segment of every track (if any) and start segment `n` with chunk 0.
pub fn start_segment(p: &Period, n: u64) {
    for t in &p.tracks {
        let ts = t.init().unwrap().1.timescale;
        let d = seg_ticks(p, ts);
        if let Some(last) = t.last().filter(|s| !s.is_complete()) {
            last.finish(d);
        }
        let start = ORIGIN_NS / 1_000_000_000 * u64::from(ts) + (n - 1) * d;
        let id = &t.rendition.id;
        let info = ChunkInfo {
            duration: d / 10,
            independent: true,
        };
        t.push_segment(Arc::new(Segment::new(
            n,
            start,
            Bytes::from(format!("{id}-{n}-c0;")),
            info,
        )));
    }
}

pub fn push_chunk(p: &Period, n: u64, c: u32) {
    for t in &p.tracks {
        let id = &t.rendition.id;
        let info = ChunkInfo {
            duration: seg_ticks(p, t.init().unwrap().1.timescale) / 10,
            independent: t.rendition.kind == TrackKind::Audio,
        };
        t.segment(n)
            .unwrap()
            .push_chunk(Bytes::from(format!("{id}-{n}-c{c};")), info);
    }
}

pub fn finish_last(p: &Period) {
    for t in &p.tracks {
        let d = seg_ticks(p, t.init().unwrap().1.timescale);
        t.last().unwrap().finish(d);
    }
}

pub async fn serve(origin: Origin) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(origin).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
