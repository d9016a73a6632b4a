//! Simulated time: the global timeline, durations as text, and per-node clocks.
//!
//! The simulator has one global timeline ([`SimTime`], nanoseconds since the start of the run).
//! Each node reads its own clock ([`NodeClock`]), which may be offset (skew), run fast or slow
//! (drift, in parts per million) and jump. A replica only ever sees its local reading, so skew
//! changes when its timers fire and which ctime/mtime it stamps; the simulator converts a local
//! deadline back to the global instant at which the local clock reaches it.

use serde::{Deserialize, Serialize};

/// A point on the global simulated timeline, in nanoseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);

    /// `ms` milliseconds after the start.
    pub const fn from_ms(ms: u64) -> SimTime {
        SimTime(ms * NS_PER_MS)
    }

    /// This instant plus `ns`, saturating.
    pub const fn plus_ns(self, ns: u64) -> SimTime {
        SimTime(self.0.saturating_add(ns))
    }

    /// Nanoseconds from `earlier` to `self` (0 if `earlier` is later).
    pub const fn since_ns(self, earlier: SimTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl std::fmt::Display for SimTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:06}s", self.0 / NS_PER_S, (self.0 / 1_000) % 1_000_000)
    }
}

pub const NS_PER_US: u64 = 1_000;
pub const NS_PER_MS: u64 = 1_000_000;
pub const NS_PER_S: u64 = 1_000_000_000;

/// Parses a duration written as a number and a unit: `250ns`, `10us`, `5ms`, `2.5s`, `1m`.
/// A bare number is refused so that units are never guessed.
pub fn parse_duration_ns(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "ns" => 1,
        "us" => NS_PER_US,
        "ms" => NS_PER_MS,
        "s" => NS_PER_S,
        "m" | "min" => 60 * NS_PER_S,
        "" => return Err(format!("duration {text:?} has no unit (expected one of ns, us, ms, s, m)")),
        other => {
            return Err(format!("duration {text:?} has unit {other:?} (expected one of ns, us, ms, s, m)"))
        }
    };
    if num.is_empty() || num.matches('.').count() > 1 {
        return Err(format!("duration {text:?} does not start with a number"));
    }
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let int: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| format!("duration {text:?} is too large"))?
    };
    let mut frac_ns: u64 = 0;
    let mut place = scale;
    for d in frac.bytes() {
        place /= 10;
        frac_ns += u64::from(d - b'0') * place;
    }
    int.checked_mul(scale)
        .and_then(|v| v.checked_add(frac_ns))
        .ok_or_else(|| format!("duration {text:?} is too large"))
}

/// Formats nanoseconds with the largest unit that keeps it exact (`2500ms`, `3s`, `17ns`).
pub fn format_duration_ns(ns: u64) -> String {
    for (unit, scale) in [("m", 60 * NS_PER_S), ("s", NS_PER_S), ("ms", NS_PER_MS), ("us", NS_PER_US)] {
        if ns != 0 && ns.is_multiple_of(scale) {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

/// Serde helpers that write nanosecond fields as duration strings (`"2500ms"`) and read them back
/// with [`parse_duration_ns`], for `#[serde(with = "crate::time::serde_ns")]`.
pub mod serde_ns {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ns: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration_ns(*ns))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration_ns(&text).map_err(serde::de::Error::custom)
    }
}

/// Like [`serde_ns`] for signed amounts (`"-300ms"`).
pub mod serde_signed_ns {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
        let sign = if *ns < 0 { "-" } else { "" };
        s.serialize_str(&format!("{sign}{}", super::format_duration_ns(ns.unsigned_abs())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        let (neg, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let ns = super::parse_duration_ns(body).map_err(serde::de::Error::custom)?;
        let ns = i64::try_from(ns).map_err(|_| serde::de::Error::custom(format!("{text:?} is too large")))?;
        Ok(if neg { -ns } else { ns })
    }
}

/// One node's clock: `local = origin + offset + (global - anchor) * (1 + drift_ppm / 1e6)`.
///
/// Local readings never go backwards for the replica: a backwards jump is clamped to the last
/// reading handed out (a real OS monotonic clock never goes back either; only the wall clock
/// does, and the replica derives both from this one reading).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeClock {
    /// Local reading at the anchor.
    anchor_local_ns: u64,
    /// Global time at which the current rate was anchored.
    anchor_global: SimTime,
    /// Rate error in parts per million (positive: the clock runs fast).
    drift_ppm: i32,
    /// The largest reading handed out so far.
    last_read_ns: u64,
}

impl NodeClock {
    /// A clock that reads `skew_ns` (may be negative; the reading saturates at 0) at global time
    /// zero plus a fixed origin, and runs at `1 + drift_ppm/1e6` of real speed.
    pub fn new(skew_ns: i64, drift_ppm: i32) -> NodeClock {
        assert!(drift_ppm.abs() < 500_000, "drift of {drift_ppm} ppm is not a clock");
        let anchor_local_ns = LOCAL_ORIGIN_NS.saturating_add_signed(skew_ns);
        NodeClock { anchor_local_ns, anchor_global: SimTime::ZERO, drift_ppm, last_read_ns: anchor_local_ns }
    }

    /// The local reading at global time `now` (never below an earlier reading).
    pub fn local_ns(&mut self, now: SimTime) -> u64 {
        let raw = self.raw_local_ns(now);
        self.last_read_ns = self.last_read_ns.max(raw);
        self.last_read_ns
    }

    /// The earliest global time at or after `now` at which the local clock reads `deadline_ns`.
    pub fn global_for_local(&self, now: SimTime, deadline_ns: u64) -> SimTime {
        let floor = self.raw_local_ns(now).max(self.last_read_ns);
        if deadline_ns <= floor {
            return now;
        }
        // Invert the rate: elapsed global = elapsed local * 1e6 / (1e6 + drift). Round up so that
        // the local reading at the returned instant has really reached the deadline.
        let local_from_anchor = u128::from(deadline_ns.saturating_sub(self.anchor_local_ns));
        let global_from_anchor = if self.drift_ppm == 0 {
            // The common case: no 128-bit division on the hot path.
            local_from_anchor
        } else {
            let rate = u128::from((1_000_000i64 + i64::from(self.drift_ppm)) as u64);
            (local_from_anchor * 1_000_000).div_ceil(rate)
        };
        let at = self.anchor_global.0 as u128 + global_from_anchor;
        let mut at = SimTime(u64::try_from(at).unwrap_or(u64::MAX).max(now.0));
        // Integer rounding in the forward formula can leave the estimate a few nanoseconds off;
        // settle on the exact first instant.
        while at < SimTime(u64::MAX) && self.raw_local_ns(at) < deadline_ns {
            at = at.plus_ns(1);
        }
        while at > now && self.raw_local_ns(SimTime(at.0 - 1)) >= deadline_ns {
            at = SimTime(at.0 - 1);
        }
        at
    }

    /// Jumps the clock by `by_ns` at global time `now` (the rate stays the same).
    pub fn jump(&mut self, now: SimTime, by_ns: i64) {
        let here = self.raw_local_ns(now);
        self.anchor_local_ns = here.saturating_add_signed(by_ns);
        self.anchor_global = now;
    }

    /// A new process starts on this machine at global time `now`: a clock still standing at the
    /// reading it held when a backwards jump came runs on from that reading instead of waiting
    /// for the jump to be made up.
    ///
    /// The standing clock is how the simulator makes one process's timers run late; a process
    /// started afterwards reads the machine's monotonic clock afresh (ZooKeeper derives session
    /// ids and timers from it), and that clock only moves forward. Without this a server that
    /// restarted inside the standing window read the same millisecond as the incarnation before
    /// it and handed out that incarnation's session ids again (clean swarm seed 1040816).
    pub fn resume(&mut self, now: SimTime) {
        if self.raw_local_ns(now) < self.last_read_ns {
            self.anchor_local_ns = self.last_read_ns;
            self.anchor_global = now;
        }
    }

    /// Changes the drift from global time `now` on.
    pub fn set_drift(&mut self, now: SimTime, drift_ppm: i32) {
        assert!(drift_ppm.abs() < 500_000, "drift of {drift_ppm} ppm is not a clock");
        self.anchor_local_ns = self.raw_local_ns(now);
        self.anchor_global = now;
        self.drift_ppm = drift_ppm;
    }

    fn raw_local_ns(&self, now: SimTime) -> u64 {
        if self.drift_ppm == 0 {
            // Same value as the general formula, without 128-bit arithmetic.
            return self.anchor_local_ns.checked_add(now.since_ns(self.anchor_global)).unwrap_or(0);
        }
        let elapsed = i128::from(now.since_ns(self.anchor_global));
        let scaled = elapsed + elapsed * i128::from(self.drift_ppm) / 1_000_000;
        u64::try_from(i128::from(self.anchor_local_ns) + scaled).unwrap_or(0)
    }
}

/// Local clocks start at this reading (one hour) rather than zero so that a negative skew or a
/// backwards jump has room to move without saturating.
pub const LOCAL_ORIGIN_NS: u64 = 3_600 * NS_PER_S;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_fractions() {
        assert_eq!(parse_duration_ns("2.5s"), Ok(2_500_000_000));
        assert_eq!(parse_duration_ns("10ms"), Ok(10_000_000));
        assert_eq!(parse_duration_ns("7us"), Ok(7_000));
        assert_eq!(parse_duration_ns("1m"), Ok(60_000_000_000));
        assert_eq!(parse_duration_ns("0.001ms"), Ok(1_000));
        assert!(parse_duration_ns("10").unwrap_err().contains("no unit"));
        assert!(parse_duration_ns("10h").unwrap_err().contains("expected one of"));
        assert!(parse_duration_ns("s").is_err());
        assert!(parse_duration_ns("1.2.3s").is_err());
        assert!(parse_duration_ns("99999999999999999999s").is_err());
    }

    #[test]
    fn durations_format_with_the_largest_exact_unit() {
        assert_eq!(format_duration_ns(2_500_000_000), "2500ms");
        assert_eq!(format_duration_ns(3_000_000_000), "3s");
        assert_eq!(format_duration_ns(17), "17ns");
        assert_eq!(format_duration_ns(0), "0ns");
    }

    #[test]
    fn a_skewed_clock_reads_ahead_by_its_skew() {
        let mut fast = NodeClock::new(5 * NS_PER_MS as i64, 0);
        let mut exact = NodeClock::new(0, 0);
        let now = SimTime::from_ms(100);
        assert_eq!(fast.local_ns(now) - exact.local_ns(now), 5 * NS_PER_MS);
    }

    #[test]
    fn a_drifting_clock_gains_in_proportion_to_elapsed_time() {
        let mut c = NodeClock::new(0, 1_000); // 0.1% fast
        let at = SimTime(10 * NS_PER_S);
        assert_eq!(c.local_ns(at) - LOCAL_ORIGIN_NS, 10 * NS_PER_S + 10 * NS_PER_MS);
    }

    #[test]
    fn a_backwards_jump_never_makes_the_local_reading_go_back() {
        let mut c = NodeClock::new(0, 0);
        let before = c.local_ns(SimTime::from_ms(1_000));
        c.jump(SimTime::from_ms(1_000), -(500 * NS_PER_MS as i64));
        assert_eq!(c.local_ns(SimTime::from_ms(1_200)), before);
        assert_eq!(c.local_ns(SimTime::from_ms(1_600)), before + 100 * NS_PER_MS);
    }

    #[test]
    fn a_process_started_after_a_backwards_jump_sees_its_clock_move_on_at_once() {
        let mut c = NodeClock::new(0, 0);
        let before = c.local_ns(SimTime::from_ms(1_000));
        c.jump(SimTime::from_ms(1_000), -(500 * NS_PER_MS as i64));
        assert_eq!(c.local_ns(SimTime::from_ms(1_100)), before, "the old process's clock stands");
        c.resume(SimTime::from_ms(1_100));
        assert_eq!(c.local_ns(SimTime::from_ms(1_100)), before);
        assert_eq!(c.local_ns(SimTime::from_ms(1_150)), before + 50 * NS_PER_MS, "and runs on from there");
    }

    #[test]
    fn a_process_started_on_a_clock_that_is_not_standing_changes_nothing() {
        let mut c = NodeClock::new(7, 1_000);
        let untouched = c.clone();
        c.local_ns(SimTime::from_ms(1_000));
        c.resume(SimTime::from_ms(1_000));
        assert_eq!(c.anchor_local_ns, untouched.anchor_local_ns);
        assert_eq!(c.anchor_global, untouched.anchor_global);
    }

    #[test]
    fn a_forward_jump_makes_local_deadlines_due_sooner() {
        let mut c = NodeClock::new(0, 0);
        let now = SimTime::from_ms(0);
        let deadline = c.local_ns(now) + NS_PER_S;
        assert_eq!(c.global_for_local(now, deadline), SimTime::from_ms(1_000));
        c.jump(now, 400 * NS_PER_MS as i64);
        assert_eq!(c.global_for_local(now, deadline), SimTime::from_ms(600));
    }

    proptest::proptest! {
        #[test]
        fn the_local_clock_has_reached_a_deadline_at_the_global_instant_computed_for_it(
            skew in -1_000_000_000i64..1_000_000_000, drift in -200_000i32..200_000,
            now_ns in 0u64..100_000_000_000, ahead in 0u64..100_000_000_000,
        ) {
            let mut c = NodeClock::new(skew, drift);
            let now = SimTime(now_ns);
            let deadline = c.local_ns(now) + ahead;
            let at = c.global_for_local(now, deadline);
            proptest::prop_assert!(at >= now);
            proptest::prop_assert!(c.clone().local_ns(at) >= deadline);
            if at.0 > now.0 {
                proptest::prop_assert!(c.clone().raw_local_ns(SimTime(at.0 - 1)) < deadline);
            }
        }

        /// Clocks without drift (the usual case) take a shortcut; it must agree with the offset
        /// that skew and jumps define.
        #[test]
        fn a_clock_without_drift_is_the_global_time_plus_its_offset(
            skew in -1_000_000_000i64..1_000_000_000, jump in -1_000_000_000i64..1_000_000_000,
            jump_at in 0u64..1_000_000_000, now_ns in 1_000_000_000u64..100_000_000_000,
            ahead in 1u64..100_000_000_000,
        ) {
            let mut c = NodeClock::new(skew, 0);
            c.jump(SimTime(jump_at), jump);
            let offset = i128::from(LOCAL_ORIGIN_NS) + i128::from(skew) + i128::from(jump);
            let now = SimTime(now_ns);
            proptest::prop_assert_eq!(i128::from(c.raw_local_ns(now)), offset + i128::from(now_ns));
            let deadline = c.local_ns(now) + ahead;
            let at = c.global_for_local(now, deadline);
            proptest::prop_assert_eq!(i128::from(at.0), i128::from(deadline) - offset);
        }
    }
}
