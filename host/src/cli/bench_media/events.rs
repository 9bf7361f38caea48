//! Event to in-stream delay: a live 720p30 publisher into the in-process RTMP ingest, and a
//! timed event added through `MediaState::add_event` every `--every-ms` with its media time
//! now (wall clock − availabilityStartTime, as the host stamps pushes). Measured per video
//! rendition: from `add_event` to the event's `emsg` being in a chunk handed to the ring
//! (the packager records it when it splices the box in front of the chunk's `moof`).
//!
//! The `emsg` goes in the chunk whose time span reaches the event's media time, so the
//! delay is that chunk's ingest → ring latency (encode and mux), not the time to the next
//! chunk the packager happens to write.

use super::measure::Samples;
use super::stack::{ROOM, Stack, publish_720p};
use super::transcode::{Ladder, each_ladder};
use clap::Args;
use livecart_media::package::events::TimedEvent;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Ladders to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "full,passthrough")]
    ladders: Vec<Ladder>,
    /// Seconds of events per ladder.
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Milliseconds between events (not a multiple of the chunk duration, so events fall
    /// everywhere in a chunk).
    #[arg(long, default_value_t = 137)]
    every_ms: u64,
    /// Seconds after the first segment before measuring.
    #[arg(long, default_value_t = 3)]
    skip: u64,
    /// x264 preset of the ffmpeg publisher.
    #[arg(long, default_value = "veryfast")]
    preset: String,
}

pub async fn run(args: &EventsArgs, quiet: Duration) -> anyhow::Result<bool> {
    println!("| ladder | rendition | events | add_event → emsg in ring p50 / p90 / p99 / max |");
    println!("|---|---|---|---|");
    let run = async |ladder| one(args, ladder).await.map(|()| true);
    Ok(each_ladder(&args.ladders, quiet, run).await)
}

async fn one(args: &EventsArgs, ladder: Ladder) -> anyhow::Result<()> {
    let stack = Stack::start(ladder.config(), None).await?;
    let total = (args.skip + args.secs + 10).to_string();
    let publisher = publish_720p(&stack.rtmp_url(), &total, &args.preset)?;
    let period = stack.wait_period(Duration::from_secs(20)).await?;
    tokio::time::sleep(Duration::from_secs(args.skip)).await;
    let ast = period
        .availability_start()
        .ok_or_else(|| anyhow::anyhow!("period without availabilityStartTime"))?;
    let every = Duration::from_millis(args.every_ms.max(10));
    let n = (args.secs * 1000 / every.as_millis().max(1) as u64).max(1);
    let mut tick = tokio::time::interval(every);
    for i in 0..n {
        tick.tick().await;
        let media_ms = ast.elapsed().unwrap_or_default().as_millis() as u64;
        let event = TimedEvent {
            id: format!("bench-{i}"),
            media_ms,
            duration_ms: 0,
            payload: format!(r#"{{"i":{i}}}"#).into_bytes(),
        };
        stack.state.add_event(ROOM, &period.id, event)?;
    }
    // Let the last events reach the stream.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(publisher);
    let mut by_rep: BTreeMap<String, Samples> = BTreeMap::new();
    for (rep, d) in period.events.in_stream_delays() {
        by_rep.entry(rep).or_default().push(d);
    }
    for track in &period.tracks {
        let Some(s) = by_rep.get_mut(&track.rendition.id) else {
            continue;
        };
        let name = if track.rendition.passthrough {
            format!("{} {}p copy", track.rendition.id, track.rendition.height)
        } else {
            format!("{} {}p", track.rendition.id, track.rendition.height)
        };
        println!(
            "| {} | {name} | {} / {n} | {} |",
            ladder.label(),
            s.len(),
            s.ms(&[0.5, 0.9, 0.99, 1.0]),
        );
    }
    Ok(())
}
