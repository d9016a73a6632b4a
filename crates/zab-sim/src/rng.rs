//! Seeds, integer probabilities and latency distributions.
//!
//! One root seed feeds a [`SeedTree`]: every subsystem (network, disk, clock, workload, faults,
//! each replica) gets its own `ChaCha8Rng`, seeded from a draw of the root stream in a fixed
//! order, so changing how one model uses randomness never reshuffles another. Probabilities are
//! [`Ratio`]s of integers, never floats, so a plan prints and compares exactly.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The random streams of one run, drawn once from the root seed in the order of the fields.
pub struct SeedTree {
    pub network: ChaCha8Rng,
    pub disk: ChaCha8Rng,
    pub clock: ChaCha8Rng,
    pub workload: ChaCha8Rng,
    pub faults: ChaCha8Rng,
    /// Seeds for replicas: server `id` gets `replica_seeds[id - 1]` for its first incarnation and
    /// a fresh draw from [`SeedTree::replica_restart_seed`] for each restart.
    pub replica_seeds: Vec<u64>,
    restart: ChaCha8Rng,
}

impl SeedTree {
    /// The streams for root seed `root` and `servers` replicas.
    pub fn new(root: u64, servers: usize) -> SeedTree {
        let mut r = ChaCha8Rng::seed_from_u64(root);
        let child = |r: &mut ChaCha8Rng| ChaCha8Rng::seed_from_u64(r.next_u64());
        let network = child(&mut r);
        let disk = child(&mut r);
        let clock = child(&mut r);
        let workload = child(&mut r);
        let faults = child(&mut r);
        let restart = child(&mut r);
        // Replica seeds come last so that the number of servers does not change the others.
        let replica_seeds = (0..servers).map(|_| r.next_u64()).collect();
        SeedTree { network, disk, clock, workload, faults, replica_seeds, restart }
    }

    /// A seed for a replica's next incarnation after a restart.
    pub fn replica_restart_seed(&mut self) -> u64 {
        self.restart.next_u64()
    }
}

/// A probability `num / den` with integers, e.g. `Ratio::new(1, 20)` for 5%. Written `"1/20"` in
/// plans and scenario files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ratio {
    pub num: u64,
    pub den: u64,
}

impl Ratio {
    pub const NEVER: Ratio = Ratio { num: 0, den: 1 };
    pub const ALWAYS: Ratio = Ratio { num: 1, den: 1 };

    /// `num / den`; panics unless `0 <= num <= den` and `den > 0` (plans validate first).
    pub fn new(num: u64, den: u64) -> Ratio {
        assert!(den > 0 && num <= den, "ratio {num}/{den} is not a probability");
        Ratio { num, den }
    }

    /// Draws true with probability `num / den`. Consumes one draw even when the answer is fixed,
    /// so that turning a knob to 0 or 1 does not shift the stream for later choices.
    pub fn chance(self, rng: &mut impl Rng) -> bool {
        let x = rng.gen_range(0..self.den.max(1));
        x < self.num
    }

    /// Whether this ratio is a valid probability.
    pub fn is_valid(self) -> bool {
        self.den > 0 && self.num <= self.den
    }
}

impl TryFrom<String> for Ratio {
    type Error = String;
    fn try_from(text: String) -> Result<Ratio, String> {
        let bad =
            || format!("{text:?} is not a probability: expected \"NUM/DEN\" with 0 <= NUM <= DEN, DEN > 0");
        let (n, d) = text.split_once('/').ok_or_else(bad)?;
        let num: u64 = n.trim().parse().map_err(|_| bad())?;
        let den: u64 = d.trim().parse().map_err(|_| bad())?;
        let r = Ratio { num, den };
        if r.is_valid() {
            Ok(r)
        } else {
            Err(bad())
        }
    }
}

impl From<Ratio> for String {
    fn from(r: Ratio) -> String {
        r.to_string()
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// A latency distribution in nanoseconds. Real networks and disks have long tails: most samples
/// sit near a base, a few are many times larger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always the same.
    Fixed {
        #[serde(rename = "value", with = "crate::time::serde_ns")]
        ns: u64,
    },
    /// Uniform in `[min_ns, max_ns]`.
    Uniform {
        #[serde(rename = "min", with = "crate::time::serde_ns")]
        min_ns: u64,
        #[serde(rename = "max", with = "crate::time::serde_ns")]
        max_ns: u64,
    },
    /// Uniform in `[min_ns, max_ns]`, except that with probability `tail` the sample is
    /// multiplied by a factor drawn uniformly from `2..=tail_factor_max` (a Pareto-like tail
    /// without floating point).
    LongTail {
        #[serde(rename = "min", with = "crate::time::serde_ns")]
        min_ns: u64,
        #[serde(rename = "max", with = "crate::time::serde_ns")]
        max_ns: u64,
        tail: Ratio,
        tail_factor_max: u64,
    },
}

impl Latency {
    /// One sample. Always draws the same number of values from `rng` for a given variant.
    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        match *self {
            Latency::Fixed { ns } => ns,
            Latency::Uniform { min_ns, max_ns } => rng.gen_range(min_ns..=max_ns.max(min_ns)),
            Latency::LongTail { min_ns, max_ns, tail, tail_factor_max } => {
                let base = rng.gen_range(min_ns..=max_ns.max(min_ns));
                let in_tail = tail.chance(rng);
                let factor = rng.gen_range(2..=tail_factor_max.max(2));
                if in_tail {
                    base.saturating_mul(factor)
                } else {
                    base
                }
            }
        }
    }

    /// The largest value `sample` can return.
    pub fn max_ns(&self) -> u64 {
        match *self {
            Latency::Fixed { ns } => ns,
            Latency::Uniform { min_ns, max_ns } => max_ns.max(min_ns),
            Latency::LongTail { min_ns, max_ns, tail_factor_max, .. } => {
                max_ns.max(min_ns).saturating_mul(tail_factor_max.max(2))
            }
        }
    }

    /// Checks the parameters; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Latency::Fixed { .. } => Ok(()),
            Latency::Uniform { min_ns, max_ns } | Latency::LongTail { min_ns, max_ns, .. }
                if min_ns > max_ns =>
            {
                Err(format!("latency min {min_ns}ns is above max {max_ns}ns"))
            }
            Latency::LongTail { tail, .. } if !tail.is_valid() => {
                Err(format!("latency tail {tail} is not a probability"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_tree_is_a_function_of_the_root_seed() {
        let mut a = SeedTree::new(42, 3);
        let mut b = SeedTree::new(42, 3);
        assert_eq!(a.network.next_u64(), b.network.next_u64());
        assert_eq!(a.replica_seeds, b.replica_seeds);
        assert_eq!(a.replica_restart_seed(), b.replica_restart_seed());
        let mut c = SeedTree::new(43, 3);
        assert_ne!(SeedTree::new(42, 3).network.next_u64(), c.network.next_u64());
    }

    #[test]
    fn subsystem_streams_do_not_depend_on_the_number_of_servers() {
        let mut three = SeedTree::new(7, 3);
        let mut five = SeedTree::new(7, 5);
        assert_eq!(three.disk.next_u64(), five.disk.next_u64());
        assert_eq!(three.faults.next_u64(), five.faults.next_u64());
        assert_eq!(three.replica_seeds[..], five.replica_seeds[..3]);
    }

    #[test]
    fn subsystem_streams_are_distinct() {
        let mut t = SeedTree::new(1, 1);
        let firsts = [t.network.next_u64(), t.disk.next_u64(), t.clock.next_u64(), t.workload.next_u64()];
        for i in 0..firsts.len() {
            for j in i + 1..firsts.len() {
                assert_ne!(firsts[i], firsts[j]);
            }
        }
    }

    #[test]
    fn ratio_extremes_are_never_and_always() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!((0..1000).all(|_| !Ratio::NEVER.chance(&mut rng)));
        assert!((0..1000).all(|_| Ratio::ALWAYS.chance(&mut rng)));
    }

    #[test]
    fn a_ratio_hits_about_its_fraction() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let hits = (0..10_000).filter(|_| Ratio::new(1, 4).chance(&mut rng)).count();
        assert!((2_200..2_800).contains(&hits), "{hits} hits of 10000 at 1/4");
    }

    #[test]
    fn ratios_read_and_write_as_num_slash_den() {
        assert_eq!(Ratio::try_from("1/20".to_string()), Ok(Ratio::new(1, 20)));
        assert_eq!(String::from(Ratio::new(3, 7)), "3/7");
        for bad in ["1", "3/2", "1/0", "a/b", "-1/2"] {
            assert!(Ratio::try_from(bad.to_string()).unwrap_err().contains("NUM/DEN"), "{bad}");
        }
    }

    #[test]
    fn latencies_read_with_units() {
        let l: Latency = serde_json::from_str(r#"{"kind":"uniform","min":"1ms","max":"10ms"}"#).unwrap();
        assert_eq!(l, Latency::Uniform { min_ns: 1_000_000, max_ns: 10_000_000 });
        assert_eq!(serde_json::to_string(&l).unwrap(), r#"{"kind":"uniform","min":"1ms","max":"10ms"}"#);
    }

    #[test]
    #[should_panic(expected = "not a probability")]
    fn a_ratio_above_one_is_refused() {
        Ratio::new(3, 2);
    }

    #[test]
    fn long_tail_latency_mostly_stays_in_range_and_sometimes_spikes() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let lat =
            Latency::LongTail { min_ns: 100, max_ns: 200, tail: Ratio::new(1, 10), tail_factor_max: 50 };
        let samples: Vec<u64> = (0..5_000).map(|_| lat.sample(&mut rng)).collect();
        let spikes = samples.iter().filter(|&&s| s > 200).count();
        assert!((300..700).contains(&spikes), "{spikes} spikes of 5000 at 1/10");
        assert!(samples.iter().all(|&s| (100..=lat.max_ns()).contains(&s)));
    }

    #[test]
    fn latency_validation_names_the_problem() {
        assert!(Latency::Uniform { min_ns: 5, max_ns: 1 }.validate().unwrap_err().contains("above max"));
        let bad_tail =
            Latency::LongTail { min_ns: 1, max_ns: 2, tail: Ratio { num: 2, den: 1 }, tail_factor_max: 3 };
        assert!(bad_tail.validate().unwrap_err().contains("not a probability"));
    }

    proptest::proptest! {
        #[test]
        fn every_sample_is_within_the_declared_bounds(
            min in 0u64..1_000_000, span in 0u64..1_000_000, num in 0u64..10, factor in 2u64..100, seed: u64,
        ) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let tail = Ratio::new(num, 10);
            let lat = Latency::LongTail { min_ns: min, max_ns: min + span, tail, tail_factor_max: factor };
            for _ in 0..20 {
                let s = lat.sample(&mut rng);
                proptest::prop_assert!(s >= min && s <= lat.max_ns());
            }
        }
    }
}
