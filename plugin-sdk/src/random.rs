//! Randomness a draw can be audited by (needs [`crate::Capability::Random`]).
//!
//! The host gives each event a seed nobody knows before the event happens, and records
//! it (the server's log; `plugin test` prints it and replays it from the events file's
//! `seed` field). [`Rng`] turns a seed into numbers with SplitMix64, and [`Rng::sample`]
//! draws with a partial Fisher–Yates shuffle, both written out here so anyone holding the
//! seed and the list of entrants can redo a draw. Announce the seed with the result.

use crate::bindings::livecart::plugin0_2_0::random as host;

/// The seed of event `event_id` of the batch being handled, if it is in the batch.
pub fn seed(event_id: u64) -> Option<u64> {
    host::seed(event_id)
}

/// SplitMix64 from a seed (Steele, Lea and Flood 2014).
#[derive(Debug, Clone)]
pub struct Rng {
    seed: u64,
    state: u64,
}

impl Rng {
    /// A generator from `seed`; the same seed always gives the same numbers.
    pub fn from_seed(seed: u64) -> Self {
        Rng { seed, state: seed }
    }

    /// The seed this generator started from: announce it with a draw.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`next_u64() % n`; the bias is below n / 2^64). `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `k` distinct indices out of `0..n`, in draw order: for i in 0..k, swap position i
    /// with position i + below(n - i) of the list 0..n, and take position i.
    pub fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below((n - i) as u64) as usize;
            order.swap(i, j);
        }
        order.truncate(k);
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_and_sample_is_a_distinct_draw() {
        let mut r = Rng::from_seed(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        let picked = Rng::from_seed(7).sample(10, 4);
        assert_eq!(
            picked,
            Rng::from_seed(7).sample(10, 4),
            "same seed, same draw"
        );
        let mut sorted = picked.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
        assert!(picked.iter().all(|&i| i < 10));
        assert_eq!(Rng::from_seed(1).sample(3, 9).len(), 3);
    }
}
