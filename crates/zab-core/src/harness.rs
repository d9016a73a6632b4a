//! A small deterministic cluster for tests and golden interaction transcripts.
//!
//! It drives real [`Replica`]s exactly as the crate documentation's contract says, with a network
//! of FIFO connections, a disk per node (durable bytes plus pending requests), one global clock,
//! and raw client connections. Nothing is random: the next event is always the first pending disk
//! completion, then the first queued packet (by link order), then the first election message,
//! then the earliest timer. Tests steer interleavings explicitly: hold a node's disk, drop or
//! partition links, crash and restart nodes. The full simulator (zab-sim) adds randomness,
//! latencies and faults on top of the same contract.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use zab_tree::{ConnectRequest, ReplyHeader, Request, Response, SessionId, WatchEvent, Zxid};

use crate::config::ValidConfig;
use crate::election::Notification;
use crate::ids::ServerId;
use crate::io::{Action, ConnId, CoreEvent, Input, Instant, IoId, Out, Status};
use crate::messages::QuorumPacket;
use crate::persist::{DiskImage, DiskOp};
use crate::replica::Replica;

/// One server slot: its disk survives crashes, its replica does not.
pub struct Node {
    pub config: ValidConfig,
    pub replica: Option<Replica>,
    pub disk: DiskImage,
    /// Disk requests issued and not yet durable, in issue order.
    pub pending_io: VecDeque<(IoId, Vec<DiskOp>)>,
    /// While set, disk requests stay pending (to crash between a write and its completion).
    pub hold_disk: bool,
    /// Incarnation counter (seeds differ per restart).
    pub incarnation: u64,
}

/// What a client connection received.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientEvent {
    Connected { session: SessionId, timeout_ms: i32 },
    Reply { header: ReplyHeader, response: Option<Response> },
    Watch { event: WatchEvent, zxid: Zxid },
    Closed,
}

/// A deterministic cluster of replicas.
pub struct Cluster {
    pub now: Instant,
    pub nodes: BTreeMap<ServerId, Node>,
    /// Live quorum connections, as (lower id, higher id).
    connections: BTreeSet<(ServerId, ServerId)>,
    /// Packets in flight per directed link, each with its global send number.
    links: BTreeMap<(ServerId, ServerId), VecDeque<(u64, QuorumPacket)>>,
    election: BTreeMap<(ServerId, ServerId), VecDeque<(u64, Notification)>>,
    /// Global send counter: messages are delivered in the order they were sent.
    sent: u64,
    /// Directed links that drop everything (a partition).
    blocked: BTreeSet<(ServerId, ServerId)>,
    /// Directed links whose packets wait (a slow link) until released.
    held: BTreeSet<(ServerId, ServerId)>,
    /// Connects requested and not yet answered.
    connecting: VecDeque<(ServerId, ServerId)>,
    /// Client connections: id → (server, received events).
    pub clients: BTreeMap<ConnId, (ServerId, Vec<ClientEvent>)>,
    next_conn: u64,
    /// Human-readable record of what happened, for transcripts.
    pub log: Vec<String>,
    /// Log every delivered packet (otherwise only protocol events and non-ping traffic).
    pub verbose: bool,
    seed: u64,
    /// A defect switched on in every replica started from now on (restarts included).
    #[cfg(feature = "mutations")]
    pub mutation: Option<crate::mutation::Mutation>,
}

impl Cluster {
    /// A cluster of `voters` participants and `observers` observers with ids 1..=n, fresh disks
    /// (with the `initialize` marker, as a provisioning script would write), not started.
    pub fn new(voters: u64, observers: u64, tune: impl Fn(ValidConfig) -> ValidConfig) -> Cluster {
        let mut nodes = BTreeMap::new();
        for id in 1..=voters + observers {
            let config = tune(ValidConfig::ensemble(voters, observers, ServerId(id)));
            let disk = DiskImage::initialized();
            nodes.insert(
                ServerId(id),
                Node {
                    config,
                    replica: None,
                    disk,
                    pending_io: VecDeque::new(),
                    hold_disk: false,
                    incarnation: 0,
                },
            );
        }
        Cluster {
            now: Instant::from_ms(1_000),
            nodes,
            connections: BTreeSet::new(),
            links: BTreeMap::new(),
            election: BTreeMap::new(),
            sent: 0,
            blocked: BTreeSet::new(),
            held: BTreeSet::new(),
            connecting: VecDeque::new(),
            clients: BTreeMap::new(),
            next_conn: 1,
            log: Vec::new(),
            verbose: false,
            seed: 7,
            #[cfg(feature = "mutations")]
            mutation: None,
        }
    }

    /// Recovers and starts every node that is not running.
    pub fn start_all(&mut self) {
        let ids: Vec<ServerId> = self.nodes.keys().copied().collect();
        for id in ids {
            if self.nodes[&id].replica.is_none() {
                self.start(id);
            }
        }
    }

    /// Recovers node `id` from its disk and starts it. Returns false if recovery refused.
    pub fn start(&mut self, id: ServerId) -> bool {
        let node = self.nodes.get_mut(&id).expect("node exists");
        node.incarnation += 1;
        let seed = self.seed ^ (id.0 << 32) ^ node.incarnation;
        match Replica::recover(node.config.clone(), node.disk.clone(), seed) {
            Ok(mut r) => {
                #[cfg(feature = "mutations")]
                if let Some(m) = self.mutation {
                    r.set_mutation(m, true);
                }
                let mut out = Out::new();
                r.start(self.now, &mut out);
                node.replica = Some(r);
                self.log.push(format!("{id}: started"));
                self.perform(id, out);
                true
            }
            Err(e) => {
                self.log.push(format!("{id}: recovery refused: {e}"));
                false
            }
        }
    }

    /// Crashes node `id` after the first `ops` of its pending disk operations (in issue order)
    /// reached the disk: a crash in the middle of a request, e.g. after an epoch's temp file was
    /// written but before the rename.
    pub fn crash_keeping(&mut self, id: ServerId, ops: usize) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        let mut left = ops;
        'outer: for (_, batch) in &node.pending_io {
            for op in batch {
                if left == 0 {
                    break 'outer;
                }
                node.disk.apply(op);
                left -= 1;
            }
        }
        self.crash(id);
    }

    /// Crashes node `id`: its replica is dropped, pending disk writes are lost, connections reset.
    pub fn crash(&mut self, id: ServerId) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        node.replica = None;
        node.pending_io.clear();
        self.log.push(format!("{id}: crashed"));
        let peers: Vec<(ServerId, ServerId)> =
            self.connections.iter().copied().filter(|(a, b)| *a == id || *b == id).collect();
        for (a, b) in peers {
            self.reset(a, b);
        }
        self.election.retain(|(a, b), _| *a != id && *b != id);
        self.connecting.retain(|(a, b)| *a != id && *b != id);
        let conns: Vec<ConnId> =
            self.clients.iter().filter(|(_, (s, _))| *s == id).map(|(c, _)| *c).collect();
        for c in conns {
            if let Some((_, ev)) = self.clients.get_mut(&c) {
                ev.push(ClientEvent::Closed);
            }
        }
    }

    /// Splits the network: nodes in different groups cannot talk; live connections across the
    /// split reset.
    pub fn partition(&mut self, groups: &[Vec<ServerId>]) {
        self.blocked.clear();
        for (i, g) in groups.iter().enumerate() {
            for (j, h) in groups.iter().enumerate() {
                if i != j {
                    for a in g {
                        for b in h {
                            self.blocked.insert((*a, *b));
                        }
                    }
                }
            }
        }
        let cut: Vec<(ServerId, ServerId)> =
            self.connections.iter().copied().filter(|(a, b)| self.blocked.contains(&(*a, *b))).collect();
        for (a, b) in cut {
            self.reset(a, b);
        }
        self.log.push(format!("partition {groups:?}"));
    }

    /// Packets from `from` to `to` wait in the link until [`Cluster::release_link`]; the
    /// connection stays up (a slow link, not a partition).
    pub fn hold_link(&mut self, from: ServerId, to: ServerId) {
        self.held.insert((from, to));
    }

    /// Lets the packets of a held link go, in order.
    pub fn release_link(&mut self, from: ServerId, to: ServerId) {
        self.held.remove(&(from, to));
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.blocked.clear();
        self.log.push("heal".to_string());
    }

    /// Resets the connection between `a` and `b`: both see Disconnected, in-flight data is lost.
    pub fn reset(&mut self, a: ServerId, b: ServerId) {
        let key = (a.min(b), a.max(b));
        if !self.connections.remove(&key) {
            return;
        }
        self.links.remove(&(a, b));
        self.links.remove(&(b, a));
        for (me, peer) in [(a, b), (b, a)] {
            self.input(me, Input::Disconnected { peer });
        }
    }

    /// Completes every pending disk request of `id` (unless held).
    pub fn flush_disk(&mut self, id: ServerId) {
        while self.complete_one_io(id) {}
    }

    /// Runs until nothing is pending or `limit_ms` of simulated time has passed; returns whether
    /// it stopped because the cluster went quiet (no packets, no disk requests) with no timer due
    /// before the limit.
    pub fn run_for(&mut self, limit_ms: u64) {
        let end = self.now.plus_ms(limit_ms);
        while self.step_once(end) {}
        if self.now < end {
            self.now = end;
        }
    }

    /// Runs until `pred` holds or `limit_ms` passes; returns whether `pred` held.
    pub fn run_until(&mut self, limit_ms: u64, mut pred: impl FnMut(&Cluster) -> bool) -> bool {
        let end = self.now.plus_ms(limit_ms);
        loop {
            if pred(self) {
                return true;
            }
            if !self.step_once(end) {
                return pred(self);
            }
        }
    }

    /// One event: a disk completion, a packet, an election message, or a timer. Returns false when
    /// nothing happens before `end`.
    pub fn step_once(&mut self, end: Instant) -> bool {
        let ids: Vec<ServerId> = self.nodes.keys().copied().collect();
        for id in &ids {
            if self.complete_one_io(*id) {
                return true;
            }
        }
        if let Some((a, b)) = self.connecting.pop_front() {
            self.establish(a, b);
            return true;
        }
        // The oldest message in flight goes first (FIFO per link holds a fortiori).
        let next_link = self
            .links
            .iter()
            .filter(|(k, _)| !self.held.contains(k))
            .filter_map(|(k, q)| q.front().map(|(seq, _)| (*seq, *k)))
            .min();
        let next_el = self.election.iter().filter_map(|(k, q)| q.front().map(|(seq, _)| (*seq, *k))).min();
        let quorum_first = match (next_link, next_el) {
            (Some(a), Some(b)) => a.0 < b.0,
            (Some(_), None) => true,
            _ => false,
        };
        if let (true, Some((_, (from, to)))) = (quorum_first, next_link) {
            let (_, msg) = self.links.get_mut(&(from, to)).and_then(|q| q.pop_front()).expect("non-empty");
            if self.verbose || !matches!(msg, QuorumPacket::Ping { .. }) {
                self.log.push(format!("{from}->{to} {}", msg.summary()));
            }
            self.input(to, Input::Received { from, msg });
            return true;
        }
        if let Some((_, (from, to))) = next_el {
            let (_, n) = self.election.get_mut(&(from, to)).and_then(|q| q.pop_front()).expect("non-empty");
            if self.verbose {
                self.log.push(format!("{from}->{to} vote {:?}", n));
            }
            self.input(to, Input::Election { from, n });
            return true;
        }
        let next = ids
            .iter()
            .filter_map(|id| {
                self.nodes[id].replica.as_ref().and_then(|r| r.next_deadline()).map(|d| (d, *id))
            })
            .min();
        match next {
            Some((at, id)) if at <= end => {
                if at > self.now {
                    self.now = at;
                }
                self.input(id, Input::Timeout);
                true
            }
            _ => false,
        }
    }

    fn complete_one_io(&mut self, id: ServerId) -> bool {
        let node = self.nodes.get_mut(&id).expect("node exists");
        if node.hold_disk || node.replica.is_none() {
            return false;
        }
        let Some((io, ops)) = node.pending_io.pop_front() else { return false };
        for op in &ops {
            node.disk.apply(op);
        }
        self.input(id, Input::Persisted { io });
        true
    }

    fn establish(&mut self, from: ServerId, to: ServerId) {
        let up = self.nodes[&to].replica.is_some() && !self.blocked.contains(&(from, to));
        if !up {
            self.input(from, Input::ConnectFailed { peer: to });
            return;
        }
        self.connections.insert((from.min(to), from.max(to)));
        self.input(from, Input::Connected { peer: to });
        self.input(to, Input::Connected { peer: from });
    }

    /// Feeds one input to node `id` (if it is running) and performs its actions.
    pub fn input(&mut self, id: ServerId, input: Input) {
        let now = self.now;
        let Some(r) = self.nodes.get_mut(&id).and_then(|n| n.replica.as_mut()) else { return };
        let mut out = Out::new();
        r.step(now, input, &mut out);
        self.perform(id, out);
    }

    fn perform(&mut self, id: ServerId, mut out: Out) {
        let actions: Vec<Action> = out.drain().collect();
        for a in actions {
            match a {
                Action::Send { to, msg } => {
                    let key = (id.min(to), id.max(to));
                    if self.connections.contains(&key) && !self.blocked.contains(&(id, to)) {
                        self.sent += 1;
                        self.links.entry((id, to)).or_default().push_back((self.sent, msg));
                    }
                }
                Action::SendElection { to, n } => {
                    let up = self.nodes.get(&to).is_some_and(|n| n.replica.is_some());
                    if up && !self.blocked.contains(&(id, to)) {
                        self.sent += 1;
                        self.election.entry((id, to)).or_default().push_back((self.sent, n));
                    }
                }
                Action::Connect { peer } => self.connecting.push_back((id, peer)),
                Action::Disconnect { peer } => self.reset(id, peer),
                Action::Persist { io, ops } => {
                    self.nodes.get_mut(&id).expect("node").pending_io.push_back((io, ops));
                }
                Action::ClientConnected { conn, response } => {
                    self.client_event(
                        conn,
                        ClientEvent::Connected {
                            session: response.session_id,
                            timeout_ms: response.timeout_ms,
                        },
                    );
                }
                Action::Reply { conn, header, response } => {
                    self.client_event(conn, ClientEvent::Reply { header, response })
                }
                Action::Notify { conn, event, zxid } => {
                    self.client_event(conn, ClientEvent::Watch { event, zxid })
                }
                Action::CloseClient { conn } => self.client_event(conn, ClientEvent::Closed),
                Action::Event(ev) => {
                    if let Some(line) = describe(&ev) {
                        self.log.push(format!("{id}: {line}"));
                    }
                }
            }
        }
    }

    fn client_event(&mut self, conn: ConnId, ev: ClientEvent) {
        if let Some((_, evs)) = self.clients.get_mut(&conn) {
            evs.push(ev);
        }
    }

    /// Opens a client connection to `server` asking for a new session (or resuming `session`).
    pub fn client_connect(&mut self, server: ServerId, session: SessionId, last_zxid_seen: Zxid) -> ConnId {
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen,
            timeout_ms: 10_000,
            session_id: session,
            passwd: zab_tree::session_password(session),
            read_only: false,
        };
        self.client_open(server, request)
    }

    /// Opens a client connection to `server` with a handshake the caller built (a real client's).
    pub fn client_open(&mut self, server: ServerId, request: ConnectRequest) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.clients.insert(conn, (server, Vec::new()));
        self.input(server, Input::ClientConnect { conn, request });
        conn
    }

    /// The client side closes connection `conn`: the server sees `ClientClosed`, and whatever it
    /// still sends on that connection is dropped (the connection's record goes away).
    pub fn client_close(&mut self, conn: ConnId) {
        if let Some((server, _)) = self.clients.remove(&conn) {
            self.input(server, Input::ClientClosed { conn });
        }
    }

    /// Sends a request on a client connection.
    pub fn client_request(&mut self, conn: ConnId, xid: i32, request: Request) {
        let server = self.clients[&conn].0;
        self.input(server, Input::Client { conn, xid, request });
    }

    /// The status of a running node.
    pub fn status(&self, id: ServerId) -> Option<Status> {
        self.nodes[&id].replica.as_ref().map(|r| r.status())
    }

    /// The single node that is leading and serving, if exactly one is.
    pub fn leader(&self) -> Option<ServerId> {
        let leaders: Vec<ServerId> = self
            .nodes
            .iter()
            .filter_map(|(id, n)| n.replica.as_ref().map(|r| (id, r.status())))
            .filter(|(_, s)| s.role == crate::io::Role::Leading && s.serving)
            .map(|(id, _)| *id)
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Whether every running node serves clients.
    pub fn all_serving(&self) -> bool {
        self.nodes.values().all(|n| n.replica.as_ref().is_some_and(|r| r.status().serving))
    }

    /// One line per node: role, phase, epochs, zxids, pending disk.
    pub fn status_table(&self) -> String {
        let mut s = String::new();
        for (id, n) in &self.nodes {
            match &n.replica {
                None => {
                    let _ = writeln!(s, "{id}: down");
                }
                Some(r) => {
                    let st = r.status();
                    let _ = writeln!(
                        s,
                        "{id}: {} {:?} epoch={}/{} logged={} committed={} disk={}{}",
                        st.role.mode(),
                        st.phase,
                        st.accepted_epoch,
                        st.current_epoch,
                        st.last_logged.map(|z| z.to_string()).unwrap_or_else(|| "-".to_string()),
                        st.last_committed,
                        st.pending_disk,
                        if st.serving { " serving" } else { "" }
                    );
                }
            }
        }
        s
    }

    /// Takes the log lines recorded so far.
    pub fn take_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }
}

/// One transcript line for a core event (None for the noisy ones).
fn describe(ev: &CoreEvent) -> Option<String> {
    Some(match ev {
        CoreEvent::Transition(s) => format!(
            "{} {:?} epoch={}/{}{}",
            s.role.mode(),
            s.phase,
            s.accepted_epoch,
            s.current_epoch,
            if s.serving { " serving" } else { "" }
        ),
        CoreEvent::ElectionDecided { leader, round } => format!("elected {leader} (round {round})"),
        CoreEvent::EpochPersisted { file, epoch } => format!("persisted {file:?}Epoch={epoch}"),
        CoreEvent::LeaderInfoSent { .. } => return None,
        CoreEvent::LeaderEstablished { epoch, acks } => format!("established epoch {epoch} acks={acks:?}"),
        CoreEvent::SyncChosen { peer, mode, peer_zxid, leader_zxid, trunc_to } => format!(
            "sync {peer}: {mode:?} peer={peer_zxid} leader={leader_zxid}{}",
            trunc_to.map(|t| format!(" trunc_to={t}")).unwrap_or_default()
        ),
        CoreEvent::NewLeaderAcked { epoch } => format!("acked NEWLEADER e{epoch}"),
        CoreEvent::Logged { .. } | CoreEvent::Durable { .. } | CoreEvent::AckSent { .. } => return None,
        CoreEvent::Truncated { to } => format!("truncated to {to}"),
        CoreEvent::SnapInstalled { zxid } => format!("installed snapshot {zxid}"),
        CoreEvent::Committed { zxid, acks } => format!("committed {zxid} acks={acks:?}"),
        CoreEvent::Applied { .. } => return None,
        CoreEvent::SessionClosed { session, zxid, expired } => {
            format!("session 0x{session:x} {} at {zxid}", if *expired { "expired" } else { "closed" })
        }
        CoreEvent::Error { message } => format!("error: {message}"),
    })
}
