//! Cross-replica invariants over a zabsim trace: one function per property of ZAB and of
//! ZooKeeper's server side, each returning the first record that breaks it.
//!
//! Each function reads the records in trace order and needs nothing but the trace (and, for the
//! quorum rule, the voting members). [`check_all`] runs them all.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use zab_trace::{EpochFile, Event, NodeId, Outcome, Record};

/// A broken invariant: which one, at which record, and what was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's name (the function's name).
    pub invariant: &'static str,
    /// Index `i` of the record at which the violation became visible.
    pub record: u64,
    /// What was seen, with node, epoch and zxid where they apply.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (record {}): {}", self.invariant, self.record, self.message)
    }
}

impl std::error::Error for Violation {}

/// Runs every invariant; `voters` are the voting members (observers never count toward a
/// quorum). Returns every violation found, at most one per invariant.
pub fn check_all(records: &[Record], voters: &BTreeSet<NodeId>) -> Vec<Violation> {
    [
        zxids_increase_per_log(records),
        epochs_never_go_back(records),
        one_leader_per_epoch(records),
        committed_prefixes_agree(records),
        commit_needs_voter_quorum(records, voters),
        ack_only_after_durable(records),
        acknowledged_writes_survive(records),
        closed_sessions_lose_ephemerals(records),
        watches_fire_once_in_zxid_order(records),
        replicas_converge(records),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect()
}

fn zx(zxid: u64) -> String {
    format!("0x{zxid:x}")
}

/// Each replica's log only grows by strictly larger zxids. A truncation, a snapshot install or a
/// restart (from what was durable) sets the point the log continues from.
pub fn zxids_increase_per_log(records: &[Record]) -> Result<(), Violation> {
    let mut last: BTreeMap<NodeId, u64> = BTreeMap::new();
    for r in records {
        match r.ev {
            Event::Logged { node, zxid, .. } => {
                if let Some(&prev) = last.get(&node) {
                    if zxid <= prev {
                        return Err(Violation {
                            invariant: "zxids_increase_per_log",
                            record: r.i,
                            message: format!("node {node} logged {} after {}", zx(zxid), zx(prev)),
                        });
                    }
                }
                last.insert(node, zxid);
            }
            Event::Truncated { node, to } => {
                let prev = last.entry(node).or_insert(to);
                *prev = (*prev).min(to);
            }
            Event::SnapInstalled { node, zxid } => {
                last.insert(node, zxid);
            }
            Event::Restart { node, recovered } => match recovered {
                Some(z) => {
                    last.insert(node, z);
                }
                None => {
                    last.remove(&node);
                }
            },
            _ => {}
        }
    }
    Ok(())
}

/// A replica's acceptedEpoch and currentEpoch never decrease, across crashes too (they are on
/// disk): neither in the epoch files it writes nor in the roles it reports.
pub fn epochs_never_go_back(records: &[Record]) -> Result<(), Violation> {
    let mut files: BTreeMap<(NodeId, bool), u32> = BTreeMap::new();
    let check =
        |files: &mut BTreeMap<(NodeId, bool), u32>, r: &Record, node: NodeId, accepted: bool, epoch: u32| {
            let name = if accepted { "acceptedEpoch" } else { "currentEpoch" };
            match files.get(&(node, accepted)) {
                Some(&prev) if epoch < prev => Err(Violation {
                    invariant: "epochs_never_go_back",
                    record: r.i,
                    message: format!("node {node} {name} went from {prev} back to {epoch}"),
                }),
                _ => {
                    files.insert((node, accepted), epoch);
                    Ok(())
                }
            }
        };
    for r in records {
        match &r.ev {
            Event::EpochPersisted { node, file, epoch } => {
                check(&mut files, r, *node, *file == EpochFile::Accepted, *epoch)?
            }
            Event::Role { node, accepted_epoch, current_epoch, .. } => {
                check(&mut files, r, *node, true, *accepted_epoch)?;
                check(&mut files, r, *node, false, *current_epoch)?;
            }
            // A wiped disk starts over from nothing: its epoch files went with it.
            Event::DiskFault { node, fault } if fault == "wipe" => {
                files.remove(&(*node, true));
                files.remove(&(*node, false));
            }
            _ => {}
        }
    }
    Ok(())
}

/// At most one server is established as leader in any epoch.
pub fn one_leader_per_epoch(records: &[Record]) -> Result<(), Violation> {
    let mut leaders = EpochLeaders::default();
    for r in records {
        if let Event::LeaderEstablished { node, epoch, .. } = r.ev {
            if let Err(first) = leaders.establish(node, epoch) {
                return Err(Violation {
                    invariant: "one_leader_per_epoch",
                    record: r.i,
                    message: format!("node {node} established in epoch {epoch}, already led by node {first}"),
                });
            }
        }
    }
    Ok(())
}

/// The server that established each epoch, fed one `LeaderEstablished` at a time: the state of
/// [`one_leader_per_epoch`] in incremental form, so that a simulator can check the rule after
/// every event with the same implementation.
#[derive(Clone, Debug, Default)]
pub struct EpochLeaders {
    leaders: BTreeMap<u32, NodeId>,
}

impl EpochLeaders {
    /// Records that `node` established leadership in `epoch`. If another server already did,
    /// returns that server (the rule is broken) and keeps it recorded.
    pub fn establish(&mut self, node: NodeId, epoch: u32) -> Result<(), NodeId> {
        match self.leaders.get(&epoch) {
            Some(&first) if first != node => Err(first),
            _ => {
                self.leaders.insert(epoch, node);
                Ok(())
            }
        }
    }
}

/// The distinct voters among `acks` (observers and unknown ids never count toward a quorum).
pub fn voter_acks(acks: &[NodeId], voters: &BTreeSet<NodeId>) -> BTreeSet<NodeId> {
    acks.iter().copied().filter(|a| voters.contains(a)).collect()
}

/// Whether `acks` hold a majority of `voters`, counting each voter once: the rule of
/// [`commit_needs_voter_quorum`], also used for the ACKs that establish a leader.
pub fn is_voter_quorum(acks: &[NodeId], voters: &BTreeSet<NodeId>) -> bool {
    voter_acks(acks, voters).len() > voters.len() / 2
}

/// Replicas apply the same txn at each zxid, and none skips a txn another applied: within a run
/// of applies (since a restart or snapshot install), every zxid any replica applied between the
/// run's first and last zxid was applied in that run too.
pub fn committed_prefixes_agree(records: &[Record]) -> Result<(), Violation> {
    let invariant = "committed_prefixes_agree";
    let mut txn_at: BTreeMap<u64, (u64, NodeId)> = BTreeMap::new();
    // Per node: the runs of applied zxids, each with the record of its last apply.
    let mut runs: BTreeMap<NodeId, Vec<(BTreeSet<u64>, u64)>> = BTreeMap::new();
    let mut fresh: BTreeSet<NodeId> = BTreeSet::new();
    for r in records {
        match r.ev {
            Event::Applied { node, zxid, hash } => {
                if let Some(&(first_hash, first_node)) = txn_at.get(&zxid) {
                    if first_hash != hash {
                        return Err(Violation {
                            invariant,
                            record: r.i,
                            message: format!(
                                "node {node} applied txn {hash:#x} at {}, node {first_node} applied {first_hash:#x}",
                                zx(zxid)
                            ),
                        });
                    }
                } else {
                    txn_at.insert(zxid, (hash, node));
                }
                let node_runs = runs.entry(node).or_default();
                if fresh.remove(&node) || node_runs.is_empty() {
                    node_runs.push((BTreeSet::new(), r.i));
                }
                let run = node_runs.last_mut().expect("a run was just ensured");
                if let Some(&prev) = run.0.last() {
                    if zxid <= prev {
                        return Err(Violation {
                            invariant,
                            record: r.i,
                            message: format!("node {node} applied {} after {}", zx(zxid), zx(prev)),
                        });
                    }
                }
                run.0.insert(zxid);
                run.1 = r.i;
            }
            Event::Restart { node, .. } | Event::SnapInstalled { node, .. } => {
                fresh.insert(node);
            }
            _ => {}
        }
    }
    for (node, node_runs) in &runs {
        for (applied, last_record) in node_runs {
            let (Some(&lo), Some(&hi)) = (applied.first(), applied.last()) else { continue };
            if let Some((&missing, _)) = txn_at.range(lo..=hi).find(|(z, _)| !applied.contains(z)) {
                return Err(Violation {
                    invariant,
                    record: *last_record,
                    message: format!(
                        "node {node} applied {} and {} but not {} in between, which another replica applied",
                        zx(lo),
                        zx(hi),
                        zx(missing)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A leader commits a zxid only with ACKs from a majority of the voting members; observers'
/// (and unknown servers') ACKs never count.
pub fn commit_needs_voter_quorum(records: &[Record], voters: &BTreeSet<NodeId>) -> Result<(), Violation> {
    let quorum = voters.len() / 2 + 1;
    for r in records {
        if let Event::Committed { node, zxid, ref acks } = r.ev {
            if !is_voter_quorum(acks, voters) {
                let counted = voter_acks(acks, voters);
                return Err(Violation {
                    invariant: "commit_needs_voter_quorum",
                    record: r.i,
                    message: format!(
                        "node {node} committed {} with voter ACKs {counted:?} (acks {acks:?}); \
                         quorum is {quorum} of {voters:?}",
                        zx(zxid)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A replica ACKs a proposal only once it has logged it and the log is durable up to it.
pub fn ack_only_after_durable(records: &[Record]) -> Result<(), Violation> {
    let mut logged: BTreeMap<NodeId, BTreeSet<u64>> = BTreeMap::new();
    let mut durable: BTreeMap<NodeId, u64> = BTreeMap::new();
    for r in records {
        match r.ev {
            Event::Logged { node, zxid, .. } => {
                logged.entry(node).or_default().insert(zxid);
            }
            Event::Durable { node, upto } => {
                durable.insert(node, upto);
            }
            Event::Truncated { node, to } => {
                if let Some(set) = logged.get_mut(&node) {
                    set.retain(|&z| z <= to);
                }
                if let Some(d) = durable.get_mut(&node) {
                    *d = (*d).min(to);
                }
            }
            Event::SnapInstalled { node, zxid } => {
                logged.entry(node).or_default().insert(zxid);
                durable.insert(node, zxid);
            }
            Event::Restart { node, recovered } => {
                // Only what was durable came back.
                let upto = recovered.unwrap_or(0);
                if let Some(set) = logged.get_mut(&node) {
                    set.retain(|&z| z <= upto);
                }
                durable.insert(node, upto);
            }
            // The ACK of NEWLEADER names the epoch (counter 0), not a txn; what must be durable
            // before it is the whole synced history, a rule of its own.
            Event::AckSent { zxid, .. } if zxid & 0xffff_ffff == 0 => {}
            Event::AckSent { node, zxid } => {
                let is_logged = logged.get(&node).is_some_and(|s| s.contains(&zxid));
                let durable_upto = durable.get(&node).copied().unwrap_or(0);
                if !is_logged || zxid > durable_upto {
                    return Err(Violation {
                        invariant: "ack_only_after_durable",
                        record: r.i,
                        message: format!(
                            "node {node} ACKed {} (logged: {is_logged}, durable up to {})",
                            zx(zxid),
                            zx(durable_upto)
                        ),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A write acknowledged to a client (an ok reply carrying zxid z) is never lost: no replica that
/// logged z truncates it away, and no replica applies another txn at z.
pub fn acknowledged_writes_survive(records: &[Record]) -> Result<(), Violation> {
    let invariant = "acknowledged_writes_survive";
    // First pass: acknowledged writes and the txn hash each replica logged at each zxid.
    let mut writes: BTreeMap<(u32, u64, i32), bool> = BTreeMap::new();
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    for r in records {
        match r.ev {
            Event::Invoke { client, session, xid, ref op, .. } => {
                writes.insert((client, session, xid), op.is_write());
            }
            Event::Complete { client, session, xid, zxid: Some(z), result: Outcome::Ok { .. } }
                if writes.get(&(client, session, xid)).copied().unwrap_or(false) =>
            {
                acked.entry(z).or_insert(r.i);
            }
            _ => {}
        }
    }
    let mut logs: BTreeMap<NodeId, BTreeMap<u64, u64>> = BTreeMap::new();
    let mut applied_hash: BTreeMap<u64, u64> = BTreeMap::new();
    for r in records {
        match r.ev {
            Event::Logged { node, zxid, hash } => {
                logs.entry(node).or_default().insert(zxid, hash);
            }
            Event::Truncated { node, to } => {
                // Only a txn already acknowledged is lost: a leader truncates a rejoining follower
                // to its committed zxid and sends its outstanding proposals again, so an
                // uncommitted txn may be dropped here and acknowledged later.
                let log = logs.entry(node).or_default();
                let acked_before = |z: &u64| acked.get(z).is_some_and(|&at| at < r.i);
                if let Some((&z, _)) = log.range(to + 1..).find(|(z, _)| acked_before(z)) {
                    return Err(Violation {
                        invariant,
                        record: r.i,
                        message: format!(
                            "node {node} truncated to {}, dropping {}, acknowledged to a client at record {}",
                            zx(to),
                            zx(z),
                            acked[&z]
                        ),
                    });
                }
                log.retain(|&z, _| z <= to);
            }
            Event::Applied { node, zxid, hash } if acked.contains_key(&zxid) => {
                if let Some(&first) = applied_hash.get(&zxid) {
                    if first != hash {
                        return Err(Violation {
                            invariant,
                            record: r.i,
                            message: format!("node {node} applied another txn at acknowledged {}", zx(zxid)),
                        });
                    }
                } else {
                    applied_hash.insert(zxid, hash);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Once a closed or expired session's close txn is applied at a replica, that replica holds no
/// ephemeral node of the session (seen in its digests).
pub fn closed_sessions_lose_ephemerals(records: &[Record]) -> Result<(), Violation> {
    let mut closed_at: BTreeMap<u64, u64> = BTreeMap::new();
    for r in records {
        if let Event::SessionClosed { session, zxid, .. } = r.ev {
            closed_at.entry(session).or_insert(zxid);
        }
    }
    for r in records {
        if let Event::Digest { node, zxid, ref ephemerals, .. } = r.ev {
            for (session, path) in ephemerals {
                if closed_at.get(session).is_some_and(|&close| close <= zxid) {
                    return Err(Violation {
                        invariant: "closed_sessions_lose_ephemerals",
                        record: r.i,
                        message: format!(
                            "node {node} at {} still has ephemeral {path} of session {session:#x}, closed at {}",
                            zx(zxid),
                            zx(closed_at[session])
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Each session receives watch events in zxid order, and each (path, event type, zxid) at most
/// once: a watch fires once.
pub fn watches_fire_once_in_zxid_order(records: &[Record]) -> Result<(), Violation> {
    let invariant = "watches_fire_once_in_zxid_order";
    let mut last: BTreeMap<u64, u64> = BTreeMap::new();
    let mut seen: BTreeSet<(u64, u64, String, i32)> = BTreeSet::new();
    for r in records {
        if let Event::Watch { session, ref event, zxid: Some(z), .. } = r.ev {
            if let Some(&prev) = last.get(&session) {
                if z < prev {
                    return Err(Violation {
                        invariant,
                        record: r.i,
                        message: format!(
                            "session {session:#x} got {:?} on {} at {} after an event at {}",
                            event.event_type,
                            event.path,
                            zx(z),
                            zx(prev)
                        ),
                    });
                }
            }
            last.insert(session, z);
            if !seen.insert((session, z, event.path.clone(), event.event_type as i32)) {
                return Err(Violation {
                    invariant,
                    record: r.i,
                    message: format!(
                        "session {session:#x} got {:?} on {} at {} twice",
                        event.event_type,
                        event.path,
                        zx(z)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// At the end, every replica that is up and synced reports the same last zxid and the same tree
/// digest (its last [`Event::Digest`]).
pub fn replicas_converge(records: &[Record]) -> Result<(), Violation> {
    let mut last_digest: BTreeMap<NodeId, (u64, u64, u64)> = BTreeMap::new();
    let mut down: BTreeSet<NodeId> = BTreeSet::new();
    // Each server's last role, phase and accepted/current epochs.
    let mut last_role: BTreeMap<NodeId, (zab_trace::Role, zab_trace::Phase, u32, u32)> = BTreeMap::new();
    for r in records {
        match r.ev {
            Event::Role { node, role, phase, accepted_epoch, current_epoch, .. } => {
                last_role.insert(node, (role, phase, accepted_epoch, current_epoch));
            }
            Event::Digest { node, zxid, digest, .. } => {
                last_digest.insert(node, (zxid, digest, r.i));
            }
            Event::Crash { node } => {
                down.insert(node);
            }
            Event::Restart { node, .. } => {
                down.remove(&node);
            }
            _ => {}
        }
    }
    // Only servers that ended synced (in the broadcast phase) are compared. One still in election,
    // discovery or synchronization holds whatever it had before; whether every server got back in
    // is the simulator's liveness check, which also knows the servers ZooKeeper itself keeps out:
    // one locked out by a higher acceptedEpoch refuses the established leader's older epoch until
    // the next election, and a LOOKING server that hears only from locked-out servers never asks
    // the established ensemble again.
    let unsynced = |node: &NodeId| {
        last_role.get(node).is_some_and(|(_, phase, _, _)| *phase != zab_trace::Phase::Broadcast)
    };
    let mut up = last_digest.iter().filter(|(node, _)| !down.contains(node) && !unsynced(node));
    let Some((&first_node, &(zxid, digest, _))) = up.next() else { return Ok(()) };
    for (&node, &(z, d, i)) in up {
        if (z, d) != (zxid, digest) {
            return Err(Violation {
                invariant: "replicas_converge",
                record: i,
                message: format!(
                    "node {node} ends at {} with digest {d:#x}, node {first_node} at {} with digest {digest:#x}",
                    zx(z),
                    zx(zxid)
                ),
            });
        }
    }
    Ok(())
}
