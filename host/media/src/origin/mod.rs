//! The media origin: low-latency DASH (an MPD we write ourselves, [`mpd`]) and HLS ([`hls`])
//! over the same CMAF segments, served over HTTP ([`routes`]) straight from the packager's
//! chunk ring, with growing segments streamed by chunked transfer; every period is also
//! recorded to disk ([`record`]) and replayed from there once it leaves the ring.
//!
//! URL layout (all under `/media`, all CORS-open):
//!
//! | path | what |
//! | --- | --- |
//! | `/media/time` | server clock, ISO 8601 UTC with ms (the MPD's `UTCTiming`) |
//! | `/media/{room}/live.mpd` | live MPD of the room's current period |
//! | `/media/{room}/master.m3u8` | live HLS multivariant playlist |
//! | `/media/{room}/live.flv` | the live as HTTP-FLV (`?rung=v1`, `?gop=0`; [`flv`]) |
//! | `/media/{room}/{period}/{rep}/index.m3u8` | HLS media playlist (live ring or recording) |
//! | `/media/{room}/{period}/{rep}/init.mp4` | CMAF init segment |
//! | `/media/{room}/{period}/{rep}/index.m3u8?_HLS_msn=M&_HLS_part=P` | LL-HLS blocking reload ([`llhls`]) |
//! | `/media/{room}/{period}/{rep}/{n}.m4s` | segment `n` (ring, growing, next, or disk) |
//! | `/media/{room}/{period}/{rep}/{n}.{i}.m4s` | LL-HLS part `i` of segment `n` (ring, next, or disk) |
//! | `/media/{room}/{period}/{rep}/t{time}.m4s` | recorded segment by start time (replay MPDs with gaps) |
//! | `/media/{room}/whep` | WebRTC playback: `POST` an SDP offer ([`whep`]) |
//! | `/media/{room}/whep/{session}` | `DELETE` ends that WHEP session |
//! | `/media/{room}/events.json` | the live period's timed events (JSON) |
//! | `/media/{room}/replays` | JSON list of recorded periods |
//! | `/media/{room}/replay/{period}/events.json` | a recorded period's timed events (JSON) |
//! | `/media/{room}/replay/{period}.mpd` | static (VOD) MPD of a recording |
//! | `/media/{room}/replay/{period}.m3u8` | VOD HLS multivariant playlist of a recording |
//!
//! A client IP that gets too many 404s is answered 429 with `Retry-After` for a while
//! ([`throttle`]).
//!
//! Replay manifests live one level down (`replay/`), so their relative media URLs are
//! `../{period}/{rep}/…` and land on the same segment route as live ones.

#[cfg(test)]
mod fixture;
pub mod flv;
mod follow;
pub mod hls;
mod llhls;
pub mod mpd;
pub mod record;
pub mod recording;
pub mod routes;
mod segments;
pub mod throttle;
pub mod time;
pub mod whep;
mod xml;

pub use record::{RecordError, Recorder};
pub use recording::{RecordedEvent, Recording, RecordingSummary};
pub use routes::{Origin, router, router_limited};
pub use throttle::NotFoundLimits;

use std::time::Duration;

/// Knobs for the manifests we write.
#[derive(Clone, Debug)]
pub struct MpdOptions {
    /// `ServiceDescription/Latency@target` and `suggestedPresentationDelay`, in ms.
    pub target_latency_ms: u32,
    /// `Latency@min`, in ms.
    pub min_latency_ms: u32,
    /// `Latency@max`, in ms: past it players seek back to the live edge.
    pub max_latency_ms: u32,
    /// `MPD@minimumUpdatePeriod` of a live MPD.
    pub min_update_period: Duration,
    /// Scheme and authority for `UTCTiming` (e.g. `https://cdn.example`); empty means the
    /// host-relative `/media/time`.
    pub base_url: String,
    /// `live.flv` starts at the keyframe being served (fast start, up to a GOP behind)
    /// rather than waiting for the next one (see `flv`).
    pub flv_gop_cache: bool,
}

impl Default for MpdOptions {
    fn default() -> Self {
        MpdOptions {
            target_latency_ms: 1500,
            min_latency_ms: 1000,
            max_latency_ms: 5000,
            min_update_period: Duration::from_secs(2),
            base_url: String::new(),
            flv_gop_cache: true,
        }
    }
}

/// Room, period and representation ids as they may appear in URLs and on disk:
/// `[A-Za-z0-9_-]{1,64}`. Anything else never reaches the file system.
pub fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("room_1-A"));
        assert!(valid_id(&"a".repeat(64)));
        assert!(!valid_id(&"a".repeat(65)));
        for bad in ["", "..", ".", "a/b", "a b", "a.b", "é", "a%2e", "a\\b"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
