//! Measuring: CPU time of this process, of its threads by name and of other processes
//! (from `/proc`), machine-wide busy and softirq time, waiting for a quiet machine,
//! percentiles, and raising the open-files limit.

// The /proc readers and the quiet-machine wait are the ws bench's; one copy serves both.
pub use crate::cli::bench_ws::server::{cpu_seconds as process_cpu, system_ticks, wait_quiet};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc` CPU times (USER_HZ; 100 on every Linux we run on).
const HZ: f64 = 100.0;

/// utime + stime of a `/proc/…/stat` line, in seconds, and the command name.
fn stat_cpu(stat: &str) -> Option<(String, f64)> {
    // The command name may hold spaces and parentheses: it ends at the last ')'.
    let open = stat.find('(')?;
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.get(open + 1..)?.to_string();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    Some((comm, (ticks(11)? + ticks(12)?) as f64 / HZ))
}

/// CPU seconds used so far by this process.
pub fn self_cpu() -> f64 {
    process_cpu(std::process::id())
}

/// CPU seconds of this process's live threads, summed by group: the thread name's prefix
/// before the first '-' ("srv-worker" → "srv"); GStreamer and other threads → "media".
pub fn threads_cpu() -> HashMap<&'static str, f64> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((comm, secs)) = stat_cpu(&stat) else {
            continue;
        };
        let group = match comm.split('-').next() {
            Some("srv") => "srv",
            Some("cli") => "cli",
            _ => "media",
        };
        *out.entry(group).or_insert(0.0) += secs;
    }
    out
}

/// CPU over a span of wall time, in cores: this process, by thread group, another process,
/// and the machine (busy, softirq).
pub struct CpuSpan {
    at: Instant,
    own: f64,
    threads: HashMap<&'static str, f64>,
    other: Option<(u32, f64)>,
    system: (u64, u64),
}

/// What a [`CpuSpan`] measured, in cores.
#[derive(Debug, Default, Clone)]
pub struct Cores {
    pub secs: f64,
    pub own: f64,
    pub threads: HashMap<&'static str, f64>,
    pub other: f64,
    pub busy: f64,
    pub softirq: f64,
}

impl CpuSpan {
    /// Start measuring; `other` is a process (the origin child) to measure too.
    pub fn start(other: Option<u32>) -> Self {
        CpuSpan {
            at: Instant::now(),
            own: self_cpu(),
            threads: threads_cpu(),
            other: other.map(|pid| (pid, process_cpu(pid))),
            system: system_ticks(),
        }
    }

    pub fn finish(&self) -> Cores {
        let secs = self.at.elapsed().as_secs_f64().max(1e-3);
        let threads = threads_cpu()
            .into_iter()
            .map(|(g, s)| (g, (s - self.threads.get(g).copied().unwrap_or(0.0)) / secs))
            .collect();
        let (busy, si) = system_ticks();
        Cores {
            secs,
            own: (self_cpu() - self.own) / secs,
            threads,
            other: self
                .other
                .map_or(0.0, |(pid, c0)| (process_cpu(pid) - c0) / secs),
            busy: busy.saturating_sub(self.system.0) as f64 / HZ / secs,
            softirq: si.saturating_sub(self.system.1) as f64 / HZ / secs,
        }
    }
}

impl Cores {
    pub fn group(&self, g: &str) -> f64 {
        self.threads.get(g).copied().unwrap_or(0.0)
    }
}

/// Samples in microseconds, for percentiles.
#[derive(Debug, Default, Clone)]
pub struct Samples(pub Vec<u64>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0
            .push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn extend(&mut self, other: &Samples) {
        self.0.extend_from_slice(&other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at or below which a fraction `q` of the samples lie (nearest rank).
    pub fn pct(&mut self, q: f64) -> Option<u64> {
        if self.0.is_empty() {
            return None;
        }
        self.0.sort_unstable();
        let n = self.0.len();
        let rank = ((n as f64 * q).ceil() as usize).clamp(1, n);
        self.0.get(rank - 1).copied()
    }

    /// "p50 / p99" in milliseconds, or "–" without samples.
    pub fn ms(&mut self, qs: &[f64]) -> String {
        let v: Vec<String> = qs
            .iter()
            .map(|&q| match self.pct(q) {
                Some(us) => format!("{:.1}", us as f64 / 1000.0),
                None => "–".into(),
            })
            .collect();
        format!("{} ms", v.join(" / "))
    }
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit in force.
#[allow(unsafe_code)]
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    // An unlimited hard limit is capped by the kernel's nr_open (usually 2^20).
    let target = lim.rlim_max.min(1 << 20);
    if lim.rlim_cur >= target {
        return lim.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: target,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: `raised` is a fully initialised `rlimit`; setrlimit only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        target
    } else {
        lim.rlim_cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse() {
        let line = "123 (srv-worker (x)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0";
        assert_eq!(stat_cpu(line), Some(("srv-worker (x)".into(), 3.0)));
        assert!(self_cpu() >= 0.0);
        assert!(threads_cpu().values().all(|&s| s >= 0.0));
    }

    #[test]
    fn percentiles() {
        let mut s = Samples((1..=100).rev().collect());
        assert_eq!(s.pct(0.5), Some(50));
        assert_eq!(s.pct(0.99), Some(99));
        assert_eq!(s.pct(1.0), Some(100));
        assert_eq!(Samples::default().pct(0.5), None);
    }
}
