//! The adaptive ladder: which renditions to make of a source, and how to encode them.
//!
//! Rungs are given by their short side, as "720p" is (`height`, and optionally the long
//! side, `width`); the long side follows the source's aspect. So a 1920x1080 source with
//! rungs 720 and 360 gets 1280x720 and 640x360, a portrait 720x1280 phone stream gets
//! 720x1280 and 360x640, and a square one with rungs 720 and 400 gets 720x720 and 400x400.
//! Rungs bigger than the source's short side are skipped (no upscaling). With
//! `passthrough`, the source itself is the top rung and only the lower rungs are encoded.
//!
//! Every rung phones get is 8-bit 4:2:0 (Baseline, Main or High): the encoded rungs are
//! converted to I420 before x264 (`graph`), and a source in any other profile (High 10,
//! High 4:2:2, High 4:4:4) is not passed through ([`passthrough_refusal`]); its rungs are
//! then all encoded, the tallest at most the source's size.

use crate::package::ring::Rendition;
use std::time::Duration;

/// One rung of the ladder.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rung {
    /// The short side: the height of a landscape rung, the width of a portrait one.
    pub height: u32,
    /// Force the long side (otherwise the source aspect decides).
    #[serde(default)]
    pub width: Option<u32>,
    pub bitrate_kbps: u32,
}

/// How a room's stream is transcoded and packaged.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LadderConfig {
    pub rungs: Vec<Rung>,
    /// Pass the source through as the top rung instead of re-encoding it. The publisher's
    /// keyframe interval must then equal `segment_ms`.
    pub passthrough: bool,
    /// Bits per second announced for a passed-through source.
    pub source_kbps: u32,
    /// Segment duration; also the GOP of encoded rungs.
    pub segment_ms: u32,
    /// CMAF chunk duration (LL-DASH).
    pub chunk_ms: u32,
    /// x264 speed preset.
    pub preset: String,
    /// Frame rate of encoded rungs.
    pub fps: u32,
    /// Segments kept in the live ring (the live window).
    pub window_segments: usize,
}

impl Default for LadderConfig {
    fn default() -> Self {
        LadderConfig {
            rungs: vec![
                Rung {
                    height: 720,
                    width: None,
                    bitrate_kbps: 2500,
                },
                Rung {
                    height: 360,
                    width: None,
                    bitrate_kbps: 800,
                },
            ],
            passthrough: false,
            source_kbps: 3000,
            segment_ms: 1000,
            chunk_ms: 200,
            preset: "veryfast".into(),
            fps: 30,
            window_segments: 30,
        }
    }
}

/// One video output of the ladder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoPlan {
    pub id: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub passthrough: bool,
}

impl LadderConfig {
    pub fn segment_duration(&self) -> Duration {
        Duration::from_millis(self.segment_ms.max(100) as u64)
    }

    pub fn chunk_duration(&self) -> Duration {
        Duration::from_millis(self.chunk_ms.clamp(20, self.segment_ms.max(100)) as u64)
    }

    /// Frames per GOP of encoded rungs: one GOP per segment.
    pub fn gop_frames(&self) -> u32 {
        ((self.fps.max(1) as u64 * self.segment_duration().as_millis() as u64) / 1000).max(1) as u32
    }

    /// The video renditions for a `src_w`×`src_h` source, top first.
    pub fn plan(&self, src_w: u32, src_h: u32) -> Vec<VideoPlan> {
        let mut out = Vec::new();
        if self.passthrough {
            out.push(VideoPlan {
                id: String::new(),
                width: src_w,
                height: src_h,
                bitrate_kbps: self.source_kbps,
                passthrough: true,
            });
        }
        let portrait = src_h > src_w;
        let (short, long) = if portrait {
            (src_w, src_h)
        } else {
            (src_h, src_w)
        };
        let mut rungs = self.rungs.clone();
        rungs.sort_by_key(|r| std::cmp::Reverse(r.height));
        for r in rungs {
            let too_big = if self.passthrough {
                r.height >= short
            } else {
                r.height > short
            };
            if too_big || r.height == 0 {
                continue;
            }
            let long_side = r.width.unwrap_or_else(|| {
                even((r.height as u64 * long as u64) as f64 / short.max(1) as f64)
            });
            let (short_side, long_side) = (even(r.height as f64), even(long_side as f64));
            let (width, height) = if portrait {
                (short_side, long_side)
            } else {
                (long_side, short_side)
            };
            if out.iter().any(|p| p.width == width && p.height == height) {
                continue;
            }
            out.push(VideoPlan {
                id: String::new(),
                width,
                height,
                bitrate_kbps: r.bitrate_kbps,
                passthrough: false,
            });
        }
        if out.is_empty() {
            // Every rung was taller than a small source: encode one rung at source size.
            let kbps = self
                .rungs
                .iter()
                .map(|r| r.bitrate_kbps)
                .min()
                .unwrap_or(800);
            out.push(VideoPlan {
                id: String::new(),
                width: even(src_w as f64),
                height: even(src_h as f64),
                bitrate_kbps: kbps,
                passthrough: false,
            });
        }
        for (i, p) in out.iter_mut().enumerate() {
            p.id = format!("v{i}");
        }
        out
    }
}

impl VideoPlan {
    /// The rendition for manifests. A passed-through source is announced at the ladder's
    /// nominal `fps` too (the hub does not carry the source's frame rate).
    pub fn rendition(&self, fps: u32) -> Rendition {
        Rendition {
            id: self.id.clone(),
            kind: crate::hub::TrackKind::Video,
            width: self.width,
            height: self.height,
            frame_rate: (fps.max(1), 1),
            sample_rate: 0,
            channels: 0,
            bandwidth: self.bitrate_kbps.saturating_mul(1000),
            passthrough: self.passthrough,
        }
    }
}

/// Why a source's H.264 must not be passed through, from the profile in its avcC record
/// (ISO/IEC 14496-15: byte 1 is `AVCProfileIndication`). Baseline (66), Main (77),
/// Extended (88) and High (100) are 8-bit 4:2:0; the others carry 10 bits, 4:2:2 or 4:4:4,
/// which most phones' and browsers' hardware decoders refuse. `None`: pass it through.
pub fn passthrough_refusal(avcc: &[u8]) -> Option<String> {
    let profile = *avcc.get(1)?;
    let name = match profile {
        66 | 77 | 88 | 100 => return None,
        110 => "High 10",
        122 => "High 4:2:2",
        244 => "High 4:4:4 Predictive",
        44 => "CAVLC 4:4:4 Intra",
        _ => "an H.264 profile phones do not decode",
    };
    Some(format!(
        "passthrough refused: the source is {name} (profile_idc {profile}), which most phones \
         cannot play; every rung is encoded as 8-bit 4:2:0 instead"
    ))
}

/// Round to the nearest even number, at least 2 (x264 needs even sizes for 4:2:0).
fn even(x: f64) -> u32 {
    let n = (x / 2.0).round() as u32 * 2;
    n.max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_8_bit_4_2_0_profiles_are_passed_through() {
        let avcc = |profile: u8| [1, profile, 0, 0x1f];
        for ok in [66, 77, 88, 100] {
            assert_eq!(passthrough_refusal(&avcc(ok)), None, "{ok}");
        }
        let high444 = passthrough_refusal(&avcc(244)).unwrap_or_default();
        assert!(
            high444.contains("High 4:4:4 Predictive (profile_idc 244)"),
            "{high444}"
        );
        let high10 = passthrough_refusal(&avcc(110)).unwrap_or_default();
        assert!(high10.contains("High 10"), "{high10}");
        // An empty record is left to the decoder to judge.
        assert_eq!(passthrough_refusal(&[]), None);
    }

    fn sizes(plan: &[VideoPlan]) -> Vec<(u32, u32, bool)> {
        plan.iter()
            .map(|p| (p.width, p.height, p.passthrough))
            .collect()
    }

    #[test]
    fn source_aspect_rungs() {
        let c = LadderConfig::default();
        assert_eq!(
            sizes(&c.plan(1920, 1080)),
            vec![(1280, 720, false), (640, 360, false)]
        );
        let square = LadderConfig {
            rungs: vec![
                Rung {
                    height: 720,
                    width: None,
                    bitrate_kbps: 2000,
                },
                Rung {
                    height: 400,
                    width: None,
                    bitrate_kbps: 700,
                },
            ],
            ..c.clone()
        };
        assert_eq!(
            sizes(&square.plan(720, 720)),
            vec![(720, 720, false), (400, 400, false)]
        );
        // Portrait phone video: rungs follow the short side, as for landscape.
        assert_eq!(
            sizes(&c.plan(720, 1280)),
            vec![(720, 1280, false), (360, 640, false)]
        );
        assert_eq!(
            sizes(&c.plan(1080, 1920)),
            vec![(720, 1280, false), (360, 640, false)]
        );
        // A portrait source smaller than the top rung skips it (no upscaling).
        assert_eq!(sizes(&c.plan(480, 854)), vec![(360, 640, false)]);
    }

    #[test]
    fn no_upscaling_and_passthrough() {
        let c = LadderConfig::default();
        assert_eq!(sizes(&c.plan(320, 180)), vec![(320, 180, false)]);
        let p = LadderConfig {
            passthrough: true,
            ..c
        };
        assert_eq!(
            sizes(&p.plan(1280, 720)),
            vec![(1280, 720, true), (640, 360, false)]
        );
        let ids: Vec<_> = p.plan(1280, 720).into_iter().map(|p| p.id).collect();
        assert_eq!(ids, ["v0", "v1"]);
        assert_eq!(sizes(&p.plan(320, 180)), vec![(320, 180, true)]);
        // Passthrough of a portrait source: the lower rungs by the short side.
        assert_eq!(
            sizes(&p.plan(720, 1280)),
            vec![(720, 1280, true), (360, 640, false)]
        );
    }
}
