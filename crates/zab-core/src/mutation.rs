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
    /// Catalog 4, ZOOKEEPER-1653: no recovery rule for a crash between the NEWLEADER history and
    /// currentEpoch: the learner writes no `updatingEpoch` marker before its NEWLEADER snapshot and
    /// txns, so recovery finds a log newer than currentEpoch and nothing that explains it.
    Zk1653,
    /// Catalog 5, ZOOKEEPER-1154: DIFF whenever the follower's zxid lies within the leader's history
    /// range, without checking that the leader holds that very txn (no TRUNC of a divergent tail).
    Zk1154,
    /// Catalog 5, ZOOKEEPER-1156: TRUNC cuts one record more than asked.
    Zk1156,
    /// Catalog 6, ZOOKEEPER-3104: on a SNAP sync the leader queues NEWLEADER ahead of the snapshot
    /// payload and the forwarded backlog, so proposals that commit while the snapshot is streamed
    /// reach the learner after NEWLEADER: not in its NEWLEADER snapshot, logged only after UPTODATE.
    Zk3104,
    /// Catalog 7, ZOOKEEPER-1558: at the start of leading the leader snapshots its memory with its
    /// whole local log applied (a never-committed tail included), and a TRUNC keeps snapshots newer
    /// than the TRUNC zxid.
    Zk1558,
    /// Catalog 8, ZOOKEEPER-962: at DIFF start the follower sets its lastProcessedZxid to the new
    /// leader's zxid (new epoch, counter 0) before any DIFF txn is applied.
    Zk962,
    /// Catalog 9, ZOOKEEPER-3911: the follower ACKs NEWLEADER before logging the DIFF txns (they
    /// reach the log only after UPTODATE).
    Zk3911,
    /// Catalog 10, ZOOKEEPER-4646: the DIFF txns are handed to the log writer and NEWLEADER is ACKed
    /// at once, without waiting for their fsync (or for currentEpoch).
    Zk4646,
    /// Catalog 11, ZOOKEEPER-4785: currentEpoch is written before the synced txns are durable (the
    /// epoch update races ahead of the asynchronous log writer); NEWLEADER is ACKed once
    /// currentEpoch is durable.
    Zk4785,
    /// Catalog 12, ZOOKEEPER-4685: the log writer ACKs sync-phase proposals as soon as they are
    /// durable, independently of the NEWLEADER ACK.
    Zk4685,
    /// Catalog 13, ZOOKEEPER-4394: at NEWLEADER the learner clears its queue of pending proposals
    /// (only the ones known committed are kept).
    Zk4394,
    /// Catalog 14, ZOOKEEPER-3023: whether the DIFF txns are durable before the NEWLEADER ACK is left
    /// to the scheduler: a coin flip per NEWLEADER picks the correct order or the ZK-4646 one.
    Zk3023,
    /// Catalog 15, ZOOKEEPER-4925: txns applied during synchronization are not recorded in the
    /// in-memory DIFF history (committedLog).
    Zk4925,
    /// Catalog 16, ZOOKEEPER-2845: skip the fast-forward of memory from the log when leaving a
    /// role, so the zxid a server advertises can be lower than what its log holds.
    Zk2845,
    /// Catalog 17, ZOOKEEPER-3127: lastProcessedZxid moves at a multi's first sub-op, so a snapshot
    /// taken while a multi is applied is labelled with the multi's zxid but holds only its first
    /// op (modelled: a due snapshot is taken in the middle of the next multi).
    Zk3127,
    /// Catalog 18, ZOOKEEPER-1367: createSession/closeSession txns applied during synchronization
    /// change the tree only, not the session table.
    Zk1367,
    /// Catalog 19, ZOOKEEPER-1675 (Jepsen 2019, also ZOOKEEPER-2136): the leader answers a `sync`
    /// on its own, once the proposals outstanding when it arrived have committed, with no quorum
    /// round (the 3.8/3.9 behaviour), so a leader that has lost its quorum without noticing yet
    /// still completes syncs.
    Zk1675,
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
        Mutation::Zk1653,
        Mutation::Zk1154,
        Mutation::Zk1156,
        Mutation::Zk3104,
        Mutation::Zk1558,
        Mutation::Zk962,
        Mutation::Zk3911,
        Mutation::Zk4646,
        Mutation::Zk4785,
        Mutation::Zk4685,
        Mutation::Zk4394,
        Mutation::Zk3023,
        Mutation::Zk4925,
        Mutation::Zk2845,
        Mutation::Zk3127,
        Mutation::Zk1367,
        Mutation::Zk1675,
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
            Mutation::Zk1653 => "ZK-1653",
            Mutation::Zk1154 => "ZK-1154",
            Mutation::Zk1156 => "ZK-1156",
            Mutation::Zk3104 => "ZK-3104",
            Mutation::Zk1558 => "ZK-1558",
            Mutation::Zk962 => "ZK-962",
            Mutation::Zk3911 => "ZK-3911",
            Mutation::Zk4646 => "ZK-4646",
            Mutation::Zk4785 => "ZK-4785",
            Mutation::Zk4685 => "ZK-4685",
            Mutation::Zk4394 => "ZK-4394",
            Mutation::Zk3023 => "ZK-3023",
            Mutation::Zk4925 => "ZK-4925",
            Mutation::Zk3127 => "ZK-3127",
            Mutation::Zk1367 => "ZK-1367",
            Mutation::Zk2845 => "ZK-2845",
            Mutation::Zk1675 => "ZK-1675",
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
            Mutation::Zk1653 => 4,
            Mutation::Zk1154 | Mutation::Zk1156 => 5,
            Mutation::Zk3104 => 6,
            Mutation::Zk1558 => 7,
            Mutation::Zk962 => 8,
            Mutation::Zk3911 => 9,
            Mutation::Zk4646 => 10,
            Mutation::Zk4785 => 11,
            Mutation::Zk4685 => 12,
            Mutation::Zk4394 => 13,
            Mutation::Zk3023 => 14,
            Mutation::Zk4925 => 15,
            Mutation::Zk3127 => 17,
            Mutation::Zk1367 => 18,
            Mutation::Zk2845 => 16,
            Mutation::Zk1675 => 19,
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
            Mutation::Zk1653 => {
                "no recovery rule for a crash after the NEWLEADER history is durable and before currentEpoch \
                 (no updatingEpoch marker)"
            }
            Mutation::Zk1154 => {
                "choose DIFF whenever min <= peerZxid <= max without checking the peer zxid is in history"
            }
            Mutation::Zk1156 => "truncate one record too far",
            Mutation::Zk3104 => "queue NEWLEADER ahead of the SNAP payload and the forwarded backlog",
            Mutation::Zk1558 => {
                "snapshot the leader's memory (own uncommitted tail included) at lead() start; keep \
                 snapshots beyond a TRUNC zxid"
            }
            Mutation::Zk962 => "set lastProcessedZxid = newLeaderZxid at DIFF start",
            Mutation::Zk3911 => {
                "follower ACKs NEWLEADER (and writes currentEpoch) before logging the DIFF txns"
            }
            Mutation::Zk4646 => {
                "enqueue DIFF txns to the log writer and ACK NEWLEADER without waiting for fsync completion"
            }
            Mutation::Zk4785 => "write currentEpoch before the synced txns are durable, then ACK NEWLEADER",
            Mutation::Zk4685 => {
                "let the log writer ACK sync-phase proposals as soon as they are durable, before the \
                NEWLEADER ACK"
            }
            Mutation::Zk4394 => "drain/clear the pending-proposal queue at NEWLEADER",
            Mutation::Zk3023 => "persist DIFF txns before or after the NEWLEADER ACK, scheduler-chosen",
            Mutation::Zk4925 => "apply sync-phase txns without recording them in the DIFF source history",
            Mutation::Zk3127 => {
                "bump lastProcessedZxid per sub-op of a multi (a snapshot mid-multi carries the multi's \
                zxid)"
            }
            Mutation::Zk1367 => "apply session txns during sync to the tree only",
            Mutation::Zk2845 => "skip the fast-forward of memory from the log when leaving a role",
            Mutation::Zk1675 => "answer sync at the leader without a quorum round (3.8/3.9 sync)",
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
            Mutation::Zk1653 => {
                "a follower that crashes after its NEWLEADER snapshot or txns of the new epoch are durable \
                 and before currentEpoch is refuses its own disk on restart: it cannot rejoin"
            }
            Mutation::Zk1154 => {
                "a follower keeps an uncommitted txn of an old epoch that the leader never had: replicas \
                 diverge"
            }
            Mutation::Zk1156 => "a truncated follower loses a committed txn: replicas diverge",
            Mutation::Zk3104 => {
                "txns committed during a SNAP transfer reach the learner after NEWLEADER, past the zxid \
                 of its NEWLEADER snapshot: a restart skips them and a DIFF never resends them"
            }
            Mutation::Zk1558 => {
                "a deposed leader's never-committed txn survives its TRUNC inside the lead() snapshot: it \
                 rejoins with a txn nobody else has and replicas diverge"
            }
            Mutation::Zk962 => {
                "the server reports and votes with an epoch-marker zxid that covers txns it does not hold; \
                leaving the sync early it can win an election without them"
            }
            Mutation::Zk3911 => {
                "the NEWLEADER quorum vouches for a history durable only on the leader; a quorum-wide crash \
                loses committed txns"
            }
            Mutation::Zk4646 => {
                "a follower crashing between its NEWLEADER ACK and the fsync loses txns the leader counted \
                on"
            }
            Mutation::Zk4785 => {
                "a follower bounced in between is in the new epoch without the synced history"
            }
            Mutation::Zk4685 => {
                "the leader reads a proposal ACK where it expects the NEWLEADER ACK, does not count the \
                learner, and may never establish the epoch"
            }
            Mutation::Zk4394 => {
                "a COMMIT arriving after NEWLEADER matches no pending proposal and the follower exits \
                (UNMATCHED_TXN_COMMIT)"
            }
            Mutation::Zk3023 => {
                "on some syncs the NEWLEADER ACK precedes the durability of the synced txns (as ZK-4646)"
            }
            Mutation::Zk4925 => {
                "once a snapshot retires them from the log index, this server as leader DIFFs others across \
                the hole: replicas diverge"
            }
            Mutation::Zk3127 => {
                "a restart from that snapshot skips the rest of the multi: the server keeps a partial multi \
                and diverges"
            }
            Mutation::Zk1367 => {
                "sessions created in that window are never tracked (their ephemerals never expire), closed \
                ones linger: session tables diverge"
            }
            Mutation::Zk2845 => {
                "a server advertises a zxid below its log, is not truncated, and replays never-committed \
                 txns after a restart: replicas diverge"
            }
            Mutation::Zk1675 => {
                "a leader cut off from its quorum but not yet aware completes syncs: a read after \
                 sync misses writes the new leader acknowledged (sync + read is not linearizable)"
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

    /// ZK-3127: when a snapshot is due and `txn` is a successful multi of several ops, write the
    /// snapshot of the tree with only the multi's first op applied, labelled with the multi's zxid
    /// (lastProcessedZxid already moved at the first sub-op).
    pub(crate) fn zk3127_snapshot_mid_multi(&mut self, txn: &zab_tree::Txn, out: &mut crate::io::Out) {
        use zab_tree::TxnBody;
        let TxnBody::Multi(ops) = &txn.body else { return };
        if ops.len() < 2 || matches!(ops[0], TxnBody::Error { .. }) {
            return;
        }
        self.snapshot_mid_multi = false;
        let mut half = self.db.tree.clone();
        half.apply(&zab_tree::Txn {
            body: TxnBody::Multi(vec![ops[0].clone()]),
            digest: None,
            ..txn.clone()
        });
        let bytes = crate::persist::encode_snapshot(&half);
        let disk_ops = self.db.install_snapshot(txn.zxid, bytes, false);
        self.persist(disk_ops, crate::replica::IoPurpose::Housekeeping, out);
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
