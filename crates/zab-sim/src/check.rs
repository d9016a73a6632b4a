//! Step invariants and end-of-run checks over trace events.
//!
//! [`Invariants`] reads the events of a run one at a time (live, during the run, or from a trace
//! file) and reports the first violation of a ZAB invariant (reference §1.6):
//!
//! - `one-leader-per-epoch`: at most one server establishes leadership in an epoch;
//! - `quorum-commit`: a commit's ACK set is a quorum of voters (observers never count);
//! - `agreement`: every server that applies zxid z applies the same txn (same content hash);
//! - `apply-order`: each server applies zxids in strictly increasing order within an incarnation;
//! - `ack-after-durable`: a server ACKs zxid z only after z is durable on its disk;
//! - `newleader-ack-before-durable`: a learner ACKs NEWLEADER of epoch e only once the history the
//!   leader synced it to (the leader's zxid when it chose DIFF/TRUNC/SNAP) is durable on its disk;
//! - `current-epoch-before-history`: a learner's currentEpoch e becomes durable only after that
//!   synced history is (reference §1.4.2: txns, then currentEpoch, then the ACK);
//! - `ack-order`: during synchronization a follower sends no proposal ACK before its NEWLEADER ACK;
//! - `zxid-integrity`: a server's last processed zxid always names a txn it applied, never an epoch
//!   marker (counter 0 names no txn, reference §1.1);
//! - `message-legal`: no follower receives a COMMIT for a txn it does not hold as its oldest
//!   pending proposal (it would exit with UNMATCHED_TXN_COMMIT);
//! - `epoch-monotonic`: a server's durable acceptedEpoch never goes back, and it never runs below
//!   it (unless its disk was damaged: wiped, corrupted, misdirected writes);
//! - `session-order`: replies to one session never go back in zxid;
//! - `leader-log-completeness`: a leader that starts broadcasting in epoch e holds every txn
//!   committed in an earlier epoch (its last logged zxid is at least the highest committed one);
//!   not checked once a disk returned wrong bytes (corruption, misdirected writes: such a disk may
//!   legitimately forget committed txns and still vote); a wiped disk does not vote, so it counts;
//! - `acknowledged-write-lost`: at the end, a write a client saw succeed at zxid z is applied on
//!   every live server that is up to date (checked by [`Invariants::finish`]).
//!
//! The first two are zab-check's rules (`one_leader_per_epoch`, `commit_needs_voter_quorum`),
//! called through its incremental API so that a trace checked after the run and a run checked
//! live use one implementation.

use std::collections::{BTreeMap, BTreeSet};

use zab_check::invariants::{is_voter_quorum, EpochLeaders};
use zab_trace::{Event, NodeId, Outcome};

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The checker's name (what `[expect] violation = ...` names).
    pub checker: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.checker, self.message)
    }
}

/// The state the invariant checkers keep between events.
pub struct Invariants {
    voters: BTreeSet<NodeId>,
    leaders: EpochLeaders,
    applied_hash: BTreeMap<u64, u64>,
    last_applied: BTreeMap<NodeId, u64>,
    durable: BTreeMap<NodeId, u64>,
    accepted_epoch: BTreeMap<NodeId, u32>,
    session_zxid: BTreeMap<u64, u64>,
    /// Writes a client saw succeed: zxid → session.
    acknowledged: BTreeMap<u64, u64>,
    /// Invoked writes not yet completed: (client, xid).
    open_writes: BTreeSet<(u32, i32)>,
    /// The highest zxid known committed (applied as committed anywhere, or committed by a leader).
    max_committed: u64,
    /// Whether some server's disk returned wrong bytes (read corruption, misdirected writes).
    disk_damaged: bool,
    /// The epoch each leader announced (LEADERINFO), to date its sync decisions.
    leader_epoch: BTreeMap<NodeId, u32>,
    /// (learner, epoch) → the zxid the leader synced that learner to (the lowest, when it was
    /// synced several times in one epoch: a disk write of an earlier attempt may complete during
    /// a later one, and it vouches only for the earlier history).
    synced_to: BTreeMap<(NodeId, u32), u64>,
    /// Followers in synchronization that have not ACKed NEWLEADER yet.
    awaiting_newleader_ack: BTreeSet<NodeId>,
    /// Followers whose last role record was Following/Synchronization.
    in_sync: BTreeSet<NodeId>,
    pub events: u64,
}

impl Invariants {
    /// Checkers for an ensemble whose voters are `voters`.
    pub fn new(voters: impl IntoIterator<Item = NodeId>) -> Invariants {
        Invariants {
            voters: voters.into_iter().collect(),
            leaders: EpochLeaders::default(),
            applied_hash: BTreeMap::new(),
            last_applied: BTreeMap::new(),
            durable: BTreeMap::new(),
            accepted_epoch: BTreeMap::new(),
            session_zxid: BTreeMap::new(),
            acknowledged: BTreeMap::new(),
            open_writes: BTreeSet::new(),
            max_committed: 0,
            disk_damaged: false,
            leader_epoch: BTreeMap::new(),
            synced_to: BTreeMap::new(),
            awaiting_newleader_ack: BTreeSet::new(),
            in_sync: BTreeSet::new(),
            events: 0,
        }
    }

    /// Checks one event.
    pub fn observe(&mut self, ev: &Event) -> Result<(), Violation> {
        self.events += 1;
        let fail = |checker: &str, message: String| Err(Violation { checker: checker.to_string(), message });
        match ev {
            Event::LeaderEstablished { node, epoch, acks } => {
                if let Err(prev) = self.leaders.establish(*node, *epoch) {
                    return fail(
                        "one-leader-per-epoch",
                        format!("servers {prev} and {node} both established leadership in epoch {epoch}"),
                    );
                }
                self.check_quorum("quorum-commit", acks, || {
                    format!("leader {node} established epoch {epoch}")
                })?;
            }
            Event::Committed { node, zxid, acks } => {
                self.check_quorum("quorum-commit", acks, || format!("leader {node} committed {zxid:#x}"))?;
                self.max_committed = self.max_committed.max(*zxid);
            }
            Event::Applied { node, zxid, hash } => {
                self.max_committed = self.max_committed.max(*zxid);
                if let Some(h) = self.applied_hash.insert(*zxid, *hash) {
                    if h != *hash {
                        return fail(
                            "agreement",
                            format!(
                                "server {node} applied txn {hash:#x} at {zxid:#x}, another server {h:#x}"
                            ),
                        );
                    }
                }
                let last = self.last_applied.entry(*node).or_default();
                if *zxid <= *last {
                    return fail("apply-order", format!("server {node} applied {zxid:#x} after {last:#x}"));
                }
                *last = *zxid;
            }
            Event::Durable { node, upto } => {
                self.durable.insert(*node, *upto);
            }
            Event::Truncated { node, to } => {
                let d = self.durable.entry(*node).or_default();
                *d = (*d).min(*to);
            }
            Event::SnapInstalled { node, zxid } => {
                self.durable.insert(*node, *zxid);
                self.last_applied.insert(*node, *zxid);
            }
            Event::AckSent { node, zxid } => {
                // ACKs of a new epoch's NEWLEADER carry (e, 0) and promise the synced history.
                let durable = self.durable.get(node).copied().unwrap_or(0);
                if *zxid & 0xffff_ffff != 0 && *zxid > durable {
                    return fail(
                        "ack-after-durable",
                        format!("server {node} ACKed {zxid:#x} while durable only up to {durable:#x}"),
                    );
                }
                if *zxid & 0xffff_ffff != 0 && self.awaiting_newleader_ack.contains(node) {
                    return fail(
                        "ack-order",
                        format!("server {node} ACKed proposal {zxid:#x} before it ACKed NEWLEADER"),
                    );
                }
                let epoch = (*zxid >> 32) as u32;
                if *zxid & 0xffff_ffff == 0 {
                    if let Some(&to) = self.synced_to.get(&(*node, epoch)) {
                        if durable < to {
                            return fail(
                                "newleader-ack-before-durable",
                                format!(
                                    "server {node} ACKed NEWLEADER of epoch {epoch} while durable only up to \
                                     {durable:#x}; it was synced to {to:#x}"
                                ),
                            );
                        }
                    }
                }
            }
            Event::NewLeaderAcked { node, .. } => {
                self.awaiting_newleader_ack.remove(node);
            }
            Event::LeaderInfoSent { node, epoch, .. } => {
                self.leader_epoch.insert(*node, *epoch);
            }
            Event::SyncChosen { node, peer, leader_zxid, .. } => {
                if let Some(&epoch) = self.leader_epoch.get(node) {
                    let to = self.synced_to.entry((*peer, epoch)).or_insert(*leader_zxid);
                    *to = (*to).min(*leader_zxid);
                }
            }
            Event::EpochPersisted { node, file: zab_trace::EpochFile::Current, epoch } => {
                let durable = self.durable.get(node).copied().unwrap_or(0);
                if let Some(&to) = self.synced_to.get(&(*node, *epoch)) {
                    if durable < to {
                        return fail(
                            "current-epoch-before-history",
                            format!(
                                "server {node} persisted currentEpoch {epoch} while durable only up to \
                                 {durable:#x}; it was synced to {to:#x}"
                            ),
                        );
                    }
                }
            }
            Event::ServerError { node, message }
                if message.contains(zab_core::messages::UNMATCHED_TXN_COMMIT) =>
            {
                return fail("message-legal", format!("server {node}: {message}"));
            }
            // The role record shows the in-memory acceptedEpoch, which may run ahead of a write
            // that then fails; the durable value is what must never go back.
            Event::EpochPersisted { node, file: zab_trace::EpochFile::Accepted, epoch } => {
                let prev = self.accepted_epoch.entry(*node).or_default();
                if *epoch < *prev {
                    return fail(
                        "epoch-monotonic",
                        format!("server {node} persisted acceptedEpoch {epoch} after {prev}"),
                    );
                }
                *prev = *epoch;
            }
            Event::Role {
                node,
                role: zab_trace::Role::Leading,
                phase: zab_trace::Phase::Broadcast,
                current_epoch,
                last_logged: Some(last),
                ..
            } if !self.disk_damaged
                && self.max_committed > *last
                && ((self.max_committed >> 32) as u32) < *current_epoch =>
            {
                return fail(
                    "leader-log-completeness",
                    format!(
                        "server {node} leads epoch {current_epoch} with a log ending at {last:#x}, but {:#x} \
                         was committed before",
                        self.max_committed
                    ),
                );
            }
            Event::Role { node, accepted_epoch, role, phase, committed, .. } => {
                if *committed != 0 && *committed & 0xffff_ffff == 0 {
                    return fail(
                        "zxid-integrity",
                        format!("server {node} reports last processed zxid {committed:#x}, an epoch marker"),
                    );
                }
                if *role == zab_trace::Role::Following && *phase == zab_trace::Phase::Synchronization {
                    // Entered once per sync: the NEWLEADER ACK of this sync has not been sent.
                    if !self.in_sync.contains(node) {
                        self.in_sync.insert(*node);
                        self.awaiting_newleader_ack.insert(*node);
                    }
                } else {
                    self.in_sync.remove(node);
                    self.awaiting_newleader_ack.remove(node);
                }
                let durable = self.accepted_epoch.get(node).copied().unwrap_or(0);
                if *accepted_epoch < durable {
                    return fail(
                        "epoch-monotonic",
                        format!("server {node} runs with acceptedEpoch {accepted_epoch} below its persisted {durable}"),
                    );
                }
            }
            Event::Crash { node } => {
                // Memory is gone: the next incarnation replays its log from the start.
                self.last_applied.remove(node);
                self.durable.remove(node);
                self.in_sync.remove(node);
                self.awaiting_newleader_ack.remove(node);
                // Its pending disk writes are gone with it.
                self.synced_to.retain(|(n, _), _| n != node);
            }
            // Recovery replays every txn its disk holds: that much is durable.
            Event::Restart { node, recovered: Some(z) } => {
                self.durable.insert(*node, *z);
            }
            // A server whose durable data was damaged (wiped, corrupted on read, misdirected
            // writes) may legitimately come back with an older epoch: its disk lied, and the
            // protocol-level checks (one leader per epoch, agreement) still apply to it.
            Event::DiskFault { node, fault } if damages_durable_data(fault) => {
                self.accepted_epoch.remove(node);
                // A wiped server restarts uninitialized and does not vote until a leader synced
                // it, so it cannot help elect a leader that lacks committed txns; a disk that
                // returns wrong bytes can.
                if !fault.starts_with("wipe") {
                    self.disk_damaged = true;
                }
            }
            Event::Invoke { client, xid, op, .. } if crate::workload::is_write(op) => {
                self.open_writes.insert((*client, *xid));
            }
            Event::Complete { client, xid, session, zxid: Some(z), result } => {
                let write = self.open_writes.remove(&(*client, *xid));
                let seen = self.session_zxid.entry(*session).or_default();
                if *z < *seen {
                    return fail(
                        "session-order",
                        format!("session {session:#x} got a reply at {z:#x} after one at {seen:#x}"),
                    );
                }
                *seen = *z;
                if write && matches!(result, Outcome::Ok { .. }) {
                    self.acknowledged.insert(*z, *session);
                }
            }
            Event::Complete { client, xid, .. } => {
                self.open_writes.remove(&(*client, *xid));
            }
            _ => {}
        }
        Ok(())
    }

    /// End-of-run check: every acknowledged write is applied, with one agreed content, on the
    /// servers listed in `applied_upto` (each up-to-date live server and the zxid it applied up to).
    pub fn finish(&self, applied_upto: &BTreeMap<NodeId, u64>) -> Result<(), Violation> {
        for (zxid, session) in &self.acknowledged {
            for (node, upto) in applied_upto {
                if upto < zxid {
                    return Err(Violation {
                        checker: "acknowledged-write-lost".to_string(),
                        message: format!(
                            "session {session:#x} saw a write succeed at {zxid:#x}, server {node} ends at {upto:#x}"
                        ),
                    });
                }
            }
            if !applied_upto.is_empty() && !self.applied_hash.contains_key(zxid) {
                return Err(Violation {
                    checker: "acknowledged-write-lost".to_string(),
                    message: format!("session {session:#x} saw a write succeed at {zxid:#x}, never applied"),
                });
            }
        }
        Ok(())
    }

    fn check_quorum(
        &self,
        checker: &str,
        acks: &[NodeId],
        what: impl FnOnce() -> String,
    ) -> Result<(), Violation> {
        if !is_voter_quorum(acks, &self.voters) {
            return Err(Violation {
                checker: checker.to_string(),
                message: format!(
                    "{} with ACKs from {acks:?}: not a quorum of voters {:?}",
                    what(),
                    self.voters
                ),
            });
        }
        Ok(())
    }
}

/// Whether a `DiskFault` description (as the simulator writes it) means durable data was damaged.
pub fn damages_durable_data(fault: &str) -> bool {
    fault.starts_with("wipe") || fault.starts_with("read corruption") || fault.starts_with("misdirected")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Invariants {
        Invariants::new([1, 2, 3])
    }

    #[test]
    fn two_leaders_in_one_epoch_are_a_violation() {
        let mut i = inv();
        i.observe(&Event::LeaderEstablished { node: 1, epoch: 2, acks: vec![1, 2] }).unwrap();
        let v = i.observe(&Event::LeaderEstablished { node: 3, epoch: 2, acks: vec![3, 2] }).unwrap_err();
        assert_eq!(v.checker, "one-leader-per-epoch");
        i.observe(&Event::LeaderEstablished { node: 3, epoch: 3, acks: vec![3, 2] }).unwrap();
    }

    #[test]
    fn a_commit_without_a_voter_quorum_is_a_violation_and_observers_do_not_count() {
        let mut i = Invariants::new([1, 2, 3]);
        i.observe(&Event::Committed { node: 1, zxid: 0x1_0000_0001, acks: vec![1, 2] }).unwrap();
        let v = i.observe(&Event::Committed { node: 1, zxid: 0x1_0000_0002, acks: vec![1, 4] }).unwrap_err();
        assert_eq!(v.checker, "quorum-commit");
    }

    #[test]
    fn different_txns_applied_at_one_zxid_break_agreement() {
        let mut i = inv();
        i.observe(&Event::Applied { node: 1, zxid: 5, hash: 10 }).unwrap();
        i.observe(&Event::Applied { node: 2, zxid: 5, hash: 10 }).unwrap();
        assert_eq!(
            i.observe(&Event::Applied { node: 3, zxid: 5, hash: 11 }).unwrap_err().checker,
            "agreement"
        );
    }

    #[test]
    fn applying_out_of_order_is_a_violation_but_a_restart_starts_over() {
        let mut i = inv();
        i.observe(&Event::Applied { node: 1, zxid: 5, hash: 1 }).unwrap();
        assert_eq!(
            i.observe(&Event::Applied { node: 1, zxid: 5, hash: 1 }).unwrap_err().checker,
            "apply-order"
        );
        i.observe(&Event::Crash { node: 1 }).unwrap();
        i.observe(&Event::Applied { node: 1, zxid: 5, hash: 1 }).unwrap();
    }

    #[test]
    fn an_ack_before_durability_is_a_violation() {
        let mut i = inv();
        i.observe(&Event::Durable { node: 2, upto: 0x1_0000_0001 }).unwrap();
        i.observe(&Event::AckSent { node: 2, zxid: 0x1_0000_0001 }).unwrap();
        i.observe(&Event::AckSent { node: 2, zxid: 0x2_0000_0000 }).unwrap();
        let v = i.observe(&Event::AckSent { node: 2, zxid: 0x1_0000_0002 }).unwrap_err();
        assert_eq!(v.checker, "ack-after-durable");
    }

    fn leading(node: NodeId, epoch: u32, last: u64) -> Event {
        Event::Role {
            node,
            role: zab_trace::Role::Leading,
            phase: zab_trace::Phase::Broadcast,
            accepted_epoch: epoch,
            current_epoch: epoch,
            last_logged: Some(last),
            committed: last,
        }
    }

    #[test]
    fn a_leader_missing_a_txn_committed_in_an_earlier_epoch_breaks_log_completeness() {
        let mut i = inv();
        i.observe(&Event::Applied { node: 2, zxid: 0x1_0000_0005, hash: 1 }).unwrap();
        i.observe(&leading(1, 2, 0x1_0000_0005)).unwrap();
        let v = i.observe(&leading(3, 3, 0x1_0000_0004)).unwrap_err();
        assert_eq!(v.checker, "leader-log-completeness");
        let mut i = inv();
        i.observe(&Event::Committed { node: 1, zxid: 0x1_0000_0007, acks: vec![1, 2] }).unwrap();
        assert_eq!(i.observe(&leading(2, 2, 0x1_0000_0006)).unwrap_err().checker, "leader-log-completeness");
    }

    #[test]
    fn log_completeness_is_checked_after_a_wipe_but_not_after_a_disk_returned_wrong_bytes() {
        let mut i = inv();
        i.observe(&Event::Applied { node: 2, zxid: 0x1_0000_0005, hash: 1 }).unwrap();
        i.observe(&Event::DiskFault { node: 2, fault: "wipe".to_string() }).unwrap();
        assert_eq!(i.observe(&leading(3, 2, 0x1_0000_0004)).unwrap_err().checker, "leader-log-completeness");
        i.observe(&Event::DiskFault { node: 2, fault: "misdirected append".to_string() }).unwrap();
        i.observe(&leading(3, 3, 0x1_0000_0004)).unwrap();
    }

    fn role(node: NodeId, accepted_epoch: u32) -> Event {
        Event::Role {
            node,
            role: zab_trace::Role::Looking,
            phase: zab_trace::Phase::Election,
            accepted_epoch,
            current_epoch: 0,
            last_logged: None,
            committed: 0,
        }
    }

    fn persisted(node: NodeId, epoch: u32) -> Event {
        Event::EpochPersisted { node, file: zab_trace::EpochFile::Accepted, epoch }
    }

    #[test]
    fn an_accepted_epoch_going_back_is_a_violation_unless_the_disk_was_damaged() {
        let mut i = inv();
        i.observe(&persisted(1, 3)).unwrap();
        i.observe(&role(1, 3)).unwrap();
        assert_eq!(i.observe(&role(1, 2)).unwrap_err().checker, "epoch-monotonic");
        assert_eq!(i.observe(&persisted(1, 2)).unwrap_err().checker, "epoch-monotonic");
        let mut i = inv();
        i.observe(&persisted(1, 3)).unwrap();
        i.observe(&Event::DiskFault { node: 1, fault: "wipe".to_string() }).unwrap();
        i.observe(&role(1, 0)).unwrap();
        i.observe(&persisted(1, 2)).unwrap();
        i.observe(&Event::DiskFault {
            node: 1,
            fault: "read corruption in acceptedEpoch at byte 0".to_string(),
        })
        .unwrap();
        i.observe(&role(1, 1)).unwrap();
        i.observe(&persisted(1, 1)).unwrap();
        i.observe(&Event::DiskFault { node: 1, fault: "stall 5ns".to_string() }).unwrap();
        assert_eq!(i.observe(&role(1, 0)).unwrap_err().checker, "epoch-monotonic");
    }

    #[test]
    fn an_in_memory_epoch_ahead_of_a_failed_write_is_not_a_violation() {
        let mut i = inv();
        i.observe(&persisted(3, 1)).unwrap();
        i.observe(&role(3, 2)).unwrap();
        i.observe(&Event::Crash { node: 3 }).unwrap();
        i.observe(&role(3, 1)).unwrap();
    }

    /// Leader 3 announces epoch 2 to server 1 and syncs it to `to`.
    fn synced(i: &mut Invariants, to: u64) {
        i.observe(&Event::LeaderInfoSent { node: 3, peer: 1, epoch: 2 }).unwrap();
        i.observe(&Event::SyncChosen {
            node: 3,
            peer: 1,
            mode: zab_trace::SyncMode::Diff,
            peer_zxid: 0x1_0000_0003,
            leader_zxid: to,
            trunc_to: None,
        })
        .unwrap();
    }

    fn following(node: NodeId, phase: zab_trace::Phase, committed: u64) -> Event {
        Event::Role {
            node,
            role: zab_trace::Role::Following,
            phase,
            accepted_epoch: 2,
            current_epoch: 1,
            last_logged: Some(committed),
            committed,
        }
    }

    fn current(node: NodeId, epoch: u32) -> Event {
        Event::EpochPersisted { node, file: zab_trace::EpochFile::Current, epoch }
    }

    #[test]
    fn a_newleader_ack_before_the_synced_history_is_durable_is_a_violation() {
        let mut i = inv();
        synced(&mut i, 0x1_0000_0005);
        i.observe(&Event::Durable { node: 1, upto: 0x1_0000_0004 }).unwrap();
        let v = i.observe(&Event::AckSent { node: 1, zxid: 0x2_0000_0000 }).unwrap_err();
        assert_eq!(v.checker, "newleader-ack-before-durable");
        let mut i = inv();
        synced(&mut i, 0x1_0000_0005);
        i.observe(&Event::Durable { node: 1, upto: 0x1_0000_0005 }).unwrap();
        i.observe(&current(1, 2)).unwrap();
        i.observe(&Event::AckSent { node: 1, zxid: 0x2_0000_0000 }).unwrap();
    }

    #[test]
    fn a_current_epoch_durable_before_the_synced_history_is_a_violation() {
        let mut i = inv();
        synced(&mut i, 0x1_0000_0005);
        i.observe(&Event::Durable { node: 1, upto: 0x1_0000_0003 }).unwrap();
        assert_eq!(i.observe(&current(1, 2)).unwrap_err().checker, "current-epoch-before-history");
    }

    #[test]
    fn a_second_sync_in_the_same_epoch_does_not_raise_what_an_earlier_write_vouches_for() {
        // The first attempt's currentEpoch write completes during the second attempt, which was
        // synced further: it only vouches for the first attempt's history.
        let mut i = inv();
        synced(&mut i, 0x1_0000_0005);
        synced(&mut i, 0x2_0000_0003);
        i.observe(&Event::Durable { node: 1, upto: 0x1_0000_0005 }).unwrap();
        i.observe(&current(1, 2)).unwrap();
    }

    #[test]
    fn a_restart_counts_what_recovery_read_back_as_durable() {
        let mut i = inv();
        i.observe(&Event::Crash { node: 1 }).unwrap();
        i.observe(&Event::Restart { node: 1, recovered: Some(0x1_0000_0005) }).unwrap();
        synced(&mut i, 0x1_0000_0005);
        i.observe(&current(1, 2)).unwrap();
    }

    #[test]
    fn a_proposal_ack_before_the_newleader_ack_is_a_violation() {
        let mut i = inv();
        i.observe(&Event::Durable { node: 1, upto: 0x1_0000_0009 }).unwrap();
        i.observe(&following(1, zab_trace::Phase::Synchronization, 0x1_0000_0003)).unwrap();
        let v = i.observe(&Event::AckSent { node: 1, zxid: 0x1_0000_0004 }).unwrap_err();
        assert_eq!(v.checker, "ack-order");
        let mut i = inv();
        i.observe(&Event::Durable { node: 1, upto: 0x1_0000_0009 }).unwrap();
        i.observe(&following(1, zab_trace::Phase::Synchronization, 0x1_0000_0003)).unwrap();
        i.observe(&Event::AckSent { node: 1, zxid: 0x2_0000_0000 }).unwrap();
        i.observe(&Event::NewLeaderAcked { node: 1, epoch: 2 }).unwrap();
        i.observe(&following(1, zab_trace::Phase::Synchronization, 0x1_0000_0003)).unwrap();
        i.observe(&Event::AckSent { node: 1, zxid: 0x1_0000_0004 }).unwrap();
    }

    #[test]
    fn an_epoch_marker_as_last_processed_zxid_is_a_violation() {
        let mut i = inv();
        i.observe(&following(1, zab_trace::Phase::Synchronization, 0x1_0000_0003)).unwrap();
        let v = i.observe(&following(1, zab_trace::Phase::Synchronization, 0x2_0000_0000)).unwrap_err();
        assert_eq!(v.checker, "zxid-integrity");
    }

    #[test]
    fn an_unmatched_commit_halt_is_an_illegal_message() {
        let mut i = inv();
        i.observe(&Event::ServerError { node: 1, message: "halting: disk request failed: Io".into() })
            .unwrap();
        let message = format!("halting: {}: COMMIT 0x100000007", zab_core::messages::UNMATCHED_TXN_COMMIT);
        assert_eq!(i.observe(&Event::ServerError { node: 1, message }).unwrap_err().checker, "message-legal");
    }

    fn complete(session: u64, zxid: u64, response: zab_tree::Response) -> Event {
        Event::Complete { client: 0, session, xid: 1, zxid: Some(zxid), result: Outcome::Ok { response } }
    }

    fn invoke_delete() -> Event {
        let op = zab_tree::Request::Delete { path: "/k0".into(), version: -1 };
        Event::Invoke { client: 0, session: 7, xid: 1, server: 1, op }
    }

    #[test]
    fn a_successful_read_is_not_an_acknowledged_write() {
        let mut i = inv();
        i.observe(&complete(7, 10, zab_tree::Response::Empty)).unwrap();
        i.finish(&BTreeMap::from([(1, 0)])).unwrap();
    }

    #[test]
    fn a_session_seeing_an_older_zxid_is_a_violation() {
        let mut i = inv();
        i.observe(&complete(7, 10, zab_tree::Response::Sync { path: "/".into() })).unwrap();
        assert_eq!(
            i.observe(&complete(7, 9, zab_tree::Response::Sync { path: "/".into() })).unwrap_err().checker,
            "session-order"
        );
    }

    #[test]
    fn an_acknowledged_write_missing_at_the_end_is_lost() {
        let mut i = inv();
        i.observe(&Event::Applied { node: 1, zxid: 10, hash: 1 }).unwrap();
        i.observe(&invoke_delete()).unwrap();
        i.observe(&complete(7, 10, zab_tree::Response::Empty)).unwrap();
        i.finish(&BTreeMap::from([(1, 10), (2, 12)])).unwrap();
        assert_eq!(
            i.finish(&BTreeMap::from([(1, 10), (2, 9)])).unwrap_err().checker,
            "acknowledged-write-lost"
        );
    }
}
