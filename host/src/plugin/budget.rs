//! What one plugin may use in one room over time, beyond a single call: its fault rate,
//! its CPU time over a sliding window, and its armed timers.
//!
//! Threat model: each call is bounded by `limits.rs`, but a plugin can stay under every
//! per-call bound and still cost its room without end — a memory creep that faults every
//! 14 events on a fresh instance, 64 zero-delay timers re-armed on every fire, or 15 ms of
//! work on each of a thousand events. So a slot keeps these three accounts, and the slot
//! disables the plugin in the room when one is exceeded. Time here is *event* time (the
//! events' server time), so the local runner's simulated time and a room's real time are
//! accounted the same way.

use super::bindings::{Action, Event, EventBody};
use super::fault::Fault;
use super::limits::Limits;
use std::collections::{BTreeSet, VecDeque};

/// Outcomes of the last `fault_window_batches` batches, to disable on fault *rate*.
#[derive(Debug, Default)]
pub struct FaultWindow {
    recent: VecDeque<bool>,
    faults: u32,
}

impl FaultWindow {
    /// Record one batch; returns the faults now in the window.
    pub fn record(&mut self, faulted: bool, limits: &Limits) -> u32 {
        self.recent.push_back(faulted);
        self.faults += u32::from(faulted);
        while self.recent.len() > limits.fault_window_batches.max(1) as usize {
            if self.recent.pop_front() == Some(true) {
                self.faults -= 1;
            }
        }
        self.faults
    }

    /// Faults among the recent batches.
    pub fn faults(&self) -> u32 {
        self.faults
    }
}

/// CPU time used per event-time window.
#[derive(Debug, Default)]
pub struct CpuWindow {
    /// (event time ms, microseconds used), oldest first.
    samples: VecDeque<(u64, u64)>,
    total_us: u64,
}

impl CpuWindow {
    /// Add a batch's CPU time at event time `now_ms`; the over-budget fault, if any.
    pub fn record(&mut self, now_ms: u64, used_us: u64, limits: &Limits) -> Option<Fault> {
        let window = limits.cpu_window_ms;
        while let Some(&(at, us)) = self.samples.front() {
            if at.saturating_add(window) > now_ms {
                break;
            }
            self.samples.pop_front();
            self.total_us -= us;
        }
        self.samples.push_back((now_ms, used_us));
        self.total_us += used_us;
        (self.total_us > limits.cpu_ms_per_window.saturating_mul(1000)).then_some(
            Fault::CpuBudget {
                used_ms: self.total_us / 1000,
                window_ms: window,
                budget_ms: limits.cpu_ms_per_window,
            },
        )
    }

    /// CPU time in the current window, microseconds.
    pub fn used_us(&self) -> u64 {
        self.total_us
    }
}

/// The plugin's timers that are armed and have not fired.
#[derive(Debug, Default)]
pub struct ArmedTimers {
    names: BTreeSet<String>,
}

impl ArmedTimers {
    /// Timers that fire in `events` are no longer armed.
    pub fn fired(&mut self, events: &[Event]) {
        for e in events {
            if let EventBody::TimerFired(name) = &e.body {
                self.names.remove(name);
            }
        }
    }

    /// Check a call's timer actions: each delay at least the minimum, and no more than
    /// `max_timers` armed once they apply.
    pub fn check(&self, actions: &[Action], limits: &Limits) -> Result<(), Fault> {
        let mut after = self.names.clone();
        for action in actions {
            match action {
                Action::SetTimer(t) => {
                    if t.delay_ms < limits.min_timer_delay_ms {
                        return Err(Fault::Output(format!(
                            "set-timer `{}` with a delay of {} ms; the minimum is {} ms",
                            t.name, t.delay_ms, limits.min_timer_delay_ms
                        )));
                    }
                    after.insert(t.name.clone());
                }
                Action::CancelTimer(name) => {
                    after.remove(name);
                }
                _ => {}
            }
        }
        if after.len() > limits.max_timers {
            return Err(Fault::Output(format!(
                "{} timers would be armed; the limit is {} per plugin in a room",
                after.len(),
                limits.max_timers
            )));
        }
        Ok(())
    }

    /// Apply a successful call's timer actions.
    pub fn apply(&mut self, actions: &[Action]) {
        for action in actions {
            match action {
                Action::SetTimer(t) => {
                    self.names.insert(t.name.clone());
                }
                Action::CancelTimer(name) => {
                    self.names.remove(name);
                }
                _ => {}
            }
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_counted_over_the_last_batches_only() {
        let limits = Limits {
            fault_window_batches: 4,
            ..Limits::default()
        };
        let mut w = FaultWindow::default();
        for faulted in [true, false, true, false] {
            w.record(faulted, &limits);
        }
        assert_eq!(w.faults(), 2);
        assert_eq!(
            w.record(false, &limits),
            1,
            "the oldest fault left the window"
        );
    }

    #[test]
    fn cpu_time_leaves_the_window_as_event_time_moves_on() {
        let limits = Limits {
            cpu_window_ms: 1000,
            cpu_ms_per_window: 10,
            ..Limits::default()
        };
        let mut w = CpuWindow::default();
        assert!(w.record(0, 6_000, &limits).is_none());
        assert_eq!(
            w.record(500, 6_000, &limits),
            Some(Fault::CpuBudget {
                used_ms: 12,
                window_ms: 1000,
                budget_ms: 10
            })
        );
        let mut w = CpuWindow::default();
        w.record(0, 6_000, &limits);
        assert!(w.record(1_000, 6_000, &limits).is_none());
        assert_eq!(w.used_us(), 6_000);
    }
}
