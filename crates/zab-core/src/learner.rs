//! Followers and observers: registration with the leader (FOLLOWERINFO/OBSERVERINFO, LEADERINFO,
//! ACKEPOCH), the sync loop (DIFF/TRUNC/SNAP, PROPOSAL/COMMIT, NEWLEADER, UPTODATE) and broadcast.
//!
//! The NEWLEADER rule (reference §1.4.2, the 3.8.5 form): append every proposal received during
//! sync, make it durable, then persist currentEpoch, then ACK NEWLEADER; proposal ACKs are sent only
//! after the NEWLEADER ACK. Durability is an input: each step waits for its `Persisted`.

use std::collections::{BTreeSet, VecDeque};

use zab_tree::{DataTree, Txn, Zxid};

use crate::ids::{Epoch, ServerId};
use crate::io::{CoreEvent, EpochFile, Out, Phase};
use crate::marks;
use crate::messages::{QuorumPacket, PROTOCOL_VERSION};
use crate::replica::{IoPurpose, Replica, RoleState, TimerKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LearnerState {
    /// Waiting for the connection to the leader.
    Connecting,
    /// FOLLOWERINFO sent.
    AwaitLeaderInfo,
    /// Persisting acceptedEpoch before answering ACKEPOCH.
    PersistingAccepted,
    /// ACKEPOCH sent; waiting for DIFF/TRUNC/SNAP.
    AwaitSync,
    /// In the sync stream, before NEWLEADER.
    Syncing,
    /// NEWLEADER received; persisting the batch, then currentEpoch, then ACK.
    NewLeader,
    /// NEWLEADER ACKed; waiting for UPTODATE.
    AwaitUpToDate,
    /// Serving.
    Broadcast,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SyncKind {
    Diff,
    Trunc,
    Snap,
}

/// The database a SNAP replaced in memory, while the disk still holds it.
pub(crate) struct PreSnap {
    tree: DataTree,
    log: Vec<crate::db::LogEntry>,
    history: VecDeque<Txn>,
    tentative: VecDeque<(Zxid, u64)>,
    initialized: bool,
}

pub(crate) struct Learner {
    pub leader: ServerId,
    pub observer: bool,
    pub phase: Phase,
    pub state: LearnerState,
    pub connect_attempts: u32,
    new_epoch: Epoch,
    sync: Option<SyncKind>,
    /// Proposals received in the sync stream and not yet logged.
    not_logged: VecDeque<Txn>,
    /// Zxids whose COMMIT arrived in DIFF mode before NEWLEADER.
    committed_in_sync: BTreeSet<Zxid>,
    /// Logged proposals awaiting COMMIT, in zxid order, with whether their COMMIT arrived.
    pending: VecDeque<(Txn, bool)>,
    newleader_acked: bool,
    /// Highest zxid ACKed to the leader.
    acked_upto: Zxid,
    /// Set between SNAP and the NEWLEADER snapshot write.
    pre_snap: Option<Box<PreSnap>>,
    /// ZK-3911: synced txns (and proposals) held back from the log until UPTODATE.
    #[cfg(feature = "mutations")]
    deferred_log: Vec<Txn>,
}

/// How a mutated learner orders the NEWLEADER steps (reference §5.4).
#[cfg(feature = "mutations")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NewLeaderOrder {
    /// ZK-3911: snapshot and currentEpoch, ACK; the synced txns are logged after UPTODATE.
    LogAfterUpToDate,
    /// ZK-4646: hand the txns to the log, write currentEpoch, and ACK at once.
    AckWithoutWaiting,
    /// ZK-4785: write currentEpoch first, then the txns; ACK once currentEpoch is durable.
    EpochBeforeTxns,
}

impl Learner {
    /// Panics with `ctx()` when the learner's bookkeeping is inconsistent.
    pub fn check_invariants(&self, ctx: &dyn Fn() -> String) {
        let mut prev = None;
        for (t, _) in &self.pending {
            assert!(prev.is_none_or(|p| t.zxid > p), "pending proposals not increasing: {}", ctx());
            prev = Some(t.zxid);
        }
        assert!(self.newleader_acked || self.acked_upto == Zxid(0), "ACKs before NEWLEADER ack: {}", ctx());
        if self.observer {
            assert!(self.acked_upto == Zxid(0), "an observer ACKed a proposal: {}", ctx());
        }
    }

    /// Whether the leader has answered us on this connection (LEADERINFO or later).
    pub fn heard_from_leader(&self) -> bool {
        !matches!(self.state, LearnerState::Connecting | LearnerState::AwaitLeaderInfo)
    }
}

impl Replica {
    /// Election chose `leader`: connect to it.
    pub(crate) fn become_learner(&mut self, leader: ServerId, observer: bool, out: &mut Out) {
        self.fast_forward(out);
        let l = Learner {
            leader,
            observer,
            phase: Phase::Discovery,
            state: LearnerState::Connecting,
            connect_attempts: 0,
            new_epoch: Epoch(0),
            sync: None,
            not_logged: VecDeque::new(),
            committed_in_sync: BTreeSet::new(),
            pending: VecDeque::new(),
            newleader_acked: false,
            acked_upto: Zxid(0),
            pre_snap: None,
            #[cfg(feature = "mutations")]
            deferred_log: Vec::new(),
        };
        self.role =
            if observer { RoleState::Observing(Box::new(l)) } else { RoleState::Following(Box::new(l)) };
        self.timers.set(TimerKind::Limit, self.now.plus_ms(self.cfg.init_timeout_ms()));
        out.connect(leader);
    }

    pub(crate) fn learner_connected(&mut self, out: &mut Out) {
        let accepted_epoch = self.accepted_promised;
        let sid = self.me;
        let l = self.learner_mut();
        if l.state != LearnerState::Connecting {
            return;
        }
        l.state = LearnerState::AwaitLeaderInfo;
        let leader = l.leader;
        let msg = if l.observer {
            QuorumPacket::ObserverInfo { sid, accepted_epoch, protocol_version: PROTOCOL_VERSION }
        } else {
            QuorumPacket::FollowerInfo { sid, accepted_epoch, protocol_version: PROTOCOL_VERSION }
        };
        out.send(leader, msg);
        self.timers.clear(TimerKind::Retry);
    }

    pub(crate) fn learner_packet(&mut self, msg: QuorumPacket, out: &mut Out) {
        // Any packet from the leader resets the read timeout: initLimit until NEWLEADER,
        // syncLimit afterwards.
        let limit = match self.learner_ref().state {
            LearnerState::AwaitUpToDate | LearnerState::Broadcast | LearnerState::NewLeader => {
                self.cfg.sync_timeout_ms()
            }
            _ => self.cfg.init_timeout_ms(),
        };
        self.timers.set(TimerKind::Limit, self.now.plus_ms(limit));
        let state = self.learner_ref().state;
        match (state, msg) {
            (LearnerState::AwaitLeaderInfo, QuorumPacket::LeaderInfo { epoch, .. }) => {
                self.on_leader_info(epoch, out)
            }
            (LearnerState::AwaitSync, QuorumPacket::Diff { .. }) => {
                self.start_sync(SyncKind::Diff);
                #[cfg(feature = "mutations")]
                if self.mutation_on(crate::mutation::Mutation::Zk962) {
                    self.zk962_jump_to_new_epoch_zxid();
                }
            }
            (LearnerState::AwaitSync, QuorumPacket::Trunc { zxid }) => self.on_trunc(zxid, out),
            (LearnerState::AwaitSync, QuorumPacket::Snap { zxid, snapshot }) => {
                self.on_snap(zxid, &snapshot, out)
            }
            (LearnerState::Syncing, QuorumPacket::Proposal { txn }) => {
                self.learner_mut().not_logged.push_back(txn);
            }
            (LearnerState::Syncing, QuorumPacket::Commit { zxid }) => self.on_sync_commit(zxid, out),
            (LearnerState::Syncing, QuorumPacket::Inform { txn }) => {
                let z = txn.zxid;
                self.learner_mut().not_logged.push_back(txn);
                self.on_sync_commit(z, out);
            }
            (LearnerState::Syncing, QuorumPacket::NewLeader { zxid }) => self.on_newleader(zxid, out),
            (
                LearnerState::NewLeader | LearnerState::AwaitUpToDate | LearnerState::Broadcast,
                QuorumPacket::Proposal { txn },
            ) => self.on_proposal(txn, out),
            (
                LearnerState::NewLeader | LearnerState::AwaitUpToDate | LearnerState::Broadcast,
                QuorumPacket::Commit { zxid },
            ) => self.on_commit(zxid, out),
            (
                LearnerState::NewLeader | LearnerState::AwaitUpToDate | LearnerState::Broadcast,
                QuorumPacket::Inform { txn },
            ) => self.on_inform(txn, out),
            (LearnerState::AwaitUpToDate, QuorumPacket::UpToDate) => self.on_uptodate(out),
            (LearnerState::Broadcast, QuorumPacket::Ping { zxid, .. }) => {
                let touched = self.clients.take_touched();
                let leader = self.learner_ref().leader;
                out.send(leader, QuorumPacket::Ping { zxid, touched });
            }
            (LearnerState::Broadcast, QuorumPacket::RevalidateReply { session, valid }) => {
                self.clients.finish_revalidate(session, valid, out);
            }
            (
                LearnerState::NewLeader | LearnerState::AwaitUpToDate | LearnerState::Broadcast,
                QuorumPacket::SyncRound { round },
            ) => {
                let leader = self.learner_ref().leader;
                out.send(leader, QuorumPacket::SyncRoundAck { round });
            }
            (_, QuorumPacket::Ping { .. }) => {
                // The sync loop does not answer pings; the leader's read timeout covers it.
            }
            (LearnerState::Broadcast, QuorumPacket::Sync { session, cxid }) => {
                self.clients.complete_sync(session, cxid, &self.db.tree, out);
            }
            (state, other) => {
                let why = format!("unexpected {} in state {state:?}", other.summary());
                self.abandon_role(&why, out);
            }
        }
    }

    fn on_leader_info(&mut self, epoch: Epoch, out: &mut Out) {
        if epoch < self.accepted_promised {
            marks::hit("learner: LEADERINFO with an older epoch is refused");
            self.abandon_role("leader's epoch is older than our acceptedEpoch", out);
            return;
        }
        self.learner_mut().new_epoch = epoch;
        if epoch > self.accepted_promised {
            self.learner_mut().state = LearnerState::PersistingAccepted;
            self.persist_epoch(EpochFile::Accepted, epoch, out);
        } else {
            marks::hit("learner: LEADERINFO for the epoch already accepted answers ACKEPOCH -1");
            self.send_ack_epoch(None, out);
        }
    }

    fn send_ack_epoch(&mut self, current: Option<Epoch>, out: &mut Out) {
        let last_zxid = self.db.last_zxid();
        let l = self.learner_mut();
        l.state = LearnerState::AwaitSync;
        l.phase = Phase::Synchronization;
        let leader = l.leader;
        out.send(leader, QuorumPacket::AckEpoch { current_epoch: current, last_zxid });
    }

    pub(crate) fn learner_epoch_persisted(&mut self, file: EpochFile, epoch: Epoch, out: &mut Out) {
        let state = self.learner_ref().state;
        match (file, state) {
            (EpochFile::Accepted, LearnerState::PersistingAccepted)
                if epoch == self.learner_ref().new_epoch =>
            {
                let current = self.current_epoch;
                self.send_ack_epoch(Some(current), out);
            }
            (EpochFile::Current, LearnerState::NewLeader) if epoch == self.learner_ref().new_epoch => {
                self.ack_newleader(out);
            }
            _ => {}
        }
    }

    fn start_sync(&mut self, kind: SyncKind) {
        let l = self.learner_mut();
        l.sync = Some(kind);
        l.state = LearnerState::Syncing;
    }

    fn on_trunc(&mut self, to: Zxid, out: &mut Out) {
        let base_zxid = self.db.base.as_ref().map(|b| b.0).unwrap_or(Zxid(0));
        if to < base_zxid && !mutated!(self, Zk1558) {
            // The real server cannot remove txns that live inside a snapshot and exits.
            let why = format!("cannot truncate to {to}: snapshot at {base_zxid} is newer");
            self.halt(why, out);
            return;
        }
        marks::hit("learner: TRUNC removes a divergent tail");
        let mut to = to;
        if mutated!(self, Zk1156) {
            // ZOOKEEPER-1156: the position bookkeeping cuts the record at `to` as well.
            if let Some(before) = self.db.log.iter().rev().map(|e| e.txn.zxid).find(|z| *z < to) {
                to = before.max(base_zxid);
            }
        }
        let ops = self.db.truncate_log(to);
        if !ops.is_empty() {
            self.persist(ops, IoPurpose::Housekeeping, out);
        }
        out.event(CoreEvent::Truncated { to });
        if let Err(why) = self.rebuild_tree() {
            self.halt(why, out);
            return;
        }
        self.start_sync(SyncKind::Trunc);
    }

    /// Leaving a learner role in the middle of a SNAP or TRUNC sync, before NEWLEADER: txns were
    /// applied in memory without being logged (the NEWLEADER snapshot would have captured them),
    /// so memory must go back to what the disk holds, as the real server reloads its database.
    pub(crate) fn discard_unlogged_sync(&mut self, learner: &mut Learner, out: &mut Out) {
        if learner.state != LearnerState::Syncing {
            return;
        }
        match learner.sync {
            Some(SyncKind::Snap) => {
                if let Some(before) = learner.pre_snap.take() {
                    marks::hit("learner: aborted SNAP sync restores the database on disk");
                    self.db.tree = before.tree;
                    self.db.log = before.log;
                    self.db.history = before.history;
                    self.db.tentative = before.tentative;
                    self.db.initialized = before.initialized;
                }
            }
            Some(SyncKind::Trunc) => {
                marks::hit("learner: aborted TRUNC sync reloads the truncated log");
                let to = self.db.last_logged();
                self.db.history.retain(|t| t.zxid <= to);
                self.db.tentative.retain(|(z, _)| *z <= to);
                if let Err(why) = self.rebuild_tree() {
                    self.halt(why, out);
                }
            }
            _ => {}
        }
    }

    /// Reloads the tree from the newest snapshot plus the log (after a truncation).
    fn rebuild_tree(&mut self) -> Result<(), String> {
        let mut tree = match &self.db.base {
            Some((_, bytes)) => {
                crate::persist::decode_snapshot(bytes, &self.tree_config())
                    .map_err(|e| format!("own snapshot unreadable: {e}"))?
                    .0
            }
            None => DataTree::new(self.tree_config()),
        };
        for e in &self.db.log {
            if e.txn.zxid > tree.last_processed_zxid() {
                tree.apply(&e.txn);
            }
        }
        self.db.tree = tree;
        Ok(())
    }

    fn on_snap(&mut self, zxid: Zxid, snapshot: &[u8], out: &mut Out) {
        let mut tree = match DataTree::deserialize(snapshot) {
            Ok(t) => t,
            Err(e) => {
                self.abandon_role(&format!("SNAP payload unreadable: {e}"), out);
                return;
            }
        };
        if mutated!(self, Zk3104) && zxid > tree.last_processed_zxid() {
            // ZOOKEEPER-3104: the learner takes the SNAP packet's zxid as its lastProcessedZxid
            // (a txn that changes nothing moves the tree's zxid there).
            tree.apply(&Txn {
                zxid,
                session: zab_tree::SessionId(0),
                cxid: 0,
                time_ms: 0,
                body: zab_tree::TxnBody::Error { code: zab_tree::ErrorCode::NoNode },
                digest: None,
            });
        }
        if tree.last_processed_zxid() != zxid {
            self.abandon_role("SNAP payload zxid does not match the SNAP packet", out);
            return;
        }
        marks::hit("learner: SNAP replaces the database");
        // Until the NEWLEADER snapshot is written, the disk still holds the old database: keep it,
        // so an aborted sync can go back to exactly what a restart would read.
        let before = PreSnap {
            tree: std::mem::replace(&mut self.db.tree, tree),
            log: std::mem::take(&mut self.db.log),
            history: std::mem::take(&mut self.db.history),
            tentative: std::mem::take(&mut self.db.tentative),
            initialized: self.db.initialized,
        };
        self.learner_mut().pre_snap = Some(Box::new(before));
        self.db.roll_next = true;
        self.db.initialized = true;
        out.event(CoreEvent::SnapInstalled { zxid });
        self.start_sync(SyncKind::Snap);
    }

    fn on_sync_commit(&mut self, zxid: Zxid, out: &mut Out) {
        let kind = self.learner_ref().sync;
        if matches!(kind, Some(SyncKind::Snap) | Some(SyncKind::Trunc)) {
            // Applied in memory at once; the NEWLEADER snapshot will capture it.
            let l = self.learner_mut();
            match l.not_logged.front() {
                Some(t) if t.zxid == zxid => {
                    let t = l.not_logged.pop_front().expect("front exists");
                    self.apply_sync_txn(&t, false, out);
                }
                _ => out.event(CoreEvent::Error {
                    message: format!("COMMIT {zxid} does not match the next proposal"),
                }),
            }
        } else {
            self.learner_mut().committed_in_sync.insert(zxid);
        }
    }

    fn on_newleader(&mut self, zxid: Zxid, out: &mut Out) {
        let epoch = Epoch(zxid.epoch());
        if epoch != self.learner_ref().new_epoch {
            self.abandon_role("NEWLEADER for another epoch", out);
            return;
        }
        let snap_needed = matches!(self.learner_ref().sync, Some(SyncKind::Snap) | Some(SyncKind::Trunc));
        self.learner_mut().pre_snap = None;
        let mut ops = Vec::new();
        if snap_needed {
            ops.extend(self.db.snapshot(true));
        }
        let l = self.learner_mut();
        l.state = LearnerState::NewLeader;
        let batch: Vec<Txn> = l.not_logged.drain(..).collect();
        let committed = std::mem::take(&mut l.committed_in_sync);
        for t in &batch {
            let c = committed.contains(&t.zxid);
            #[cfg(feature = "mutations")]
            if !c && self.mutation_on(crate::mutation::Mutation::Zk4394) {
                // The pending-proposal queue is cleared: only txns known committed stay.
                continue;
            }
            self.learner_mut().pending.push_back((t.clone(), c));
        }
        #[cfg(feature = "mutations")]
        if let Some(order) = self.mutated_newleader_order() {
            self.newleader_in_mutated_order(order, epoch, ops, batch, out);
            return;
        }
        for t in &batch {
            ops.extend(self.db.append(t));
            out.event(CoreEvent::Logged { zxid: t.zxid, hash: self.db.hash_of(t) });
        }
        let upto = self.db.last_zxid();
        if ops.is_empty() && mutated!(self, Zk1264b) {
            // ZOOKEEPER-1264 (b): currentEpoch waits for UPTODATE.
            self.ack_newleader(out);
        } else if ops.is_empty() {
            // Nothing to write: go straight to currentEpoch.
            self.persist_epoch(EpochFile::Current, epoch, out);
        } else {
            let ops = self.with_updating_epoch_marker(ops);
            self.persist(ops, IoPurpose::NewLeaderBatch { epoch, upto }, out);
        }
    }

    /// `ops` (the NEWLEADER snapshot and txns), preceded by the durable `updatingEpoch` marker: a
    /// crash after they are durable and before currentEpoch is finds history of the new epoch on
    /// disk and the marker that says it was adopted, and recovery takes its epoch
    /// (ZOOKEEPER-1653). The marker goes with the next currentEpoch write.
    fn with_updating_epoch_marker(
        &mut self,
        ops: Vec<crate::persist::DiskOp>,
    ) -> Vec<crate::persist::DiskOp> {
        use crate::persist::{DiskOp, UPDATING_EPOCH_FILE};
        if ops.is_empty() || mutated!(self, Zk1653) {
            // ZOOKEEPER-1653 (mutation): no marker, so no recovery rule for that crash.
            return ops;
        }
        self.updating_epoch_marker = true;
        let marker = UPDATING_EPOCH_FILE.to_string();
        let mut all = vec![
            DiskOp::WriteFile { file: marker.clone(), bytes: Vec::new() },
            DiskOp::Sync { file: marker },
        ];
        all.extend(ops);
        all
    }

    pub(crate) fn learner_newleader_batch_durable(&mut self, epoch: Epoch, out: &mut Out) {
        if self.learner_ref().state != LearnerState::NewLeader || self.learner_ref().new_epoch != epoch {
            return;
        }
        #[cfg(feature = "mutations")]
        if self.mutation_on(crate::mutation::Mutation::Zk4685) && !self.learner_ref().observer {
            // The log writer ACKs what it made durable, not waiting for the NEWLEADER ACK.
            let durable = self.db.durable_upto;
            let l = self.learner_ref();
            let zs: Vec<Zxid> = l.pending.iter().map(|(t, _)| t.zxid).filter(|z| *z <= durable).collect();
            let leader = l.leader;
            for z in zs {
                out.send(leader, QuorumPacket::Ack { zxid: z });
                out.event(CoreEvent::AckSent { zxid: z });
            }
        }
        if mutated!(self, Zk1264b) {
            // ZOOKEEPER-1264 (b): ACK now, currentEpoch at UPTODATE.
            self.ack_newleader(out);
            return;
        }
        self.persist_epoch(EpochFile::Current, epoch, out);
    }

    fn ack_newleader(&mut self, out: &mut Out) {
        let epoch = self.learner_ref().new_epoch;
        let l = self.learner_mut();
        l.state = LearnerState::AwaitUpToDate;
        l.newleader_acked = true;
        let leader = l.leader;
        out.send(leader, QuorumPacket::Ack { zxid: Zxid::new(epoch.0, 0) });
        out.event(CoreEvent::AckSent { zxid: Zxid::new(epoch.0, 0) });
        out.event(CoreEvent::NewLeaderAcked { epoch });
        marks::hit("learner: NEWLEADER acked after the synced txns and currentEpoch are durable");
        self.drain_commits(false, out);
        let durable = self.db.durable_upto;
        self.send_acks(durable, out);
    }

    fn on_proposal(&mut self, txn: Txn, out: &mut Out) {
        if self.learner_ref().observer {
            return; // observers ignore PROPOSAL/COMMIT after sync
        }
        if let Some((last, _)) = self.learner_ref().pending.back() {
            if txn.zxid <= last.zxid {
                out.event(CoreEvent::Error { message: format!("duplicate PROPOSAL {} ignored", txn.zxid) });
                return;
            }
        }
        if mutated!(self, Zk1264a)
            && matches!(self.learner_ref().state, LearnerState::NewLeader | LearnerState::AwaitUpToDate)
        {
            // ZOOKEEPER-1264 (a): between NEWLEADER and UPTODATE the txn waits for its COMMIT and is
            // applied, but never reaches the log.
            self.learner_mut().pending.push_back((txn, false));
            return;
        }
        self.learner_mut().pending.push_back((txn.clone(), false));
        self.log_received(&txn, true, out);
    }

    fn on_commit(&mut self, zxid: Zxid, out: &mut Out) {
        if self.learner_ref().observer {
            return;
        }
        let l = self.learner_mut();
        // The COMMIT must name the oldest proposal whose COMMIT has not arrived yet.
        match l.pending.iter_mut().find(|(_, c)| !*c) {
            Some(entry) if entry.0.zxid == zxid => entry.1 = true,
            _ => {
                // The real follower exits.
                let why = format!(
                    "{}: COMMIT {zxid} does not match the oldest pending proposal",
                    crate::messages::UNMATCHED_TXN_COMMIT
                );
                self.halt(why, out);
                return;
            }
        }
        self.drain_commits_if_acked(out);
    }

    fn on_inform(&mut self, txn: Txn, out: &mut Out) {
        if let Some((last, _)) = self.learner_ref().pending.back() {
            if txn.zxid <= last.zxid {
                out.event(CoreEvent::Error { message: format!("duplicate INFORM {} ignored", txn.zxid) });
                return;
            }
        }
        if txn.zxid <= self.db.tree.last_processed_zxid() {
            out.event(CoreEvent::Error { message: format!("INFORM {} for a txn already applied", txn.zxid) });
            return;
        }
        if self.cfg.settings().sync_enabled {
            self.log_received(&txn, false, out);
        }
        // Queued behind the txns of the NEWLEADER batch, so everything is applied in zxid order.
        self.learner_mut().pending.push_back((txn, true));
        self.drain_commits_if_acked(out);
    }

    /// Logs a PROPOSAL or INFORM received after NEWLEADER.
    fn log_received(&mut self, txn: &Txn, ack: bool, out: &mut Out) {
        #[cfg(feature = "mutations")]
        if self.deferring_log() {
            self.learner_mut().deferred_log.push(txn.clone());
            return;
        }
        self.log_txns(std::slice::from_ref(txn), ack, out);
    }

    /// Applies committed pending txns, but not before NEWLEADER was ACKed (until then the batch
    /// they sit behind is still being made durable).
    fn drain_commits_if_acked(&mut self, out: &mut Out) {
        if self.learner_ref().newleader_acked {
            let confirmed = self.learner_ref().state == LearnerState::Broadcast;
            self.drain_commits(confirmed, out);
        }
    }

    /// Applies pending proposals from the head while their COMMIT has arrived.
    fn drain_commits(&mut self, confirmed: bool, out: &mut Out) {
        loop {
            let l = self.learner_mut();
            match l.pending.front() {
                Some((_, true)) => {
                    let (t, _) = l.pending.pop_front().expect("front exists");
                    if self.learner_ref().state == LearnerState::Broadcast {
                        self.apply_txn(&t, confirmed, out);
                    } else {
                        self.apply_sync_txn(&t, confirmed, out);
                    }
                }
                _ => break,
            }
        }
    }

    /// The log is durable up to `upto`: ACK what the leader is waiting for.
    pub(crate) fn learner_log_durable(&mut self, upto: Zxid, out: &mut Out) {
        self.send_acks(upto, out);
    }

    fn send_acks(&mut self, upto: Zxid, out: &mut Out) {
        let l = self.learner_mut();
        if l.observer || !l.newleader_acked {
            return;
        }
        let from = l.acked_upto;
        let zs: Vec<Zxid> =
            l.pending.iter().map(|(t, _)| t.zxid).filter(|z| *z > from && *z <= upto).collect();
        let leader = l.leader;
        if let Some(last) = zs.last() {
            l.acked_upto = *last;
        }
        for z in zs {
            out.send(leader, QuorumPacket::Ack { zxid: z });
            out.event(CoreEvent::AckSent { zxid: z });
        }
    }

    fn on_uptodate(&mut self, out: &mut Out) {
        let epoch = self.learner_ref().new_epoch;
        let l = self.learner_mut();
        l.state = LearnerState::Broadcast;
        l.phase = Phase::Broadcast;
        let leader = l.leader;
        out.send(leader, QuorumPacket::Ack { zxid: Zxid::new(epoch.0, 0) });
        marks::hit("learner: UPTODATE starts serving");
        if mutated!(self, Zk1264b) {
            self.persist_epoch(EpochFile::Current, epoch, out);
        }
        let upto = self.db.tree.last_processed_zxid();
        self.confirm_upto(upto, out);
        self.election.update_peer_epoch(epoch);
        self.clients.start_serving(self.me, self.now);
        #[cfg(feature = "mutations")]
        {
            let deferred = std::mem::take(&mut self.learner_mut().deferred_log);
            let ack = !self.learner_ref().observer;
            self.log_txns(&deferred, ack, out);
        }
    }

    /// Applies a txn received during synchronization (before UPTODATE).
    fn apply_sync_txn(&mut self, txn: &Txn, confirmed: bool, out: &mut Out) {
        #[cfg(feature = "mutations")]
        let session_before = self.db.tree.sessions().get(&txn.session).copied();
        self.apply_txn(txn, confirmed, out);
        #[cfg(feature = "mutations")]
        {
            use crate::mutation::Mutation;
            if self.mutation_on(Mutation::Zk4925)
                && self.db.history.back().is_some_and(|t| t.zxid == txn.zxid)
            {
                self.db.history.pop_back();
            }
            if self.mutation_on(Mutation::Zk1367) {
                self.zk1367_undo_session_table(txn, session_before);
            }
        }
    }

    pub(crate) fn learner_ref(&self) -> &Learner {
        match &self.role {
            RoleState::Following(l) | RoleState::Observing(l) => l,
            _ => panic!("node {}: not a learner (epoch {})", self.me, self.current_epoch),
        }
    }

    pub(crate) fn learner_mut(&mut self) -> &mut Learner {
        let me = self.me;
        match &mut self.role {
            RoleState::Following(l) | RoleState::Observing(l) => l,
            _ => panic!("node {me}: not a learner"),
        }
    }
}

/// The mutated code paths (reference §5.4, §5.6). Compiled only with the `mutations` feature.
#[cfg(feature = "mutations")]
impl Replica {
    /// ZK-962: lastProcessedZxid jumps to the new epoch's first zxid before any DIFF txn is applied
    /// (an error txn carries the zxid into the tree without changing a node).
    fn zk962_jump_to_new_epoch_zxid(&mut self) {
        let epoch = self.learner_ref().new_epoch;
        let marker = Txn {
            zxid: Zxid::new(epoch.0, 0),
            session: zab_tree::SessionId(0),
            cxid: 0,
            time_ms: 0,
            body: zab_tree::TxnBody::Error { code: zab_tree::ErrorCode::Ok },
            digest: None,
        };
        self.db.tree.apply(&marker);
    }

    /// ZK-1367: a session txn applied during sync changes the tree but not the session table: a
    /// created session is taken out of the table again, a closed one is put back (its ephemerals
    /// stay deleted).
    fn zk1367_undo_session_table(&mut self, txn: &Txn, before: Option<i32>) {
        let restore = match (&txn.body, before) {
            (zab_tree::TxnBody::CreateSession { .. }, None) => {
                zab_tree::TxnBody::CloseSession { paths_to_delete: Vec::new() }
            }
            (zab_tree::TxnBody::CloseSession { .. }, Some(timeout_ms)) => {
                zab_tree::TxnBody::CreateSession { timeout_ms }
            }
            _ => return,
        };
        let undo = Txn { body: restore, digest: None, ..txn.clone() };
        self.db.tree.apply(&undo);
    }

    /// Which wrong NEWLEADER order the switched-on mutation asks for, if any.
    fn mutated_newleader_order(&mut self) -> Option<NewLeaderOrder> {
        use crate::mutation::Mutation;
        use rand::Rng;
        if self.mutation_on(Mutation::Zk3911) {
            Some(NewLeaderOrder::LogAfterUpToDate)
        } else if self.mutation_on(Mutation::Zk4646) {
            Some(NewLeaderOrder::AckWithoutWaiting)
        } else if self.mutation_on(Mutation::Zk4785) {
            Some(NewLeaderOrder::EpochBeforeTxns)
        } else if self.mutation_on(Mutation::Zk3023) && self.rng.gen_bool(0.5) {
            // The scheduler lets the NEWLEADER ACK overtake the log writer this time.
            Some(NewLeaderOrder::AckWithoutWaiting)
        } else {
            None
        }
    }

    /// NEWLEADER handled in a wrong order; `ops` holds the NEWLEADER snapshot, if any.
    fn newleader_in_mutated_order(
        &mut self,
        order: NewLeaderOrder,
        epoch: Epoch,
        mut ops: Vec<crate::persist::DiskOp>,
        batch: Vec<Txn>,
        out: &mut Out,
    ) {
        if order == NewLeaderOrder::LogAfterUpToDate {
            let ops = self.with_updating_epoch_marker(ops);
            self.learner_mut().deferred_log = batch;
            let upto = self.db.last_zxid();
            if ops.is_empty() {
                self.persist_epoch(EpochFile::Current, epoch, out);
            } else {
                self.persist(ops, IoPurpose::NewLeaderBatch { epoch, upto }, out);
            }
            return;
        }
        for t in &batch {
            ops.extend(self.db.append(t));
            out.event(CoreEvent::Logged { zxid: t.zxid, hash: self.db.hash_of(t) });
        }
        let upto = self.db.last_zxid();
        let ack = !self.learner_ref().observer;
        let ops = self.with_updating_epoch_marker(ops);
        match order {
            NewLeaderOrder::AckWithoutWaiting => {
                if !ops.is_empty() {
                    self.persist(ops, IoPurpose::Log { upto, ack }, out);
                }
                self.persist_epoch(EpochFile::Current, epoch, out);
                self.ack_newleader(out);
            }
            NewLeaderOrder::EpochBeforeTxns => {
                // The ACK follows once currentEpoch is durable (`learner_epoch_persisted`).
                self.persist_epoch(EpochFile::Current, epoch, out);
                if !ops.is_empty() {
                    self.persist(ops, IoPurpose::Log { upto, ack }, out);
                }
            }
            NewLeaderOrder::LogAfterUpToDate => unreachable!("handled above"),
        }
    }

    /// ZK-3911: between NEWLEADER and UPTODATE, txns wait for UPTODATE before they are logged.
    fn deferring_log(&self) -> bool {
        self.mutation_on(crate::mutation::Mutation::Zk3911)
            && matches!(self.learner_ref().state, LearnerState::NewLeader | LearnerState::AwaitUpToDate)
    }
}
