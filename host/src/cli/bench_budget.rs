//! `bench plugins`, the budgets' share: the bookkeeping every plugin call now does for the
//! sandbox budgets (the per-room CPU window, the fault rate, the armed timers, the batch's
//! random seeds), timed alone with the same shapes a warm call passes, and set against the
//! warm call measured in the same run.

use super::bench::{Stats, measure, us};
use crate::plugin::Limits;
use crate::plugin::bindings::{Action, Event};
use crate::plugin::budget::{ArmedTimers, CpuWindow, FaultWindow};
use crate::plugin::random::{BatchRandom, Seeds};
use std::time::Duration;

/// Print the bookkeeping row and its share of `warm` (a warm call's p50 for `plugin`).
pub fn row(iterations: usize, event: &Event, plugin: &str, warm: &Stats) {
    let limits = Limits::default();
    let (mut cpu, mut faults, mut timers) = (
        CpuWindow::default(),
        FaultWindow::default(),
        ArmedTimers::default(),
    );
    let mut random = BatchRandom::new(Seeds::Os, false);
    let batch = std::slice::from_ref(event);
    let actions: Vec<Action> = Vec::new();
    let mut now = event.server_time_ms;
    let stats = measure(iterations, || {
        random.begin(batch.iter().map(|e| e.id));
        timers.fired(batch);
        let _ = timers.check(&actions, &limits);
        timers.apply(&actions);
        // Event time moves on, so the CPU window slides as in a live room.
        now += 1;
        let _ = cpu.record(now, 1, &limits);
        let _ = faults.record(false, &limits);
        std::hint::black_box(random.finish());
    });
    // The clock reads around each sample cost about as much as the bookkeeping: measured
    // alone in the same run, they are taken off the bookkeeping's p50.
    let floor = measure(iterations, || {});
    let net = stats.p50.saturating_sub(floor.p50);
    let share = net.as_secs_f64() / warm.p50.max(Duration::from_nanos(1)).as_secs_f64();
    println!(
        "| budgets' bookkeeping per call (CPU window, fault rate, timers, seeds), net of the clock's {} | {plugin} | {} | {} | {:.1} % of its warm call (p50) |",
        us(floor.p50),
        us(net),
        us(stats.p99),
        share * 100.0
    );
}
