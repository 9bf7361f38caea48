//! How fast a publisher really sends: bitrate and speed (media time per wall time) of a
//! live session, measured where its frames enter the stream hub.
//!
//! A publisher on an uplink too thin for its bitrate (OBS at 3 Mb/s over a 1.5 Mb/s link)
//! sends media slower than real time: its speed drops under 1 and every viewer stalls or
//! falls behind, though nothing fails. The meter keeps one checkpoint per second for the
//! last [`WINDOW`] and says a publisher is slow when its speed over a full window is under
//! [`SLOW_BELOW`]; the session logs a warning once per slow spell and the room's media
//! status shows it, as OBS users expect from their server.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The span speed and bitrate are measured over.
pub const WINDOW: Duration = Duration::from_secs(5);
/// Speed under which a publisher counts as slow (a 10 % shortfall, well past jitter).
pub const SLOW_BELOW: f64 = 0.9;

/// What the meter says about a session now.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct IngestStats {
    /// Bits per second received over the last window (frame payloads).
    pub bitrate_bps: u64,
    /// Media time per wall time over the last window; `None` until a window has passed.
    pub speed: Option<f64>,
    /// The publisher has sent slower than real time over the last window.
    pub slow: bool,
}

#[derive(Clone, Copy, Debug)]
struct Checkpoint {
    wall: Instant,
    /// The newest decode time seen, ns.
    media_ns: i64,
    /// Payload bytes received so far.
    bytes: u64,
}

/// The meter of one session.
#[derive(Debug, Default)]
pub struct IngestMeter {
    checkpoints: VecDeque<Checkpoint>,
    media_ns: i64,
    bytes: u64,
    /// Slow as of the last checkpoint (for the once-per-spell warning).
    slow: bool,
}

/// What [`IngestMeter::record`] noticed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    None,
    /// The publisher just became slow, at this speed.
    BecameSlow(f64),
    /// It is back to real time.
    Recovered,
}

impl IngestMeter {
    /// Count one frame with decode time `dts_ns` and `bytes` of payload, received at `now`.
    pub fn record(&mut self, dts_ns: i64, bytes: usize, now: Instant) -> Change {
        self.media_ns = self.media_ns.max(dts_ns);
        self.bytes = self.bytes.saturating_add(bytes as u64);
        let due = self
            .checkpoints
            .back()
            .is_none_or(|c| now.duration_since(c.wall) >= Duration::from_secs(1));
        if !due {
            return Change::None;
        }
        self.checkpoints.push_back(Checkpoint {
            wall: now,
            media_ns: self.media_ns,
            bytes: self.bytes,
        });
        while self
            .checkpoints
            .front()
            .is_some_and(|c| now.duration_since(c.wall) > WINDOW + Duration::from_secs(1))
        {
            self.checkpoints.pop_front();
        }
        let slow = self.stats().slow;
        let change = match (self.slow, slow) {
            (false, true) => Change::BecameSlow(self.stats().speed.unwrap_or(0.0)),
            (true, false) => Change::Recovered,
            _ => Change::None,
        };
        self.slow = slow;
        change
    }

    /// Bitrate and speed over the last window.
    pub fn stats(&self) -> IngestStats {
        let (Some(first), Some(last)) = (self.checkpoints.front(), self.checkpoints.back()) else {
            return IngestStats::default();
        };
        let wall = last.wall.duration_since(first.wall).as_secs_f64();
        if wall <= 0.0 {
            return IngestStats::default();
        }
        let bitrate_bps = ((last.bytes - first.bytes) as f64 * 8.0 / wall) as u64;
        let full = last.wall.duration_since(first.wall) >= WINDOW;
        let speed = full.then(|| (last.media_ns - first.media_ns) as f64 / 1e9 / wall);
        IngestStats {
            bitrate_bps,
            speed,
            slow: speed.is_some_and(|s| s < SLOW_BELOW),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `secs` seconds of 30 fps frames of 1,250 bytes (300 kb/s) at `speed`.
    fn feed(
        m: &mut IngestMeter,
        start: Instant,
        from_s: f64,
        secs: f64,
        speed: f64,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let frames = (secs * 30.0) as usize;
        for i in 0..frames {
            let wall = from_s + i as f64 / 30.0;
            let media_ns = (wall * speed * 1e9) as i64;
            let c = m.record(media_ns, 1250, start + Duration::from_secs_f64(wall));
            if c != Change::None {
                changes.push(c);
            }
        }
        changes
    }

    #[test]
    fn a_real_time_publisher_is_not_slow_and_its_bitrate_is_measured() {
        let (mut m, t0) = (IngestMeter::default(), Instant::now());
        assert_eq!(feed(&mut m, t0, 0.0, 8.0, 1.0), []);
        let s = m.stats();
        assert!(!s.slow);
        assert!(
            (s.speed.expect("a full window") - 1.0).abs() < 0.05,
            "{s:?}"
        );
        assert!((290_000..=310_000).contains(&s.bitrate_bps), "{s:?}");
    }

    #[test]
    fn a_publisher_at_half_speed_is_slow_once_then_recovers() {
        let (mut m, t0) = (IngestMeter::default(), Instant::now());
        let slow = feed(&mut m, t0, 0.0, 8.0, 0.47);
        assert!(
            matches!(slow.as_slice(), [Change::BecameSlow(s)] if (0.4..0.55).contains(s)),
            "{slow:?}"
        );
        assert!(m.stats().slow);
        // Back at real time (media time continuing from where it was).
        let offset = 8.0 * 0.47;
        let mut changes = Vec::new();
        for i in 0..(8 * 30) {
            let wall = 8.0 + f64::from(i) / 30.0;
            let media = offset + (wall - 8.0);
            let c = m.record(
                (media * 1e9) as i64,
                1250,
                t0 + Duration::from_secs_f64(wall),
            );
            if c != Change::None {
                changes.push(c);
            }
        }
        assert_eq!(changes, [Change::Recovered]);
        assert!(!m.stats().slow);
    }
}
