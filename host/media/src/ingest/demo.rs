//! The built-in demo source: a GStreamer test pattern with a burnt-in wall clock and a
//! running timestamp, plus a tone, encoded as H.264 and AAC and published into the hub like
//! any other ingest. A newcomer sees video without OBS.

use crate::hub::{
    AudioParams, Frame, HubError, Publisher, StreamHub, StreamInfo, TakeoverPolicy, TrackKind,
    VideoParams,
};
use bytes::Bytes;
use gst::prelude::*;
use std::sync::{Arc, Mutex};

/// What the demo source makes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DemoConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Keyframe interval in frames (keep it equal to the packager's segment duration).
    pub gop: u32,
    pub bitrate_kbps: u32,
    /// Encode as fast as the machine goes instead of in real time (tests).
    pub realtime: bool,
    /// Stop after this many frames (None: forever).
    pub frames: Option<u32>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            width: 1280,
            height: 720,
            fps: 30,
            gop: 30,
            bitrate_kbps: 2500,
            realtime: true,
            frames: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo pipeline: {0}")]
    Pipeline(String),
    #[error(transparent)]
    Hub(#[from] HubError),
}

/// A running demo source. Dropping it stops the stream.
#[derive(Debug)]
pub struct Demo {
    pipeline: gst::Pipeline,
    done: std::sync::mpsc::Receiver<()>,
}

impl Demo {
    /// Block until the source stops by itself (a frame limit) or fails.
    pub fn wait(&self) {
        let _ = self.done.recv();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[derive(Default)]
struct Pending {
    lease: Option<crate::hub::PublishLease>,
    video: Option<VideoParams>,
    audio: Option<AudioParams>,
    publisher: Option<Publisher>,
    zero: Option<u64>,
    /// Video since the last keyframe, held until the session can start.
    gop: Vec<Timed>,
}

/// Start the demo source publishing into `room`.
pub fn start(hub: &StreamHub, room: &str, config: &DemoConfig) -> Result<Demo, DemoError> {
    crate::pipeline::init().map_err(|e| DemoError::Pipeline(e.to_string()))?;
    let lease = hub.claim(room, "demo", TakeoverPolicy::Refuse)?;
    let num_buffers = config.frames.map(|n| n as i32).unwrap_or(-1);
    let audio_buffers = config
        .frames
        .map(|n| (n as u64 * 48_000 / config.fps.max(1) as u64 / 1024) as i32)
        .unwrap_or(-1);
    let desc = format!(
        "videotestsrc is-live={live} pattern=smpte num-buffers={num_buffers} \
         ! video/x-raw,width={w},height={h},framerate={fps}/1 \
         ! clockoverlay time-format=\"%H:%M:%S\" halignment=right valignment=top font-desc=\"Sans 24\" \
         ! timeoverlay halignment=left valignment=bottom font-desc=\"Sans 24\" \
         ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max={gop} \
           bitrate={kbps} option-string=scenecut=0 \
         ! video/x-h264,stream-format=avc,alignment=au,profile=constrained-baseline \
         ! appsink name=video sync=false \
         audiotestsrc is-live={live} wave=sine freq=440 volume=0.2 samplesperbuffer=1024 num-buffers={audio_buffers} \
         ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! avenc_aac ! aacparse \
         ! audio/mpeg,mpegversion=4,stream-format=raw ! appsink name=audio sync=false",
        live = config.realtime,
        w = config.width,
        h = config.height,
        fps = config.fps,
        gop = config.gop.max(1),
        kbps = config.bitrate_kbps,
    );
    let pipeline = gst::parse::launch(&desc)
        .map_err(|e| DemoError::Pipeline(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| DemoError::Pipeline("not a pipeline".into()))?;
    let state = Arc::new(Mutex::new(Pending {
        lease: Some(lease),
        ..Pending::default()
    }));
    for (name, track) in [("video", TrackKind::Video), ("audio", TrackKind::Audio)] {
        let sink = pipeline
            .by_name(name)
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| DemoError::Pipeline(format!("no {name} sink")))?;
        let state = state.clone();
        let (w, h) = (config.width, config.height);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                    on_sample(&mut st, track, &sample, (w, h));
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| DemoError::Pipeline(e.to_string()))?;
    let (tx, done) = std::sync::mpsc::channel();
    let bus = pipeline
        .bus()
        .ok_or_else(|| DemoError::Pipeline("no bus".into()))?;
    std::thread::spawn(move || {
        for msg in bus.iter_timed(gst::ClockTime::NONE) {
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => {
                    tracing::error!(error = %e.error(), "demo source failed");
                    break;
                }
                _ => {}
            }
        }
        // Ends the hub session.
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        st.publisher = None;
        st.lease = None;
        let _ = tx.send(());
    });
    Ok(Demo { pipeline, done })
}

fn on_sample(st: &mut Pending, track: TrackKind, sample: &gst::Sample, size: (u32, u32)) {
    let codec_data = || -> Option<Bytes> {
        let s = sample.caps()?.structure(0)?;
        let b = s.get::<gst::Buffer>("codec_data").ok()?;
        let map = b.map_readable().ok()?;
        Some(Bytes::copy_from_slice(&map))
    };
    match track {
        TrackKind::Video if st.video.is_none() => {
            if let Some(avcc) = codec_data() {
                st.video = Some(VideoParams {
                    avcc,
                    width: size.0,
                    height: size.1,
                });
            }
        }
        TrackKind::Audio if st.audio.is_none() => {
            if let Some(asc) = codec_data() {
                st.audio = Some(AudioParams {
                    asc,
                    sample_rate: 48_000,
                    channels: 2,
                });
            }
        }
        _ => {}
    }
    let Some(buffer) = sample.buffer() else {
        return;
    };
    let Ok(map) = buffer.map_readable() else {
        return;
    };
    // x264enc shifts its output segment by 1000 h: compare tracks in running time.
    let segment = sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned());
    let running = |t: Option<gst::ClockTime>| -> Option<u64> {
        let t = t?;
        match &segment {
            Some(seg) => seg.to_running_time(t).map(|t| t.nseconds()),
            None => Some(t.nseconds()),
        }
    };
    let pts = running(buffer.pts()).unwrap_or(0);
    let frame = Timed {
        track,
        pts,
        dts: running(buffer.dts()).unwrap_or(pts),
        keyframe: track == TrackKind::Audio
            || !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
        data: Bytes::copy_from_slice(&map),
    };
    if st.publisher.is_none() {
        // Keep the video GOP in progress until both codecs are known (the audio caps may
        // come after the first keyframe), then start the session with it.
        if track == TrackKind::Video {
            if frame.keyframe {
                st.gop.clear();
            }
            if (frame.keyframe || !st.gop.is_empty()) && st.gop.len() < MAX_HELD_FRAMES {
                st.gop.push(frame);
            }
            if !start_session(st) {
                return;
            }
            for held in std::mem::take(&mut st.gop) {
                send(st, held);
            }
            return;
        }
        if !start_session(st) {
            return;
        }
        for held in std::mem::take(&mut st.gop) {
            send(st, held);
        }
    }
    send(st, frame);
}

/// Start the session once a keyframe is held and both codecs are known.
fn start_session(st: &mut Pending) -> bool {
    if st.gop.is_empty() || st.video.is_none() || st.audio.is_none() {
        return false;
    }
    let Some(lease) = st.lease.take() else {
        return false;
    };
    let info = StreamInfo {
        video: st.video.clone(),
        audio: st.audio.clone(),
    };
    match lease.start(info) {
        Ok(p) => {
            st.publisher = Some(p);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "demo source lost its slot");
            false
        }
    }
}

/// Frames held before the session starts: at most a GOP of a few seconds.
const MAX_HELD_FRAMES: usize = 300;

/// A frame in running time, before it is made relative to the session's media zero.
struct Timed {
    track: TrackKind,
    pts: u64,
    dts: u64,
    keyframe: bool,
    data: Bytes,
}

fn send(st: &mut Pending, f: Timed) {
    let Some(publisher) = &st.publisher else {
        return;
    };
    let zero = *st.zero.get_or_insert(f.dts.min(f.pts));
    if f.pts < zero {
        return;
    }
    publisher.send(Frame {
        track: f.track,
        pts: (f.pts - zero) as i64,
        dts: f.dts.saturating_sub(zero) as i64,
        keyframe: f.keyframe,
        discont: false,
        data: f.data,
    });
}
