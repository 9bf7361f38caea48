//! A simulated LL-DASH viewer: one keep-alive connection; it refreshes the MPD every 2 s
//! (between segments, as `minimumUpdatePeriod` asks), fetches the init segment once per
//! period, joins at the live edge (the growing segment, from `availabilityStartTime`) and
//! then fetches each segment of one representation as soon as the previous one completes,
//! receiving it chunk by chunk as the packager writes it.

use super::http::Conn;
use super::measure::Samples;
use super::stack::ChunkLog;
use livecart_media::origin::time::parse_iso8601;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What a viewer plays and against what.
pub struct Target {
    pub addr: SocketAddr,
    /// Path of the live MPD, e.g. `/media/bench/live.mpd`.
    pub mpd_path: String,
    /// Representation to play; `None`: the lowest-bandwidth video.
    pub rep: Option<String>,
    /// Ring arrival times of chunks (when the origin runs in this process).
    pub log: Option<Arc<ChunkLog>>,
}

/// What a live MPD says, as far as a viewer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Mpd {
    pub period: String,
    pub rep: String,
    pub ast: SystemTime,
    pub segment: Duration,
}

impl Mpd {
    /// The segment being written now.
    pub fn live_edge(&self, now: SystemTime) -> u64 {
        let since = now.duration_since(self.ast).unwrap_or_default();
        (since.as_nanos() / self.segment.as_nanos().max(1)) as u64 + 1
    }
}

/// The attributes of every `<name …>` tag, in order, with their offsets.
fn tags<'a>(xml: &'a str, name: &str) -> Vec<(usize, &'a str)> {
    let open = format!("<{name} ");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = xml[from..].find(&open) {
        let start = from + i + open.len();
        let end = xml[start..].find('>').map_or(xml.len(), |e| start + e);
        out.push((start, &xml[start..end]));
        from = end;
    }
    out
}

fn attr<'a>(tag: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!(" {key}=\"");
    let i = format!(" {tag}").find(&pat)? + pat.len() - 1;
    let rest = tag.get(i..)?;
    rest.find('"').and_then(|e| rest.get(..e))
}

/// Parse our live MPD; `rep` picks the representation (default: cheapest video).
pub fn parse_mpd(xml: &str, rep: Option<&str>) -> Option<Mpd> {
    let mpd = tags(xml, "MPD").into_iter().next()?.1;
    let ast = parse_iso8601(attr(mpd, "availabilityStartTime")?)?;
    let period = attr(tags(xml, "Period").into_iter().next()?.1, "id")?.to_string();
    let reps = tags(xml, "Representation");
    let (at, chosen) = match rep {
        Some(id) => reps.into_iter().find(|(_, t)| attr(t, "id") == Some(id))?,
        None => reps
            .into_iter()
            .filter(|(_, t)| attr(t, "mimeType") == Some("video/mp4"))
            .min_by_key(|(_, t)| {
                attr(t, "bandwidth")
                    .and_then(|b| b.parse::<u64>().ok())
                    .unwrap_or(u64::MAX)
            })?,
    };
    let template = tags(&xml[at..], "SegmentTemplate").into_iter().next()?.1;
    let scale: u64 = attr(template, "timescale")?.parse().ok()?;
    let ticks: u64 = attr(template, "duration")?.parse().ok()?;
    Some(Mpd {
        period,
        rep: attr(chosen, "id")?.to_string(),
        ast,
        segment: Duration::from_nanos(
            (ticks as u128 * 1_000_000_000 / scale.max(1) as u128) as u64,
        ),
    })
}

/// What one viewer saw inside the measurement window.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub requests: u64,
    pub bytes: u64,
    pub segments: u64,
    /// Full MPD response time.
    pub mpd: Samples,
    /// Time to first byte of segment requests.
    pub ttfb: Samples,
    /// Ring → this viewer, per chunk (origin in this process only; not the join segment).
    pub chunk_lag: Vec<Samples>,
    /// 404 "not available yet" answers (asked too early).
    pub early: u64,
    /// Failed requests: connection errors, timeouts, cut bodies, other statuses.
    pub errors: u64,
    /// Segment numbers jumped over to get back to the live edge.
    pub skipped: u64,
    pub connections: u64,
}

impl Stats {
    /// A segment (or LL-HLS part) that arrived whole; counted if `counting`.
    pub fn segment(&mut self, r: &super::http::Reply, counting: bool) {
        if counting {
            self.segments += 1;
            self.bytes += r.bytes;
            self.ttfb.push(r.ttfb);
        }
    }

    pub fn merge(&mut self, o: &Stats) {
        self.requests += o.requests;
        self.bytes += o.bytes;
        self.segments += o.segments;
        self.mpd.extend(&o.mpd);
        self.ttfb.extend(&o.ttfb);
        self.chunk_lag.extend(o.chunk_lag.iter().cloned());
        self.early += o.early;
        self.errors += o.errors;
        self.skipped += o.skipped;
        self.connections += o.connections;
    }
}

const MPD_EVERY: Duration = Duration::from_secs(2);

/// Play until `stop`, counting the requests that complete from `from` until `stop`.
pub async fn play(t: Arc<Target>, from: Instant, stop: Instant) -> Stats {
    let window = |at: Instant| at >= from && at < stop;
    let mut conn = Conn::new(t.addr);
    let mut st = Stats::default();
    let mut lag = Samples::default();
    let mut mpd: Option<Mpd> = None;
    let mut last_mpd: Option<Instant> = None;
    let mut init_for = String::new();
    // Next segment, and whether it is the join segment (its first chunks are old).
    let (mut next, mut joining) = (0u64, true);
    while Instant::now() < stop {
        if last_mpd.is_none_or(|at| at.elapsed() >= MPD_EVERY) {
            let at = Instant::now();
            let r = conn.get(&t.mpd_path, true, |_| {}).await;
            let counting = window(Instant::now());
            st.requests += u64::from(counting);
            match r {
                Ok(r) if r.status == 200 => {
                    if counting {
                        st.mpd.push(at.elapsed());
                        st.bytes += r.bytes;
                    }
                    last_mpd = Some(at);
                    let text = String::from_utf8_lossy(&r.body);
                    mpd = parse_mpd(&text, t.rep.as_deref()).or(mpd);
                }
                Ok(r) if r.status == 404 => st.early += u64::from(counting),
                _ => st.errors += u64::from(counting),
            }
        }
        let Some(m) = mpd.clone() else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let base = t.mpd_path.rsplit_once('/').map_or("", |(b, _)| b);
        let edge = m.live_edge(SystemTime::now());
        if init_for != m.period {
            let r = conn
                .get(
                    &format!("{base}/{}/{}/init.mp4", m.period, m.rep),
                    false,
                    |_| {},
                )
                .await;
            let counting = window(Instant::now());
            st.requests += u64::from(counting);
            match r {
                Ok(r) if r.status == 200 => {
                    st.bytes += if counting { r.bytes } else { 0 };
                    init_for = m.period.clone();
                    (next, joining) = (edge, true);
                }
                _ => {
                    st.errors += u64::from(counting);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            continue;
        }
        if next + 3 < edge {
            // Fell behind by more than a few segments: rejoin at the live edge.
            st.skipped += if window(Instant::now()) {
                edge - next
            } else {
                0
            };
            (next, joining) = (edge, true);
        }
        let path = format!("{base}/{}/{}/{next}.m4s", m.period, m.rep);
        let (rep, n, log) = (&m.rep, next, t.log.as_deref());
        let r = conn
            .get(&path, false, |i| {
                if let (false, true, Some(log)) = (joining, window(Instant::now()), log)
                    && let Some((at, _)) = log.get(rep, n, i)
                {
                    lag.push(at.elapsed());
                }
            })
            .await;
        let counting = window(Instant::now());
        st.requests += u64::from(counting);
        match r {
            Ok(r) if r.status == 200 => {
                st.segment(&r, counting);
                (next, joining) = (next + 1, false);
            }
            Ok(r) if r.status == 404 => {
                st.early += u64::from(counting);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => {
                st.errors += u64::from(counting);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    st.chunk_lag.push(lag);
    st.connections = conn.opened;
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    const MPD: &str = r#"<?xml version="1.0"?><MPD xmlns="x" type="dynamic" availabilityStartTime="2024-05-01T12:34:56.789Z" publishTime="x"><Period id="p1" start="PT0S"><AdaptationSet id="0" contentType="video" mimeType="video/mp4"><Representation id="v0" mimeType="video/mp4" bandwidth="2500000"><SegmentTemplate timescale="90000" duration="180000" startNumber="1"/></Representation><Representation id="v1" mimeType="video/mp4" bandwidth="800000"><SegmentTemplate timescale="15360" duration="15360" startNumber="1"/></Representation></AdaptationSet><AdaptationSet id="1" contentType="audio"><Representation id="a0" mimeType="audio/mp4" bandwidth="128000"><SegmentTemplate timescale="48000" duration="48000"/></Representation></AdaptationSet></Period></MPD>"#;

    #[test]
    fn picks_the_cheapest_video_and_its_timing() {
        let m = parse_mpd(MPD, None).unwrap_or_else(|| panic!("parse"));
        assert_eq!((m.period.as_str(), m.rep.as_str()), ("p1", "v1"));
        assert_eq!(m.segment, Duration::from_secs(1));
        let v0 = parse_mpd(MPD, Some("v0")).unwrap_or_else(|| panic!("parse"));
        assert_eq!(v0.segment, Duration::from_secs(2));
        assert_eq!(v0.live_edge(v0.ast + Duration::from_millis(4500)), 3);
        assert_eq!(parse_mpd(MPD, Some("zz")), None);
    }
}
