//! What a recording is on disk: the `period.json` model ([`Recording`]) that the recorder
//! keeps up to date and the replay manifests are built from, and the summary the replay list
//! shows, and a recorded timed event ([`RecordedEvent`], a line of `events.jsonl`).

use super::time;
use crate::hub::TrackKind;
use crate::package::ring::{InitInfo, Period, Rendition, Track};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// One recorded segment, times in the track timescale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedSegment {
    pub number: u64,
    /// Earliest presentation time (`tfdt`).
    pub start: u64,
    pub duration: u64,
}

/// One representation of a recorded period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedTrack {
    pub id: String,
    #[serde(with = "kind")]
    pub kind: TrackKind,
    pub width: u32,
    pub height: u32,
    pub frame_rate: (u32, u32),
    pub sample_rate: u32,
    pub channels: u32,
    pub bandwidth: u32,
    pub passthrough: bool,
    pub codecs: String,
    pub timescale: u32,
    /// Written segments, in number order.
    pub segments: Vec<RecordedSegment>,
}

impl RecordedTrack {
    pub fn from_track(t: &Track, info: &InitInfo) -> Self {
        let r = &t.rendition;
        RecordedTrack {
            id: r.id.clone(),
            kind: r.kind,
            width: r.width,
            height: r.height,
            frame_rate: r.frame_rate,
            sample_rate: r.sample_rate,
            channels: r.channels,
            bandwidth: r.bandwidth,
            passthrough: r.passthrough,
            codecs: info.codecs.clone(),
            timescale: info.timescale,
            segments: Vec::new(),
        }
    }

    pub fn rendition(&self) -> Rendition {
        Rendition {
            id: self.id.clone(),
            kind: self.kind,
            width: self.width,
            height: self.height,
            frame_rate: self.frame_rate,
            sample_rate: self.sample_rate,
            channels: self.channels,
            bandwidth: self.bandwidth,
            passthrough: self.passthrough,
        }
    }

    pub fn info(&self) -> InitInfo {
        InitInfo {
            codecs: self.codecs.clone(),
            timescale: self.timescale,
        }
    }

    /// The segment starting at `start`.
    pub fn by_start(&self, start: u64) -> Option<&RecordedSegment> {
        self.segments.iter().find(|s| s.start == start)
    }

    /// Segment numbers have no holes (the replay MPD can use `$Number$`).
    pub fn contiguous(&self) -> bool {
        self.segments
            .windows(2)
            .all(|w| w[1].number == w[0].number + 1)
    }
}

/// A recorded period: the contents of `period.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    pub room: String,
    pub period: String,
    pub session: u64,
    pub segment_duration_ns: u64,
    pub chunk_duration_ns: u64,
    /// Media time (ns) at which segment 1 starts: the presentation time offset.
    pub origin_ns: u64,
    /// availabilityStartTime of the live period, ms since the epoch.
    pub ast_ms: u64,
    /// The period ended and everything is written.
    pub ended: bool,
    pub ended_ms: Option<u64>,
    /// "finished", or "failed: …".
    pub end_reason: Option<String>,
    pub tracks: Vec<RecordedTrack>,
}

impl Recording {
    /// A recording of a ready period, with no segments yet.
    pub fn start(period: &Period) -> Option<Self> {
        let tracks = period
            .tracks
            .iter()
            .map(|t| t.init().map(|(_, info)| RecordedTrack::from_track(t, info)))
            .collect::<Option<Vec<_>>>()?;
        Some(Recording {
            room: period.room.clone(),
            period: period.id.clone(),
            session: period.session,
            segment_duration_ns: period.segment_duration.as_nanos() as u64,
            chunk_duration_ns: period.chunk_duration.as_nanos() as u64,
            origin_ns: period.origin_ns()?,
            ast_ms: time::epoch_ms(period.availability_start()?),
            ended: false,
            ended_ms: None,
            end_reason: None,
            tracks,
        })
    }

    pub fn track(&self, id: &str) -> Option<&RecordedTrack> {
        self.tracks.iter().find(|t| t.id == id)
    }

    pub fn segment_duration(&self) -> Duration {
        Duration::from_nanos(self.segment_duration_ns)
    }

    pub fn availability_start(&self) -> SystemTime {
        time::from_epoch_ms(self.ast_ms)
    }

    /// Presentation duration: the latest segment end over all tracks, from the origin.
    pub fn duration(&self) -> Duration {
        self.tracks
            .iter()
            .filter_map(|t| {
                let last = t.segments.last()?;
                let end = last.start + last.duration;
                let origin = time::to_timescale(self.origin_ns, t.timescale);
                Some(time::from_timescale(
                    end.saturating_sub(origin),
                    t.timescale,
                ))
            })
            .max()
            .unwrap_or_default()
    }

    /// The longest recorded segment, at least the nominal duration.
    pub fn max_segment_duration(&self) -> Duration {
        self.tracks
            .iter()
            .flat_map(|t| {
                t.segments
                    .iter()
                    .map(|s| time::from_timescale(s.duration, t.timescale))
            })
            .max()
            .unwrap_or_default()
            .max(self.segment_duration())
    }

    pub fn summary(&self) -> RecordingSummary {
        RecordingSummary {
            period: self.period.clone(),
            started_at: time::iso8601(self.availability_start()),
            started_ms: self.ast_ms,
            duration_s: self.duration().as_secs_f64(),
            ended: self.ended,
            ended_ms: self.ended_ms,
            renditions: self.tracks.iter().map(|t| t.id.clone()).collect(),
        }
    }
}

/// A timed event as recorded (one line of `events.jsonl`) and as `events.json` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// The caller's id (e.g. a push id).
    pub id: String,
    /// The `emsg` / MPD `Event` id, unique within the period.
    pub emsg_id: u32,
    /// Media time: ms from the period's presentation time zero (its first segment).
    pub media_ms: u64,
    pub duration_ms: u32,
    /// The payload, as JSON.
    pub payload: serde_json::Value,
}

impl RecordedEvent {
    pub fn from_event(e: &crate::package::events::Event) -> Self {
        RecordedEvent {
            id: e.id.clone(),
            emsg_id: e.emsg_id,
            media_ms: e.media_ms,
            duration_ms: e.duration_ms,
            // Checked to be JSON when added.
            payload: serde_json::from_slice(&e.payload).unwrap_or_default(),
        }
    }

    /// The payload as compact JSON text.
    pub fn payload_text(&self) -> String {
        self.payload.to_string()
    }
}

/// One entry of the replay list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordingSummary {
    pub period: String,
    /// ISO 8601 UTC.
    pub started_at: String,
    pub started_ms: u64,
    pub duration_s: f64,
    pub ended: bool,
    pub ended_ms: Option<u64>,
    pub renditions: Vec<String>,
}

/// `TrackKind` is `Serialize` only; read it back as "video" / "audio".
mod kind {
    use crate::hub::TrackKind;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(k: &TrackKind, s: S) -> Result<S::Ok, S::Error> {
        k.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TrackKind, D::Error> {
        match String::deserialize(d)?.as_str() {
            "video" => Ok(TrackKind::Video),
            "audio" => Ok(TrackKind::Audio),
            other => Err(serde::de::Error::custom(format!(
                "unknown track kind {other:?}"
            ))),
        }
    }
}
