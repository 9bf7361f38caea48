//! Process-wide metrics for operators: panics, the HTTP listener's connections, room
//! fan-out, plugins, claim and buy latency, origin responses, and the process itself.
//!
//! They are plain atomics so any module can bump them without a handle; `GET /metrics`
//! renders them in the Prometheus text format ([`render`]). A panic anywhere in the
//! process (a tokio worker included, whose panics tokio otherwise swallows) is counted by
//! the hook [`install_panic_hook`] installs.

use std::fmt::Write as _;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down, with its highest value since [`Gauge::take_peak`].
#[derive(Debug, Default)]
pub struct Gauge {
    value: AtomicU64,
    peak: AtomicU64,
}

impl Gauge {
    pub const fn new() -> Self {
        Gauge {
            value: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }

    pub fn inc(&self) {
        let now = self.value.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    pub fn add(&self, n: u64) {
        let now = self.value.fetch_add(n, Ordering::Relaxed) + n;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// Take `n` off, never below zero.
    pub fn sub(&self, n: u64) {
        let _ = self
            .value
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
    }

    pub fn dec(&self) {
        // Never wraps below zero, even if a caller decrements twice.
        let _ = self
            .value
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }

    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }

    /// The highest value since the last call (or the start), and start over from now.
    pub fn take_peak(&self) -> u64 {
        let now = self.get();
        self.peak.swap(now, Ordering::Relaxed).max(now)
    }
}

/// Panics anywhere in the process since it started (see [`install_panic_hook`]).
pub static PANICS: Counter = Counter::new();
/// TCP connections the HTTP listener accepted and serves.
pub static HTTP_ACCEPTED: Counter = Counter::new();
/// TCP connections open now (HTTP, WebSocket and long-poll alike).
pub static HTTP_OPEN: Gauge = Gauge::new();
/// Connections refused because their IP already had the most allowed.
pub static HTTP_REFUSED_PER_IP: Counter = Counter::new();
/// Connections refused because the server already had the most allowed.
pub static HTTP_REFUSED_GLOBAL: Counter = Counter::new();
/// Connections closed because they did not send a full request head in time.
pub static HTTP_HEADER_TIMEOUTS: Counter = Counter::new();
/// Accept errors (e.g. out of file descriptors).
pub static HTTP_ACCEPT_ERRORS: Counter = Counter::new();

/// Frames taken out of room outboxes to be written to clients.
pub static ROOM_FRAMES_OUT: Counter = Counter::new();
/// Other people's comments not delivered to a client by chat sampling.
pub static ROOM_FRAMES_DROPPED: Counter = Counter::new();
/// Times a client fell behind and its backlog was replaced by a catch-up.
pub static ROOM_RESYNCS: Counter = Counter::new();
/// Frames queued in every outbox, waiting for their client (the fan-out's lag).
pub static ROOM_OUTBOX_QUEUED: Gauge = Gauge::new();
/// Plugin batches run (calls of a plugin's `handle`).
pub static PLUGIN_CALLS: Counter = Counter::new();
/// Plugin faults by kind (`Fault::kind`).
pub static PLUGIN_FAULTS: ByLabel = ByLabel::new();
/// From a claim's submission to its committed answer.
pub static CLAIM_SECONDS: Histogram = Histogram::new();
/// From a buy's submission to its committed answer.
pub static BUY_SECONDS: Histogram = Histogram::new();
/// Responses of the media origin by status code.
pub static ORIGIN_RESPONSES: ByStatus = ByStatus::new();

/// Counts under a label value; for rare events (faults), so a lock is fine.
#[derive(Debug)]
pub struct ByLabel(std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>);

impl ByLabel {
    pub const fn new() -> Self {
        ByLabel(std::sync::Mutex::new(std::collections::BTreeMap::new()))
    }

    pub fn inc(&self, label: &'static str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(label).or_default() += 1;
    }

    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(k, v)| (*k, *v)).collect()
    }
}

impl Default for ByLabel {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts per HTTP status code, lock-free (every media request bumps one).
#[derive(Debug)]
pub struct ByStatus([AtomicU64; 600]);

impl ByStatus {
    pub const fn new() -> Self {
        ByStatus([const { AtomicU64::new(0) }; 600])
    }

    pub fn inc(&self, status: u16) {
        if let Some(c) = self.0.get(usize::from(status)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The codes seen, with their counts.
    pub fn snapshot(&self) -> Vec<(u16, u64)> {
        (100u16..600)
            .filter_map(|code| {
                let n = self.0[usize::from(code)].load(Ordering::Relaxed);
                (n > 0).then_some((code, n))
            })
            .collect()
    }
}

impl Default for ByStatus {
    fn default() -> Self {
        Self::new()
    }
}

/// Upper bounds of the latency histograms' buckets, in microseconds.
const BUCKETS_US: [u64; 12] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000,
];

/// A latency histogram with fixed buckets (1 ms to 5 s), lock-free.
#[derive(Debug)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last is over the largest bound.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    pub const fn new() -> Self {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS_US.len() + 1],
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, took: std::time::Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let i = BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BUCKETS_US.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Render as `name{labels,le=…}` buckets, `_sum` and `_count` (no HELP/TYPE).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = BUCKETS_US
                .get(i)
                .map_or("+Inf".to_owned(), |us| format!("{}", *us as f64 / 1e6));
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// The process's open file descriptors and resident memory, from `/proc/self` (Linux).
pub fn process_figures() -> (Option<u64>, Option<u64>) {
    let fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64);
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        });
    (fds, rss)
}

/// Panics so far.
pub fn panics() -> u64 {
    PANICS.get()
}

/// Count every panic, then run the hook that was installed before (which prints it).
/// Idempotent: only the first call installs.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.inc();
            previous(info);
        }));
    });
}

/// Room figures `render` includes; the caller reads them from `Rooms`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RoomFigures {
    pub open_rooms: u64,
    /// Joined connections counted online, over every open room.
    pub online: u64,
    /// Joined connections, online or not (long-poll sessions nobody polls).
    pub subscribers: u64,
    /// Open rooms whose plugins this node runs (it holds their lease on the bus).
    pub plugin_leases: u64,
}

/// The warm plugin instance cache, as `render` shows it.
pub use crate::plugin::warm::WarmStats;

/// A live publish, as `render` shows it: its room, how fast its publisher sends, and how
/// long packaging takes (seconds, once a segment is out).
pub type LiveFigures = (String, livecart_media::meter::IngestStats, Option<f64>);

/// Every metric, in the Prometheus text exposition format (version 0.0.4).
pub fn render(rooms: RoomFigures, warm: &WarmStats, lives: &[LiveFigures]) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    };
    metric(
        "livecart_panics_total",
        "counter",
        "Panics in the process since it started.",
        PANICS.get(),
    );
    metric(
        "livecart_http_connections_accepted_total",
        "counter",
        "TCP connections accepted and served.",
        HTTP_ACCEPTED.get(),
    );
    metric(
        "livecart_http_connections_open",
        "gauge",
        "TCP connections open now (HTTP, WebSocket, long-poll).",
        HTTP_OPEN.get(),
    );
    metric(
        "livecart_http_connections_refused_per_ip_total",
        "counter",
        "Connections refused because their IP was at its connection cap.",
        HTTP_REFUSED_PER_IP.get(),
    );
    metric(
        "livecart_http_connections_refused_global_total",
        "counter",
        "Connections refused because the server was at its connection cap.",
        HTTP_REFUSED_GLOBAL.get(),
    );
    metric(
        "livecart_http_header_timeouts_total",
        "counter",
        "Connections closed for not sending a full request head in time.",
        HTTP_HEADER_TIMEOUTS.get(),
    );
    metric(
        "livecart_http_accept_errors_total",
        "counter",
        "Errors accepting connections (e.g. out of file descriptors).",
        HTTP_ACCEPT_ERRORS.get(),
    );
    metric(
        "livecart_origin_throttled_total",
        "counter",
        "Media requests answered 429 because their client had too many 404s.",
        livecart_media::origin::throttle::THROTTLED.get(),
    );
    metric(
        "livecart_rooms_open",
        "gauge",
        "Rooms open on this node.",
        rooms.open_rooms,
    );
    metric(
        "livecart_room_online",
        "gauge",
        "Room connections counted online, over every open room.",
        rooms.online,
    );
    metric(
        "livecart_room_subscribers",
        "gauge",
        "Joined room connections, online or not.",
        rooms.subscribers,
    );
    metric(
        "livecart_room_plugin_leases",
        "gauge",
        "Open rooms whose plugins run on this node (it holds their lease on the room bus).",
        rooms.plugin_leases,
    );
    metric(
        "livecart_room_frames_out_total",
        "counter",
        "Frames taken from room outboxes to be written to clients.",
        ROOM_FRAMES_OUT.get(),
    );
    metric(
        "livecart_room_frames_dropped_total",
        "counter",
        "Chat frames not delivered to a client by sampling.",
        ROOM_FRAMES_DROPPED.get(),
    );
    metric(
        "livecart_room_resyncs_total",
        "counter",
        "Times a lagging client's backlog was replaced by a catch-up.",
        ROOM_RESYNCS.get(),
    );
    metric(
        "livecart_room_outbox_queued_frames",
        "gauge",
        "Frames queued in every outbox for their clients (the fan-out lag).",
        ROOM_OUTBOX_QUEUED.get(),
    );
    metric(
        "livecart_room_outbox_queued_frames_peak",
        "gauge",
        "The most frames queued in all outboxes at once since the last scrape.",
        ROOM_OUTBOX_QUEUED.take_peak(),
    );
    metric(
        "livecart_plugin_calls_total",
        "counter",
        "Plugin batches run.",
        PLUGIN_CALLS.get(),
    );
    metric(
        "livecart_plugin_warm_instances",
        "gauge",
        "Warm plugin instances in the cache.",
        warm.instances as u64,
    );
    metric(
        "livecart_plugin_warm_bytes",
        "gauge",
        "Memory the warm plugin instances hold, bytes.",
        warm.bytes as u64,
    );
    metric(
        "livecart_plugin_warm_evictions_total",
        "counter",
        "Warm plugin instances evicted to make room.",
        warm.evictions,
    );
    let (fds, rss) = process_figures();
    if let Some(fds) = fds {
        metric(
            "livecart_process_open_fds",
            "gauge",
            "File descriptors the process has open.",
            fds,
        );
    }
    if let Some(rss) = rss {
        metric(
            "livecart_process_resident_memory_bytes",
            "gauge",
            "Resident memory of the process (VmRSS), bytes.",
            rss,
        );
    }
    let _ = write!(
        out,
        "# HELP livecart_plugin_faults_total Plugin faults by kind.\n\
         # TYPE livecart_plugin_faults_total counter\n"
    );
    for (kind, n) in PLUGIN_FAULTS.snapshot() {
        let _ = writeln!(out, "livecart_plugin_faults_total{{kind=\"{kind}\"}} {n}");
    }
    let _ = write!(
        out,
        "# HELP livecart_origin_responses_total Media origin responses by status code.\n\
         # TYPE livecart_origin_responses_total counter\n"
    );
    for (status, n) in ORIGIN_RESPONSES.snapshot() {
        let _ = writeln!(
            out,
            "livecart_origin_responses_total{{status=\"{status}\"}} {n}"
        );
    }
    let _ = write!(
        out,
        "# HELP livecart_commit_seconds Coupon claims and flash-sale buys, from submission to \
         the committed answer.\n# TYPE livecart_commit_seconds histogram\n"
    );
    CLAIM_SECONDS.render(&mut out, "livecart_commit_seconds", "op=\"claim\"");
    BUY_SECONDS.render(&mut out, "livecart_commit_seconds", "op=\"buy\"");
    render_lives(&mut out, lives);
    out
}

/// Per live publish: the publisher's bitrate and speed (media time per wall time; under
/// 0.9 it is slow, see `livecart_media::meter`), and the packaging lag.
fn render_lives(out: &mut String, lives: &[LiveFigures]) {
    let _ = write!(
        out,
        "# HELP livecart_ingest_bitrate_bits Bits per second a live's publisher sent over the last 5 s.\n\
         # TYPE livecart_ingest_bitrate_bits gauge\n"
    );
    for (room, s, _) in lives {
        let _ = writeln!(
            out,
            "livecart_ingest_bitrate_bits{{room=\"{}\"}} {}",
            label(room),
            s.bitrate_bps
        );
    }
    let _ = write!(
        out,
        "# HELP livecart_ingest_speed Media time per wall time a live's publisher sent over the last 5 s (1 is real time).\n\
         # TYPE livecart_ingest_speed gauge\n"
    );
    for (room, s, _) in lives {
        if let Some(speed) = s.speed {
            let _ = writeln!(
                out,
                "livecart_ingest_speed{{room=\"{}\"}} {speed:.3}",
                label(room)
            );
        }
    }
    let _ = write!(
        out,
        "# HELP livecart_packaging_lag_seconds From the media time of a live's newest segment's first frame (ingest clock) to its first CMAF chunk being ready.\n\
         # TYPE livecart_packaging_lag_seconds gauge\n"
    );
    for (room, _, lag) in lives {
        if let Some(lag) = lag {
            let _ = writeln!(
                out,
                "livecart_packaging_lag_seconds{{room=\"{}\"}} {lag:.3}",
                label(room)
            );
        }
    }
}

/// A label value with `\`, `"` and newlines escaped, as the text format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_is_a_livecart_metric_with_a_number() {
        let text = render(RoomFigures::default(), &WarmStats::default(), &[]);
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(types, helps);
        for s in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = s.rsplit_once(' ').unwrap_or_default();
            assert!(name.starts_with("livecart_"), "{s}");
            assert!(value.parse::<f64>().is_ok(), "{s}");
        }
    }

    #[test]
    fn a_histogram_is_cumulative_and_counts_every_observation() {
        let h = Histogram::new();
        for ms in [0, 3, 3, 40, 9_000] {
            h.observe(std::time::Duration::from_millis(ms));
        }
        let mut out = String::new();
        h.render(&mut out, "x", "op=\"claim\"");
        assert!(
            out.contains("x_bucket{op=\"claim\",le=\"0.001\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{op=\"claim\",le=\"0.005\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_bucket{op=\"claim\",le=\"5\"} 4\n"), "{out}");
        assert!(
            out.contains("x_bucket{op=\"claim\",le=\"+Inf\"} 5\n"),
            "{out}"
        );
        assert!(out.contains("x_count{op=\"claim\"} 5\n"), "{out}");
    }

    #[test]
    fn a_gauge_never_goes_below_zero() {
        let g = Gauge::new();
        g.dec();
        assert_eq!(g.get(), 0);
        g.inc();
        g.inc();
        g.dec();
        assert_eq!((g.get(), g.take_peak(), g.take_peak()), (1, 2, 1));
    }
}
