//! The leader: discovery (epoch proposal and epoch ACKs), synchronization of each learner
//! (DIFF/TRUNC/SNAP then NEWLEADER), establishment on a NEWLEADER-ACK quorum, and broadcast
//! (PROPOSAL, ACK, COMMIT, INFORM, PING), with the liveness checks of reference §1.4.3.
//!
//! Reference: §1.4.1 (leader side of discovery), §1.4.2 (the sync decision), §1.4.3 (commit rule,
//! syncLimit checks), §1.5 (a new leader's whole history becomes committed).
//!
//! A client `sync` (reference §5 entry 19) waits for the proposals outstanding when it arrived,
//! and, with [`crate::config::Settings::quorum_sync`] (the default, as in ZooKeeper master), for a
//! quorum of voters to confirm after its arrival that they still follow this leader: a SYNCROUND
//! request answered by each follower, or the commit of any proposal made after it (the followers
//! that ACK it got the round's request first on the same stream). A sync is answered before the
//! COMMIT of any proposal made after it, so a learner sees its session's replies in order. With the
//! setting off (3.8/3.9) the leader answers on its own, which is not linearizable when it has been
//! deposed without noticing yet.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use zab_tree::{AuthIds, Request};
use zab_tree::{Preparer, SessionId, Txn, Zxid};

use crate::ids::{Epoch, ServerId};
use crate::io::{CoreEvent, EpochFile, Instant, Out, Phase, SyncMode};
use crate::marks;
use crate::messages::{ForwardedRequest, QuorumPacket, PROTOCOL_VERSION};
use crate::replica::{Replica, RoleState, TimerKind};
use crate::serve::Origin;

/// What the leader knows about one connected learner (a `LearnerHandler`).
pub(crate) struct Handler {
    pub observer: bool,
    pub state: HandlerState,
    pub peer_zxid: Zxid,
    pub last_heard: Instant,
    /// Receives live PROPOSAL/COMMIT (or INFORM) traffic.
    pub forwarding: bool,
    /// Proposals sent to this learner and not yet ACKed, with when they were sent.
    pub unacked: VecDeque<(Zxid, Instant)>,
    /// The highest sync round this follower confirmed (0: none).
    pub sync_round_acked: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HandlerState {
    /// Connected; FOLLOWERINFO/OBSERVERINFO not yet received.
    AwaitInfo,
    /// Info received; LEADERINFO waits for the epoch to be fixed and persisted.
    AwaitEpoch,
    /// LEADERINFO sent; waiting for ACKEPOCH.
    AwaitAckEpoch,
    /// ACKEPOCH received; waiting for the leader's currentEpoch to be persisted before syncing.
    AwaitSync,
    /// Sync stream and NEWLEADER sent; the next packet must be the NEWLEADER ACK.
    AwaitNewLeaderAck,
    /// NEWLEADER ACKed (or wrongly ACKed); waiting for the leader to be established.
    AwaitEstablished,
    /// UPTODATE sent: a member of the broadcast.
    Synced,
}

struct Proposal {
    txn: Txn,
    acks: BTreeSet<ServerId>,
    /// The last sync round started before this proposal: the followers that ACK it received
    /// that round's request first (one FIFO stream), so its commit quorum confirms the round.
    sync_round: u64,
}

/// A `sync` waiting for every proposal outstanding when it arrived to commit, and for a quorum
/// to confirm sync round `round` (started after it arrived).
struct PendingSync {
    after: Zxid,
    round: u64,
    origin: Origin,
    session: SessionId,
    cxid: i32,
}

pub(crate) struct Leader {
    pub phase: Phase,
    pub epoch: Epoch,
    epoch_decided: bool,
    epoch_persisted: bool,
    /// Voters (this leader included) that sent FOLLOWERINFO: the epoch is fixed once a quorum.
    connecting: BTreeSet<ServerId>,
    epoch_acks: BTreeSet<ServerId>,
    current_requested: bool,
    current_persisted: bool,
    newleader_acks: BTreeSet<ServerId>,
    pub established: bool,
    pub handlers: BTreeMap<ServerId, Handler>,
    outstanding: BTreeMap<Zxid, Proposal>,
    pub last_committed: Zxid,
    pub last_proposed: Zxid,
    pending_syncs: Vec<PendingSync>,
    /// The last sync round started (rounds are numbered from 1 within a leadership).
    sync_round: u64,
    /// The highest sync round confirmed by the commit quorum of a later proposal.
    commit_confirmed_round: u64,
    prep: Preparer,
    /// The leader's own history at the start of the epoch (all of it becomes committed).
    history_end: Zxid,
    ticks: u64,
    /// When the container/TTL reaper runs next.
    next_reap: Instant,
}

impl Leader {
    pub fn peers(&self) -> Vec<ServerId> {
        self.handlers.keys().copied().collect()
    }

    /// Panics with `ctx()` when the leader's bookkeeping is inconsistent.
    pub fn check_invariants(&self, ctx: &dyn Fn() -> String) {
        assert!(self.last_committed <= self.last_proposed, "committed beyond proposed: {}", ctx());
        if let Some((first, _)) = self.outstanding.iter().next() {
            assert!(*first > self.last_committed, "outstanding proposal already committed: {}", ctx());
        }
        if let Some((last, _)) = self.outstanding.iter().next_back() {
            assert!(*last <= self.last_proposed, "outstanding beyond last proposed: {}", ctx());
        }
        assert!(self.established || self.outstanding.is_empty(), "proposals before establishment: {}", ctx());
        for h in self.handlers.values() {
            let mut prev = None;
            for (z, _) in &h.unacked {
                assert!(prev.is_none_or(|p| *z > p), "unacked not increasing: {}", ctx());
                prev = Some(*z);
            }
        }
    }

    pub fn pending_sync_count(&self) -> usize {
        self.pending_syncs.len()
    }
}

impl Handler {
    pub fn is_synced(&self) -> bool {
        self.state == HandlerState::Synced
    }
}

impl Replica {
    /// Election chose this server: start discovery.
    pub(crate) fn become_leader(&mut self, out: &mut Out) {
        self.fast_forward(out);
        if mutated!(self, Zk1558)
            && self.db.tree.last_processed_zxid() > self.db.base.as_ref().map_or(Zxid(0), |b| b.0)
        {
            // ZOOKEEPER-1558: lead() starts by snapshotting memory, never-committed tail included.
            let ops = self.db.snapshot(false);
            self.persist(ops, crate::replica::IoPurpose::Housekeeping, out);
        }
        let me = self.me;
        let history_end = self.db.last_zxid();
        let leader = Leader {
            phase: Phase::Discovery,
            epoch: Epoch(self.accepted_promised.0 + 1),
            epoch_decided: false,
            epoch_persisted: false,
            connecting: [me].into_iter().collect(),
            epoch_acks: BTreeSet::new(),
            current_requested: false,
            current_persisted: false,
            newleader_acks: BTreeSet::new(),
            established: false,
            handlers: BTreeMap::new(),
            outstanding: BTreeMap::new(),
            last_committed: history_end,
            last_proposed: history_end,
            pending_syncs: Vec::new(),
            sync_round: 0,
            commit_confirmed_round: 0,
            prep: Preparer::new(),
            history_end,
            ticks: 0,
            next_reap: self.now.plus_ms(self.container_check_interval_ms()),
        };
        self.role = RoleState::Leading(Box::new(leader));
        self.timers.set(TimerKind::Limit, self.now.plus_ms(self.cfg.init_timeout_ms()));
        self.timers.set(TimerKind::Tick, self.now.plus_ms(self.cfg.tick_time_ms() / 2));
        self.maybe_decide_epoch(out);
    }

    pub(crate) fn leader_learner_connected(&mut self, peer: ServerId, _out: &mut Out) {
        let observer = !self.cfg.is_voter(peer);
        let now = self.now;
        let l = self.leader_mut();
        l.handlers.insert(
            peer,
            Handler {
                observer,
                state: HandlerState::AwaitInfo,
                peer_zxid: Zxid(0),
                last_heard: now,
                forwarding: false,
                unacked: VecDeque::new(),
                sync_round_acked: 0,
            },
        );
    }

    pub(crate) fn leader_learner_gone(&mut self, peer: ServerId, _out: &mut Out) {
        self.leader_mut().handlers.remove(&peer);
    }

    /// Drops a learner: closes its connection and forgets it.
    fn drop_learner(&mut self, peer: ServerId, why: &str, out: &mut Out) {
        out.event(CoreEvent::Error { message: format!("dropping learner {peer}: {why}") });
        self.leader_mut().handlers.remove(&peer);
        out.disconnect(peer);
    }

    pub(crate) fn leader_packet(&mut self, from: ServerId, msg: QuorumPacket, out: &mut Out) {
        let now = self.now;
        let Some(h) = self.leader_mut().handlers.get_mut(&from) else {
            out.event(CoreEvent::Error {
                message: format!("{} from {from} without a connection", msg.summary()),
            });
            return;
        };
        h.last_heard = now;
        let state = h.state;
        match (state, msg) {
            (HandlerState::AwaitInfo, QuorumPacket::FollowerInfo { accepted_epoch, .. })
            | (HandlerState::AwaitInfo, QuorumPacket::ObserverInfo { accepted_epoch, .. }) => {
                self.on_learner_info(from, accepted_epoch, out)
            }
            (HandlerState::AwaitAckEpoch, QuorumPacket::AckEpoch { current_epoch, last_zxid }) => {
                self.on_ack_epoch(from, current_epoch, last_zxid, out)
            }
            (HandlerState::AwaitNewLeaderAck, QuorumPacket::Ack { zxid }) => {
                self.on_newleader_ack(from, zxid, out)
            }
            (HandlerState::AwaitNewLeaderAck, other) => {
                self.drop_learner(from, &format!("expected the NEWLEADER ACK, got {}", other.summary()), out)
            }
            (_, QuorumPacket::Ack { zxid }) => self.on_proposal_ack(from, zxid, out),
            (HandlerState::Synced, QuorumPacket::SyncRoundAck { round }) => {
                let h = self.leader_mut().handlers.get_mut(&from).expect("handler looked up above");
                h.sync_round_acked = h.sync_round_acked.max(round);
                self.release_syncs(out);
            }
            (_, QuorumPacket::Ping { touched, .. }) => {
                for (session, timeout_ms) in touched {
                    self.clients.touch_tracked(session, timeout_ms, now, self.cfg.tick_time_ms());
                }
                self.rearm_session_timer();
            }
            (
                HandlerState::Synced | HandlerState::AwaitEstablished,
                QuorumPacket::Request { session, cxid, request, auth },
            ) => self.on_forwarded_request(from, session, cxid, request, auth, out),
            (
                HandlerState::Synced | HandlerState::AwaitEstablished,
                QuorumPacket::Revalidate { session, timeout_ms },
            ) => {
                let valid = self.clients.revalidate(session, timeout_ms, now, self.cfg.tick_time_ms());
                if valid {
                    self.clients.set_owner(session, Origin::Learner(from));
                }
                self.rearm_session_timer();
                out.send(from, QuorumPacket::RevalidateReply { session, valid });
            }
            (_, other) => self.drop_learner(from, &format!("unexpected {}", other.summary()), out),
        }
    }

    fn on_learner_info(&mut self, from: ServerId, accepted_epoch: Epoch, out: &mut Out) {
        let voter = self.cfg.is_voter(from);
        let l = self.leader_mut();
        if voter && !l.epoch_decided {
            l.connecting.insert(from);
            if accepted_epoch.0 >= l.epoch.0 {
                l.epoch = Epoch(accepted_epoch.0 + 1);
            }
        }
        let h = l.handlers.get_mut(&from).expect("handler exists");
        h.state = HandlerState::AwaitEpoch;
        if l.epoch_persisted {
            self.send_leader_info(from, out);
        } else {
            self.maybe_decide_epoch(out);
        }
    }

    /// Once the participants that sent FOLLOWERINFO form a quorum, fix the epoch and persist it.
    fn maybe_decide_epoch(&mut self, out: &mut Out) {
        let l = self.leader_ref();
        if l.epoch_decided || !self.cfg.is_quorum(&l.connecting) {
            return;
        }
        let epoch = l.epoch;
        self.leader_mut().epoch_decided = true;
        self.persist_epoch(EpochFile::Accepted, epoch, out);
        if mutated!(self, Zk1264c) {
            // ZOOKEEPER-1264 (c): the learner handlers go on as if the write were done.
            self.leader_epoch_persisted(EpochFile::Accepted, epoch, out);
        }
    }

    pub(crate) fn leader_epoch_persisted(&mut self, file: EpochFile, epoch: Epoch, out: &mut Out) {
        match file {
            EpochFile::Accepted => {
                let me = self.me;
                let l = self.leader_mut();
                if l.epoch != epoch || l.epoch_persisted {
                    return;
                }
                l.epoch_persisted = true;
                l.epoch_acks.insert(me);
                let waiting: Vec<ServerId> = l
                    .handlers
                    .iter()
                    .filter(|(_, h)| h.state == HandlerState::AwaitEpoch)
                    .map(|(id, _)| *id)
                    .collect();
                for peer in waiting {
                    self.send_leader_info(peer, out);
                }
                self.maybe_epoch_ack_quorum(out);
            }
            EpochFile::Current => {
                let l = self.leader_mut();
                if l.epoch != epoch || l.current_persisted {
                    return;
                }
                l.current_persisted = true;
                l.phase = Phase::Synchronization;
                let ready: Vec<ServerId> = l
                    .handlers
                    .iter()
                    .filter(|(_, h)| h.state == HandlerState::AwaitSync)
                    .map(|(id, _)| *id)
                    .collect();
                for peer in ready {
                    self.sync_learner(peer, out);
                }
                self.maybe_establish(out);
            }
        }
    }

    fn send_leader_info(&mut self, peer: ServerId, out: &mut Out) {
        let l = self.leader_mut();
        let epoch = l.epoch;
        if let Some(h) = l.handlers.get_mut(&peer) {
            h.state = HandlerState::AwaitAckEpoch;
            out.send(peer, QuorumPacket::LeaderInfo { epoch, protocol_version: PROTOCOL_VERSION });
            out.event(CoreEvent::LeaderInfoSent { peer, epoch });
        }
    }

    fn on_ack_epoch(&mut self, from: ServerId, current_epoch: Option<Epoch>, last_zxid: Zxid, out: &mut Out) {
        // A learner whose state is more recent than ours cannot follow us (reference §1.4.1 step 5).
        let mine = (self.current_epoch, self.db.last_zxid());
        if let Some(e) = current_epoch {
            if (e, last_zxid) > mine {
                marks::hit("leader: learner ahead of the leader is dropped");
                self.drop_learner(from, "follower is ahead of the leader", out);
                return;
            }
        }
        let voter = self.cfg.is_voter(from);
        let l = self.leader_mut();
        let h = l.handlers.get_mut(&from).expect("handler exists");
        h.peer_zxid = last_zxid;
        h.state = HandlerState::AwaitSync;
        if current_epoch.is_some() && voter {
            l.epoch_acks.insert(from);
        }
        if l.current_persisted {
            self.sync_learner(from, out);
        } else {
            self.maybe_epoch_ack_quorum(out);
        }
    }

    fn maybe_epoch_ack_quorum(&mut self, out: &mut Out) {
        let l = self.leader_ref();
        if !l.epoch_persisted || l.current_persisted || !self.cfg.is_quorum(&l.epoch_acks) {
            return;
        }
        if l.current_requested {
            return; // already being written
        }
        let epoch = l.epoch;
        self.leader_mut().current_requested = true;
        self.timers.set(TimerKind::Limit, self.now.plus_ms(self.cfg.init_timeout_ms()));
        self.persist_epoch(EpochFile::Current, epoch, out);
    }

    /// Chooses DIFF, TRUNC or SNAP for a learner and queues the whole sync stream, the forwarded
    /// backlog, and NEWLEADER on its connection (reference §1.4.2 steps 1–8).
    fn sync_learner(&mut self, peer: ServerId, out: &mut Out) {
        let leader_zxid = self.db.tree.last_processed_zxid();
        let (peer_zxid, observer) = {
            let h = &self.leader_ref().handlers[&peer];
            (h.peer_zxid, h.observer)
        };
        let plan = self.choose_sync(peer_zxid, leader_zxid);
        let mut last_queued = peer_zxid;
        match &plan {
            SyncPlan::Diff { from } => {
                marks::hit("sync: DIFF");
                out.send(peer, QuorumPacket::Diff { zxid: leader_zxid.max(*from) });
            }
            SyncPlan::Trunc { to } => {
                marks::hit("sync: TRUNC");
                out.send(peer, QuorumPacket::Trunc { zxid: *to });
                last_queued = *to;
            }
            SyncPlan::Snap => {
                marks::hit("sync: SNAP");
                let snapshot = self.db.tree.serialize();
                let mut label = leader_zxid;
                if mutated!(self, Zk3104) && !observer {
                    // ZOOKEEPER-3104: NEWLEADER and the forwarded backlog are queued before the
                    // snapshot streams, and the SNAP zxid is read when it starts: the proposals in
                    // flight commit meanwhile, so it names the newest of them, while the tree sent
                    // (serialized before they commit) holds none of them.
                    let newest = self.leader_ref().outstanding.keys().next_back().copied();
                    label = newest.unwrap_or(label).max(label);
                }
                out.send(peer, QuorumPacket::Snap { zxid: label, snapshot });
                last_queued = leader_zxid;
            }
        }
        let mut diff_count = 0;
        if !matches!(plan, SyncPlan::Snap) {
            let txns: Vec<Txn> =
                self.diff_source(leader_zxid).into_iter().filter(|t| t.zxid > last_queued).cloned().collect();
            for t in txns {
                let z = t.zxid;
                out.send(peer, QuorumPacket::Proposal { txn: t });
                out.send(peer, QuorumPacket::Commit { zxid: z });
                last_queued = z;
                diff_count += 1;
            }
        }
        let newleader_first = mutated!(self, Zk3104) && matches!(plan, SyncPlan::Snap);
        let mode = match plan {
            SyncPlan::Diff { .. } => SyncMode::Diff,
            SyncPlan::Trunc { .. } if diff_count > 0 => SyncMode::TruncDiff,
            SyncPlan::Trunc { .. } => SyncMode::Trunc,
            SyncPlan::Snap => SyncMode::Snap,
        };
        let trunc_to = match plan {
            SyncPlan::Trunc { to } => Some(to),
            _ => None,
        };
        out.event(CoreEvent::SyncChosen { peer, mode, peer_zxid, leader_zxid, trunc_to });
        // startForwarding: outstanding proposals go to participants (PROPOSAL only); observers get
        // INFORMs once those commit.
        let now = self.now;
        let l = self.leader_mut();
        let epoch = l.epoch;
        let backlog: Vec<Txn> =
            l.outstanding.values().filter(|p| p.txn.zxid > last_queued).map(|p| p.txn.clone()).collect();
        let h = l.handlers.get_mut(&peer).expect("handler exists");
        if newleader_first {
            // ZOOKEEPER-3104: NEWLEADER goes ahead of the SNAP payload and the forwarded backlog.
            out.send(peer, QuorumPacket::NewLeader { zxid: Zxid::new(epoch.0, 0) });
        }
        if !observer {
            for t in backlog {
                h.unacked.push_back((t.zxid, now));
                out.send(peer, QuorumPacket::Proposal { txn: t });
            }
        }
        h.forwarding = true;
        h.state = HandlerState::AwaitNewLeaderAck;
        if !newleader_first {
            out.send(peer, QuorumPacket::NewLeader { zxid: Zxid::new(epoch.0, 0) });
        }
    }

    /// The txns a DIFF can be served from: the in-memory history (committedLog) plus the logged
    /// txns the leader has applied (the on-disk log read of the txn-log sync path), in zxid order.
    fn diff_source(&self, leader: Zxid) -> Vec<&Txn> {
        let mut by_zxid: BTreeMap<Zxid, &Txn> = BTreeMap::new();
        for e in &self.db.log {
            if e.txn.zxid <= leader {
                by_zxid.insert(e.txn.zxid, &e.txn);
            }
        }
        for t in &self.db.history {
            by_zxid.insert(t.zxid, t);
        }
        by_zxid.into_values().collect()
    }

    /// The sync decision of reference §1.4.2 for a learner at `peer` when the leader is at
    /// `leader`. The committedLog is `history`; a peer older than it is served from the log when
    /// the log reaches back to the peer and is small next to a snapshot (`snapshotSizeFactor`),
    /// else it gets SNAP.
    fn choose_sync(&self, peer: Zxid, leader: Zxid) -> SyncPlan {
        let new_epoch_zxid = peer.counter() == 0;
        if peer == leader {
            return SyncPlan::Diff { from: peer };
        }
        let (min, max) = self.db.history_bounds().unwrap_or((leader, leader));
        if peer > max && !new_epoch_zxid {
            return SyncPlan::Trunc { to: max };
        }
        let source = self.diff_source(leader);
        if peer < min {
            // Txn-log sync: the log must reach back to the peer without a gap.
            let base = self.db.base.as_ref().map(|b| b.0).unwrap_or(Zxid(0));
            let reaches = source.first().is_some_and(|t| t.zxid <= peer || peer == base)
                || (source.is_empty() && peer == base);
            let factor = self.cfg.settings().snapshot_size_factor;
            let send_bytes: usize = source.iter().filter(|t| t.zxid > peer).map(|t| t.encode().len()).sum();
            let snap_bytes = self.db.base.as_ref().map(|b| b.1.len()).unwrap_or(0).max(SNAPSHOT_SIZE_FLOOR);
            if !reaches || factor < 0.0 || send_bytes as f64 >= factor * snap_bytes as f64 {
                return SyncPlan::Snap;
            }
            marks::hit("sync: peer older than the committed log is served from the txn log");
        }
        let mut prev: Option<Zxid> = None;
        for t in &source {
            if t.zxid < peer {
                prev = Some(t.zxid);
                continue;
            }
            if t.zxid == peer || new_epoch_zxid {
                return SyncPlan::Diff { from: peer };
            }
            if mutated!(self, Zk1154) && peer >= min {
                // ZOOKEEPER-1154: inside the history range, DIFF without checking the peer's txn.
                return SyncPlan::Diff { from: peer };
            }
            // The peer holds txns the leader never saw.
            return match prev {
                Some(p) if p.epoch() == peer.epoch() => SyncPlan::Trunc { to: p },
                _ => {
                    marks::hit("sync: divergence across an epoch boundary falls back to SNAP");
                    SyncPlan::Snap
                }
            };
        }
        SyncPlan::Diff { from: peer }
    }

    fn on_newleader_ack(&mut self, from: ServerId, zxid: Zxid, out: &mut Out) {
        let voter = self.cfg.is_voter(from);
        let l = self.leader_mut();
        let expected = Zxid::new(l.epoch.0, 0);
        let h = l.handlers.get_mut(&from).expect("handler exists");
        h.state = HandlerState::AwaitEstablished;
        if zxid != expected {
            marks::hit("leader: NEWLEADER ack with a wrong zxid is not counted");
            out.event(CoreEvent::Error {
                message: format!("NEWLEADER ACK from {from} for {zxid}, expected {expected}: not counted"),
            });
        } else if voter {
            l.newleader_acks.insert(from);
        }
        if l.established {
            self.send_uptodate(from, out);
        } else {
            self.maybe_establish(out);
        }
    }

    /// The leader counts itself in the NEWLEADER quorum once its currentEpoch and its whole
    /// history are durable.
    pub(crate) fn leader_self_durable(&mut self, upto: Zxid, out: &mut Out) {
        let me = self.me;
        if !self.leader_ref().established {
            self.maybe_establish(out);
            return;
        }
        let zs: Vec<Zxid> = self.leader_ref().outstanding.range(..=upto).map(|(z, _)| *z).collect();
        for z in zs {
            self.record_ack(me, z, out);
        }
    }

    fn maybe_establish(&mut self, out: &mut Out) {
        let me = self.me;
        let self_ready = {
            let l = self.leader_ref();
            l.current_persisted && self.db.durable_upto >= self.db.last_logged() && !l.established
        };
        if !self_ready {
            return;
        }
        self.leader_mut().newleader_acks.insert(me);
        let l = self.leader_ref();
        if !self.cfg.is_quorum(&l.newleader_acks) {
            return;
        }
        // Established: the whole history is committed; start broadcasting and serving.
        let epoch = l.epoch;
        let acks: Vec<ServerId> = l.newleader_acks.iter().copied().collect();
        let history_end = l.history_end;
        let initial_counter = self
            .cfg
            .extra_keys()
            .get("zookeeper.testingonly.initialZxid")
            .and_then(|v| parse_counter(v.trim()));
        let l = self.leader_mut();
        l.established = true;
        l.phase = Phase::Broadcast;
        l.last_committed = history_end;
        l.last_proposed = Zxid::new(epoch.0, 0).max(history_end);
        if let Some(counter) = initial_counter.filter(|_| epoch == Epoch(1)) {
            // zookeeper.testingonly.initialZxid: start the first epoch's counter high, to reach
            // the counter-exhaustion path without four billion writes.
            if l.last_proposed.counter() < counter {
                l.last_proposed = Zxid::new(epoch.0, counter);
            }
        }
        out.event(CoreEvent::LeaderEstablished { epoch, acks });
        marks::hit("leader: established on a NEWLEADER quorum");
        self.confirm_upto(history_end, out);
        let waiting: Vec<ServerId> = self
            .leader_ref()
            .handlers
            .iter()
            .filter(|(_, h)| h.state == HandlerState::AwaitEstablished)
            .map(|(id, _)| *id)
            .collect();
        for peer in waiting {
            self.send_uptodate(peer, out);
        }
        self.election.update_peer_epoch(epoch);
        self.timers.clear(TimerKind::Limit);
        let tree_sessions: Vec<(SessionId, u32)> =
            self.db.tree.sessions().iter().map(|(s, t)| (*s, (*t).max(0) as u32)).collect();
        self.clients.rebuild_tracker(tree_sessions, self.now, self.cfg.tick_time_ms());
        self.clients.start_serving(self.me, self.now);
        self.rearm_session_timer();
    }

    fn send_uptodate(&mut self, peer: ServerId, out: &mut Out) {
        if let Some(h) = self.leader_mut().handlers.get_mut(&peer) {
            h.state = HandlerState::Synced;
            out.send(peer, QuorumPacket::UpToDate);
        }
    }

    fn on_proposal_ack(&mut self, from: ServerId, zxid: Zxid, out: &mut Out) {
        if zxid.counter() == 0 {
            return; // NEWLEADER/UPTODATE acks carry (epoch, 0) and are ignored here.
        }
        if let Some(h) = self.leader_mut().handlers.get_mut(&from) {
            while h.unacked.front().is_some_and(|(z, _)| *z <= zxid) {
                h.unacked.pop_front();
            }
        }
        if !self.cfg.is_voter(from) {
            return; // observers never count
        }
        self.record_ack(from, zxid, out);
    }

    fn record_ack(&mut self, from: ServerId, zxid: Zxid, out: &mut Out) {
        let l = self.leader_mut();
        if zxid <= l.last_committed {
            return;
        }
        match l.outstanding.get_mut(&zxid) {
            Some(p) => {
                p.acks.insert(from);
            }
            None => {
                out.event(CoreEvent::Error {
                    message: format!("ACK from {from} for unknown proposal {zxid}"),
                });
                return;
            }
        }
        self.try_commit(out);
    }

    /// Commits outstanding proposals in zxid order while the oldest has a voter quorum.
    fn try_commit(&mut self, out: &mut Out) {
        loop {
            let l = self.leader_ref();
            let Some((&zxid, p)) = l.outstanding.iter().next() else { break };
            if !self.cfg.is_quorum(&p.acks) {
                break;
            }
            // Syncs that arrived before this proposal are answered ahead of its COMMIT: a learner
            // answers its session's requests in order, so a sync's reply must not fall behind
            // the commit of a write that session sent after it.
            let round = p.sync_round;
            let l = self.leader_mut();
            l.commit_confirmed_round = l.commit_confirmed_round.max(round);
            self.release_syncs(out);
            let l = self.leader_mut();
            let p = l.outstanding.remove(&zxid).expect("present");
            l.last_committed = zxid;
            let acks: Vec<ServerId> = p.acks.iter().copied().collect();
            let mut commit_to = Vec::new();
            let mut inform_to = Vec::new();
            for (id, h) in &l.handlers {
                if !h.forwarding {
                    continue;
                }
                if h.observer {
                    inform_to.push(*id);
                } else {
                    commit_to.push(*id);
                }
            }
            for id in commit_to {
                out.send(id, QuorumPacket::Commit { zxid });
            }
            for id in inform_to {
                out.send(id, QuorumPacket::Inform { txn: p.txn.clone() });
            }
            out.event(CoreEvent::Committed { zxid, acks });
            self.apply_txn(&p.txn, true, out);
            self.leader_mut().prep.applied(zxid);
            self.release_syncs(out);
            self.maybe_snapshot(out);
        }
    }

    fn release_syncs(&mut self, out: &mut Out) {
        let me = self.me;
        let l = self.leader_ref();
        // The highest round a quorum (this leader included) has confirmed: the largest r such
        // that the voters with an ACK of a round >= r form a quorum.
        let mut acked: Vec<(u64, ServerId)> = l
            .handlers
            .iter()
            .filter(|(_, h)| !h.observer && h.state == HandlerState::Synced && h.sync_round_acked > 0)
            .map(|(id, h)| (h.sync_round_acked, *id))
            .collect();
        acked.sort_unstable_by(|a, b| b.cmp(a));
        let mut confirmed = if self.cfg.is_quorum(&[me].into_iter().collect()) {
            l.sync_round
        } else {
            l.commit_confirmed_round
        };
        let mut voters: BTreeSet<ServerId> = [me].into_iter().collect();
        for (round, id) in acked {
            if confirmed >= round {
                break;
            }
            voters.insert(id);
            if self.cfg.is_quorum(&voters) {
                confirmed = round;
                break;
            }
        }
        let l = self.leader_mut();
        let committed = l.last_committed;
        let outstanding_empty = l.outstanding.is_empty();
        let (ready, waiting): (Vec<PendingSync>, Vec<PendingSync>) = l
            .pending_syncs
            .drain(..)
            .partition(|s| (s.after <= committed || outstanding_empty) && s.round <= confirmed);
        l.pending_syncs = waiting;
        for s in ready {
            match s.origin {
                Origin::Learner(peer) => {
                    out.send(peer, QuorumPacket::Sync { session: s.session, cxid: s.cxid })
                }
                Origin::Local => self.clients.complete_sync(s.session, s.cxid, &self.db.tree, out),
                Origin::Expiry => {}
            }
        }
    }

    fn on_forwarded_request(
        &mut self,
        from: ServerId,
        session: SessionId,
        cxid: i32,
        request: ForwardedRequest,
        auth: Vec<zab_tree::Id>,
        out: &mut Out,
    ) {
        if !self.leader_ref().established {
            return;
        }
        let mut ids = AuthIds::new();
        for id in auth {
            ids.add(id);
        }
        self.leader_submit(Origin::Learner(from), session, cxid, request, &ids, out);
    }

    /// Runs a write (or `sync`, or a session create/close) through the leader's pipeline.
    pub(crate) fn leader_submit(
        &mut self,
        origin: Origin,
        session: SessionId,
        cxid: i32,
        request: ForwardedRequest,
        auth: &AuthIds,
        out: &mut Out,
    ) {
        if let ForwardedRequest::Client(Request::Sync { .. }) = request {
            // ZOOKEEPER-1675: answering on the leader's own authority lets a leader that lost its
            // quorum without noticing yet complete syncs. Each sync starts a round the followers
            // confirm, so it completes only while a quorum still follows this leader.
            let local = mutated!(self, Zk1675) || !self.cfg.settings().quorum_sync;
            let l = self.leader_mut();
            // The last proposal outstanding on arrival (nothing to wait for when none is).
            let after = l.outstanding.keys().next_back().copied().unwrap_or(l.last_committed);
            let round = if local {
                0
            } else {
                l.sync_round += 1;
                let round = l.sync_round;
                for (id, h) in &l.handlers {
                    if !h.observer && h.state == HandlerState::Synced {
                        out.send(*id, QuorumPacket::SyncRound { round });
                    }
                }
                round
            };
            l.pending_syncs.push(PendingSync { after, round, origin, session, cxid });
            self.release_syncs(out);
            return;
        }
        let now = self.now;
        let tick = self.cfg.tick_time_ms();
        self.clients.touch_tracked_known(session, now, tick);
        let Some(zxid) = self.next_zxid(out) else { return };
        let time_ms = self.wall_ms();
        let session_status = match request {
            // The session does not exist yet: the server that opened it owns it.
            ForwardedRequest::CreateSession { .. } => {
                self.clients.set_owner(session, origin);
                self.clients.session_status(session)
            }
            // Closing is not checked against the owner (expiry closes sessions it does not own).
            ForwardedRequest::CloseSession => self.clients.session_status(session),
            ForwardedRequest::Client(_) => self.clients.check_session(session, origin),
        };
        let ctx = zab_tree::PrepContext { session, cxid, zxid, time_ms, auth, session_status };
        let l = match &mut self.role {
            RoleState::Leading(l) => l,
            _ => return,
        };
        let txn = match request {
            ForwardedRequest::CreateSession { timeout_ms } => {
                l.prep.prepare_create_session(&ctx, timeout_ms as i32)
            }
            ForwardedRequest::CloseSession => {
                let txn = l.prep.prepare_close_session(&self.db.tree, &ctx);
                self.clients.mark_closing(session);
                txn
            }
            ForwardedRequest::Client(req) => l.prep.prepare(&self.db.tree, &ctx, &req),
        };
        self.propose(txn, out);
    }

    /// The next zxid, or None when the counter is exhausted: the leader then steps down so a new
    /// epoch starts (reference §1.1, ZOOKEEPER-1277).
    fn next_zxid(&mut self, out: &mut Out) -> Option<Zxid> {
        let last = self.leader_ref().last_proposed;
        if last.counter() >= 0xffff_fffe {
            if mutated!(self, Zk1277) {
                let z = Zxid(last.0 + 1);
                self.leader_mut().last_proposed = z;
                return Some(z);
            }
            marks::hit("leader: zxid counter exhausted forces a new epoch");
            self.abandon_role("zxid counter about to wrap; a new epoch is needed", out);
            return None;
        }
        let z = Zxid(last.0 + 1);
        self.leader_mut().last_proposed = z;
        Some(z)
    }

    fn propose(&mut self, txn: Txn, out: &mut Out) {
        let now = self.now;
        let l = self.leader_mut();
        let zxid = txn.zxid;
        let mut to = Vec::new();
        for (id, h) in l.handlers.iter_mut() {
            if h.forwarding && !h.observer {
                h.unacked.push_back((zxid, now));
                to.push(*id);
            }
        }
        for id in to {
            out.send(id, QuorumPacket::Proposal { txn: txn.clone() });
        }
        let sync_round = l.sync_round;
        l.outstanding.insert(zxid, Proposal { txn: txn.clone(), acks: BTreeSet::new(), sync_round });
        self.log_txns(std::slice::from_ref(&txn), false, out);
    }

    /// Half-tick: ping learners; every full tick: check that a quorum is still in sync.
    pub(crate) fn leader_tick(&mut self, out: &mut Out) {
        let now = self.now;
        let tick = self.cfg.tick_time_ms();
        let sync_ms = self.cfg.sync_timeout_ms();
        let init_ms = self.cfg.init_timeout_ms();
        self.timers.set(TimerKind::Tick, now.plus_ms(tick / 2));
        let me = self.me;
        let l = self.leader_mut();
        l.ticks += 1;
        let last_proposed = l.last_proposed;
        let mut lagging = Vec::new();
        let mut synced: BTreeSet<ServerId> = [me].into_iter().collect();
        for (id, h) in &l.handlers {
            // Pings go through the handler's sender, which starts once NEWLEADER is queued.
            if matches!(
                h.state,
                HandlerState::AwaitNewLeaderAck | HandlerState::AwaitEstablished | HandlerState::Synced
            ) {
                out.send(*id, QuorumPacket::Ping { zxid: last_proposed, touched: Vec::new() });
            }
            let limit = if h.state == HandlerState::Synced { sync_ms } else { init_ms + sync_ms };
            let silent_ms = now.0.saturating_sub(h.last_heard.0) / 1_000_000;
            let oldest_unacked_ms =
                h.unacked.front().map(|(_, at)| now.0.saturating_sub(at.0) / 1_000_000).unwrap_or(0);
            if silent_ms > limit || oldest_unacked_ms > sync_ms {
                lagging.push(*id);
            } else if h.state == HandlerState::Synced && !h.observer {
                synced.insert(*id);
            }
        }
        // A sync round is re-sent to followers that have not confirmed it (one that joined after
        // the round started, or whose confirmation is still due) while a sync waits on it.
        let round = l.sync_round;
        if l.pending_syncs.iter().any(|s| s.round > 0) {
            for (id, h) in &l.handlers {
                if !h.observer && h.state == HandlerState::Synced && h.sync_round_acked < round {
                    out.send(*id, QuorumPacket::SyncRound { round });
                }
            }
        }
        let established = l.established;
        let full_tick = l.ticks.is_multiple_of(2);
        for id in lagging {
            marks::hit("leader: learner beyond syncLimit is dropped");
            self.drop_learner(id, "no ACK or ping within syncLimit", out);
        }
        if established && full_tick && !self.cfg.is_quorum(&synced) {
            marks::hit("leader: steps down without a synced quorum");
            self.abandon_role("not sufficient followers synced, only synced with sids", out);
            return;
        }
        if established && self.leader_ref().next_reap <= now {
            self.reap_containers(out);
        }
    }

    /// The leader's container manager: deletes empty containers that once had children, and
    /// expired TTL nodes, through ordinary deleteContainer txns (reference §3.2).
    fn reap_containers(&mut self, out: &mut Out) {
        let interval = self.container_check_interval_ms();
        let now = self.now;
        self.leader_mut().next_reap = now.plus_ms(interval);
        let wall = self.wall_ms();
        for path in self.db.tree.reap_candidates(wall) {
            let Some(zxid) = self.next_zxid(out) else { return };
            let auth = AuthIds::new();
            let ctx = zab_tree::PrepContext::system(zxid, wall, &auth);
            let RoleState::Leading(l) = &mut self.role else { return };
            let txn = l.prep.prepare_delete_container(&self.db.tree, &ctx, &path);
            marks::hit("leader: container reaper proposes deleteContainer");
            self.propose(txn, out);
        }
    }

    /// `znode.container.checkIntervalMs` (60 s by default).
    pub(crate) fn container_check_interval_ms(&self) -> u64 {
        self.cfg
            .extra_keys()
            .get("znode.container.checkIntervalMs")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(60_000)
            .max(1)
    }

    /// initLimit passed before discovery or synchronization finished.
    pub(crate) fn leader_limit_expired(&mut self, out: &mut Out) {
        if !self.leader_ref().established {
            marks::hit("leader: initLimit expired before establishment");
            self.abandon_role("timed out waiting for a quorum of learners (initLimit)", out);
        }
    }

    /// Proposes closeSession for every session whose expiry bucket has passed.
    pub(crate) fn expire_sessions(&mut self, out: &mut Out) {
        let expired = self.clients.expired_sessions(self.now);
        for session in expired {
            marks::hit("sessions: the leader expires a session");
            match self.role {
                RoleState::Leading(_) => self.leader_submit(
                    Origin::Expiry,
                    session,
                    0,
                    ForwardedRequest::CloseSession,
                    &AuthIds::new(),
                    out,
                ),
                RoleState::Standalone => {
                    self.standalone_submit(session, 0, ForwardedRequest::CloseSession, &AuthIds::new(), out)
                }
                _ => {}
            }
        }
        self.rearm_session_timer();
    }

    pub(crate) fn rearm_session_timer(&mut self) {
        match self.clients.next_expiry() {
            Some(at) => self.timers.set(TimerKind::SessionExpiry, at),
            None => self.timers.clear(TimerKind::SessionExpiry),
        }
    }

    pub(crate) fn leader_ref(&self) -> &Leader {
        match &self.role {
            RoleState::Leading(l) => l,
            _ => panic!("node {}: not leading (epoch {})", self.me, self.current_epoch),
        }
    }

    pub(crate) fn leader_mut(&mut self) -> &mut Leader {
        let me = self.me;
        match &mut self.role {
            RoleState::Leading(l) => l,
            _ => panic!("node {me}: not leading"),
        }
    }

    /// Wall-clock milliseconds for ctime/mtime: this server's local clock.
    pub(crate) fn wall_ms(&self) -> i64 {
        WALL_CLOCK_ORIGIN_MS + self.now.as_ms() as i64
    }

    pub(crate) fn tree_config(&self) -> zab_tree::TreeConfig {
        zab_tree::TreeConfig {
            extended_types: self.cfg.settings().extended_types_enabled,
            ..Default::default()
        }
    }
}

/// A snapshot is never considered smaller than this when weighing a txn-log sync against SNAP
/// (a near-empty tree's snapshot would otherwise make every DIFF look too big).
const SNAPSHOT_SIZE_FLOOR: usize = 64 * 1024;

/// The wall-clock time (ms since 1970) that a server's local clock origin stands for: 2026-01-01.
pub const WALL_CLOCK_ORIGIN_MS: i64 = 1_767_225_600_000;

/// A zxid counter written in decimal or `0x` hex.
fn parse_counter(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

enum SyncPlan {
    Diff { from: Zxid },
    Trunc { to: Zxid },
    Snap,
}
