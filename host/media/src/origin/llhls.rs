//! Low-Latency HLS (RFC 8216bis) over the chunk ring: each CMAF chunk is a part.
//!
//! - **Parts.** Chunk `i` of segment `n` is `{n}.{i}.m4s`, immutable like a segment once it
//!   exists; a part of a segment that has left the ring is cut from the recorded segment
//!   ([`bmff::chunk_spans`]). A request for a part that is not there yet (the preload
//!   hint) is held until the packager pushes it, and answered 404 if its segment completes
//!   without it.
//! - **Part target.** The chunk duration for video; for AAC audio the chunk duration rounded
//!   up to whole 1024-sample frames (`cmafmux` closes a chunk on a frame boundary); never
//!   less than the longest part listed.
//! - **Blocking reload.** `index.m3u8?_HLS_msn=M[&_HLS_part=P]` is held until segment `M`
//!   is complete or (with `P`) has part `P`, then answered with the playlist. A request
//!   more than two segments (or [`ADVANCE_PARTS`] parts) past the live edge is 400; one not
//!   satisfied within three target durations is 503, as the spec asks.
//! - **Preload hint.** The next part of the growing segment, or the next segment's first
//!   part once the growing one has its nominal length.
//! - **Rendition reports** name every other rendition of the period with its last segment
//!   and part, so a player switching rungs can ask for the right part at once.

use super::routes::{HttpError, IMMUTABLE, Origin, bad_request, not_found, reply};
use super::segments::{self, mime};
use crate::hub::TrackKind;
use crate::package::bmff;
use crate::package::ring::{Period, Segment, Track};
use axum::http::StatusCode;
use bytes::Bytes;
use std::time::Duration;
use tokio::time::Instant;

/// How far past the last part a blocking request may ask (RFC 8216bis §6.2.5.2).
pub const ADVANCE_PARTS: usize = 3;
/// AAC frame length in samples.
const AAC_FRAME: u64 = 1024;

/// Another rendition's last segment and part, for `EXT-X-RENDITION-REPORT`.
pub struct Report {
    pub rep: String,
    pub msn: u64,
    pub part: usize,
}

/// The nominal part duration of `track`'s rendition (see the module header).
fn nominal_part(period: &Period, track: &Track) -> Duration {
    let chunk = period.chunk_duration;
    let r = &track.rendition;
    if r.kind == TrackKind::Audio && r.sample_rate > 0 {
        let frame_ns = AAC_FRAME * 1_000_000_000 / u64::from(r.sample_rate);
        let frames = (chunk.as_nanos() as u64).div_ceil(frame_ns.max(1));
        Duration::from_nanos(frames * AAC_FRAME * 1_000_000_000 / u64::from(r.sample_rate))
    } else {
        chunk
    }
}

/// `PART-TARGET` of `track`: its nominal part, or the longest part in the ring if longer,
/// rounded up to the millisecond (the playlist writes it with three decimals).
pub fn part_target(period: &Period, track: &Track) -> Duration {
    let timescale = track.init().map_or(0, |(_, i)| i.timescale);
    let longest = track
        .segments()
        .iter()
        .flat_map(|s| s.snapshot().infos)
        .map(|p| p.duration)
        .max()
        .unwrap_or(0);
    let longest = if timescale > 0 {
        Duration::from_nanos((u128::from(longest) * 1_000_000_000 / u128::from(timescale)) as u64)
    } else {
        Duration::ZERO
    };
    let t = nominal_part(period, track).max(longest);
    Duration::from_millis((t.as_nanos() as u64).div_ceil(1_000_000))
}

/// The part to hint after the growing segment `number`'s `parts`: the next one, or the
/// next segment's first once the segment has its nominal length (it completes when the next
/// fragment starts, so a hint past its end would only ever be answered 404).
pub fn next_part(
    number: u64,
    parts: &[crate::package::ring::ChunkInfo],
    nominal: Duration,
    timescale: u32,
) -> (u64, usize) {
    let have: u64 = parts.iter().map(|p| p.duration).sum();
    let nominal = (nominal.as_nanos() * u128::from(timescale) / 1_000_000_000) as u64;
    // Half a part of slack for rounding in the chunk durations.
    let slack = parts.last().map_or(0, |p| p.duration / 2);
    if have > 0 && have + slack >= nominal {
        (number + 1, 0)
    } else {
        (number, parts.len())
    }
}

/// `PART-HOLD-BACK`, the same for every rendition: three times the longest part target.
pub fn part_hold_back(period: &Period) -> Duration {
    let longest = period
        .tracks
        .iter()
        .map(|t| part_target(period, t))
        .max()
        .unwrap_or(period.chunk_duration);
    longest * 3
}

/// The other renditions' last segment and part.
pub fn reports(period: &Period, rep: &str) -> Vec<Report> {
    period
        .tracks
        .iter()
        .filter(|t| t.rendition.id != rep)
        .filter_map(|t| {
            let last = t.last()?;
            let parts = last.snapshot().chunks.len();
            Some(Report {
                rep: t.rendition.id.clone(),
                msn: last.number,
                part: parts.saturating_sub(1),
            })
        })
        .collect()
}

/// A blocking reload's delivery directives.
#[derive(Debug, PartialEq, Eq)]
pub struct Directives {
    pub msn: u64,
    pub part: Option<usize>,
}

/// `_HLS_msn` / `_HLS_part` of a playlist request's query; `None` without them. Other
/// parameters (`_HLS_skip`, cache busters) are ignored.
pub fn directives(query: Option<&str>) -> Result<Option<Directives>, HttpError> {
    let (mut msn, mut part) = (None, None);
    for pair in query.unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let num = || {
            (!v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| bad_request(format!("{k} must be a whole number, not {v:?}")))
        };
        match k {
            "_HLS_msn" => msn = Some(num()?),
            "_HLS_part" => part = Some(usize::try_from(num()?).unwrap_or(usize::MAX)),
            _ => {}
        }
    }
    match (msn, part) {
        (Some(msn), part) => Ok(Some(Directives { msn, part })),
        (None, Some(_)) => Err(bad_request("_HLS_part needs _HLS_msn")),
        (None, None) => Ok(None),
    }
}

/// Is `d` in `track`'s ring: segment `msn` complete, or with part `part`; or a later one?
/// `Err` if it is too far ahead to wait for.
fn satisfied(track: &Track, d: &Directives) -> Result<bool, HttpError> {
    let Some(last) = track.last() else {
        return Ok(false);
    };
    let st = last.snapshot();
    let last_complete = if st.complete {
        last.number
    } else {
        last.number.saturating_sub(1)
    };
    if d.msn > last_complete + 2 {
        return Err(bad_request(format!(
            "_HLS_msn={} is more than two segments past the last one ({last_complete})",
            d.msn
        )));
    }
    if d.msn < last.number {
        return Ok(true);
    }
    // How many parts past the last one the request is, where that is known.
    let have = st.chunks.len();
    let ahead = match d.part {
        Some(p) if d.msn == last.number && !st.complete => p.checked_sub(have.saturating_sub(1)),
        Some(p) if d.msn == last.number + 1 && st.complete => Some(p + 1),
        _ => None,
    };
    if let Some(ahead) = ahead.filter(|&a| a > ADVANCE_PARTS) {
        return Err(bad_request(format!(
            "_HLS_part={} is {ahead} parts past the last one, more than {ADVANCE_PARTS}",
            d.part.unwrap_or(0)
        )));
    }
    if d.msn > last.number {
        return Ok(false);
    }
    Ok(st.complete || d.part.is_some_and(|p| p < have))
}

/// Hold a playlist request until its directives are met (see the module header); returns
/// at once if the period has ended.
pub async fn block(period: &Period, rep: &str, d: &Directives) -> Result<(), HttpError> {
    let track = period
        .track(rep)
        .ok_or_else(|| not_found("no such representation"))?;
    let target = period
        .segment_duration_of(&track.rendition)
        .as_secs_f64()
        .round()
        .max(1.0);
    let deadline = Instant::now() + Duration::from_secs_f64(3.0 * target);
    let mut added = track.watch();
    let mut end = period.watch_end();
    loop {
        // Subscribe to the growing segment before looking, so no chunk is missed.
        let mut grow = track.last().map(|s| s.watch());
        if period.ended().is_some() || satisfied(track, d)? {
            return Ok(());
        }
        let grown = async {
            match grow.as_mut() {
                Some(g) => g.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                return Err(HttpError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("segment {} part {:?} did not come within {target} s × 3", d.msn, d.part),
                ));
            }
            _ = added.changed() => {}
            _ = grown => {}
            _ = end.changed() => {}
        }
    }
}

/// `{n}.{i}.m4s`: part `i` of segment `n`, from the ring (held while it is the next one to
/// come) or cut from the recording.
pub(super) async fn part(
    o: &Origin,
    room: &str,
    period: &str,
    rep: &str,
    n: u64,
    i: usize,
) -> Result<axum::response::Response, HttpError> {
    if let Some(p) = o.state.live(room).filter(|p| p.id == period) {
        let track = p
            .track(rep)
            .ok_or_else(|| not_found("no such representation"))?;
        if let Some(seg) = segments::live_segment(&p, track, n).await? {
            let chunk = chunk(&seg, n, i, p.segment_duration * 2).await?;
            return Ok(reply(chunk, mime(track.rendition.kind), IMMUTABLE));
        }
    }
    let (data, kind) = segments::recorded(o, room, period, rep, Some(n)).await?;
    let span = bmff::chunk_spans(&data)
        .into_iter()
        .nth(i)
        .ok_or_else(|| not_found(format!("segment {n} has no part {i}")))?;
    Ok(reply(data.slice(span), mime(kind), IMMUTABLE))
}

/// Chunk `i` of a ring segment, waited for while the segment grows (up to `wait`); 404 if
/// the segment completes without it or it is too far ahead.
async fn chunk(seg: &Segment, n: u64, i: usize, wait: Duration) -> Result<Bytes, HttpError> {
    let deadline = Instant::now() + wait;
    let mut rx = seg.watch();
    loop {
        let (chunk, complete, have) = {
            let st = rx.borrow_and_update();
            (st.chunks.get(i).cloned(), st.complete, st.chunks.len())
        };
        if let Some(chunk) = chunk {
            return Ok(chunk);
        }
        if complete {
            return Err(not_found(format!("segment {n} has only {have} parts")));
        }
        if i > have + ADVANCE_PARTS
            || !matches!(
                tokio::time::timeout_at(deadline, rx.changed()).await,
                Ok(Ok(()))
            )
        {
            return Err(not_found(format!("part {n}.{i} is not available yet")));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::origin::fixture;

    #[test]
    fn directives_parse() {
        let d = |q| directives(Some(q)).map_err(|e| e.1);
        assert_eq!(d("").unwrap(), None);
        assert_eq!(
            d("_HLS_msn=12&_HLS_part=3").unwrap(),
            Some(Directives {
                msn: 12,
                part: Some(3)
            })
        );
        assert_eq!(
            d("_HLS_skip=YES&_HLS_msn=4").unwrap(),
            Some(Directives { msn: 4, part: None })
        );
        assert!(d("_HLS_part=1").unwrap_err().contains("needs _HLS_msn"));
        assert!(d("_HLS_msn=-1").unwrap_err().contains("whole number"));
        assert!(
            d("_HLS_msn=1&_HLS_part=x")
                .unwrap_err()
                .contains("whole number")
        );
    }

    #[test]
    fn targets_and_reports() {
        let p = fixture::period(3, true);
        // Fixture chunks are 1 s, longer than the 200 ms nominal.
        assert_eq!(
            part_target(&p, p.track("v0").unwrap()),
            Duration::from_secs(1)
        );
        // 200 ms of 48 kHz AAC is 9.375 frames: 10 frames, 213.3 ms.
        assert_eq!(
            nominal_part(&p, p.track("a0").unwrap()),
            Duration::from_nanos(213_333_333)
        );
        // Three of the longest part target (1 s here).
        assert_eq!(part_hold_back(&p), Duration::from_secs(3));
        let r = reports(&p, "v0");
        let ids: Vec<_> = r.iter().map(|r| (r.rep.as_str(), r.msn, r.part)).collect();
        assert_eq!(ids, [("v1", 4, 0), ("a0", 4, 0)]);
    }

    #[test]
    fn the_hint_moves_to_the_next_segment_at_its_nominal_length() {
        use crate::package::ring::ChunkInfo;
        let part = |duration| ChunkInfo {
            duration,
            independent: false,
        };
        let second = Duration::from_secs(1);
        // Video: 5 × 200 ms at 90 kHz.
        let four = vec![part(18_000); 4];
        assert_eq!(next_part(7, &four, second, 90_000), (7, 4));
        let five = vec![part(18_000); 5];
        assert_eq!(next_part(7, &five, second, 90_000), (8, 0));
        // AAC: 47 frames of 1024 in parts of 10, 10, 10, 10, 7.
        let nominal = Duration::from_nanos(48_128 * 1_000_000_000 / 48_000);
        let mut aac = vec![part(10_240); 4];
        assert_eq!(next_part(3, &aac, nominal, 48_000), (3, 4));
        aac.push(part(7_168));
        assert_eq!(next_part(3, &aac, nominal, 48_000), (4, 0));
        assert_eq!(next_part(3, &[], nominal, 48_000), (3, 0));
    }

    #[test]
    fn what_satisfies_a_blocking_request() {
        let p = fixture::period(3, true);
        let t = p.track("v0").unwrap();
        let ok = |msn, part| satisfied(t, &Directives { msn, part }).map_err(|e| e.0);
        // Segment 4 is growing with one part (0).
        assert_eq!(ok(3, None), Ok(true));
        assert_eq!(ok(4, Some(0)), Ok(true));
        assert_eq!(ok(4, Some(1)), Ok(false));
        assert_eq!(ok(4, None), Ok(false));
        assert_eq!(ok(5, Some(0)), Ok(false));
        assert_eq!(ok(4, Some(9)), Err(StatusCode::BAD_REQUEST));
        assert_eq!(ok(6, None), Err(StatusCode::BAD_REQUEST));
    }
}
