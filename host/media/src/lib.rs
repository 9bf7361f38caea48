//! livecart media: ingest (RTMP, RTMPS, RTSP pull, a demo source) publishes elementary streams
//! into the [`hub::StreamHub`]; packaging subscribes to it, runs the GStreamer ladder into
//! CMAF chunks, and serves them as low-latency DASH and HLS, recording each live for replay.
//! Ingest and packaging meet only through the hub.

pub mod hub;
pub mod ingest;
pub mod meter;
pub mod origin;
pub mod package;
pub mod pipeline;
