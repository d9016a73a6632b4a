//! Serving clients: connections and sessions, the per-session FIFO request pipeline, reads served
//! locally, writes forwarded to the leader, watches registered at this server, the leader's
//! session tracker with tick-wide expiry buckets, and standalone mode.
//!
//! Reference: §3.10 (sessions), §3.11 (FIFO client order; reads never go back), §3.9 (watches),
//! §1.4.3 (forwarding, `sync`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use zab_tree::{
    session_password, Applied, AuthIds, ConnectRequest, ConnectResponse, DataTree, ErrorCode, ReplyHeader,
    Request, Response, SessionId, SessionStatus, Txn, TxnBody, WatchManager, Zxid,
};

use crate::config::ValidConfig;
use crate::ids::ServerId;
use crate::io::{Action, ConnId, Instant, Out};
use crate::marks;
use crate::messages::{ForwardedRequest, QuorumPacket};
use crate::replica::{Replica, RoleState, TimerKind};

/// Where a write entered the leader's pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A client connected to the leader itself.
    Local,
    /// Forwarded by this learner.
    Learner(ServerId),
    /// The leader's own session expiry.
    Expiry,
}

/// The reply header xid of ping replies.
const PING_XID: i32 = -2;

#[derive(Debug)]
struct Queued {
    xid: i32,
    request: Request,
    /// A write (or sync) already submitted; it completes when its txn is applied here.
    write: bool,
}

#[derive(Debug)]
enum ConnState {
    /// Waiting for our createSession txn to be applied here.
    Creating {
        session: SessionId,
        timeout_ms: u32,
    },
    /// Waiting for the leader to revalidate a session.
    Revalidating {
        session: SessionId,
        timeout_ms: u32,
    },
    Open {
        session: SessionId,
        timeout_ms: u32,
    },
}

#[derive(Debug)]
struct Conn {
    state: ConnState,
    auth: AuthIds,
    queue: VecDeque<Queued>,
}

#[derive(Clone, Copy, Debug)]
struct Tracked {
    timeout_ms: u32,
    expires_at: Instant,
    closing: bool,
}

/// Request counters for the four-letter words.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub received: u64,
    pub sent: u64,
}

pub(crate) struct Clients {
    pub serving: bool,
    conns: BTreeMap<ConnId, Conn>,
    by_session: BTreeMap<SessionId, ConnId>,
    watches: WatchManager<ConnId>,
    next_session: u64,
    /// Learner: sessions touched since the last PING reply.
    touched: BTreeMap<SessionId, u32>,
    /// Leader/standalone: the session tracker.
    tracked: BTreeMap<SessionId, Tracked>,
    /// Leader: which server each session is connected to, as far as the leader knows. Set when
    /// the session is created or revalidated; a session the leader has no owner for (after a
    /// leader change) takes the server of its next write as owner.
    owners: BTreeMap<SessionId, Origin>,
    /// Sessions whose close was caused by expiry (for trace events).
    expiring: BTreeSet<SessionId>,
    min_timeout_ms: u32,
    max_timeout_ms: u32,
    /// This server tracks session expiry (leader or standalone).
    pub tracking: bool,
    tick_ms: u64,
    tree_config: zab_tree::TreeConfig,
    pub counters: Counters,
}

impl Clients {
    pub fn new(cfg: &ValidConfig) -> Clients {
        let tree_config = zab_tree::TreeConfig {
            extended_types: cfg.settings().extended_types_enabled,
            ..Default::default()
        };
        Clients {
            serving: false,
            conns: BTreeMap::new(),
            by_session: BTreeMap::new(),
            watches: WatchManager::new(),
            next_session: 0,
            touched: BTreeMap::new(),
            tracked: BTreeMap::new(),
            owners: BTreeMap::new(),
            expiring: BTreeSet::new(),
            min_timeout_ms: cfg.min_session_timeout_ms() as u32,
            max_timeout_ms: cfg.max_session_timeout_ms() as u32,
            tracking: false,
            tick_ms: cfg.tick_time_ms(),
            tree_config,
            counters: Counters::default(),
        }
    }

    /// Starts accepting clients; session ids begin from the server id and the local clock, as
    /// the real server derives them (reference §3.10).
    pub fn start_serving(&mut self, me: ServerId, now: Instant) {
        self.serving = true;
        if self.next_session == 0 {
            let ms = now.as_ms() + crate::leader::WALL_CLOCK_ORIGIN_MS as u64;
            self.next_session = ((ms << 24) >> 8) | (me.0 << 56);
        }
    }

    /// Stops serving: every client connection is closed (clients see ConnectionLoss).
    pub fn stop_serving(&mut self, out: &mut Out) {
        self.serving = false;
        for conn in std::mem::take(&mut self.conns).into_keys() {
            self.watches.remove_watcher(conn);
            out.actions.push(Action::CloseClient { conn });
        }
        self.by_session.clear();
        self.touched.clear();
        self.tracked.clear();
        self.tracking = false;
    }

    fn new_session_id(&mut self) -> SessionId {
        let id = self.next_session;
        self.next_session += 1;
        SessionId(id)
    }

    fn clamp_timeout(&self, asked: u32) -> u32 {
        asked.clamp(self.min_timeout_ms, self.max_timeout_ms)
    }

    // ----- the leader's session tracker -----

    /// Rebuilds the tracker from the tree's session table with fresh timeouts (new leader).
    pub fn rebuild_tracker(&mut self, sessions: Vec<(SessionId, u32)>, now: Instant, tick_ms: u64) {
        self.tracked.clear();
        self.owners.clear();
        self.tracking = true;
        for (s, timeout_ms) in sessions {
            let expires_at = bucket(now, timeout_ms, tick_ms);
            self.tracked.insert(s, Tracked { timeout_ms, expires_at, closing: false });
        }
    }

    /// A session was used at (or reported to) the leader: move it to a later bucket.
    pub fn touch_tracked(&mut self, s: SessionId, _timeout_ms: u32, now: Instant, tick_ms: u64) {
        self.touch_tracked_known(s, now, tick_ms);
    }

    pub fn touch_tracked_known(&mut self, s: SessionId, now: Instant, tick_ms: u64) {
        if let Some(t) = self.tracked.get_mut(&s) {
            if !t.closing {
                t.expires_at = bucket(now, t.timeout_ms, tick_ms);
            }
        }
    }

    /// A learner asks whether a reconnecting session is still valid.
    pub fn revalidate(&mut self, s: SessionId, timeout_ms: u32, now: Instant, tick_ms: u64) -> bool {
        let valid = self.tracked.get(&s).is_some_and(|t| !t.closing);
        if valid {
            self.touch_tracked(s, timeout_ms, now, tick_ms);
        }
        valid
    }

    /// The state of a session as the leader's tracker sees it, for preparing its writes.
    pub fn session_status(&self, s: SessionId) -> SessionStatus {
        match self.tracked.get(&s) {
            Some(t) if !t.closing => SessionStatus::Active,
            _ => SessionStatus::Expired,
        }
    }

    /// The session's state for a write that entered the pipeline at `origin`: `Moved` when the
    /// session is now connected to another server (reference §3.3: every write checks its session
    /// first). A live session without a known owner adopts `origin`.
    pub fn check_session(&mut self, s: SessionId, origin: Origin) -> SessionStatus {
        let status = self.session_status(s);
        if status != SessionStatus::Active {
            return status;
        }
        match self.owners.get(&s) {
            Some(owner) if *owner != origin => {
                marks::hit("sessions: a write from the server a session moved away from is refused");
                SessionStatus::Moved
            }
            Some(_) => status,
            None => {
                self.owners.insert(s, origin);
                status
            }
        }
    }

    /// The session is now connected at `origin` (created or revalidated there).
    pub fn set_owner(&mut self, s: SessionId, origin: Origin) {
        self.owners.insert(s, origin);
    }

    pub fn mark_closing(&mut self, s: SessionId) {
        if let Some(t) = self.tracked.get_mut(&s) {
            t.closing = true;
        }
    }

    /// Sessions whose bucket has passed; they are marked closing.
    pub fn expired_sessions(&mut self, now: Instant) -> Vec<SessionId> {
        let mut out = Vec::new();
        for (s, t) in self.tracked.iter_mut() {
            if !t.closing && t.expires_at <= now {
                t.closing = true;
                out.push(*s);
                self.expiring.insert(*s);
            }
        }
        out
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.tracked.values().filter(|t| !t.closing).map(|t| t.expires_at).min()
    }

    pub fn take_expiring(&mut self, s: SessionId) -> bool {
        self.expiring.remove(&s)
    }

    /// Learner: the sessions touched since the last PING reply.
    pub fn take_touched(&mut self) -> Vec<(SessionId, u32)> {
        std::mem::take(&mut self.touched).into_iter().collect()
    }

    fn touch(&mut self, s: SessionId, timeout_ms: u32) {
        self.touched.insert(s, timeout_ms);
    }

    // ----- completing work when txns are applied here -----

    /// After `txn` was applied: fire watches, update the tracker, and answer the client of this
    /// server that asked for it.
    pub fn after_apply(
        &mut self,
        me: ServerId,
        txn: &Txn,
        applied: Applied,
        tree: &DataTree,
        now: Instant,
        out: &mut Out,
    ) {
        let _ = me;
        let conns = &self.conns;
        let events = self.watches.trigger(&applied.triggers, |conn, acl| {
            conns.get(&conn).is_some_and(|c| zab_tree::check_acl(acl, &c.auth, zab_tree::Perms::READ))
        });
        for (conn, event) in events {
            out.notify(conn, event, txn.zxid);
            self.counters.sent += 1;
        }
        match &txn.body {
            TxnBody::CreateSession { timeout_ms } => {
                if self.tracking {
                    let timeout_ms = (*timeout_ms).max(0) as u32;
                    let expires_at = bucket(now, timeout_ms, self.tick_ms);
                    self.tracked.entry(txn.session).or_insert(Tracked {
                        timeout_ms,
                        expires_at,
                        closing: false,
                    });
                }
                let waiting = self.conns.iter().find_map(|(id, c)| match c.state {
                    ConnState::Creating { session, timeout_ms } if session == txn.session => {
                        Some((*id, timeout_ms))
                    }
                    _ => None,
                });
                if let Some((conn, timeout_ms)) = waiting {
                    let c = self.conns.get_mut(&conn).expect("present");
                    c.state = ConnState::Open { session: txn.session, timeout_ms };
                    self.by_session.insert(txn.session, conn);
                    out.actions.push(Action::ClientConnected {
                        conn,
                        response: connect_response(txn.session, timeout_ms),
                    });
                }
                return;
            }
            TxnBody::CloseSession { .. } => {
                self.tracked.remove(&txn.session);
                self.owners.remove(&txn.session);
                if let Some(conn) = self.by_session.get(&txn.session).copied() {
                    let closed_by_client = self.complete_write(conn, txn, &applied, tree, out);
                    if !closed_by_client {
                        marks::hit("sessions: an expired session's connection is closed");
                    }
                    self.close_conn(conn, out);
                }
                return;
            }
            _ => {}
        }
        if let Some(conn) = self.by_session.get(&txn.session).copied() {
            self.complete_write(conn, txn, &applied, tree, out);
        }
    }

    /// Answers the write at the head of `conn`'s queue if `txn` is it; returns whether it was.
    fn complete_write(
        &mut self,
        conn: ConnId,
        txn: &Txn,
        applied: &Applied,
        tree: &DataTree,
        out: &mut Out,
    ) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else { return false };
        match c.queue.front() {
            Some(q) if q.write && q.xid == txn.cxid => {}
            _ => return false,
        }
        let q = c.queue.pop_front().expect("front exists");
        let (err, response) = match &applied.result {
            Ok(r) => (ErrorCode::Ok, Some(r.clone())),
            Err(code) => (*code, None),
        };
        debug_assert!(q.write);
        if err == ErrorCode::SessionMoved {
            // A connection-level error: the server closes the connection instead of answering
            // (reference §3.10), so this connection cannot race the session's new one.
            self.close_conn(conn, out);
            return true;
        }
        out.reply(conn, ReplyHeader { xid: txn.cxid, zxid: txn.zxid, err }, response);
        self.counters.sent += 1;
        self.drain_reads(conn, tree, out);
        true
    }

    /// A forwarded `sync` (or a leader-local one) is complete.
    pub fn complete_sync(&mut self, session: SessionId, cxid: i32, tree: &DataTree, out: &mut Out) {
        let Some(conn) = self.by_session.get(&session).copied() else { return };
        let Some(c) = self.conns.get_mut(&conn) else { return };
        match c.queue.front() {
            Some(q) if q.write && q.xid == cxid => {}
            _ => return,
        }
        let q = c.queue.pop_front().expect("front exists");
        let path = match q.request {
            Request::Sync { path } => path,
            _ => String::new(),
        };
        out.reply(
            conn,
            ReplyHeader { xid: cxid, zxid: tree.last_processed_zxid(), err: ErrorCode::Ok },
            Some(Response::Sync { path }),
        );
        self.counters.sent += 1;
        self.drain_reads(conn, tree, out);
    }

    /// Answers queued reads at the head of `conn`'s queue until the next pending write.
    fn drain_reads(&mut self, conn: ConnId, tree: &DataTree, out: &mut Out) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else { return };
            match c.queue.front() {
                Some(q) if !q.write => {
                    let q = c.queue.pop_front().expect("front exists");
                    self.answer_read(conn, q.xid, &q.request, tree, out);
                }
                _ => return,
            }
        }
    }

    /// Serves a read (or a local watch operation) from this server's tree.
    fn answer_read(&mut self, conn: ConnId, xid: i32, request: &Request, tree: &DataTree, out: &mut Out) {
        let Some(c) = self.conns.get(&conn) else { return };
        let session = match c.state {
            ConnState::Open { session, .. } => session,
            _ => return,
        };
        let zxid = tree.last_processed_zxid();
        let result = match request {
            Request::AddWatch { path, mode } => {
                self.watches.add_watch(path, *mode, conn);
                Ok(Response::Empty)
            }
            Request::RemoveWatches { path, watcher_type } => {
                self.watches.remove_watches(path, *watcher_type, conn).map(|()| Response::Empty)
            }
            Request::CheckWatches { path, watcher_type } => {
                self.watches.check_watches(path, *watcher_type, conn).map(|()| Response::Empty)
            }
            Request::SetWatches(sw) => {
                let auth = &c.auth;
                let events = self
                    .watches
                    .set_watches(conn, sw, tree, |acl| zab_tree::check_acl(acl, auth, zab_tree::Perms::READ));
                for e in events {
                    out.notify(conn, e, zxid);
                }
                Ok(Response::Empty)
            }
            _ => {
                let r = tree.read(request, session, &c.auth);
                self.watches.register_for_read(conn, request, &r);
                r
            }
        };
        let (err, response) = match result {
            Ok(r) => (ErrorCode::Ok, Some(r)),
            Err(code) => (code, None),
        };
        out.reply(conn, ReplyHeader { xid, zxid, err }, response);
        self.counters.sent += 1;
    }

    pub fn finish_revalidate(&mut self, session: SessionId, valid: bool, out: &mut Out) {
        let waiting = self.conns.iter().find_map(|(id, c)| match c.state {
            ConnState::Revalidating { session: s, timeout_ms } if s == session => Some((*id, timeout_ms)),
            _ => None,
        });
        let Some((conn, timeout_ms)) = waiting else { return };
        if valid {
            self.open_session(conn, session, timeout_ms, out);
        } else {
            marks::hit("sessions: reconnect with an expired session is told so");
            out.actions.push(Action::ClientConnected { conn, response: connect_response(session, 0) });
            self.close_conn(conn, out);
        }
    }

    fn open_session(&mut self, conn: ConnId, session: SessionId, timeout_ms: u32, out: &mut Out) {
        if let Some(old) = self.by_session.insert(session, conn) {
            if old != conn {
                self.close_conn(old, out);
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = ConnState::Open { session, timeout_ms };
        }
        self.touch(session, timeout_ms);
        out.actions.push(Action::ClientConnected { conn, response: connect_response(session, timeout_ms) });
    }

    fn close_conn(&mut self, conn: ConnId, out: &mut Out) {
        if let Some(c) = self.conns.remove(&conn) {
            if let ConnState::Open { session, .. } = c.state {
                if self.by_session.get(&session) == Some(&conn) {
                    self.by_session.remove(&session);
                }
            }
            self.watches.remove_watcher(conn);
            out.actions.push(Action::CloseClient { conn });
        }
    }

    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    pub fn watch_count(&self) -> usize {
        self.watches.watch_count()
    }

    /// One line per connection for `stat`: connection, session and queued requests.
    pub fn connection_lines(&self) -> Vec<String> {
        self.conns
            .iter()
            .map(|(id, c)| {
                let session = match c.state {
                    ConnState::Creating { session, .. }
                    | ConnState::Revalidating { session, .. }
                    | ConnState::Open { session, .. } => session,
                };
                format!("/conn{}[1](queued={},sid=0x{:x})", id.0, c.queue.len(), session.0)
            })
            .collect()
    }

    pub fn tree_config(&self) -> &zab_tree::TreeConfig {
        &self.tree_config
    }
}

/// The end of the expiry bucket a session touched at `now` falls into (reference §3.10).
fn bucket(now: Instant, timeout_ms: u32, tick_ms: u64) -> Instant {
    let tick_ns = tick_ms.max(1) * 1_000_000;
    let due = now.0 + u64::from(timeout_ms) * 1_000_000;
    Instant(due.div_ceil(tick_ns) * tick_ns)
}

/// A ConnectResponse; a timeout of 0 tells the client its session expired.
fn connect_response(session: SessionId, timeout_ms: u32) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout_ms: timeout_ms as i32,
        session_id: session,
        passwd: session_password(session),
        read_only: false,
    }
}

impl Replica {
    pub(crate) fn on_client_connect(&mut self, conn: ConnId, request: ConnectRequest, out: &mut Out) {
        self.clients.counters.received += 1;
        if !self.clients.serving {
            out.actions.push(Action::CloseClient { conn });
            return;
        }
        if request.last_zxid_seen > self.db.tree.last_processed_zxid() {
            // The client has seen a newer state than ours: it must try another server.
            marks::hit("sessions: a server behind the client's last zxid refuses the connection");
            out.actions.push(Action::CloseClient { conn });
            return;
        }
        let timeout_ms = self.clients.clamp_timeout(request.timeout_ms.max(0) as u32);
        let conn_state;
        if request.session_id == SessionId(0) {
            let session = self.clients.new_session_id();
            conn_state = ConnState::Creating { session, timeout_ms };
            self.clients
                .conns
                .insert(conn, Conn { state: conn_state, auth: AuthIds::new(), queue: VecDeque::new() });
            self.submit(session, 0, ForwardedRequest::CreateSession { timeout_ms }, &AuthIds::new(), out);
            return;
        }
        let session = request.session_id;
        if request.passwd != session_password(session) {
            out.actions.push(Action::ClientConnected { conn, response: connect_response(session, 0) });
            out.actions.push(Action::CloseClient { conn });
            return;
        }
        self.clients.conns.insert(
            conn,
            Conn {
                state: ConnState::Revalidating { session, timeout_ms },
                auth: AuthIds::new(),
                queue: VecDeque::new(),
            },
        );
        match &self.role {
            RoleState::Leading(_) | RoleState::Standalone => {
                let tick = self.cfg.tick_time_ms();
                let valid = self.clients.revalidate(session, timeout_ms, self.now, tick);
                if valid {
                    self.clients.set_owner(session, Origin::Local);
                }
                self.clients.finish_revalidate(session, valid, out);
                self.rearm_session_timer();
            }
            RoleState::Following(l) | RoleState::Observing(l) => {
                let leader = l.leader;
                out.send(leader, QuorumPacket::Revalidate { session, timeout_ms });
            }
            RoleState::Looking => {}
        }
    }

    pub(crate) fn on_client_request(&mut self, conn: ConnId, xid: i32, request: Request, out: &mut Out) {
        self.clients.counters.received += 1;
        let Some(c) = self.clients.conns.get(&conn) else { return };
        let (session, timeout_ms) = match c.state {
            ConnState::Open { session, timeout_ms } => (session, timeout_ms),
            _ => {
                self.clients.close_conn(conn, out);
                return;
            }
        };
        if request.exceeds_size_limit() {
            // The real server closes the connection ("Len error"); the client sees ConnectionLoss.
            marks::hit("serve: an oversized request closes the connection");
            self.clients.close_conn(conn, out);
            return;
        }
        self.clients.touch(session, timeout_ms);
        if matches!(self.role, RoleState::Leading(_) | RoleState::Standalone) {
            let tick = self.cfg.tick_time_ms();
            self.clients.touch_tracked_known(session, self.now, tick);
            self.rearm_session_timer();
        }
        match &request {
            Request::Ping => {
                out.reply(
                    conn,
                    ReplyHeader {
                        xid: PING_XID,
                        zxid: self.db.tree.last_processed_zxid(),
                        err: ErrorCode::Ok,
                    },
                    None,
                );
                return;
            }
            Request::Auth { scheme, auth } => {
                let cfg = self.clients.tree_config().clone();
                match zab_tree::add_auth(&cfg, scheme, auth) {
                    Ok(ids) => {
                        let c = self.clients.conns.get_mut(&conn).expect("present");
                        for id in ids {
                            c.auth.add(id);
                        }
                        out.reply(conn, ReplyHeader { xid, zxid: Zxid(0), err: ErrorCode::Ok }, None);
                    }
                    Err(code) => {
                        out.reply(conn, ReplyHeader { xid, zxid: Zxid(0), err: code }, None);
                        self.clients.close_conn(conn, out);
                    }
                }
                return;
            }
            _ => {}
        }
        let write = request.is_write() || matches!(request, Request::Sync { .. } | Request::CloseSession);
        let c = self.clients.conns.get_mut(&conn).expect("present");
        if !write {
            if c.queue.is_empty() {
                let tree = &self.db.tree;
                self.clients.answer_read(conn, xid, &request, tree, out);
            } else {
                c.queue.push_back(Queued { xid, request, write: false });
            }
            return;
        }
        let auth = c.auth.clone();
        c.queue.push_back(Queued { xid, request: request.clone(), write: true });
        let fwd = match request {
            Request::CloseSession => ForwardedRequest::CloseSession,
            other => ForwardedRequest::Client(other),
        };
        self.submit(session, xid, fwd, &auth, out);
    }

    pub(crate) fn on_client_closed(&mut self, conn: ConnId, out: &mut Out) {
        if let Some(c) = self.clients.conns.remove(&conn) {
            if let ConnState::Open { session, .. } = c.state {
                if self.clients.by_session.get(&session) == Some(&conn) {
                    self.clients.by_session.remove(&session);
                }
            }
            self.clients.watches.remove_watcher(conn);
        }
        let _ = out;
    }

    /// Sends a write to wherever this server's writes go.
    fn submit(
        &mut self,
        session: SessionId,
        cxid: i32,
        request: ForwardedRequest,
        auth: &AuthIds,
        out: &mut Out,
    ) {
        match &self.role {
            RoleState::Leading(_) => self.leader_submit(Origin::Local, session, cxid, request, auth, out),
            RoleState::Standalone => self.standalone_submit(session, cxid, request, auth, out),
            RoleState::Following(l) | RoleState::Observing(l) => {
                let leader = l.leader;
                let auth = auth.ids().to_vec();
                out.send(leader, QuorumPacket::Request { session, cxid, request, auth });
            }
            RoleState::Looking => {}
        }
    }

    // ----- standalone mode: prepare, log, apply once durable -----

    pub(crate) fn standalone_submit(
        &mut self,
        session: SessionId,
        cxid: i32,
        request: ForwardedRequest,
        auth: &AuthIds,
        out: &mut Out,
    ) {
        if let ForwardedRequest::Client(Request::Sync { .. }) = request {
            if self.standalone.pending.is_empty() {
                let tree = &self.db.tree;
                self.clients.complete_sync(session, cxid, tree, out);
            } else {
                let after = self.standalone.last_zxid;
                self.standalone.syncs.push((after, session, cxid));
            }
            return;
        }
        let zxid = Zxid(self.standalone.last_zxid.0.max(self.db.last_zxid().0) + 1);
        self.standalone.last_zxid = zxid;
        let time_ms = self.wall_ms();
        let session_status = self.clients.session_status(session);
        let ctx = zab_tree::PrepContext { session, cxid, zxid, time_ms, auth, session_status };
        let txn = match request {
            ForwardedRequest::CreateSession { timeout_ms } => {
                self.standalone.prep.prepare_create_session(&ctx, timeout_ms as i32)
            }
            ForwardedRequest::CloseSession => {
                self.clients.mark_closing(session);
                self.standalone.prep.prepare_close_session(&self.db.tree, &ctx)
            }
            ForwardedRequest::Client(req) => self.standalone.prep.prepare(&self.db.tree, &ctx, &req),
        };
        self.standalone.pending.push_back(txn.clone());
        self.log_txns(std::slice::from_ref(&txn), false, out);
    }

    /// Standalone: one pass of the container manager. Every container that lost its last child
    /// (and every expired TTL node) gets a deleteContainer txn through the ordinary pipeline, as
    /// the real standalone server's ContainerManager submits them; the next pass is
    /// `znode.container.checkIntervalMs` later.
    pub(crate) fn standalone_reap_containers(&mut self, out: &mut Out) {
        let interval = self.container_check_interval_ms();
        self.timers.set(TimerKind::Tick, self.now.plus_ms(interval));
        let wall = self.wall_ms();
        for path in self.db.tree.reap_candidates(wall) {
            let zxid = Zxid(self.standalone.last_zxid.0.max(self.db.last_zxid().0) + 1);
            self.standalone.last_zxid = zxid;
            let auth = AuthIds::new();
            let ctx = zab_tree::PrepContext::system(zxid, wall, &auth);
            let txn = self.standalone.prep.prepare_delete_container(&self.db.tree, &ctx, &path);
            marks::hit("standalone: container reaper proposes deleteContainer");
            self.standalone.pending.push_back(txn.clone());
            self.log_txns(std::slice::from_ref(&txn), false, out);
        }
    }

    pub(crate) fn standalone_durable(&mut self, upto: Zxid, out: &mut Out) {
        while self.standalone.pending.front().is_some_and(|t| t.zxid <= upto) {
            let t = self.standalone.pending.pop_front().expect("front exists");
            self.apply_txn(&t, true, out);
            self.standalone.prep.applied(t.zxid);
        }
        let done: Vec<(Zxid, SessionId, i32)> =
            self.standalone.syncs.iter().copied().filter(|s| s.0 <= upto).collect();
        self.standalone.syncs.retain(|s| s.0 > upto);
        for (_, session, cxid) in done {
            let tree = &self.db.tree;
            self.clients.complete_sync(session, cxid, tree, out);
        }
    }
}
