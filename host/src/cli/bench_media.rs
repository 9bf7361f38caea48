//! `livecart bench media`: what the media pipeline costs, how late its chunks are, and how
//! many viewers the origin serves.
//!
//! Everything runs in this process except the ffmpeg publishers (and, for `serve --split`,
//! a second copy of this binary as the origin): servers bind 127.0.0.1 port 0, files go to
//! a throwaway directory, and child processes are killed when the bench ends or fails.
//!
//! Modes, each printing a Markdown table for BENCHMARKS.md:
//! - [`transcode`]: CPU cores this process uses to package a 720p30 RTMP publish into each
//!   ladder in real time, the real-time factor, and whether any segment was lost;
//! - [`latency`]: ingest → ring delay of every CMAF chunk (the packager's latency probe) and
//!   ring → client delay of the same chunks over HTTP chunked transfer;
//! - [`events`]: delay from `MediaState::add_event` to the event's `emsg` being in a chunk
//!   in the ring, per video rendition;
//! - [`serve`]: N simulated LL-DASH viewers against the origin: requests/s, bytes/s,
//!   latency, errors and CPU, in one process or with the origin in its own process;
//! - [`whep`]: N headless WebRTC viewers against a running `serve`: its CPU per viewer.
//!
//! Run in release: `cargo build --release -p livecart && ./target/release/livecart bench
//! media transcode|latency|events|serve`. Needs `ffmpeg` on the PATH and the GStreamer plugins the
//! packager needs.

mod events;
mod flv_latency;
mod http;
mod latency;
mod measure;
mod origin;
mod player;
mod serve;
pub(super) mod stack;
mod transcode;
mod viewers;
mod whep;

use clap::{Args, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

/// `livecart bench media`.
#[derive(Debug, Args)]
pub struct MediaArgs {
    #[command(subcommand)]
    mode: MediaMode,
    /// Seconds to wait, before each measurement, for other work on the machine to stop.
    #[arg(long, default_value_t = 120, global = true)]
    quiet_wait: u64,
}

#[derive(Debug, Subcommand)]
enum MediaMode {
    /// CPU cost of turning a 720p30 H.264 publish into the ladder, in real time.
    Transcode(transcode::TranscodeArgs),
    /// Ingest → origin latency of CMAF chunks, and their HTTP delivery delay.
    Latency(latency::LatencyArgs),
    /// Delay from a timed event to its `emsg` in the stream.
    Events(events::EventsArgs),
    /// Segment serving load: N simulated LL-DASH viewers against the origin.
    Serve(serve::ServeArgs),
    /// WebRTC egress cost: N headless WHEP viewers against a running `livecart serve`.
    Whep(whep::WhepArgs),
}

pub fn run(args: MediaArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run with --release for real numbers");
    }
    let quiet = Duration::from_secs(args.quiet_wait.min(3600));
    let ok = match args.mode {
        MediaMode::Transcode(a) => runtime()?.block_on(transcode::run(&a, quiet))?,
        MediaMode::Latency(a) => runtime()?.block_on(latency::run(&a, quiet))?,
        MediaMode::Events(a) => runtime()?.block_on(events::run(&a, quiet))?,
        // Serve builds its own runtimes: the origin and the viewers each get theirs, so
        // their CPU can be told apart by thread name.
        MediaMode::Serve(a) => serve::run(&a, quiet)?,
        MediaMode::Whep(a) => runtime()?.block_on(whep::run(&a))?,
    };
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
