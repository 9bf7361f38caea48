//! Builds one session's GStreamer pipeline.
//!
//! ```text
//! appsrc(h264 avc) ─ h264parse ─ tee ─┬─ queue ─ cmafmux ─ appsink          (passthrough top rung)
//!                                     └─ queue ─ avdec_h264 ─ videoconvert ─ videorate ─ I420 ─ tee ─┬─ queue ─ videoscale ─ x264enc ─ h264parse ─ cmafmux ─ appsink
//!                                                                                                 └─ …one branch per encoded rung
//! appsrc(aac raw) ─ aacparse ─ tee ─┬─ queue ─ cmafmux ─ appsink           (audio, never re-encoded)
//!                                    └─ queue(leaky) ─ avdec_aac ─ audioconvert ─ audioresample ─ opusenc ─ appsink
//! ```
//!
//! The Opus branch is the live's one encode for WebRTC viewers (`Period::opus`), however
//! many there are. It is leaky and its sink drops: it never holds back the AAC path. If
//! its elements are missing the live goes on without it (WebRTC then has no sound).
//!
//! Decoded video is brought to a constant frame rate and every encoded rung gets the same
//! frame-counted GOP (one per segment, no scene-cut keyframes), starting from the same first
//! frame, so segments align across rungs. A passed-through source sets its own keyframes; it
//! aligns when the publisher's keyframe interval equals the segment duration.
//! (Forcing keyframes by event does not work here: GStreamer 1.22's encoder base class
//! throttles every request after the first because of x264enc's 1000-hour output offset.)

use super::ladder::{LadderConfig, VideoPlan};
use crate::hub::{AudioParams, VideoParams};
use crate::package::ring::aac_segment_duration;
use gst::prelude::*;

/// The elements the session runner talks to.
pub struct Graph {
    pub pipeline: gst::Pipeline,
    pub video_src: Option<gst_app::AppSrc>,
    pub audio_src: Option<gst_app::AppSrc>,
    /// One appsink per output track, with its rendition id.
    pub sinks: Vec<(String, gst_app::AppSink)>,
    /// The Opus encode of the audio, for WebRTC.
    pub opus: Option<gst_app::AppSink>,
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(
        "GStreamer element {0} is missing: {1} (install gstreamer1.0-plugins-{{base,good,bad,ugly}} and gstreamer1.0-libav)"
    )]
    Missing(&'static str, String),
    #[error("cannot link {0}: {1}")]
    Link(String, String),
    #[error("GStreamer: {0}")]
    Gst(String),
}

impl From<gst::glib::BoolError> for GraphError {
    fn from(e: gst::glib::BoolError) -> Self {
        GraphError::Gst(e.to_string())
    }
}

fn make(factory: &'static str) -> Result<gst::Element, GraphError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|e| GraphError::Missing(factory, e.to_string()))
}

fn link(chain: &[&gst::Element]) -> Result<(), GraphError> {
    gst::Element::link_many(chain).map_err(|e| {
        let names: Vec<_> = chain.iter().map(|e| e.name().to_string()).collect();
        GraphError::Link(names.join(" ! "), e.to_string())
    })
}

/// A `cmafmux` cutting `fragment`-long segments into chunks, into an appsink.
fn cmaf_sink(
    pipeline: &gst::Pipeline,
    config: &LadderConfig,
    fragment: std::time::Duration,
) -> Result<(gst::Element, gst_app::AppSink), GraphError> {
    let mux = make("cmafmux")?;
    mux.set_property("fragment-duration", fragment.as_nanos() as u64);
    mux.set_property("chunk-duration", config.chunk_duration().as_nanos() as u64);
    // Our keyframe policy decides fragment boundaries, not the muxer's upstream requests.
    mux.set_property("send-force-keyunit", false);
    let sink = gst_app::AppSink::builder()
        .sync(false)
        .buffer_list(true)
        .max_buffers(0)
        .build();
    pipeline.add_many([&mux, sink.upcast_ref()])?;
    link(&[&mux, sink.upcast_ref()])?;
    Ok((mux, sink))
}

/// Build the pipeline for a source with `video` and/or `audio`, making `plans` renditions.
pub fn build(
    config: &LadderConfig,
    video: Option<(&VideoParams, &[VideoPlan])>,
    audio: Option<&AudioParams>,
) -> Result<Graph, GraphError> {
    let pipeline = gst::Pipeline::new();
    let mut sinks = Vec::new();
    let mut video_src = None;
    if let Some((params, plans)) = video {
        let caps = gst::Caps::builder("video/x-h264")
            .field("stream-format", "avc")
            .field("alignment", "au")
            .field("codec_data", gst::Buffer::from_slice(params.avcc.clone()))
            .build();
        let src = app_src(caps);
        let parse = make("h264parse")?;
        let tee = make("tee")?;
        pipeline.add_many([src.upcast_ref(), &parse, &tee])?;
        link(&[src.upcast_ref(), &parse, &tee])?;
        let mut decoded_tee = None;
        for plan in plans {
            let (mux, sink) = cmaf_sink(&pipeline, config, config.segment_duration())?;
            if plan.passthrough {
                let q = make("queue")?;
                pipeline.add(&q)?;
                link(&[&tee, &q, &mux])?;
            } else {
                let raw = match &decoded_tee {
                    Some(t) => t,
                    None => {
                        // A constant frame rate makes x264's frame-counted GOP a fixed time.
                        let q = make("queue")?;
                        let dec = make("avdec_h264")?;
                        let rate = make("videorate")?;
                        // Start at the first frame, not at the segment start.
                        rate.set_property("skip-to-first", true);
                        // 8-bit 4:2:0 for every encoded rung, whatever the source's
                        // chroma and depth: x264 would keep High 4:4:4 or High 10, which
                        // phones cannot play (a no-op for the usual I420 source).
                        let convert = make("videoconvert")?;
                        let fps = make("capsfilter")?;
                        fps.set_property(
                            "caps",
                            gst::Caps::builder("video/x-raw")
                                .field("format", "I420")
                                .field("framerate", gst::Fraction::new(config.fps as i32, 1))
                                .build(),
                        );
                        let t = make("tee")?;
                        pipeline.add_many([&q, &dec, &convert, &rate, &fps, &t])?;
                        link(&[&tee, &q, &dec, &convert, &rate, &fps, &t])?;
                        decoded_tee.insert(t)
                    }
                };
                let q = make("queue")?;
                let scale = make("videoscale")?;
                let caps = make("capsfilter")?;
                caps.set_property(
                    "caps",
                    gst::Caps::builder("video/x-raw")
                        .field("width", plan.width as i32)
                        .field("height", plan.height as i32)
                        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                        .build(),
                );
                let enc = x264(config, plan)?;
                let parse = make("h264parse")?;
                pipeline.add_many([&q, &scale, &caps, &enc, &parse])?;
                link(&[raw, &q, &scale, &caps, &enc, &parse, &mux])?;
            }
            sinks.push((plan.id.clone(), sink));
        }
        video_src = Some(src);
    }
    let mut audio_src = None;
    let mut opus = None;
    if let Some(params) = audio {
        let caps = gst::Caps::builder("audio/mpeg")
            .field("mpegversion", 4i32)
            .field("stream-format", "raw")
            .field("rate", params.sample_rate as i32)
            .field("channels", params.channels as i32)
            .field("codec_data", gst::Buffer::from_slice(params.asc.clone()))
            .build();
        let src = app_src(caps);
        let parse = make("aacparse")?;
        let tee = make("tee")?;
        let q = make("queue")?;
        pipeline.add_many([src.upcast_ref(), &parse, &tee, &q])?;
        // Whole AAC frames per segment, as the manifests say (`aac_segment_duration`).
        let fragment = aac_segment_duration(config.segment_duration(), params.sample_rate);
        let (mux, sink) = cmaf_sink(&pipeline, config, fragment)?;
        link(&[src.upcast_ref(), &parse, &tee, &q, &mux])?;
        sinks.push(("a0".to_string(), sink));
        audio_src = Some(src);
        opus = match opus_branch(&pipeline, &tee) {
            Ok(sink) => Some(sink),
            Err(e) => {
                tracing::warn!(error = %e, "no Opus encode: WebRTC viewers get no sound");
                None
            }
        };
    }
    Ok(Graph {
        pipeline,
        video_src,
        audio_src,
        sinks,
        opus,
    })
}

/// `tee ! queue(leaky) ! avdec_aac ! audioconvert ! audioresample ! 48 kHz ! opusenc !
/// appsink(drop)`: 20 ms packets at 64 kb/s (stereo; mono sources stay mono).
fn opus_branch(
    pipeline: &gst::Pipeline,
    tee: &gst::Element,
) -> Result<gst_app::AppSink, GraphError> {
    let q = make("queue")?;
    q.set_property_from_str("leaky", "downstream");
    let dec = make("avdec_aac")?;
    let convert = make("audioconvert")?;
    let resample = make("audioresample")?;
    let caps = make("capsfilter")?;
    caps.set_property(
        "caps",
        gst::Caps::builder("audio/x-raw")
            .field("rate", 48_000i32)
            .build(),
    );
    let enc = make("opusenc")?;
    enc.set_property("bitrate", 64_000i32);
    enc.set_property_from_str("frame-size", "20");
    let sink = gst_app::AppSink::builder()
        .sync(false)
        .max_buffers(64)
        .drop(true)
        .build();
    let chain = [
        &q,
        &dec,
        &convert,
        &resample,
        &caps,
        &enc,
        sink.upcast_ref(),
    ];
    pipeline.add_many(chain)?;
    link(&[tee, &q])?;
    link(&chain)?;
    Ok(sink)
}

fn app_src(caps: gst::Caps) -> gst_app::AppSrc {
    gst_app::AppSrc::builder()
        .caps(&caps)
        .format(gst::Format::Time)
        .stream_type(gst_app::AppStreamType::Stream)
        // Back-pressure: the feeder blocks, the hub then drops to the next keyframe.
        .block(true)
        .max_bytes(8 * 1024 * 1024)
        .build()
}

fn x264(config: &LadderConfig, plan: &VideoPlan) -> Result<gst::Element, GraphError> {
    let enc = make("x264enc")?;
    enc.set_property_from_str("tune", "zerolatency");
    enc.set_property_from_str("speed-preset", &config.preset);
    enc.set_property("bitrate", plan.bitrate_kbps);
    enc.set_property("bframes", 0u32);
    // Exactly one GOP per segment, on the same frames in every rung.
    enc.set_property("key-int-max", config.gop_frames());
    enc.set_property("option-string", "scenecut=0:open-gop=0");
    Ok(enc)
}
