//! Packaging: the GStreamer ladder's CMAF output, kept as a ring of segments and chunks
//! ([`ring`]), read out of the muxer ([`bmff`] parses the few boxes we need), and the
//! per-room media state that the origin serves ([`state`]). Timed events ([`events`]) ride
//! in-band in the video tracks as `emsg` boxes ([`emsg`]).

pub mod bmff;
pub mod emsg;
pub mod events;
pub mod ring;
pub mod state;
