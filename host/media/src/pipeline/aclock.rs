//! Audio timestamps on the sample grid.
//!
//! RTMP stamps every message in whole milliseconds, so consecutive AAC frames at 48 kHz
//! arrive 21 or 22 ms apart instead of 21.333 ms (1024 samples). Muxed as they come, frames
//! last 1008 or 1056 ticks and no segment holds a whole number of frames, so segments drift
//! from the manifests' nominal times. [`AudioClock`] counts samples instead: each frame is
//! stamped `base + n × 1024 / rate`, and the clock re-bases on the incoming timestamp only
//! when that is more than [`RESYNC_FRAMES`] frames away (a real gap or jump in the source).

use std::time::Duration;

/// How far (in frames) an incoming timestamp may stray from the count before the clock
/// follows it instead.
pub const RESYNC_FRAMES: u64 = 3;

#[derive(Debug)]
pub struct AudioClock {
    rate: u64,
    samples_per_frame: u64,
    /// Presentation time (ns) of sample zero of the current run, and frames since.
    base: Option<(u64, u64)>,
}

impl AudioClock {
    pub fn new(sample_rate: u32, samples_per_frame: u64) -> Self {
        AudioClock {
            rate: u64::from(sample_rate.max(1)),
            samples_per_frame: samples_per_frame.max(1),
            base: None,
        }
    }

    /// One frame's duration.
    pub fn frame(&self) -> Duration {
        Duration::from_nanos(self.at(1))
    }

    /// ns of `frames` frames from a base, rounded up: a muxer flooring it back to the
    /// sample rate's ticks gets exactly `frames × samples_per_frame`.
    fn at(&self, frames: u64) -> u64 {
        let ns = (u128::from(frames) * u128::from(self.samples_per_frame) * 1_000_000_000)
            .div_ceil(u128::from(self.rate));
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// The grid time (ns) for a frame that arrived stamped `pts_ns`.
    pub fn stamp(&mut self, pts_ns: u64) -> u64 {
        let tolerance = self.at(RESYNC_FRAMES);
        if let Some((base, n)) = self.base {
            let grid = base + self.at(n);
            if grid.abs_diff(pts_ns) <= tolerance {
                self.base = Some((base, n + 1));
                return grid;
            }
            tracing::debug!(
                grid,
                pts_ns,
                "audio timestamps jumped; re-basing the sample clock"
            );
        }
        self.base = Some((pts_ns, 1));
        pts_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millisecond_stamps_become_whole_frames() {
        let mut clock = AudioClock::new(48_000, 1024);
        // 100 frames as RTMP stamps them: 21.333 ms rounded down to the millisecond.
        let stamps: Vec<u64> = (0..100u64)
            .map(|k| (k * 1024 * 1000 / 48_000) * 1_000_000 + 5_000_000_000)
            .map(|pts| clock.stamp(pts))
            .collect();
        for (k, pts) in stamps.iter().enumerate() {
            let exact = 5_000_000_000 + (k as u64 * 1024 * 1_000_000_000).div_ceil(48_000);
            assert_eq!(*pts, exact, "frame {k}");
        }
        assert_eq!(clock.frame(), Duration::from_nanos(21_333_334));
    }

    #[test]
    fn a_gap_in_the_source_rebases_the_clock() {
        let mut clock = AudioClock::new(44_100, 1024);
        assert_eq!(clock.stamp(1_000_000_000), 1_000_000_000);
        assert_eq!(clock.stamp(1_023_000_000), 1_000_000_000 + 23_219_955);
        // Half a second missing (a dropped connection's worth): follow the source.
        assert_eq!(clock.stamp(1_546_000_000), 1_546_000_000);
        assert_eq!(clock.stamp(1_569_000_000), 1_546_000_000 + 23_219_955);
    }
}
