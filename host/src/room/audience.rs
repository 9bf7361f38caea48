//! The audience meter: what this node sees of a room's viewers, integrated over time and
//! reported to the store per minute (`AudienceStore`): viewer time (viewers × ms) and
//! the most viewers at once. The room's flush loop feeds it the local online count every
//! flush and writes what it returns, so a minute is reported in parts (every
//! [`REPORTS_PER_FLUSHES`] flushes: 10 s at the default 500 ms) while it runs and the
//! console's live summary moves with it.

use std::sync::OnceLock;
use std::time::Duration;

const MINUTE_MS: u64 = 60_000;
/// A running minute is reported every this many flushes.
pub const REPORTS_PER_FLUSHES: u32 = 20;

/// This process's name in the audience rows: viewers on other nodes are theirs.
pub fn node_id() -> &'static str {
    static NODE: OnceLock<String> = OnceLock::new();
    NODE.get_or_init(|| {
        let salt = crate::store::random_hex(4).unwrap_or_default();
        format!("{}-{salt}", std::process::id())
    })
}

/// One part of a minute to add to the store.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub minute_ms: u64,
    pub viewer_ms: u64,
    pub peak: u32,
}

/// What has been seen since the last report.
#[derive(Debug)]
pub struct Meter {
    report_every_ms: u64,
    /// The previous sample: when, and how many viewers were online since.
    last: Option<(u64, u32)>,
    minute_ms: u64,
    viewer_ms: u64,
    peak: u32,
    /// The running minute's peak as last reported (the store keeps the largest).
    reported_peak: u32,
    reported_ms: u64,
}

impl Meter {
    /// A meter sampled every `flush`.
    pub fn new(flush: Duration) -> Meter {
        Meter {
            report_every_ms: (flush * REPORTS_PER_FLUSHES).as_millis() as u64,
            last: None,
            minute_ms: 0,
            viewer_ms: 0,
            peak: 0,
            reported_peak: 0,
            reported_ms: 0,
        }
    }

    /// `online` viewers at `now_ms`: the time since the last sample counts at the last
    /// count, split at minute boundaries. Returns the parts due for the store: a minute
    /// that ended, and the running one when it was last reported a report interval ago.
    pub fn sample(&mut self, now_ms: u64, online: u32) -> Vec<Report> {
        let mut out = Vec::new();
        let Some((mut at, count)) = self.last.replace((now_ms, online)) else {
            self.start(now_ms, online);
            return out;
        };
        while at < now_ms {
            let edge = (self.minute_ms + MINUTE_MS).min(now_ms);
            self.viewer_ms += u64::from(count) * edge.saturating_sub(at);
            at = edge;
            if at == self.minute_ms + MINUTE_MS {
                out.extend(self.take());
                self.minute_ms = at;
                self.peak = count;
                self.reported_peak = 0;
                self.reported_ms = now_ms;
            }
        }
        self.peak = self.peak.max(online);
        if now_ms.saturating_sub(self.reported_ms) >= self.report_every_ms {
            out.extend(self.take());
            self.reported_ms = now_ms;
        }
        out
    }

    fn start(&mut self, now_ms: u64, online: u32) {
        self.minute_ms = now_ms - now_ms % MINUTE_MS;
        self.peak = online;
        self.reported_peak = 0;
        self.reported_ms = now_ms;
    }

    /// The part of the running minute not reported yet, if it holds anything new.
    fn take(&mut self) -> Option<Report> {
        let viewer_ms = std::mem::take(&mut self.viewer_ms);
        let news = viewer_ms > 0 || self.peak > self.reported_peak;
        self.reported_peak = self.peak;
        news.then_some(Report {
            minute_ms: self.minute_ms,
            viewer_ms,
            peak: self.peak,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewer_time_is_split_at_minutes_and_reported_in_parts() {
        let mut m = Meter::new(Duration::from_millis(500));
        let t0 = 10 * MINUTE_MS + 50_000; // 10 s before a minute ends
        assert!(m.sample(t0, 3).is_empty());
        // 10 s at 3 viewers, then 5 s into the next minute at 3: the first minute is done.
        let r = m.sample(t0 + 15_000, 5);
        assert_eq!(
            r,
            [Report {
                minute_ms: 10 * MINUTE_MS,
                viewer_ms: 30_000,
                peak: 3
            }]
        );
        // 5 s more at 5 viewers: the running minute, reported once 10 s have passed.
        let r = m.sample(t0 + 25_000, 0);
        assert_eq!(
            r,
            [Report {
                minute_ms: 11 * MINUTE_MS,
                viewer_ms: 3 * 5_000 + 5 * 10_000,
                peak: 5
            }]
        );
        // Nobody watching: nothing to report.
        assert!(m.sample(t0 + 40_000, 0).is_empty());
    }
}
