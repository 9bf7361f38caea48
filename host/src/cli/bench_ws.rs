//! `livecart bench ws`: a WebSocket load generator against a real `livecart serve`.
//!
//! The server runs as a child process (this binary, `serve --listen 127.0.0.1:0` on a
//! throwaway data directory, no demo plugins unless `--demo-plugins` is given), so its
//! memory and CPU are measured apart from the load generator's. Every client connects to
//! 127.0.0.1 only, every phase is bounded in count and time, and the child is killed when
//! the bench ends, fails or panics.
//!
//! Modes, each printing a Markdown table:
//! - [`fanout`]: product pushes by a host to N viewers in one room, latency per delivery;
//! - [`memory`]: server RSS before and after N idle joined connections;
//! - [`likes`]: M connections sending `like` at their rate limit; totals and frame rates;
//! - [`claims`]: K connections claiming a coupon of quota Q at once; latency, no oversell;
//! - [`joins`]: joins per second and CPU per join by the size of the room's product bag.
//!
//! Run in release with enough file descriptors (the soft `RLIMIT_NOFILE` is raised to the
//! hard limit at start):
//! `ulimit -n 65536; cargo build --release -p livecart && ./target/release/livecart bench ws all`.

mod claims;
pub(super) mod client;
mod fanout;
mod joins;
mod likes;
mod memory;
pub(super) mod server;

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `livecart bench ws`.
#[derive(Debug, Args)]
pub struct WsArgs {
    #[command(subcommand)]
    mode: WsMode,
    /// Connections opened at once while joining. `serve` listens with a backlog of 128
    /// (the std/mio default), so more than about 100 overflows its accept queue and the
    /// dropped handshakes retry after a 1 s SYN timeout.
    #[arg(long, default_value_t = 100, global = true)]
    concurrency: usize,
    /// Enable the built demo plugins from this directory in the server's demo room
    /// (default: none, so only the rooms layer is measured).
    #[arg(long, global = true)]
    demo_plugins: Option<PathBuf>,
    /// Seconds to wait, before each measurement, for other work on the machine to stop.
    #[arg(long, default_value_t = 300, global = true)]
    quiet_wait: u64,
}

#[derive(Debug, Subcommand)]
enum WsMode {
    /// Fan-out latency of host product pushes to N viewers in one room.
    Fanout(fanout::FanoutArgs),
    /// Server memory per idle joined connection.
    Memory(memory::MemoryArgs),
    /// Like storm: like messages and taps accepted per second.
    Likes(likes::LikesArgs),
    /// Concurrent coupon claims: latency and zero oversell.
    Claims(claims::ClaimsArgs),
    /// Joins per second by the size of the product bag the snapshot carries.
    Joins(joins::JoinsArgs),
    /// Everything with its defaults: fan-out at 1k and 10k, memory, likes, claims.
    All,
}

/// What every mode needs.
#[derive(Debug, Clone)]
struct Opts {
    concurrency: usize,
    demo_plugins: Option<PathBuf>,
    quiet_wait: Duration,
    /// The soft open-files limit after raising it.
    nofile: u64,
}

impl Opts {
    /// Fail early, with the fix, when `conns` client sockets cannot be opened.
    fn check_fds(&self, conns: usize) -> anyhow::Result<()> {
        let need = conns as u64 + 256;
        if self.nofile < need {
            anyhow::bail!(
                "{conns} connections need about {need} file descriptors but the limit is {}; \
                 run `ulimit -n 65536` (or raise the hard limit) first",
                self.nofile
            );
        }
        Ok(())
    }
}

/// Whether a mode's correctness checks held (its numbers are printed either way).
type Verdict = bool;

pub fn run(args: WsArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run with --release for real numbers");
    }
    let nofile = raise_nofile_limit();
    let opts = Opts {
        concurrency: args.concurrency.clamp(1, 1000),
        demo_plugins: args.demo_plugins,
        quiet_wait: Duration::from_secs(args.quiet_wait.min(3600)),
        nofile,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ok = runtime.block_on(async move {
        match args.mode {
            WsMode::Fanout(a) => fanout::run(&opts, &a).await,
            WsMode::Memory(a) => memory::run(&opts, &a).await,
            WsMode::Likes(a) => likes::run(&opts, &a).await,
            WsMode::Claims(a) => claims::run(&opts, &a).await,
            WsMode::Joins(a) => joins::run(&opts, &a).await,
            WsMode::All => all(&opts).await,
        }
    })?;
    // Client tasks may still hold sockets; do not wait for them.
    runtime.shutdown_background();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every mode with its defaults, each against a fresh server; a failing mode is reported
/// and the rest still run.
async fn all(opts: &Opts) -> anyhow::Result<Verdict> {
    let mut ok = true;
    let results = [
        fanout::run(opts, &fanout::FanoutArgs::default()).await,
        memory::run(opts, &memory::MemoryArgs::default()).await,
        likes::run(opts, &likes::LikesArgs::default()).await,
        claims::run(opts, &claims::ClaimsArgs::default()).await,
    ];
    for r in results {
        match r {
            Ok(v) => ok &= v,
            Err(e) => {
                eprintln!("error: {e:#}");
                ok = false;
            }
        }
    }
    Ok(ok)
}

/// Nanoseconds since the bench started; one clock for senders and receivers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock(Instant);

impl Clock {
    pub(super) fn new() -> Self {
        Clock(Instant::now())
    }

    pub(super) fn ns(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A lock-free latency histogram in microseconds: 1 µs buckets below 100 ms, 1 ms
/// buckets up to 120 s.
pub(super) struct Histogram {
    fine: Vec<AtomicU64>,
    coarse: Vec<AtomicU64>,
    count: AtomicU64,
    max: AtomicU64,
}

const FINE_US: u64 = 100_000;
const COARSE_MS: u64 = 120_000;

impl Histogram {
    pub(super) fn new() -> Self {
        Histogram {
            fine: (0..FINE_US).map(|_| AtomicU64::new(0)).collect(),
            coarse: (0..COARSE_MS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    pub(super) fn record_ns(&self, ns: u64) {
        let us = ns / 1000;
        let bucket = if us < FINE_US {
            &self.fine[us as usize]
        } else {
            &self.coarse[(us / 1000).min(COARSE_MS - 1) as usize]
        };
        bucket.fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(us, Ordering::Relaxed);
    }

    pub(super) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn max_us(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// The smallest value (µs, bucket resolution) at or below which a fraction `q` of the
    /// samples lie.
    pub(super) fn quantile_us(&self, q: f64) -> u64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        let rank = ((n as f64 * q).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (us, b) in self.fine.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                return us as u64;
            }
        }
        for (ms, b) in self.coarse.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                return ms as u64 * 1000;
            }
        }
        self.max_us()
    }
}

/// Microseconds as milliseconds for the tables.
fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// "met" or "MISSED" against a target.
fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit in force.
pub(super) fn raise_nofile_limit() -> u64 {
    let Some((soft, hard)) = nofile_limits() else {
        return 1024;
    };
    // "unlimited" hard limits are capped by the kernel's nr_open.
    let target = if hard == u64::MAX {
        std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1 << 20)
    } else {
        hard
    };
    if target <= soft {
        return soft;
    }
    match set_nofile(target, hard) {
        Ok(()) => target,
        Err(e) => {
            eprintln!("warning: could not raise the open-files limit to {target}: {e}");
            soft
        }
    }
}

/// The soft and hard open-files limits, from `/proc/self/limits`.
fn nofile_limits() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let mut nums = line["Max open files".len()..].split_whitespace().map(|v| {
        if v == "unlimited" {
            Some(u64::MAX)
        } else {
            v.parse().ok()
        }
    });
    Some((nums.next()??, nums.next()??))
}

/// `setrlimit(RLIMIT_NOFILE, soft, hard)`; `hard` must be the current hard limit.
#[allow(unsafe_code)]
fn set_nofile(soft: u64, hard: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: if hard == u64::MAX {
            libc::RLIM_INFINITY
        } else {
            hard as libc::rlim_t
        },
    };
    // SAFETY: `limit` is a fully initialised `rlimit` that lives across the call, and
    // setrlimit only reads through the pointer; it changes no memory we own.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_follow_the_samples() {
        let h = Histogram::new();
        for us in 1..=1000u64 {
            h.record_ns(us * 1000);
        }
        h.record_ns(250_000_000);
        assert_eq!(h.count(), 1001);
        assert_eq!(h.quantile_us(0.5), 501);
        assert_eq!(h.quantile_us(0.99), 991);
        assert_eq!(h.quantile_us(1.0), 250_000);
        assert_eq!(h.max_us(), 250_000);
    }

    #[test]
    fn open_files_limits_are_readable() {
        let (soft, hard) = nofile_limits().expect("/proc/self/limits");
        assert!(soft <= hard);
    }
}
