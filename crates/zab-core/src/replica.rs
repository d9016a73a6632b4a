//! The replica: one ZooKeeper server as a state machine. See the crate documentation for the
//! driving contract; this file holds the common machinery (recovery, dispatch, timers, disk
//! requests, applying txns, role changes). Leader, learner and client handling live in
//! `leader.rs`, `learner.rs` and `serve.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zab_tree::{DataTree, Preparer, SessionId, Txn, Zxid};

use crate::config::{LearnerType, ValidConfig};
use crate::db::{txn_hash, Db};
use crate::election::{Decision, Election, Outcome};
use crate::ids::{Epoch, ServerId};
use crate::io::{Action, CoreEvent, DiskError, EpochFile, Input, Instant, IoId, Out, Phase, Role, Status};
use crate::leader::Leader;
use crate::learner::Learner;
use crate::marks;
use crate::persist::{self, DiskImage, DiskOp};
use crate::serve::Clients;

/// Why `recover` refused to start a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoverError {
    pub message: String,
}

impl std::fmt::Display for RecoverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecoverError {}

/// Timers, fired in this fixed order when several are due at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// The election's own deadline (notification resend, finalize wait).
    Election = 0,
    /// Leader: half-tick ping and per-tick quorum check. Learner: half-tick ping replies.
    /// Standalone: the container manager's next pass.
    Tick = 1,
    /// A phase deadline: leader discovery/sync waits (initLimit), learner read timeout.
    Limit = 2,
    /// Leader: the next session-expiry bucket.
    SessionExpiry = 3,
    /// Learner: retry connecting to the leader.
    Retry = 4,
}

const TIMER_KINDS: [TimerKind; 5] =
    [TimerKind::Election, TimerKind::Tick, TimerKind::Limit, TimerKind::SessionExpiry, TimerKind::Retry];

#[derive(Default)]
pub(crate) struct Timers {
    at: [Option<Instant>; 5],
}

impl Timers {
    pub fn set(&mut self, kind: TimerKind, at: Instant) {
        self.at[kind as usize] = Some(at);
    }
    pub fn clear(&mut self, kind: TimerKind) {
        self.at[kind as usize] = None;
    }
    pub fn get(&self, kind: TimerKind) -> Option<Instant> {
        self.at[kind as usize]
    }
    fn earliest(&self) -> Option<Instant> {
        self.at.iter().flatten().copied().min()
    }
}

/// What a pending disk request means to the replica when it completes.
#[derive(Clone, Debug)]
pub(crate) enum IoPurpose {
    /// Log appends up to this zxid (and, for a learner in broadcast, ACK it).
    Log { upto: Zxid, ack: bool },
    /// An epoch file.
    Epoch { file: EpochFile, epoch: Epoch },
    /// A learner's NEWLEADER batch (snapshot and/or appends) for this epoch.
    NewLeaderBatch { epoch: Epoch, upto: Zxid },
    /// A snapshot or a truncation; nothing waits for it.
    Housekeeping,
}

pub(crate) enum RoleState {
    Looking,
    Leading(Box<Leader>),
    Following(Box<Learner>),
    Observing(Box<Learner>),
    Standalone,
}

/// One ZooKeeper server.
pub struct Replica {
    pub(crate) me: ServerId,
    pub(crate) cfg: ValidConfig,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) now: Instant,
    pub(crate) accepted_epoch: Epoch,
    /// The highest acceptedEpoch this server has promised: durable or still being written.
    /// Decisions use it, so a slow disk can never see a lower epoch written after a higher one.
    pub(crate) accepted_promised: Epoch,
    pub(crate) current_epoch: Epoch,
    pub(crate) db: Db,
    pub(crate) role: RoleState,
    pub(crate) election: Election,
    pub(crate) timers: Timers,
    next_io: u64,
    pub(crate) pending_io: BTreeMap<IoId, IoPurpose>,
    pub(crate) clients: Clients,
    last_status: Option<Status>,
    /// Peers with a live quorum connection.
    pub(crate) connected: BTreeSet<ServerId>,
    /// A fatal condition (a real server would exit): the replica stops and reports it.
    pub(crate) halted: Option<String>,
    /// Disk writes recovery asked for (epoch files, the empty snapshot of a new database, torn
    /// tails cut); issued by `start` before anything else.
    repairs: Vec<DiskOp>,
    /// Appends after which the next snapshot is taken.
    snap_threshold: u64,
    /// The `updatingEpoch` marker was written (NEWLEADER) and the next currentEpoch write removes it.
    pub(crate) updating_epoch_marker: bool,
    /// Defects switched on for this replica (reference §5).
    #[cfg(feature = "mutations")]
    pub(crate) mutations: BTreeSet<crate::mutation::Mutation>,
    /// ZK-3127: a snapshot is due and will be taken in the middle of the next multi.
    #[cfg(feature = "mutations")]
    pub(crate) snapshot_mid_multi: bool,
    /// The standalone pipeline (unused in quorum mode).
    pub(crate) standalone: Standalone,
}

/// Standalone mode's request pipeline: prepare, log, apply once durable.
pub(crate) struct Standalone {
    pub prep: Preparer,
    pub pending: VecDeque<Txn>,
    pub last_zxid: Zxid,
    /// `sync`s waiting for the txns before them: (after zxid, session, cxid).
    pub syncs: Vec<(Zxid, SessionId, i32)>,
}

impl Replica {
    /// Builds a server from its config and whatever its disk holds. Refuses (like the real
    /// server refuses to start) when the disk is inconsistent: a corrupt log record, epoch files
    /// that contradict the log, a log without a snapshot.
    pub fn recover(config: ValidConfig, disk: DiskImage, seed: u64) -> Result<Replica, RecoverError> {
        let rec =
            persist::recover_disk(&disk, &config).map_err(|e| RecoverError { message: e.to_string() })?;
        let me = config.my_id();
        let history_cap = config.settings().commit_log_count as usize;
        let snapshot_zxid = rec.snapshot.as_ref().map(|s| s.0).unwrap_or(Zxid(0));
        let mut db = Db {
            tree: rec.tree,
            initialized: rec.initialized,
            log: Vec::new(),
            log_files: Vec::new(),
            roll_next: true,
            base: rec.snapshot,
            history: VecDeque::new(),
            history_cap,
            durable_upto: Zxid(0),
            since_snapshot: 0,
            tentative: VecDeque::new(),
            confirmed: Zxid(0),
        };
        // Only files that still hold a recovered record stay in the database's file list: the
        // others (record-less, or after a hole) are deleted by the recovery repairs, and a later
        // truncation must not try to delete them again.
        let mut file_index: Vec<Option<usize>> = vec![None; rec.log_files.len()];
        for logged in &rec.log {
            if file_index[logged.file].is_none() {
                let f = &rec.log_files[logged.file];
                file_index[logged.file] = Some(db.log_files.len());
                db.log_files.push(crate::db::LogFile { name: f.name.clone(), len: f.valid_len });
            }
        }
        for logged in rec.log {
            if logged.txn.zxid > snapshot_zxid {
                let file = file_index[logged.file].expect("every recovered record's file is listed");
                db.since_snapshot += 1;
                let hash = txn_hash(&logged.txn);
                db.log.push(crate::db::LogEntry { txn: logged.txn, file, offset: logged.offset, hash });
            }
        }
        db.roll_next = true;
        // Replayed txns form the DIFF history, as in the real server (reference §1.1).
        for txn in &rec.replayed {
            let h = txn_hash(txn);
            db.remember_applied(txn, h);
        }
        db.tentative.clear();
        db.confirmed = db.tree.last_processed_zxid();
        db.durable_upto = db.last_zxid();
        let voters: BTreeSet<ServerId> = config.voters().into_iter().collect();
        let observer = config.my_role() == LearnerType::Observer;
        let election = Election::new(me, voters, observer);
        let clients = Clients::new(&config);
        let r = Replica {
            me,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: Instant(0),
            accepted_epoch: rec.accepted_epoch,
            accepted_promised: rec.accepted_epoch,
            current_epoch: rec.current_epoch,
            db,
            role: RoleState::Looking,
            election,
            timers: Timers::default(),
            next_io: 0,
            pending_io: BTreeMap::new(),
            clients,
            last_status: None,
            connected: BTreeSet::new(),
            halted: None,
            repairs: rec.repairs,
            snap_threshold: 0,
            updating_epoch_marker: false,
            #[cfg(feature = "mutations")]
            mutations: BTreeSet::new(),
            #[cfg(feature = "mutations")]
            snapshot_mid_multi: false,
            standalone: Standalone {
                prep: Preparer::new(),
                pending: VecDeque::new(),
                last_zxid: Zxid(0),
                syncs: Vec::new(),
            },
            cfg: config,
        };
        r.check_invariants();
        Ok(r)
    }

    /// Feeds one input at local time `now`; outputs are appended to `out` in the order the host
    /// must perform them. `now` must not go backwards.
    pub fn step(&mut self, now: Instant, input: Input, out: &mut Out) {
        if now > self.now {
            self.now = now;
        }
        if self.halted.is_some() {
            return;
        }
        let first = out.actions.len();
        match input {
            Input::Timeout => self.on_timeout(out),
            Input::Connected { peer } => {
                self.connected.insert(peer);
                self.on_connected(peer, out);
            }
            Input::ConnectFailed { peer } => self.on_connect_failed(peer, out),
            Input::Disconnected { peer } => {
                self.connected.remove(&peer);
                self.on_disconnected(peer, out);
            }
            Input::Received { from, msg } => self.on_packet(from, msg, out),
            Input::Election { from, n } => self.on_election_msg(from, n, out),
            Input::Persisted { io } => self.on_persisted(io, out),
            Input::PersistFailed { io, error } => self.on_persist_failed(io, error, out),
            Input::ClientConnect { conn, request } => self.on_client_connect(conn, request, out),
            Input::Client { conn, xid, request } => self.on_client_request(conn, xid, request, out),
            Input::ClientClosed { conn } => self.on_client_closed(conn, out),
        }
        self.emit_transition(out);
        debug_assert!(out.actions[first..]
            .iter()
            .all(|a| !matches!(a, Action::Persist { ops, .. } if ops.is_empty())));
        #[cfg(debug_assertions)]
        self.check_invariants();
    }

    /// When the host must call `step(.., Input::Timeout, ..)` next, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.halted.is_some() {
            return None;
        }
        self.timers.earliest()
    }

    /// Role, phase, epochs and zxids.
    pub fn status(&self) -> Status {
        let (role, phase, leader) = match &self.role {
            RoleState::Looking => (Role::Looking, Phase::Election, None),
            RoleState::Leading(l) => (Role::Leading, l.phase, Some(self.me)),
            RoleState::Following(l) => (Role::Following, l.phase, Some(l.leader)),
            RoleState::Observing(l) => (Role::Observing, l.phase, Some(l.leader)),
            RoleState::Standalone => (Role::Standalone, Phase::Broadcast, Some(self.me)),
        };
        Status {
            id: self.me,
            role,
            phase,
            leader,
            accepted_epoch: self.accepted_epoch,
            current_epoch: self.current_epoch,
            last_logged: if self.db.initialized { Some(self.db.last_zxid()) } else { None },
            last_committed: self.db.tree.last_processed_zxid(),
            pending_disk: self.pending_io.len(),
            serving: self.is_serving(),
        }
    }

    /// The data tree (for digests, convergence checks and tests).
    pub fn tree(&self) -> &DataTree {
        &self.db.tree
    }

    /// Why the replica stopped, if it did (a real server would have exited).
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Starts the server: standalone servers serve at once, others begin an election.
    pub fn start(&mut self, now: Instant, out: &mut Out) {
        self.now = now;
        let repairs = std::mem::take(&mut self.repairs);
        if !repairs.is_empty() {
            self.persist(repairs, IoPurpose::Housekeeping, out);
        }
        if self.cfg.is_standalone() {
            self.fast_forward(out);
            let last = self.db.tree.last_processed_zxid();
            for (z, h) in self.db.confirm(last) {
                out.event(CoreEvent::Applied { zxid: z, hash: h });
            }
            self.role = RoleState::Standalone;
            let sessions: Vec<(SessionId, u32)> =
                self.db.tree.sessions().iter().map(|(s, t)| (*s, (*t).max(0) as u32)).collect();
            self.clients.rebuild_tracker(sessions, now, self.cfg.tick_time_ms());
            self.clients.start_serving(self.me, now);
            self.rearm_session_timer();
            // A standalone server runs the container manager itself (a quorum's leader runs it).
            self.timers.set(TimerKind::Tick, now.plus_ms(self.container_check_interval_ms()));
        } else {
            self.enter_looking(out);
        }
        self.emit_transition(out);
    }

    /// Panics (with node, role, epoch and zxid) when an internal invariant is broken.
    pub fn check_invariants(&self) {
        let ctx = || {
            format!(
                "node {} role {:?} epochs {}/{} zxid {}",
                self.me,
                self.status().role,
                self.accepted_epoch,
                self.current_epoch,
                self.db.last_zxid()
            )
        };
        assert!(self.accepted_epoch >= self.current_epoch, "acceptedEpoch < currentEpoch: {}", ctx());
        let mut prev = None;
        for e in &self.db.log {
            if let Some(p) = prev {
                assert!(e.txn.zxid > p, "log zxids not increasing at {}: {}", e.txn.zxid, ctx());
            }
            prev = Some(e.txn.zxid);
            assert!(e.file < self.db.log_files.len(), "log entry in an unknown file: {}", ctx());
        }
        assert!(self.db.durable_upto <= self.db.last_zxid(), "durable beyond the log: {}", ctx());
        let mut prev = None;
        for t in &self.db.history {
            if let Some(p) = prev {
                assert!(t.zxid > p, "DIFF history not increasing at {}: {}", t.zxid, ctx());
            }
            prev = Some(t.zxid);
        }
        if let Some(last) = self.db.history.back() {
            assert!(last.zxid <= self.db.tree.last_processed_zxid(), "history beyond the tree: {}", ctx());
        }
        assert!(self.db.history.len() <= self.db.history_cap.max(1), "history over its cap: {}", ctx());
        match &self.role {
            RoleState::Leading(l) => l.check_invariants(&ctx),
            RoleState::Following(l) | RoleState::Observing(l) => l.check_invariants(&ctx),
            RoleState::Looking | RoleState::Standalone => {}
        }
    }

    // ----- dispatch helpers -----

    fn on_timeout(&mut self, out: &mut Out) {
        for kind in TIMER_KINDS {
            match self.timers.get(kind) {
                Some(at) if at <= self.now => {
                    self.timers.clear(kind);
                    self.fire(kind, out);
                }
                _ => {}
            }
            if self.halted.is_some() {
                return;
            }
        }
        // The election keeps its own deadline; re-arm from it.
        self.rearm_election_timer();
    }

    fn fire(&mut self, kind: TimerKind, out: &mut Out) {
        match kind {
            TimerKind::Election => {
                if matches!(self.role, RoleState::Looking) {
                    let mut sends = Vec::new();
                    let outcome = self.election.on_timeout(self.now.as_ms(), &mut sends);
                    for s in sends {
                        out.send_election(s.to, s.n);
                    }
                    if let Some(o) = outcome {
                        self.on_election_outcome(o, out);
                    }
                }
            }
            TimerKind::Tick => match &self.role {
                RoleState::Leading(_) => self.leader_tick(out),
                RoleState::Standalone => self.standalone_reap_containers(out),
                // Learners keep no tick: the leader's pings and their read timeout suffice.
                RoleState::Looking | RoleState::Following(_) | RoleState::Observing(_) => {}
            },
            TimerKind::Limit => match &self.role {
                RoleState::Leading(_) => self.leader_limit_expired(out),
                RoleState::Following(_) | RoleState::Observing(_) => {
                    self.abandon_role("no packet from the leader within the read timeout", out)
                }
                _ => {}
            },
            TimerKind::SessionExpiry => {
                if matches!(self.role, RoleState::Leading(_) | RoleState::Standalone) {
                    self.expire_sessions(out);
                }
            }
            TimerKind::Retry => match &self.role {
                RoleState::Following(l) | RoleState::Observing(l)
                    if l.state == crate::learner::LearnerState::Connecting =>
                {
                    let leader = l.leader;
                    out.connect(leader);
                }
                _ => {}
            },
        }
    }

    pub(crate) fn rearm_election_timer(&mut self) {
        match (&self.role, self.election.next_deadline()) {
            (RoleState::Looking, Some(ms)) => self.timers.set(TimerKind::Election, Instant::from_ms(ms)),
            _ => self.timers.clear(TimerKind::Election),
        }
    }

    fn on_election_msg(&mut self, from: ServerId, n: crate::election::Notification, out: &mut Out) {
        let mut sends = Vec::new();
        let state = self.election_state();
        let outcome = self.election.on_notification(self.now.as_ms(), from, n, state, &mut sends);
        for s in sends {
            out.send_election(s.to, s.n);
        }
        if let (Some(o), RoleState::Looking) = (outcome, &self.role) {
            self.on_election_outcome(o, out);
        }
        self.rearm_election_timer();
    }

    fn election_state(&self) -> crate::election::PeerState {
        use crate::election::PeerState;
        match self.role {
            RoleState::Looking => PeerState::Looking,
            RoleState::Leading(_) | RoleState::Standalone => PeerState::Leading,
            RoleState::Following(_) => PeerState::Following,
            RoleState::Observing(_) => PeerState::Observing,
        }
    }

    fn on_election_outcome(&mut self, outcome: Outcome, out: &mut Out) {
        out.event(CoreEvent::ElectionDecided { leader: outcome.leader(), round: outcome.round });
        self.timers.clear(TimerKind::Election);
        match outcome.decision {
            Decision::Lead => self.become_leader(out),
            Decision::Follow(leader) => self.become_learner(leader, false, out),
            Decision::Observe(leader) => self.become_learner(leader, true, out),
        }
    }

    fn on_connected(&mut self, peer: ServerId, out: &mut Out) {
        match &self.role {
            RoleState::Following(l) | RoleState::Observing(l) if l.leader == peer => {
                self.learner_connected(out);
            }
            RoleState::Leading(_) => self.leader_learner_connected(peer, out),
            _ => out.disconnect(peer),
        }
    }

    /// A connect attempt failed. Only a learner still waiting for its leader connection cares: a
    /// failure that answers an attempt from an earlier spell in this role (the host reports it
    /// late, e.g. after a connect timeout across a partition) says nothing about the connection
    /// the learner holds now, and must not make it forget that it is registered with the leader.
    fn on_connect_failed(&mut self, peer: ServerId, out: &mut Out) {
        match &self.role {
            RoleState::Following(l) | RoleState::Observing(l)
                if l.leader == peer && l.state == crate::learner::LearnerState::Connecting =>
            {
                self.retry_leader_connect(out);
            }
            RoleState::Following(l) | RoleState::Observing(l) if l.leader == peer => {
                marks::hit("learner: a late connect failure does not touch the live leader connection");
            }
            _ => {}
        }
    }

    /// Counts a failed attempt to reach the leader and retries shortly, or gives the role up.
    fn retry_leader_connect(&mut self, out: &mut Out) {
        let l = self.learner_mut();
        l.state = crate::learner::LearnerState::Connecting;
        l.connect_attempts += 1;
        if l.connect_attempts >= LEARNER_CONNECT_ATTEMPTS {
            self.abandon_role("cannot connect to the leader", out);
        } else {
            let at = self.now.plus_ms(LEARNER_CONNECT_RETRY_MS);
            self.timers.set(TimerKind::Retry, at);
        }
    }

    fn on_disconnected(&mut self, peer: ServerId, out: &mut Out) {
        match &self.role {
            RoleState::Following(l) | RoleState::Observing(l) if l.leader == peer => {
                if l.heard_from_leader() {
                    self.abandon_role("the connection to the leader closed", out);
                } else {
                    // The peer is not (yet) leading and refused us: retry like a failed connect.
                    marks::hit("learner: connection refused before the leader answered is retried");
                    self.retry_leader_connect(out);
                }
            }
            RoleState::Leading(_) => self.leader_learner_gone(peer, out),
            _ => {}
        }
    }

    fn on_packet(&mut self, from: ServerId, msg: crate::messages::QuorumPacket, out: &mut Out) {
        match &self.role {
            RoleState::Leading(_) => self.leader_packet(from, msg, out),
            RoleState::Following(l) | RoleState::Observing(l) if l.leader == from => {
                self.learner_packet(msg, out)
            }
            _ => {
                out.event(CoreEvent::Error {
                    message: format!("dropped {} from {from}: not expected in this role", msg.summary()),
                });
            }
        }
    }

    fn on_persisted(&mut self, io: IoId, out: &mut Out) {
        let Some(purpose) = self.pending_io.remove(&io) else {
            out.event(CoreEvent::Error { message: format!("Persisted for unknown io {io:?}") });
            return;
        };
        match purpose {
            IoPurpose::Log { upto, ack } => {
                // A truncation issued after this append may already have removed part of it.
                let upto = upto.min(self.db.last_zxid());
                if upto > self.db.durable_upto {
                    self.db.durable_upto = upto;
                }
                out.event(CoreEvent::Durable { upto });
                match &self.role {
                    RoleState::Leading(_) => self.leader_self_durable(upto, out),
                    RoleState::Following(_) if ack => self.learner_log_durable(upto, out),
                    RoleState::Standalone => self.standalone_durable(upto, out),
                    _ => {}
                }
            }
            IoPurpose::Epoch { file, epoch } => {
                match file {
                    EpochFile::Accepted => self.accepted_epoch = self.accepted_epoch.max(epoch),
                    EpochFile::Current => self.current_epoch = epoch,
                }
                out.event(CoreEvent::EpochPersisted { file, epoch });
                match &self.role {
                    RoleState::Leading(_) => self.leader_epoch_persisted(file, epoch, out),
                    RoleState::Following(_) | RoleState::Observing(_) => {
                        self.learner_epoch_persisted(file, epoch, out)
                    }
                    _ => {}
                }
            }
            IoPurpose::NewLeaderBatch { epoch, upto } => {
                let upto = upto.min(self.db.last_zxid());
                if upto > self.db.durable_upto {
                    self.db.durable_upto = upto;
                }
                out.event(CoreEvent::Durable { upto });
                if matches!(self.role, RoleState::Following(_) | RoleState::Observing(_)) {
                    self.learner_newleader_batch_durable(epoch, out);
                }
            }
            IoPurpose::Housekeeping => {}
        }
    }

    fn on_persist_failed(&mut self, io: IoId, error: DiskError, out: &mut Out) {
        self.pending_io.remove(&io);
        // A real server treats a failed log write or fsync as fatal and exits; the host restarts
        // it from what its disk holds.
        self.halt(format!("disk request {io:?} failed: {error:?}"), out);
    }

    // ----- shared machinery used by every role -----

    /// Issues a disk request and remembers what its completion means.
    pub(crate) fn persist(&mut self, ops: Vec<DiskOp>, purpose: IoPurpose, out: &mut Out) -> IoId {
        let io = IoId { epoch: self.accepted_epoch, seq: self.next_io };
        self.next_io += 1;
        self.pending_io.insert(io, purpose);
        out.persist(io, ops);
        io
    }

    /// Writes an epoch file atomically (temp file, fsync, rename), as the real server does.
    pub(crate) fn persist_epoch(&mut self, file: EpochFile, epoch: Epoch, out: &mut Out) {
        let name = match file {
            EpochFile::Accepted => persist::ACCEPTED_EPOCH_FILE,
            EpochFile::Current => persist::CURRENT_EPOCH_FILE,
        };
        if file == EpochFile::Accepted {
            debug_assert!(epoch >= self.accepted_promised, "acceptedEpoch would go back: node {}", self.me);
            self.accepted_promised = self.accepted_promised.max(epoch);
        }
        let mut ops = persist::epoch_file_ops(name, epoch);
        if file == EpochFile::Current && std::mem::take(&mut self.updating_epoch_marker) {
            // Only once the epoch is in place: recovery trusts the marker until then.
            ops.push(DiskOp::Delete { file: persist::UPDATING_EPOCH_FILE.to_string() });
        }
        // The in-memory copy changes only once the file is durable, as the real server writes
        // the file before updating its field.
        self.persist(ops, IoPurpose::Epoch { file, epoch }, out);
    }

    /// Appends txns to the log and asks for them to be made durable.
    pub(crate) fn log_txns(&mut self, txns: &[Txn], ack: bool, out: &mut Out) {
        if txns.is_empty() {
            return;
        }
        let mut ops = Vec::new();
        for t in txns {
            ops.extend(self.db.append(t));
            out.event(CoreEvent::Logged { zxid: t.zxid, hash: self.db.hash_of(t) });
        }
        let upto = txns[txns.len() - 1].zxid;
        self.persist(ops, IoPurpose::Log { upto, ack }, out);
        self.maybe_snapshot(out);
    }

    /// Takes a snapshot every `snapCount` appends (only of committed state, reference §5 #7).
    pub(crate) fn maybe_snapshot(&mut self, out: &mut Out) {
        if self.snap_threshold == 0 {
            self.snap_threshold = self.draw_snap_threshold();
        }
        if self.db.since_snapshot < self.snap_threshold
            || self.db.tree.last_processed_zxid() > self.db.confirmed
        {
            return;
        }
        self.snap_threshold = self.draw_snap_threshold();
        if !matches!(self.role, RoleState::Leading(_) | RoleState::Following(_) | RoleState::Observing(_))
            && !matches!(self.role, RoleState::Standalone)
        {
            return;
        }
        #[cfg(feature = "mutations")]
        if self.mutation_on(crate::mutation::Mutation::Zk3127) {
            // The snapshot thread starts while the next multi is half applied.
            self.snapshot_mid_multi = true;
            return;
        }
        let ops = self.db.snapshot(false);
        self.persist(ops, IoPurpose::Housekeeping, out);
    }

    /// snapCount/2 + a random share of snapCount/2, so servers do not all snapshot together
    /// (reference §4.3).
    fn draw_snap_threshold(&mut self) -> u64 {
        let snap_count = self.cfg.settings().snap_count.max(2);
        snap_count / 2 + self.rng.gen_range(0..snap_count / 2)
    }

    /// Applies a txn to the tree: fires watches, answers the client that asked for it (if it is
    /// connected here), and records it. Returns nothing; effects go to `out`.
    pub(crate) fn apply_txn(&mut self, txn: &Txn, confirmed: bool, out: &mut Out) {
        #[cfg(feature = "mutations")]
        if self.snapshot_mid_multi {
            self.zk3127_snapshot_mid_multi(txn, out);
        }
        let applied = self.db.tree.apply(txn);
        if applied.digest_mismatch {
            // The real server only counts and logs this; traces keep it for the checkers.
            out.event(CoreEvent::Error {
                message: format!("digest mismatch after applying {}: replicas have diverged", txn.zxid),
            });
        }
        let hash = self.db.hash_of(txn);
        self.db.remember_applied(txn, hash);
        if confirmed {
            for (z, h) in self.db.confirm(txn.zxid) {
                out.event(CoreEvent::Applied { zxid: z, hash: h });
            }
        }
        if let zab_tree::TxnBody::CloseSession { .. } = &txn.body {
            let expired = self.clients.take_expiring(txn.session);
            out.event(CoreEvent::SessionClosed { session: txn.session.0, zxid: txn.zxid, expired });
        }
        self.clients.after_apply(self.me, txn, applied, &self.db.tree, self.now, out);
    }

    /// Marks everything applied up to `upto` as committed (traces get `Applied` events).
    pub(crate) fn confirm_upto(&mut self, upto: Zxid, out: &mut Out) {
        for (z, h) in self.db.confirm(upto) {
            out.event(CoreEvent::Applied { zxid: z, hash: h });
        }
    }

    /// Applies every logged txn that memory does not reflect yet, so the zxid this server
    /// advertises is the last *logged* one (reference §1.5, ZOOKEEPER-2845).
    pub(crate) fn fast_forward(&mut self, out: &mut Out) {
        if mutated!(self, Zk2845) {
            return;
        }
        for txn in self.db.unapplied() {
            self.apply_txn(&txn, false, out);
        }
    }

    /// Leaves the current role for LOOKING.
    pub(crate) fn abandon_role(&mut self, why: &str, out: &mut Out) {
        out.event(CoreEvent::Error { message: format!("leaving {}: {why}", self.status().role.mode()) });
        self.enter_looking(out);
    }

    pub(crate) fn enter_looking(&mut self, out: &mut Out) {
        let old = std::mem::replace(&mut self.role, RoleState::Looking);
        match old {
            RoleState::Leading(l) => {
                for peer in l.peers() {
                    out.disconnect(peer);
                }
            }
            RoleState::Following(mut l) | RoleState::Observing(mut l) => {
                out.disconnect(l.leader);
                self.discard_unlogged_sync(&mut l, out);
            }
            _ => {}
        }
        self.timers = Timers::default();
        self.clients.stop_serving(out);
        self.fast_forward(out);
        let mut sends = Vec::new();
        let zxid = if self.db.initialized { Some(self.db.last_zxid()) } else { None };
        self.election.start_round(self.now.as_ms(), zxid, self.current_epoch, &mut sends);
        for s in sends {
            out.send_election(s.to, s.n);
        }
        self.rearm_election_timer();
    }

    pub(crate) fn halt(&mut self, why: String, out: &mut Out) {
        out.event(CoreEvent::Error { message: format!("halting: {why}") });
        self.clients.stop_serving(out);
        self.halted = Some(why);
    }

    pub(crate) fn is_serving(&self) -> bool {
        self.clients.serving
    }

    fn emit_transition(&mut self, out: &mut Out) {
        let s = self.status();
        let changed = match &self.last_status {
            None => true,
            Some(p) => {
                p.role != s.role
                    || p.phase != s.phase
                    || p.accepted_epoch != s.accepted_epoch
                    || p.current_epoch != s.current_epoch
                    || p.leader != s.leader
                    || p.serving != s.serving
            }
        };
        if changed {
            out.event(CoreEvent::Transition(s.clone()));
            self.last_status = Some(s);
        }
    }
}

/// How many times a learner tries to connect to its leader before electing again.
pub(crate) const LEARNER_CONNECT_ATTEMPTS: u32 = 5;
/// Pause between connection attempts (`zookeeper.leaderConnectDelayDuringRetryMs`).
pub(crate) const LEARNER_CONNECT_RETRY_MS: u64 = 100;

impl Replica {
    /// The answer to a four-letter word, as the real server prints it (reference §6.2); `None`
    /// when the command is not in `4lw.commands.whitelist` (the real server answers "... is not
    /// executed because it is not in the whitelist.").
    pub fn four_letter_word(&self, command: &str) -> Option<String> {
        if !self.cfg.settings().four_letter_words.allows(command) {
            return None;
        }
        let status = self.status();
        let not_serving = "This ZooKeeper instance is not currently serving requests\n".to_string();
        Some(match command {
            "ruok" => "imok".to_string(),
            "srvr" | "stat" => {
                if !status.serving {
                    return Some(not_serving);
                }
                let mut s = String::new();
                s.push_str(&format!("Zookeeper version: {ZOOKEEPER_VERSION}\n"));
                if command == "stat" {
                    s.push_str("Clients:\n");
                    for line in self.clients.connection_lines() {
                        s.push_str(&format!(" {line}\n"));
                    }
                    s.push('\n');
                }
                let c = self.clients.counters;
                s.push_str("Latency min/avg/max: 0/0.0/0\n");
                s.push_str(&format!("Received: {}\n", c.received));
                s.push_str(&format!("Sent: {}\n", c.sent));
                s.push_str(&format!("Connections: {}\n", self.clients.connection_count()));
                s.push_str("Outstanding: 0\n");
                s.push_str(&format!("Zxid: 0x{:x}\n", self.db.tree.last_processed_zxid().0));
                s.push_str(&format!("Mode: {}\n", status.role.mode()));
                s.push_str(&format!("Node count: {}\n", self.db.tree.node_count()));
                if status.role == Role::Leading {
                    s.push_str("Proposal sizes last/min/max: -1/-1/-1\n");
                }
                s
            }
            "mntr" => {
                let mut s = String::new();
                let state = if status.serving || status.role != Role::Looking {
                    status.role.mode()
                } else {
                    "looking"
                };
                s.push_str(&format!("zk_version\t{ZOOKEEPER_VERSION}\n"));
                s.push_str(&format!("zk_server_state\t{state}\n"));
                s.push_str(&format!("zk_znode_count\t{}\n", self.db.tree.node_count()));
                s.push_str(&format!("zk_watch_count\t{}\n", self.clients.watch_count()));
                s.push_str(&format!(
                    "zk_ephemerals_count\t{}\n",
                    self.db
                        .tree
                        .sessions()
                        .keys()
                        .map(|s| self.db.tree.ephemerals_of(*s).count())
                        .sum::<usize>()
                ));
                s.push_str(&format!("zk_outstanding_requests\t{}\n", 0));
                s.push_str(&format!("zk_num_alive_connections\t{}\n", self.clients.connection_count()));
                if let RoleState::Leading(l) = &self.role {
                    let synced = l.handlers.values().filter(|h| h.is_synced() && !h.observer).count();
                    s.push_str(&format!("zk_followers\t{}\n", l.handlers.len()));
                    s.push_str(&format!("zk_synced_followers\t{synced}\n"));
                    s.push_str(&format!("zk_pending_syncs\t{}\n", l.pending_sync_count()));
                }
                s
            }
            _ => return None,
        })
    }
}

/// The version string the four-letter words report.
pub const ZOOKEEPER_VERSION: &str = "3.8.0-zabsim, built on 2026-11-23";
