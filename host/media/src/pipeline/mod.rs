//! Packaging supervisor: turns every hub session into a period of CMAF chunks.
//!
//! The [`Packager`] watches the stream hub. For each new session it subscribes, plans the
//! ladder ([`ladder`]), builds the GStreamer pipeline ([`graph`]), and runs it on its own
//! threads: a feeder pushes hub frames into the appsrcs, a bus thread reports errors, and the
//! appsinks write chunks into the period's ring ([`sink`]). When the publisher goes away the
//! feeder sends EOS, the muxers flush their last fragment, and the period ends cleanly; a
//! reconnect is a new session and so a new period. Errors go to the log and to the room's
//! media status, and so do the publishes an ingest refused (`StreamHub::refusals`).

pub mod aclock;
pub mod graph;
pub mod ladder;
pub mod sink;

use crate::hub::{Frame, Session, StreamHub, Subscription, TrackKind};
use crate::package::ring::{Period, PeriodEnd, Rendition, Track};
use crate::package::state::MediaState;
use gst::prelude::*;
use ladder::LadderConfig;
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use sink::LatencyProbe;

/// Initialise GStreamer and register the statically linked fmp4 plugin. Idempotent.
pub fn init() -> Result<(), gst::glib::Error> {
    static REGISTER: Once = Once::new();
    gst::init()?;
    REGISTER.call_once(|| {
        if let Err(e) = gstfmp4::plugin_register_static() {
            tracing::error!(error = %e, "registering the fmp4 plugin failed");
        }
    });
    Ok(())
}

/// Which ladder a room uses.
pub type LadderFor = Arc<dyn Fn(&str) -> LadderConfig + Send + Sync>;
/// Called with every new period (the recorder hooks in here).
pub type PeriodHook = Arc<dyn Fn(Arc<Period>) + Send + Sync>;

/// Watches the hub and packages every session.
#[derive(Clone)]
pub struct Packager {
    pub hub: StreamHub,
    pub state: Arc<MediaState>,
    pub ladder: LadderFor,
    pub on_period: Option<PeriodHook>,
    pub latency: Option<LatencyProbe>,
}

impl Packager {
    /// Run until the runtime shuts down.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        let mut sessions = self.hub.watch();
        let mut refusals = self.hub.refusals();
        let state = self.state.clone();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match refusals.recv().await {
                    Ok(r) => state.error(
                        &r.room,
                        format!("publish from {} refused: {}", r.source, r.reason),
                    ),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                }
            }
        });
        tokio::spawn(async move {
            loop {
                let session = match sessions.recv().await {
                    Ok(s) => s,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::error!(missed = n, "packager missed session announcements");
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                // Subscribe now so no keyframe is missed while the thread starts.
                let sub = session.subscribe();
                let this = self.clone();
                let name = format!("pkg-{}", session.room);
                let spawned = std::thread::Builder::new().name(name).spawn(move || {
                    let room = sub.session.room.clone();
                    let state = this.state.clone();
                    let run = std::panic::AssertUnwindSafe(|| this.run_session(sub));
                    if std::panic::catch_unwind(run).is_err() {
                        // The room must not stay "live" on a dead pipeline.
                        state.abandon(&room, "packaging thread panicked; the live was cut");
                    }
                });
                if let Err(e) = spawned {
                    self.state
                        .error(&session.room, format!("cannot start packaging thread: {e}"));
                }
            }
        })
    }

    fn run_session(&self, mut sub: Subscription) {
        let session = sub.session.clone();
        let config = (self.ladder)(&session.room);
        let (period, graph) = match self.prepare(&session, &config) {
            Ok(v) => v,
            Err(e) => {
                self.state
                    .error(&session.room, format!("cannot build pipeline: {e}"));
                return;
            }
        };
        self.state.start_period(period.clone(), &session.source);
        if let Some(hook) = &self.on_period {
            hook(period.clone());
        }
        tracing::info!(room = %session.room, period = %period.id, renditions = period.tracks.len(), "packaging started");
        let outcome = run_pipeline(&graph, &period, &mut sub);
        if let Err(e) = &outcome {
            self.state.error(&session.room, e.clone());
        }
        for track in &period.tracks {
            if let Some(last) = track.last()
                && !last.is_complete()
            {
                // EOS never reached this sink (error path): close what we have.
                last.finish(0);
            }
        }
        period.end(match outcome {
            Ok(()) => PeriodEnd::Finished,
            Err(e) => PeriodEnd::Failed(e),
        });
        self.state.end_period(&session.room, &period.id);
        tracing::info!(room = %session.room, period = %period.id, "packaging ended");
    }

    fn prepare(
        &self,
        session: &Arc<Session>,
        config: &LadderConfig,
    ) -> Result<(Arc<Period>, graph::Graph), String> {
        init().map_err(|e| e.to_string())?;
        let info = &session.info;
        let plans = match &info.video {
            Some(v) if config.passthrough => match ladder::passthrough_refusal(&v.avcc) {
                // Phones get 8-bit 4:2:0 rungs only: encode instead of passing through.
                Some(why) => {
                    self.state.error(&session.room, why);
                    let encoded = LadderConfig {
                        passthrough: false,
                        ..config.clone()
                    };
                    encoded.plan(v.width, v.height)
                }
                None => config.plan(v.width, v.height),
            },
            Some(v) => config.plan(v.width, v.height),
            None => Vec::new(),
        };
        let graph = graph::build(
            config,
            info.video.as_ref().map(|v| (v, plans.as_slice())),
            info.audio.as_ref(),
        )
        .map_err(|e| e.to_string())?;
        let mut tracks = Vec::new();
        for (id, _) in &graph.sinks {
            let rendition = match plans.iter().find(|p| &p.id == id) {
                Some(plan) => plan.rendition(config.fps),
                None => {
                    let a = info.audio.as_ref().ok_or("audio sink without audio")?;
                    Rendition {
                        id: id.clone(),
                        kind: TrackKind::Audio,
                        width: 0,
                        height: 0,
                        frame_rate: (0, 0),
                        sample_rate: a.sample_rate,
                        channels: a.channels,
                        bandwidth: 128_000,
                        passthrough: true,
                    }
                }
            };
            tracks.push(Arc::new(Track::new(rendition, config.window_segments)));
        }
        let started_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let period = Arc::new(Period::new(
            format!("p{started_ms}"),
            session.room.clone(),
            session.id,
            session.started,
            config.segment_duration(),
            config.chunk_duration(),
            tracks,
        ));
        for ((_, appsink), track) in graph.sinks.iter().zip(&period.tracks) {
            sink::attach(appsink, period.clone(), track.clone(), self.latency.clone());
        }
        if let Some(opus) = &graph.opus {
            sink::attach_opus(opus, &period);
        }
        Ok((period, graph))
    }
}

/// Play the pipeline, feed it until the session ends, drain it. Err carries the first error.
fn run_pipeline(
    graph: &graph::Graph,
    period: &Arc<Period>,
    sub: &mut Subscription,
) -> Result<(), String> {
    let pipeline = &graph.pipeline;
    let bus = pipeline.bus().ok_or("pipeline without a bus")?;
    if let Err(e) = pipeline.set_state(gst::State::Playing) {
        let _ = pipeline.set_state(gst::State::Null);
        return Err(format!("pipeline would not start: {e}"));
    }
    // The bus watcher stops the pipeline on error, which unblocks the feeder.
    let watcher = {
        let pipeline = pipeline.clone();
        let room = period.room.clone();
        std::thread::spawn(move || watch_bus(&bus, &pipeline, &room))
    };
    let has_video = graph.video_src.is_some();
    let mut clock =
        sub.session.info.audio.as_ref().map(|a| {
            aclock::AudioClock::new(a.sample_rate, crate::package::ring::AAC_FRAME_SAMPLES)
        });
    let mut flowing = true;
    while let Some(mut frame) = sub.blocking_recv() {
        if let (TrackKind::Audio, Some(clock)) = (frame.track, clock.as_mut()) {
            // On the sample grid, not RTMP's milliseconds (see `aclock`).
            let pts = clock.stamp(frame.pts.max(0) as u64) as i64;
            (frame.pts, frame.dts) = (pts, pts);
        }
        if period.origin_ns().is_none() && (frame.track == TrackKind::Video || !has_video) {
            period.set_origin(frame.pts.max(0) as u64);
        }
        let src = match frame.track {
            TrackKind::Video => graph.video_src.as_ref(),
            TrackKind::Audio => graph.audio_src.as_ref(),
        };
        if let Some(src) = src
            && src.push_buffer(to_buffer(&frame)).is_err()
        {
            flowing = false;
            break;
        }
    }
    if flowing {
        for src in graph.video_src.iter().chain(&graph.audio_src) {
            let _ = src.end_of_stream();
        }
    }
    let result = watcher
        .join()
        .unwrap_or_else(|_| Err("bus watcher panicked".into()));
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// Wait for EOS or an error; warnings are logged.
fn watch_bus(bus: &gst::Bus, pipeline: &gst::Pipeline, room: &str) -> Result<(), String> {
    use gst::MessageView;
    // Generous: EOS after a stopped publisher arrives within a GOP or two.
    let mut deadline: Option<std::time::Instant> = None;
    loop {
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(250),
            &[
                gst::MessageType::Eos,
                gst::MessageType::Error,
                gst::MessageType::Warning,
            ],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(MessageView::Eos(_)) => return Ok(()),
            Some(MessageView::Error(e)) => {
                let src = e
                    .src()
                    .map(|s| s.path_string().to_string())
                    .unwrap_or_default();
                let err = format!("{src}: {} ({:?})", e.error(), e.debug());
                let _ = pipeline.set_state(gst::State::Null);
                return Err(err);
            }
            Some(MessageView::Warning(w)) => {
                tracing::warn!(room, warning = %w.error(), "pipeline warning");
            }
            _ => {}
        }
        // After the pipeline is torn down from outside (Null), stop waiting.
        let (_, current, _) = pipeline.state(gst::ClockTime::ZERO);
        if current == gst::State::Null {
            let d =
                *deadline.get_or_insert_with(|| std::time::Instant::now() + Duration::from_secs(2));
            if std::time::Instant::now() > d {
                return Err("pipeline stopped".into());
            }
        }
    }
}

fn to_buffer(frame: &Frame) -> gst::Buffer {
    let mut buffer = gst::Buffer::from_slice(frame.data.clone());
    if let Some(b) = buffer.get_mut() {
        b.set_pts(gst::ClockTime::from_nseconds(frame.pts.max(0) as u64));
        b.set_dts(gst::ClockTime::from_nseconds(frame.dts.max(0) as u64));
        let mut flags = gst::BufferFlags::empty();
        if !frame.keyframe {
            flags |= gst::BufferFlags::DELTA_UNIT;
        }
        if frame.discont {
            flags |= gst::BufferFlags::DISCONT;
        }
        b.set_flags(flags);
    }
    buffer
}
