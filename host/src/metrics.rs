//! Process-wide counters for operators: panics and the HTTP listener's connections.
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
}

/// Every metric, in the Prometheus text exposition format (version 0.0.4).
pub fn render(rooms: RoomFigures) -> String {
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_help_type_and_one_sample() {
        let text = render(RoomFigures::default());
        let samples: Vec<_> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(samples.len(), types);
        for s in samples {
            let (name, value) = s.split_once(' ').unwrap_or_default();
            assert!(name.starts_with("livecart_"), "{s}");
            assert!(value.parse::<u64>().is_ok(), "{s}");
        }
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
