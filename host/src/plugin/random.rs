//! Randomness a draw can be audited by: one seed per event, drawn when first asked for,
//! recorded in the plugin's log, and replayed by `plugin test`.
//!
//! Semantics (docs/plugins.md, "Randomness"):
//! - `random.seed(event-id)` (capability `random`) gives the seed of an event of the batch
//!   being handled. On the server it comes from the operating system's randomness the first
//!   time any plugin call of the batch asks, so nobody knows it before the event; in
//!   `plugin test` it comes from the event's `seed` field, or is derived from its id.
//! - WASI `random` and `insecure` never reach the operating system. With `random` they are
//!   a SplitMix64 stream seeded by the batch's first event's seed (and that seed is
//!   recorded); without it, a stream seeded by a fixed function of that event's id: still
//!   deterministic, but predictable. `insecure-seed` is a constant, so hash-map order is
//!   the same on the server and in a replay.
//!
//! Threat model: a plugin cannot learn a seed before its event, cannot make the host
//! allocate more than [`MAX_RANDOM_BYTES`] per call, and cannot draw a seed without the
//! grant (the gate refuses the import at upload and the call at run time).

use std::collections::BTreeMap;
use std::sync::Arc;

/// The most bytes one `get-random-bytes` call returns; more traps.
pub const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// The WASI random interfaces the host answers itself (guests importing an older 0.2.x
/// are matched to them by semver).
const WASI_RANDOM: &str = "wasi:random/random@0.2.12";
const WASI_INSECURE: &str = "wasi:random/insecure@0.2.12";

/// The value `wasi:random/insecure-seed` returns: a constant, for replayable hash maps.
pub const INSECURE_SEED: u128 = 0x6c69_7665_6361_7274_2d73_6565_642d_3031;

/// Where the seeds of events come from.
#[derive(Debug, Clone, Default)]
pub enum Seeds {
    /// The operating system's randomness (the server).
    #[default]
    Os,
    /// Recorded seeds by event id; events without one get [`derived`] (`plugin test`).
    Replay(Arc<BTreeMap<u64, u64>>),
}

impl Seeds {
    fn draw(&self, event_id: u64) -> u64 {
        match self {
            Seeds::Os => crate::random::random_hex(8)
                .ok()
                .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
                // No OS randomness at all: the clock is still unknown to the plugin before
                // the event, and the seed is recorded either way.
                .unwrap_or_else(|| derived(event_id ^ nanos())),
            Seeds::Replay(map) => map.get(&event_id).copied().unwrap_or(derived(event_id)),
        }
    }
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The seed an event without a recorded one gets in a replay: SplitMix64 of its id.
pub fn derived(event_id: u64) -> u64 {
    SplitMix64(event_id).next_u64()
}

/// SplitMix64 (Steele, Lea and Flood 2014): the generator the SDK documents, so anyone
/// holding a seed can redo a draw.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The randomness of one instance: the batch being handled and the seeds it used.
#[derive(Debug, Default)]
pub struct BatchRandom {
    seeds: Seeds,
    /// Whether the plugin holds `random` (its WASI stream then uses the recorded seed).
    granted: bool,
    /// Event ids of the batch being handled, in order.
    ids: Vec<u64>,
    /// Seeds handed out in this batch, by event id.
    drawn: BTreeMap<u64, u64>,
    stream: Option<SplitMix64>,
}

impl BatchRandom {
    pub fn new(seeds: Seeds, granted: bool) -> Self {
        BatchRandom {
            seeds,
            granted,
            ..Default::default()
        }
    }

    /// Start a batch of events with these ids.
    pub fn begin(&mut self, ids: impl IntoIterator<Item = u64>) {
        self.ids.clear();
        self.ids.extend(ids);
        self.drawn.clear();
        self.stream = None;
    }

    /// The seed of an event of this batch, drawn on first use; none for other ids.
    pub fn seed(&mut self, event_id: u64) -> Option<u64> {
        if !self.ids.contains(&event_id) {
            return None;
        }
        let seeds = &self.seeds;
        Some(
            *self
                .drawn
                .entry(event_id)
                .or_insert_with(|| seeds.draw(event_id)),
        )
    }

    /// The next value of this batch's WASI stream.
    pub fn next_u64(&mut self) -> u64 {
        if self.stream.is_none() {
            let first = self.ids.first().copied().unwrap_or(0);
            let seed = if self.granted {
                self.seed(first).unwrap_or(0)
            } else {
                derived(first ^ 0x5741_5349)
            };
            self.stream = Some(SplitMix64(seed));
        }
        match self.stream.as_mut() {
            Some(s) => s.next_u64(),
            None => 0,
        }
    }

    /// Fill `len` bytes from the WASI stream.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let word = self.next_u64().to_le_bytes();
            let take = (len - out.len()).min(8);
            out.extend_from_slice(&word[..take]);
        }
        out
    }

    /// End the batch: the seeds it used, by event id, to be recorded.
    pub fn finish(&mut self) -> Vec<(u64, u64)> {
        self.stream = None;
        std::mem::take(&mut self.drawn).into_iter().collect()
    }
}

/// A plugin asked for more random bytes than one call gives. Traps the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the plugin asked for {0} random bytes in one call; the most is {MAX_RANDOM_BYTES}")]
pub struct TooManyRandomBytes(pub u64);

/// Answer WASI `random` and `insecure` from the instance's [`BatchRandom`].
pub(crate) fn route_wasi_random(
    linker: &mut wasmtime::component::Linker<super::host::HostState>,
) -> wasmtime::Result<()> {
    use super::host::HostState;
    use wasmtime::StoreContextMut;
    type Cx<'a> = StoreContextMut<'a, HostState>;
    fn bytes(mut cx: Cx<'_>, len: u64) -> wasmtime::Result<(Vec<u8>,)> {
        if len > MAX_RANDOM_BYTES {
            return Err(TooManyRandomBytes(len).into());
        }
        Ok((cx.data_mut().random.bytes(len as usize),))
    }
    linker.allow_shadowing(true);
    let mut secure = linker.instance(WASI_RANDOM)?;
    secure.func_wrap("get-random-bytes", |cx: Cx<'_>, (len,): (u64,)| {
        bytes(cx, len)
    })?;
    secure.func_wrap("get-random-u64", |mut cx: Cx<'_>, (): ()| {
        Ok((cx.data_mut().random.next_u64(),))
    })?;
    let mut insecure = linker.instance(WASI_INSECURE)?;
    insecure.func_wrap("get-insecure-random-bytes", |cx: Cx<'_>, (len,): (u64,)| {
        bytes(cx, len)
    })?;
    insecure.func_wrap("get-insecure-random-u64", |mut cx: Cx<'_>, (): ()| {
        Ok((cx.data_mut().random.next_u64(),))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_values() {
        // First outputs of SplitMix64 seeded with 0 (the published reference sequence).
        let mut g = SplitMix64(0);
        assert_eq!(g.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(g.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn seeds_are_per_event_stable_and_only_for_the_batch() {
        let mut r = BatchRandom::new(Seeds::Os, true);
        r.begin([7, 8]);
        let a = r.seed(7).expect("in batch");
        assert_eq!(r.seed(7), Some(a), "asking twice gives the same seed");
        assert_eq!(r.seed(9), None, "an id outside the batch has no seed");
        assert_eq!(r.finish(), vec![(7, a)]);
        r.begin([9]);
        assert_eq!(r.seed(7), None);
    }

    #[test]
    fn replay_gives_recorded_seeds_and_derives_the_rest() {
        let map = Arc::new(BTreeMap::from([(1, 42)]));
        let mut r = BatchRandom::new(Seeds::Replay(map.clone()), true);
        r.begin([1, 2]);
        assert_eq!(r.seed(1), Some(42));
        assert_eq!(r.seed(2), Some(derived(2)));
        // The WASI stream follows the first event's recorded seed.
        let mut expect = SplitMix64(42);
        assert_eq!(r.next_u64(), expect.next_u64());
        let mut again = BatchRandom::new(Seeds::Replay(map), true);
        again.begin([1, 2]);
        let _ = again.next_u64();
        assert_eq!(again.bytes(3).len(), 3);
    }

    #[test]
    fn without_the_grant_the_stream_is_not_the_recorded_seed() {
        let map = Arc::new(BTreeMap::from([(1, 42)]));
        let mut r = BatchRandom::new(Seeds::Replay(map), false);
        r.begin([1]);
        assert_ne!(r.next_u64(), SplitMix64(42).next_u64());
        assert!(r.finish().is_empty(), "nothing recorded without the grant");
    }
}
