//! Switchable defects that reproduce historical ZooKeeper bugs (reference §5), so the simulator
//! can show its checkers find them. Compiled only with the `mutations` feature; without it the
//! replica has no mutation state and no branch tests one (the `mutated!` macro is the constant
//! `false` there).
//!
//! Each variant changes the core exactly where the catalog's *Mutation* line says, and is named
//! after its JIRA issue; catalog entries with several mutations get a letter suffix. Variants are
//! listed in catalog order.

/// One defect, named after its JIRA issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutation {
    /// Catalog 1, ZOOKEEPER-1732: compare all four vote fields (leader, zxid, round, peer epoch)
    /// for FOLLOWING/LEADING notifications instead of only (leader, peer epoch).
    Zk1732,
    /// Catalog 1, ZOOKEEPER-1732: skip `updateElectionVote`, so established members keep
    /// advertising the peer epoch they were elected with instead of the one they synced into.
    Zk1732b,
    /// Catalog 2, ZOOKEEPER-261: an uninitialized (wiped) database votes as if its last zxid were 0.
    Zk261,
    /// Catalog 3, ZOOKEEPER-1264 (a): txns that arrive between NEWLEADER and UPTODATE are applied
    /// in memory on their COMMIT but never logged.
    Zk1264a,
    /// Catalog 3, ZOOKEEPER-1264 (b): the follower ACKs NEWLEADER before persisting currentEpoch and
    /// persists it only at UPTODATE.
    Zk1264b,
    /// Catalog 3, ZOOKEEPER-1264 (c): the leader sends LEADERINFO before its own acceptedEpoch is
    /// durable.
    Zk1264c,
    /// Catalog 5, ZOOKEEPER-1154: DIFF whenever the follower's zxid lies within the leader's history
    /// range, without checking that the leader holds that very txn (no TRUNC of a divergent tail).
    Zk1154,
    /// Catalog 5, ZOOKEEPER-1156: TRUNC cuts one record more than asked.
    Zk1156,
    /// Catalog 16, ZOOKEEPER-2845: skip the fast-forward of memory from the log when leaving a
    /// role, so the zxid a server advertises can be lower than what its log holds.
    Zk2845,
    /// Catalog 20, ZOOKEEPER-1277: let the zxid counter wrap into the epoch bits instead of
    /// forcing a new epoch before it is exhausted.
    Zk1277,
}

impl Mutation {
    /// Every mutation of the server core, in catalog order.
    pub const ALL: &'static [Mutation] = &[
        Mutation::Zk1732,
        Mutation::Zk1732b,
        Mutation::Zk261,
        Mutation::Zk1264a,
        Mutation::Zk1264b,
        Mutation::Zk1264c,
        Mutation::Zk1154,
        Mutation::Zk1156,
        Mutation::Zk2845,
        Mutation::Zk1277,
    ];

    /// The short name, e.g. `ZK-2845` or `ZK-1264a`: what `--mutation` and scenario files use.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::Zk1732 => "ZK-1732",
            Mutation::Zk1732b => "ZK-1732b",
            Mutation::Zk261 => "ZK-261",
            Mutation::Zk1264a => "ZK-1264a",
            Mutation::Zk1264b => "ZK-1264b",
            Mutation::Zk1264c => "ZK-1264c",
            Mutation::Zk1154 => "ZK-1154",
            Mutation::Zk1156 => "ZK-1156",
            Mutation::Zk2845 => "ZK-2845",
            Mutation::Zk1277 => "ZK-1277",
        }
    }

    /// The JIRA issue, e.g. `ZOOKEEPER-2845`.
    pub fn jira(self) -> String {
        let name = self.name();
        let number = name.trim_start_matches("ZK-").trim_end_matches(|c: char| c.is_ascii_lowercase());
        format!("ZOOKEEPER-{number}")
    }

    /// The entry of the catalog (reference §5) this mutation reproduces.
    pub fn catalog_entry(self) -> u32 {
        match self {
            Mutation::Zk1732 | Mutation::Zk1732b => 1,
            Mutation::Zk261 => 2,
            Mutation::Zk1264a | Mutation::Zk1264b | Mutation::Zk1264c => 3,
            Mutation::Zk1154 | Mutation::Zk1156 => 5,
            Mutation::Zk2845 => 16,
            Mutation::Zk1277 => 20,
        }
    }

    /// The defect, in one line (the catalog's *Mutation*).
    pub fn defect(self) -> &'static str {
        match self {
            Mutation::Zk1732 => "compare all four vote fields for FOLLOWING/LEADING notifications",
            Mutation::Zk1732b => "skip updateElectionVote after sync (members advertise a stale peer epoch)",
            Mutation::Zk261 => "treat an empty (wiped) data dir as zxid 0 and vote",
            Mutation::Zk1264a => {
                "apply commits that arrive between NEWLEADER and UPTODATE without logging them"
            }
            Mutation::Zk1264b => "persist currentEpoch at UPTODATE instead of before the NEWLEADER ACK",
            Mutation::Zk1264c => "send LEADERINFO before persisting the leader's acceptedEpoch",
            Mutation::Zk1154 => {
                "choose DIFF whenever min <= peerZxid <= max without checking the peer zxid is in history"
            }
            Mutation::Zk1156 => "truncate one record too far",
            Mutation::Zk2845 => "skip the fast-forward of memory from the log when leaving a role",
            Mutation::Zk1277 => "let the zxid counter wrap into the epoch bits",
        }
    }

    /// What the defect breaks, in one line (for the bug catalog).
    pub fn what_it_breaks(self) -> &'static str {
        match self {
            Mutation::Zk1732 | Mutation::Zk1732b => {
                "a restarted server cannot join an established ensemble: it stays LOOKING while a \
                 quorum is healthy"
            }
            Mutation::Zk261 => {
                "a wiped server helps elect a leader that lacks committed txns: committed txns vanish"
            }
            Mutation::Zk1264a => {
                "a synced follower's log misses txns it applied: after a restart it replays a history with \
                 holes and diverges"
            }
            Mutation::Zk1264b => {
                "a follower counted in the NEWLEADER quorum forgets the epoch it adopted when it crashes \
                 before UPTODATE: it cannot restart, or helps elect a server without that history"
            }
            Mutation::Zk1264c => {
                "a leader that crashes before its acceptedEpoch is durable proposes the same epoch again: \
                 two leaders in one epoch"
            }
            Mutation::Zk1154 => {
                "a follower keeps an uncommitted txn of an old epoch that the leader never had: replicas \
                 diverge"
            }
            Mutation::Zk1156 => "a truncated follower loses a committed txn: replicas diverge",
            Mutation::Zk2845 => {
                "a server advertises a zxid below its log, is not truncated, and replays never-committed \
                 txns after a restart: replicas diverge"
            }
            Mutation::Zk1277 => {
                "the counter wraps into the epoch bits: zxids of a later epoch are reused and replicas \
                 disagree"
            }
        }
    }

    /// Parses a mutation name: `ZK-2845`, `ZOOKEEPER-2845`, `zk-1264a` (case-insensitive).
    pub fn parse(name: &str) -> Option<Mutation> {
        let upper = name.trim().to_ascii_uppercase();
        let short = match upper.strip_prefix("ZOOKEEPER-") {
            Some(rest) => format!("ZK-{rest}"),
            None => upper,
        };
        Mutation::ALL.iter().copied().find(|m| m.name().eq_ignore_ascii_case(&short))
    }

    /// Every name, comma-separated (for error messages).
    pub fn names() -> String {
        Mutation::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Display for Mutation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl crate::replica::Replica {
    /// Switches a defect on (or off) for this replica, including its election engine.
    pub fn set_mutation(&mut self, mutation: Mutation, on: bool) {
        if on {
            self.mutations.insert(mutation);
        } else {
            self.mutations.remove(&mutation);
        }
        self.election.set_mutation(mutation, on);
    }

    /// The defects switched on for this replica.
    pub fn mutations(&self) -> impl Iterator<Item = Mutation> + '_ {
        self.mutations.iter().copied()
    }

    pub(crate) fn mutation_on(&self, mutation: Mutation) -> bool {
        self.mutations.contains(&mutation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_with_either_prefix_and_any_case() {
        for &m in Mutation::ALL {
            let long = m.name().replace("ZK-", "ZOOKEEPER-");
            assert_eq!(Mutation::parse(m.name()), Some(m));
            assert_eq!(Mutation::parse(&long), Some(m));
            assert_eq!(Mutation::parse(&m.name().to_ascii_lowercase()), Some(m));
            assert_eq!(Mutation::parse(&format!("  {} ", long.to_ascii_lowercase())), Some(m));
        }
    }

    #[test]
    fn unknown_names_do_not_parse() {
        for bad in ["", "ZK-", "ZK-99999", "2845", "ZK-2845x", "ZOOKEEPER-", "ZK1277"] {
            assert_eq!(Mutation::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_are_unique_and_jira_names_drop_the_suffix() {
        let mut names: Vec<&str> = Mutation::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Mutation::ALL.len());
        assert_eq!(Mutation::Zk1732b.jira(), "ZOOKEEPER-1732");
        assert_eq!(Mutation::Zk261.jira(), "ZOOKEEPER-261");
    }

    #[test]
    fn all_is_in_catalog_order_and_every_variant_is_described() {
        let entries: Vec<u32> = Mutation::ALL.iter().map(|m| m.catalog_entry()).collect();
        assert!(entries.windows(2).all(|w| w[0] <= w[1]), "{entries:?}");
        for &m in Mutation::ALL {
            assert!((1..=20).contains(&m.catalog_entry()));
            assert!(!m.defect().is_empty() && !m.what_it_breaks().is_empty(), "{m}");
        }
    }
}
