//! The recording task: follows one period's tracks (their `watch`es and the growing
//! segment's), writes each init segment and each segment once complete, keeps
//! `period.json` current, appends timed events to `events.jsonl` as they are added, and
//! finalizes it when the period ends. The packager finishes the
//! last segment before ending the period, so one last pass after the end writes everything.

use super::record::{RecordError, Recorder};
use super::recording::{RecordedEvent, RecordedSegment, Recording};
use super::time;
use crate::package::ring::{Period, PeriodEnd, Segment, SegmentState, concat};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// Safety net: look at the ring at least this often even if no watch fired.
const POLL: Duration = Duration::from_secs(2);
/// `set_origin` has no watch; poll for readiness this often.
const READY_POLL: Duration = Duration::from_millis(100);

type Wait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Per-track progress.
struct Follow {
    added: watch::Receiver<u64>,
    /// Last segment number written.
    written: u64,
    /// The first segment not yet complete, kept alive while we wait on it.
    pending: Option<(Arc<Segment>, watch::Receiver<SegmentState>)>,
}

pub(super) async fn run(rec: &Arc<Recorder>, period: &Period) -> Result<(), RecordError> {
    let dir = rec.period_dir(&period.room, &period.id)?;
    let mut end_rx = period.watch_end();
    let mut events_rx = period.events.watch();
    // Last event id written.
    let mut events_written = 0u32;
    let mut follows: Vec<Follow> = period
        .tracks
        .iter()
        .map(|t| Follow {
            added: t.watch(),
            written: 0,
            pending: None,
        })
        .collect();

    // Wait until the period is ready (origin, AST, every init), or give up if it ends first.
    while !(period.is_ready() && period.origin_ns().is_some()) {
        if period.ended().is_some() {
            tracing::info!(room = %period.room, period = %period.id, "ended before ready; nothing recorded");
            return Ok(());
        }
        let mut waits: Vec<Wait<'_>> = follows.iter_mut().map(|f| changed(&mut f.added)).collect();
        waits.push(changed(&mut end_rx));
        waits.push(Box::pin(tokio::time::sleep(READY_POLL)));
        futures_util::future::select_all(waits).await;
    }
    let Some(mut meta) = Recording::start(period) else {
        return Ok(());
    };
    for t in &period.tracks {
        if let Some((data, _)) = t.init() {
            let path = dir.join(&t.rendition.id).join("init.mp4");
            rec.write_file(path, data.clone()).await?;
        }
    }
    rec.write_meta(&meta).await?;
    tracing::info!(room = %period.room, period = %period.id, dir = %dir.display(), "recording");

    loop {
        // Read the end flag before the pass, so the pass after the end sees everything.
        let ended = period.ended();
        events_rx.borrow_and_update();
        let new: Vec<RecordedEvent> = period
            .events
            .since(events_written)
            .iter()
            .map(|e| RecordedEvent::from_event(e))
            .collect();
        if let Some(last) = new.last() {
            rec.append_events(&period.room, &period.id, &new).await?;
            events_written = last.emsg_id;
        }
        let mut dirty = false;
        for ((track, f), out) in period.tracks.iter().zip(&mut follows).zip(&mut meta.tracks) {
            f.added.borrow_and_update();
            f.pending = None;
            for seg in track.segments() {
                if seg.number <= f.written {
                    continue;
                }
                let mut rx = seg.watch();
                let state = rx.borrow_and_update().clone();
                let (true, Some(duration)) = (state.complete, state.duration) else {
                    f.pending = Some((seg, rx));
                    break;
                };
                if duration == 0 {
                    // Closed without a known duration (pipeline error): cannot be placed on
                    // a timeline, so it is not kept.
                    f.written = seg.number;
                    continue;
                }
                if f.written != 0 && seg.number != f.written + 1 {
                    tracing::warn!(room = %period.room, period = %period.id,
                        rep = %track.rendition.id, from = f.written + 1, to = seg.number - 1,
                        "segments missing from the recording");
                }
                let path = dir
                    .join(&track.rendition.id)
                    .join(format!("{}.m4s", seg.number));
                rec.write_file(path, concat(&state.chunks)).await?;
                out.segments.push(RecordedSegment {
                    number: seg.number,
                    start: seg.start,
                    duration,
                });
                out.bandwidth = track.bandwidth();
                f.written = seg.number;
                dirty = true;
            }
        }
        if let Some(how) = ended {
            meta.ended = true;
            meta.ended_ms = Some(time::epoch_ms(SystemTime::now()));
            meta.end_reason = Some(match how {
                PeriodEnd::Finished => "finished".into(),
                PeriodEnd::Failed(e) => format!("failed: {e}"),
            });
            rec.write_meta(&meta).await?;
            tracing::info!(room = %period.room, period = %period.id,
                duration_s = meta.duration().as_secs_f64(), "recording finished");
            return Ok(());
        }
        if dirty {
            rec.write_meta(&meta).await?;
        }
        let mut waits: Vec<Wait<'_>> = Vec::new();
        for f in &mut follows {
            waits.push(changed(&mut f.added));
            if let Some((_, rx)) = &mut f.pending {
                waits.push(changed(rx));
            }
        }
        waits.push(changed(&mut end_rx));
        waits.push(changed(&mut events_rx));
        waits.push(Box::pin(tokio::time::sleep(POLL)));
        futures_util::future::select_all(waits).await;
    }
}

/// Resolves when the watched value changes (or its sender is gone).
fn changed<T: Send + Sync>(rx: &mut watch::Receiver<T>) -> Wait<'_> {
    Box::pin(async move {
        let _ = rx.changed().await;
    })
}
