//! A deterministic host for `zab-client` sessions talking to one server of a harness [`Cluster`].
//!
//! The driver is both the clients' transport and their clock. Client actions become harness
//! inputs (`Connect` is answered at once, `SendConnect` opens a harness connection with the
//! client's own handshake, `Send` is a client request, `Close` closes the connection at the
//! client's end), and what the server sends on a connection (`ClientEvent`s) becomes client
//! inputs, one event at a time and in the order the server sent them. Time is the cluster's
//! clock: [`Driver::run_until`] interleaves the cluster's events and timers with the clients'
//! deadlines, always taking the earliest.
//!
//! Alongside, it keeps what a wire-level recorder would: every watch notification as the server
//! sent it (the probe's `WIRE`), every reply header as the server sent it, and every anomaly a
//! client reported (a protocol breach by the server).

use std::collections::{BTreeMap, VecDeque};

use crate::probe_script::WireItem;
use zab_client::{
    Anomaly, Client, ClientAction, ClientConfig, ClientError, ClientInput, ClientOut, ConnectString,
    ServerIndex, SessionState, Xid,
};
use zab_core::harness::{ClientEvent, Cluster};
use zab_core::{ConnId, Instant, ServerId};
use zab_tree::{
    session_password, ConnectResponse, ReplyHeader, Request, Response, SessionId, WatchEvent, Zxid,
};

/// What an application request ended with, as the client reports it.
pub type Outcome = Result<(Response, Zxid), ClientError>;

/// The session timeout every probe client asks for (kazoo's `timeout=10.0`).
pub const SESSION_TIMEOUT_MS: u32 = 10_000;

/// How long a call waits for its answer before the driver gives up (kazoo's default).
pub const CALL_LIMIT_MS: u64 = 10_000;

/// Simulated time the application spends before each call: the real probe's Python and loopback
/// overhead. The cluster itself answers in zero time, so without it a script's calls would all
/// fall in one millisecond, and a node created and then changed by consecutive calls would keep
/// `ctime == mtime`, which the recorded run never showed.
pub const CALL_GAP_MS: u64 = 1;

/// Why a call got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoAnswer {
    /// Which call, for the report.
    pub what: String,
}

/// One client session and what happened to it.
pub struct Session {
    /// The probe's name for it (s1..s4).
    pub label: &'static str,
    /// The sans-IO client.
    pub client: Client,
    /// The open harness connection, if any.
    conn: Option<ConnId>,
    /// Completed application requests not collected yet.
    completed: BTreeMap<Xid, Outcome>,
    /// Replies to the client's auth packets, as the server sent them.
    auth_replies: Vec<ReplyHeader>,
    /// Requests the driver puts on the wire instead of what the client sends under that xid.
    rewrites: BTreeMap<Xid, Request>,
    /// Watch events the client handed to the application.
    pub delivered: Vec<WatchEvent>,
    /// Protocol breaches the client reported.
    pub anomalies: Vec<Anomaly>,
    /// Handshakes the client sent (one per connection it opened).
    pub handshakes: u32,
}

/// The clients, the cluster, and the clock they share.
pub struct Driver {
    /// The servers.
    pub cluster: Cluster,
    /// The server every client's connect string names (its only entry, index 0).
    pub server: ServerId,
    /// The sessions, in the order they were opened.
    pub sessions: Vec<Session>,
    /// Notifications and reply markers, in arrival order.
    pub wire: Vec<WireItem>,
    /// Transport answers to deliver to a client before anything else.
    transport: VecDeque<(usize, ClientInput)>,
}

/// The only server of every probe client's connect string.
const ONLY_SERVER: ServerIndex = ServerIndex(0);

impl Driver {
    /// A driver whose clients will all talk to `server` of `cluster` (already serving).
    pub fn new(cluster: Cluster, server: ServerId) -> Driver {
        Driver { cluster, server, sessions: Vec::new(), wire: Vec::new(), transport: VecDeque::new() }
    }

    /// Opens a session named `label` and waits until it is connected; returns its index.
    pub fn connect(&mut self, label: &'static str, seed: u64) -> Result<usize, NoAnswer> {
        let cs = ConnectString::parse("zk:2181").expect("a one-server connect string parses");
        let client =
            Client::new(ClientConfig::new(cs, SESSION_TIMEOUT_MS, seed)).expect("a valid client config");
        self.sessions.push(Session {
            label,
            client,
            conn: None,
            completed: BTreeMap::new(),
            auth_replies: Vec::new(),
            rewrites: BTreeMap::new(),
            delivered: Vec::new(),
            anomalies: Vec::new(),
            handshakes: 0,
        });
        let i = self.sessions.len() - 1;
        let connected =
            self.run_until(15_000, |d| d.sessions[i].client.state() == SessionState::SyncConnected);
        if connected {
            Ok(i)
        } else {
            Err(NoAnswer { what: format!("{label}: connect") })
        }
    }

    /// The session id of session `i`.
    pub fn session_id(&self, i: usize) -> SessionId {
        self.sessions[i].client.session_id()
    }

    /// Submits `request` on session `i` and waits for its completion.
    pub fn call(&mut self, i: usize, request: Request) -> Result<Outcome, NoAnswer> {
        self.call_as(i, request, None)
    }

    /// Like [`Driver::call`], but the client is handed `stand_in` and the wire carries `request`
    /// under the same xid. This is what a hand-built request sent through a client's connection
    /// amounts to: the client's own checks (path syntax) are bypassed, while the xid, the FIFO
    /// matching of the reply and the session's connection stay the client's.
    pub fn call_rewritten(
        &mut self,
        i: usize,
        stand_in: Request,
        request: Request,
    ) -> Result<Outcome, NoAnswer> {
        self.call_as(i, stand_in, Some(request))
    }

    fn call_as(&mut self, i: usize, request: Request, wire: Option<Request>) -> Result<Outcome, NoAnswer> {
        self.sleep(CALL_GAP_MS);
        let what = format!("{}: {:?}", self.sessions[i].label, request.opcode());
        let mut out = ClientOut::new();
        let now = self.client_now();
        let xid = self.sessions[i].client.submit(now, request, &mut out);
        if let Some(wire) = wire {
            self.sessions[i].rewrites.insert(xid, wire);
        }
        self.perform(i, out);
        self.run_until(CALL_LIMIT_MS, |d| d.sessions[i].completed.contains_key(&xid));
        self.sessions[i].rewrites.remove(&xid);
        self.sessions[i].completed.remove(&xid).ok_or(NoAnswer { what })
    }

    /// Adds authentication on session `i` and waits for the server's answer to it.
    pub fn add_auth(&mut self, i: usize, scheme: &str, credentials: &[u8]) -> Result<ReplyHeader, NoAnswer> {
        self.sleep(CALL_GAP_MS);
        let before = self.sessions[i].auth_replies.len();
        let mut out = ClientOut::new();
        let now = self.client_now();
        self.sessions[i].client.add_auth(now, scheme, credentials, &mut out);
        self.perform(i, out);
        self.run_until(CALL_LIMIT_MS, |d| d.sessions[i].auth_replies.len() > before);
        self.sessions[i]
            .auth_replies
            .get(before)
            .copied()
            .ok_or(NoAnswer { what: format!("{}: auth {scheme}", self.sessions[i].label) })
    }

    /// Closes session `i` and waits until the client reports it closed.
    pub fn close(&mut self, i: usize) -> Result<Outcome, NoAnswer> {
        self.sleep(CALL_GAP_MS);
        let mut out = ClientOut::new();
        let now = self.client_now();
        let xid = self.sessions[i].client.close(now, &mut out);
        self.perform(i, out);
        self.run_until(CALL_LIMIT_MS, |d| {
            d.sessions[i].completed.contains_key(&xid) && d.sessions[i].client.state() == SessionState::Closed
        });
        self.sessions[i]
            .completed
            .remove(&xid)
            .ok_or(NoAnswer { what: format!("{}: close", self.sessions[i].label) })
    }

    /// Lets `ms` of simulated time pass.
    pub fn sleep(&mut self, ms: u64) {
        self.run_until(ms, |_| false);
    }

    /// Runs clients and cluster together until `pred` holds or `limit_ms` passes; returns whether
    /// `pred` held. The next thing to happen is always the earliest: what the clients can take now,
    /// then the cluster's pending work and timers, then the clients' deadlines.
    pub fn run_until(&mut self, limit_ms: u64, mut pred: impl FnMut(&Driver) -> bool) -> bool {
        let end = self.cluster.now.plus_ms(limit_ms);
        loop {
            self.pump();
            if pred(self) {
                return true;
            }
            let client_deadline = self
                .sessions
                .iter()
                .filter_map(|s| s.client.next_deadline())
                .map(|at| Instant(at.0))
                .min()
                .unwrap_or(end);
            let horizon = client_deadline.min(end);
            if self.cluster.step_once(horizon) {
                continue;
            }
            if client_deadline > end {
                self.cluster.now = self.cluster.now.max(end);
                self.pump();
                return pred(self);
            }
            self.cluster.now = self.cluster.now.max(client_deadline);
            for i in 0..self.sessions.len() {
                let due = self.sessions[i]
                    .client
                    .next_deadline()
                    .is_some_and(|at| Instant(at.0) <= self.cluster.now);
                if due {
                    self.step_client(i, ClientInput::Timeout);
                }
            }
        }
    }

    /// Delivers everything the clients can take now: transport answers first, then the servers'
    /// connection events one at a time (a client's answer to one may close the connection, and
    /// then nothing more from it may reach the client).
    fn pump(&mut self) {
        loop {
            if let Some((i, input)) = self.transport.pop_front() {
                self.step_client(i, input);
                continue;
            }
            let next = (0..self.sessions.len()).find_map(|i| {
                let conn = self.sessions[i].conn?;
                let (_, events) = self.cluster.clients.get_mut(&conn)?;
                (!events.is_empty()).then(|| (i, conn, events.remove(0)))
            });
            let Some((i, conn, event)) = next else { return };
            self.deliver(i, conn, event);
        }
    }

    fn deliver(&mut self, i: usize, conn: ConnId, event: ClientEvent) {
        let server = ONLY_SERVER;
        let input = match event {
            ClientEvent::Connected { session, timeout_ms } => ClientInput::ConnectResponse {
                server,
                // The harness passes on the session and timeout; the password is the one the
                // server derives for the session.
                response: ConnectResponse {
                    protocol_version: 0,
                    timeout_ms,
                    session_id: session,
                    passwd: session_password(session),
                    read_only: false,
                },
            },
            ClientEvent::Reply { header, response } => {
                if header.xid == Xid::AUTH.0 {
                    self.sessions[i].auth_replies.push(header);
                }
                ClientInput::Reply { server, header, response }
            }
            ClientEvent::Watch { event, zxid } => {
                self.wire.push(WireItem::Event { session: self.sessions[i].label, event: event.clone() });
                ClientInput::Notification { server, event, zxid }
            }
            ClientEvent::Closed => {
                self.sessions[i].conn = None;
                self.cluster.clients.remove(&conn);
                ClientInput::TransportClosed { server }
            }
        };
        self.step_client(i, input);
    }

    fn step_client(&mut self, i: usize, input: ClientInput) {
        let mut out = ClientOut::new();
        let now = self.client_now();
        self.sessions[i].client.step(now, input, &mut out);
        self.perform(i, out);
    }

    fn perform(&mut self, i: usize, mut out: ClientOut) {
        for action in out.drain() {
            match action {
                ClientAction::Connect { server } => {
                    assert_eq!(server, ONLY_SERVER, "the connect string names one server");
                    let up = self.cluster.nodes.get(&self.server).is_some_and(|n| n.replica.is_some());
                    let answer = if up {
                        ClientInput::TransportConnected { server }
                    } else {
                        ClientInput::TransportFailed { server }
                    };
                    self.transport.push_back((i, answer));
                }
                ClientAction::SendConnect { request, .. } => {
                    let conn = self.cluster.client_open(self.server, request);
                    self.sessions[i].conn = Some(conn);
                    self.sessions[i].handshakes += 1;
                }
                ClientAction::Send { xid, request, .. } => {
                    let conn = self.sessions[i].conn.unwrap_or_else(|| {
                        panic!("{} sends {xid} without a connection", self.sessions[i].label)
                    });
                    let request = self.sessions[i].rewrites.remove(&xid).unwrap_or(request);
                    self.cluster.client_request(conn, xid.0, request);
                }
                ClientAction::Close { .. } => {
                    if let Some(conn) = self.sessions[i].conn.take() {
                        self.cluster.client_close(conn);
                    }
                }
                ClientAction::Completed { xid, result, .. } => {
                    self.sessions[i].completed.insert(xid, result);
                }
                ClientAction::Watch { event } => self.sessions[i].delivered.push(event),
                ClientAction::State(_) => {}
                ClientAction::Anomaly(anomaly) => self.sessions[i].anomalies.push(anomaly),
            }
        }
    }

    fn client_now(&self) -> zab_client::Instant {
        zab_client::Instant(self.cluster.now.0)
    }
}
