//! Segment delivery. Init and complete segments come whole from the ring (immutable cache);
//! a growing segment is streamed with chunked transfer, its chunks so far at once and then
//! each new one as the packager pushes it, ending when it completes; the next segment
//! (`last + 1`) is waited for briefly; anything no longer in the ring, or of an ended period,
//! comes from the recording on disk.

use super::routes::{HttpError, IMMUTABLE, Origin, SHORT, not_found, reply};
use crate::hub::TrackKind;
use crate::package::ring::{Period, Segment, SegmentState, Track};
use bytes::Bytes;
use futures_util::Stream;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

pub(super) fn mime(kind: TrackKind) -> &'static str {
    match kind {
        TrackKind::Video => "video/mp4",
        TrackKind::Audio => "audio/mp4",
    }
}

/// The room's live period if it is `period`.
fn live(o: &Origin, room: &str, period: &str) -> Option<Arc<Period>> {
    o.state.live(room).filter(|p| p.id == period)
}

pub(super) async fn init(
    o: &Origin,
    room: &str,
    period: &str,
    rep: &str,
) -> Result<axum::response::Response, HttpError> {
    if let Some(p) = live(o, room, period) {
        let track = p
            .track(rep)
            .ok_or_else(|| not_found("no such representation"))?;
        let (data, _) = track
            .init()
            .ok_or_else(|| not_found("init segment not ready"))?;
        return Ok(reply(data.clone(), mime(track.rendition.kind), IMMUTABLE));
    }
    from_disk(o, room, period, rep, None).await
}

pub(super) async fn segment(
    o: &Origin,
    room: &str,
    period: &str,
    rep: &str,
    n: u64,
) -> Result<axum::response::Response, HttpError> {
    if let Some(p) = live(o, room, period) {
        let track = p
            .track(rep)
            .ok_or_else(|| not_found("no such representation"))?;
        if let Some(seg) = live_segment(&p, track, n).await? {
            return Ok(serve(seg, track.rendition.kind, stall_timeout(&p)));
        }
    }
    from_disk(o, room, period, rep, Some(n)).await
}

/// Segment `n` of a live track: from the ring, or, if it is the next one, once it starts
/// (waited for up to two segment durations, 404 then). `None`: older than the ring, or a
/// hole in it (the recording has it, if anyone does).
pub(super) async fn live_segment(
    p: &Period,
    track: &Track,
    n: u64,
) -> Result<Option<Arc<Segment>>, HttpError> {
    // Subscribe before looking, so an arrival in between is not missed.
    let mut added = track.watch();
    if let Some(seg) = track.segment(n) {
        return Ok(Some(seg));
    }
    let last = track.last().map_or(0, |s| s.number);
    if n <= last {
        return Ok(None);
    }
    if n == last + 1 && p.ended().is_none() {
        let deadline = Instant::now() + p.segment_duration * 2;
        let mut end = p.watch_end();
        loop {
            tokio::select! {
                r = tokio::time::timeout_at(deadline, added.changed()) => {
                    if !matches!(r, Ok(Ok(()))) {
                        break;
                    }
                    if let Some(seg) = track.segment(n) {
                        return Ok(Some(seg));
                    }
                }
                _ = end.changed() => break,
            }
        }
    }
    Err(not_found(format!("segment {n} is not available yet")))
}

/// A recorded segment by its start time (replay MPDs of recordings with holes).
pub(super) async fn by_time(
    o: &Origin,
    room: &str,
    period: &str,
    rep: &str,
    t: u64,
) -> Result<axum::response::Response, HttpError> {
    let rec = o.recordings.load_async(room, period).await?;
    let track = rec
        .track(rep)
        .ok_or_else(|| not_found("no such representation"))?;
    let seg = track
        .by_start(t)
        .ok_or_else(|| not_found("no segment starts there"))?;
    let data = o
        .recordings
        .read_segment(room, period, rep, Some(seg.number))
        .await?;
    Ok(reply(data, mime(track.kind), IMMUTABLE))
}

async fn from_disk(
    o: &Origin,
    room: &str,
    period: &str,
    rep: &str,
    n: Option<u64>,
) -> Result<axum::response::Response, HttpError> {
    let (data, kind) = recorded(o, room, period, rep, n).await?;
    Ok(reply(data, mime(kind), IMMUTABLE))
}

/// A recorded segment (`None`: the init segment) and its track's kind.
pub(super) async fn recorded(
    o: &Origin,
    room: &str,
    period: &str,
    rep: &str,
    n: Option<u64>,
) -> Result<(Bytes, TrackKind), HttpError> {
    let rec = o
        .recordings
        .load_async(room, period)
        .await
        .map_err(|e| match e {
            super::RecordError::NotFound => not_found("no such period"),
            e => e.into(),
        })?;
    let kind = rec
        .track(rep)
        .ok_or_else(|| not_found("no such representation"))?
        .kind;
    let data = o
        .recordings
        .read_segment(room, period, rep, n)
        .await
        .map_err(|e| match e {
            super::RecordError::NotFound => not_found("no such segment"),
            e => e.into(),
        })?;
    Ok((data, kind))
}

/// How long a growing segment may go without a new chunk before we give up on it.
fn stall_timeout(p: &Period) -> Duration {
    (p.segment_duration * 2).max(Duration::from_secs(2))
}

/// A segment from the ring: whole if complete, streamed if growing.
fn serve(seg: Arc<Segment>, kind: TrackKind, stall: Duration) -> axum::response::Response {
    if let Some(data) = seg.bytes() {
        return reply(data, mime(kind), IMMUTABLE);
    }
    let body = axum::body::Body::from_stream(chunks(seg, stall));
    reply(body, mime(kind), SHORT)
}

/// The chunks of a segment as they come; ends when it is complete. If no chunk arrives for
/// `stall`, the stream fails, which aborts the response rather than ending it cleanly, so a
/// client never takes a truncated segment for a whole one.
pub(super) fn chunks(
    seg: Arc<Segment>,
    stall: Duration,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    struct S {
        // Keeps the segment's sender alive while we stream it.
        _seg: Arc<Segment>,
        rx: watch::Receiver<SegmentState>,
        sent: usize,
        failed: bool,
    }
    let rx = seg.watch();
    let s = S {
        _seg: seg,
        rx,
        sent: 0,
        failed: false,
    };
    futures_util::stream::unfold(s, move |mut s| async move {
        if s.failed {
            return None;
        }
        loop {
            let (next, complete) = {
                let st = s.rx.borrow_and_update();
                (st.chunks.get(s.sent).cloned(), st.complete)
            };
            if let Some(chunk) = next {
                s.sent += 1;
                return Some((Ok(chunk), s));
            }
            if complete {
                return None;
            }
            if !matches!(
                tokio::time::timeout(stall, s.rx.changed()).await,
                Ok(Ok(()))
            ) {
                s.failed = true;
                return Some((Err(io::Error::other("segment stalled")), s));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::package::ring::ChunkInfo;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn streams_until_complete() {
        let seg = Arc::new(Segment::new(
            1,
            0,
            Bytes::from_static(b"a"),
            ChunkInfo::default(),
        ));
        let mut st = Box::pin(chunks(seg.clone(), Duration::from_secs(5)));
        assert_eq!(st.next().await.unwrap().unwrap(), "a");
        seg.push_chunk(Bytes::from_static(b"b"), ChunkInfo::default());
        seg.push_chunk(Bytes::from_static(b"c"), ChunkInfo::default());
        assert_eq!(st.next().await.unwrap().unwrap(), "b");
        assert_eq!(st.next().await.unwrap().unwrap(), "c");
        let waiter = tokio::spawn(async move { st.next().await.is_none() });
        tokio::time::sleep(Duration::from_millis(20)).await;
        seg.finish(10);
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn stalled_segment_fails() {
        let seg = Arc::new(Segment::new(
            1,
            0,
            Bytes::from_static(b"a"),
            ChunkInfo::default(),
        ));
        let mut st = Box::pin(chunks(seg, Duration::from_millis(30)));
        assert!(st.next().await.unwrap().is_ok());
        assert!(st.next().await.unwrap().is_err());
        assert!(st.next().await.is_none());
    }
}
