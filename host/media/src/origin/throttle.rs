//! The origin's 404 limiter: a token bucket of "not found" answers per client IP.
//!
//! A player that walks segment numbers past the end of a live (ffmpeg 5.1 on a `$Number$`
//! template MPD asks for the next number at once after every failure, and never reads the
//! MPD again) turns the origin into a 404 generator: 50,717 requests in 23 s from one
//! process. Normal playback costs a few 404s at most (a segment asked for a little early),
//! so each client IP (IPv6 per /64, as the connection caps count them) gets a bucket of
//! [`NotFoundLimits::burst`] 404s refilled at [`NotFoundLimits::per_second`]. Once it is
//! empty, the client's requests are answered `429 Too Many Requests` with `Retry-After`,
//! without running the handler, and counted ([`THROTTLED`]); the 429 is held for
//! [`NotFoundLimits::hold`] first, so a client that ignores `Retry-After` and retries at
//! once still makes only a few requests a second.
//!
//! What it does not stop: a client spreading its requests over many addresses, or
//! requests that do not 404. Viewers behind one NAT share a bucket, which normal playback
//! never empties. Without a client address (a router served without `ConnectInfo`),
//! nothing is limited.

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// 429 answers given by every origin in the process since it started.
pub static THROTTLED: Throttled = Throttled(AtomicU64::new(0));

/// A process-wide counter of throttled requests.
pub struct Throttled(AtomicU64);

impl Throttled {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// How many 404s a client may cause.
#[derive(Clone, Copy, Debug)]
pub struct NotFoundLimits {
    /// 404s a client may get back to back.
    pub burst: u32,
    /// 404s a second it earns back.
    pub per_second: u32,
    /// How long a 429 is held before it is sent (`Retry-After` says at least this).
    pub hold: Duration,
}

impl Default for NotFoundLimits {
    fn default() -> Self {
        NotFoundLimits {
            burst: 30,
            per_second: 5,
            hold: Duration::from_secs(1),
        }
    }
}

/// Buckets above this many are swept of full ones.
const SWEEP_AT: usize = 4096;

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of one origin.
pub struct NotFoundLimiter {
    limits: NotFoundLimits,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl NotFoundLimiter {
    pub fn new(limits: NotFoundLimits) -> Self {
        NotFoundLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let earned = now.duration_since(b.at).as_secs_f64() * f64::from(self.limits.per_second);
        b.tokens = (b.tokens + earned).min(f64::from(self.limits.burst));
        b.at = now;
    }

    /// Whether `ip` may be answered now (it has a 404 left).
    pub fn allows(&self, ip: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        match buckets.get_mut(&key(ip)) {
            Some(b) => {
                self.refill(b, now);
                b.tokens >= 1.0
            }
            None => true,
        }
    }

    /// `ip` got a 404: take a token.
    pub fn not_found(&self, ip: IpAddr, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= SWEEP_AT {
            let full = f64::from(self.limits.burst);
            let per_second = f64::from(self.limits.per_second);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < full
            });
        }
        let b = buckets.entry(key(ip)).or_insert(Bucket {
            tokens: f64::from(self.limits.burst),
            at: now,
        });
        self.refill(b, now);
        b.tokens = (b.tokens - 1.0).max(0.0);
    }

    /// `Retry-After`, whole seconds: the hold, or the time to earn a token if longer.
    fn retry_after(&self) -> u64 {
        let token = 1.0 / f64::from(self.limits.per_second.max(1));
        self.limits.hold.as_secs_f64().max(token).ceil() as u64
    }
}

/// One bucket per IPv4 address and per IPv6 /64 (one subscriber's prefix); the host's
/// guest throttles count networks the same way.
pub fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
        v4 => v4,
    }
}

/// The middleware: refuse a client with no 404s left, count the 404s of the others.
pub async fn limit(limiter: Arc<NotFoundLimiter>, req: Request, next: Next) -> Response {
    let Some(ip) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return next.run(req).await;
    };
    if !limiter.allows(ip, Instant::now()) {
        THROTTLED.0.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(limiter.limits.hold).await;
        let body = axum::Json(serde_json::json!({
            "error": "too many requests for things that do not exist; slow down"
        }));
        let mut res = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
        let h = res.headers_mut();
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from(limiter.retry_after()),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return res;
    }
    let res = next.run(req).await;
    if res.status() == StatusCode::NOT_FOUND {
        limiter.not_found(ip, Instant::now());
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_after_its_burst_and_refills_at_its_rate() {
        let l = NotFoundLimiter::new(NotFoundLimits {
            burst: 3,
            per_second: 2,
            hold: Duration::ZERO,
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let other: IpAddr = "192.0.2.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.allows(ip, t0));
            l.not_found(ip, t0);
        }
        assert!(!l.allows(ip, t0));
        assert!(l.allows(other, t0), "buckets are per client");
        assert!(!l.allows(ip, t0 + Duration::from_millis(400)));
        assert!(l.allows(ip, t0 + Duration::from_millis(500)));
        assert_eq!(l.retry_after(), 1);
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::from([0; 16]));
        let b: IpAddr = "2001:db8:1:2:bbbb::2"
            .parse()
            .unwrap_or(IpAddr::from([0; 16]));
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 16]));
        assert_eq!(key(a), key(b));
        assert_ne!(key(a), key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap_or(IpAddr::from([0; 16]));
        assert_eq!(key(mapped), IpAddr::from([192, 0, 2, 1]));
    }
}
