//! The session state machine: one connection at a time, a FIFO of requests in flight, a queue of
//! requests waiting for a connection, timers derived from the session timeout.

use std::collections::VecDeque;
use std::fmt;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use zab_tree::path::explain_invalid_path;
use zab_tree::{
    ConnectRequest, ConnectResponse, CreateMode, ErrorCode, KeeperState, MultiResult, OpCode, ReplyHeader,
    Request, Response, SessionId, WatchEvent, Zxid,
};

use crate::chroot::Chroot;
use crate::hosts::HostRing;
use crate::shape;
use crate::watches::Watches;
use crate::{ConnectString, Instant, ServerIndex, Xid};

/// How a client is set up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// The servers and the chroot.
    pub connect_string: ConnectString,
    /// The session timeout the client asks for; the server clamps it.
    pub session_timeout_ms: u32,
    /// Seeds the client's only random source (server order, reconnect delays).
    pub seed: u64,
    /// Before every connection attempt but the first, the client waits a uniformly drawn delay
    /// below this bound (ZooKeeper's client: below 1000 ms), so that clients cut off together do
    /// not come back together. 0 disables the delay.
    pub reconnect_delay_ms_max: u64,
    /// Extra wait once every server was tried since the last successful connection (1000 ms).
    pub spin_delay_ms: u64,
    /// The longest the client stays without sending before it pings (10 000 ms), whatever the
    /// session timeout.
    pub ping_interval_ms_max: u64,
}

impl ClientConfig {
    /// A configuration with ZooKeeper's default delays.
    pub fn new(connect_string: ConnectString, session_timeout_ms: u32, seed: u64) -> ClientConfig {
        ClientConfig {
            connect_string,
            session_timeout_ms,
            seed,
            reconnect_delay_ms_max: 1000,
            spin_delay_ms: 1000,
            ping_interval_ms_max: 10_000,
        }
    }
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientConfigError {
    /// The connect string names no server.
    NoServers,
    /// The session timeout is 0 or does not fit the protocol's signed 32-bit field.
    BadSessionTimeout {
        /// The timeout given.
        session_timeout_ms: u32,
    },
    /// The chroot is "/" (write `None`) or not a valid path.
    BadChroot {
        /// The chroot given.
        chroot: String,
    },
}

impl fmt::Display for ClientConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientConfigError::NoServers => write!(f, "the connect string names no server"),
            ClientConfigError::BadSessionTimeout { session_timeout_ms } => {
                write!(f, "session timeout {session_timeout_ms} ms is not in 1..=2147483647")
            }
            ClientConfigError::BadChroot { chroot } => {
                write!(f, "chroot {chroot:?} is not a valid path other than \"/\"")
            }
        }
    }
}

impl std::error::Error for ClientConfigError {}

/// Everything that can happen to a client besides the application's calls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientInput {
    /// `now` reached (or passed) [`Client::next_deadline`].
    Timeout,
    /// The connection the client asked for with `Connect` is open.
    TransportConnected {
        /// The server connected to.
        server: ServerIndex,
    },
    /// The connection the client asked for could not be opened (refused, unreachable).
    TransportFailed {
        /// The server.
        server: ServerIndex,
    },
    /// The open connection closed or reset (the server closed it, or the network cut it).
    TransportClosed {
        /// The server.
        server: ServerIndex,
    },
    /// The server answered the handshake.
    ConnectResponse {
        /// The server.
        server: ServerIndex,
        /// Its answer; `timeout_ms` 0 means the session expired.
        response: ConnectResponse,
    },
    /// A reply arrived.
    Reply {
        /// The server.
        server: ServerIndex,
        /// xid, the server's zxid and the result code.
        header: ReplyHeader,
        /// The body; `None` when the reply has none (errors, deletes, pings, ...).
        response: Option<Response>,
    },
    /// A watch notification arrived.
    Notification {
        /// The server.
        server: ServerIndex,
        /// The event (server path).
        event: WatchEvent,
        /// The zxid of the change that fired it.
        zxid: Zxid,
    },
}

/// The kind of a [`ClientInput`], for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum InputKind {
    /// [`ClientInput::Timeout`].
    Timeout,
    /// [`ClientInput::TransportConnected`].
    TransportConnected,
    /// [`ClientInput::TransportFailed`].
    TransportFailed,
    /// [`ClientInput::TransportClosed`].
    TransportClosed,
    /// [`ClientInput::ConnectResponse`].
    ConnectResponse,
    /// [`ClientInput::Reply`].
    Reply,
    /// [`ClientInput::Notification`].
    Notification,
}

impl ClientInput {
    /// Which kind of input this is.
    pub fn kind(&self) -> InputKind {
        match self {
            ClientInput::Timeout => InputKind::Timeout,
            ClientInput::TransportConnected { .. } => InputKind::TransportConnected,
            ClientInput::TransportFailed { .. } => InputKind::TransportFailed,
            ClientInput::TransportClosed { .. } => InputKind::TransportClosed,
            ClientInput::ConnectResponse { .. } => InputKind::ConnectResponse,
            ClientInput::Reply { .. } => InputKind::Reply,
            ClientInput::Notification { .. } => InputKind::Notification,
        }
    }
}

/// One output of the client. The host performs them in the order they were appended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientAction {
    /// Open a connection to `server`; answer with `TransportConnected` or `TransportFailed`.
    Connect {
        /// The server.
        server: ServerIndex,
    },
    /// Send the handshake on the open connection.
    SendConnect {
        /// The server.
        server: ServerIndex,
        /// The handshake.
        request: ConnectRequest,
    },
    /// Send a request on the open connection.
    Send {
        /// The server.
        server: ServerIndex,
        /// The request's xid (negative for pings, auth and setWatches).
        xid: Xid,
        /// The request, with server paths (chroot applied).
        request: Request,
    },
    /// Close the connection to `server`; deliver nothing more from it.
    Close {
        /// The server.
        server: ServerIndex,
    },
    /// An application request finished.
    Completed {
        /// The xid `submit` returned.
        xid: Xid,
        /// The request as submitted (client paths).
        request: Request,
        /// The reply body and the server's zxid, or why the request failed.
        result: Result<(Response, Zxid), ClientError>,
    },
    /// A watch fired (client path), or a removeWatches removed one (`*WatchRemoved`).
    Watch {
        /// The event.
        event: WatchEvent,
    },
    /// The session's state changed.
    State(SessionState),
    /// A peer broke the protocol; the client dropped the input or the connection.
    Anomaly(Anomaly),
}

/// The caller-owned buffer the client appends its actions to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientOut {
    /// The actions, oldest first. The host drains them after each call.
    pub actions: Vec<ClientAction>,
}

impl ClientOut {
    /// An empty buffer.
    pub fn new() -> ClientOut {
        ClientOut::default()
    }

    /// Takes every action out, oldest first.
    pub fn drain(&mut self) -> std::vec::Drain<'_, ClientAction> {
        self.actions.drain(..)
    }

    fn push(&mut self, action: ClientAction) {
        self.actions.push(action);
    }
}

/// What [`Client::status`] reports. Its `Display` is one line with fixed columns:
/// `state server session last-zxid in-flight/queued watches deadline`, e.g.
/// `SyncConnected server#1 session=0x42 zxid=0x100000003 flight=2/0 watches=1 deadline=1.020s`
/// (`-` for no server or no deadline). `flight` counts setWatches batches too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientStatus {
    /// The session's state.
    pub state: SessionState,
    /// The server of the current connection, if any.
    pub server: Option<ServerIndex>,
    /// The session id (0 before the first handshake).
    pub session_id: SessionId,
    /// The last zxid seen.
    pub last_zxid_seen: Zxid,
    /// Requests sent and not answered, setWatches batches included.
    pub in_flight: usize,
    /// Requests waiting for a connection.
    pub queued: usize,
    /// Watches held, all kinds together.
    pub watches: usize,
    /// The next deadline.
    pub next_deadline: Option<Instant>,
}

impl fmt::Display for ClientStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ", self.state)?;
        match self.server {
            Some(server) => write!(f, "{server} ")?,
            None => f.write_str("- ")?,
        }
        write!(
            f,
            "session={} zxid={} flight={}/{} watches={} deadline=",
            self.session_id, self.last_zxid_seen, self.in_flight, self.queued, self.watches
        )?;
        match self.next_deadline {
            Some(at) => write!(f, "{at}"),
            None => f.write_str("-"),
        }
    }
}

/// The session as the application sees it (ZooKeeper's KeeperState values that a client reaches).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SessionState {
    /// No established connection (before the first one, or after losing one). Requests wait.
    Disconnected,
    /// Connected to a server that knows the session.
    SyncConnected,
    /// A server said the session expired. Final.
    Expired,
    /// The application closed the session. Final.
    Closed,
    /// A server refused the client's authentication. Final.
    AuthFailed,
}

impl SessionState {
    /// True for the states a client never leaves.
    pub fn is_final(self) -> bool {
        matches!(self, SessionState::Expired | SessionState::Closed | SessionState::AuthFailed)
    }

    /// The state as ZooKeeper's watch events name it.
    pub fn keeper_state(self) -> KeeperState {
        match self {
            SessionState::Disconnected => KeeperState::Disconnected,
            SessionState::SyncConnected => KeeperState::SyncConnected,
            SessionState::Expired => KeeperState::Expired,
            SessionState::Closed => KeeperState::Closed,
            SessionState::AuthFailed => KeeperState::AuthFailed,
        }
    }
}

/// Why an application request failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientError {
    /// The connection was lost (or never established) before the reply arrived. The request may
    /// or may not have been applied.
    ConnectionLoss,
    /// The session expired (learnt from a server). Final.
    SessionExpired,
    /// The request was submitted after `close()`, or was still waiting when the session closed.
    /// It never reached a server.
    SessionClosed,
    /// Authentication failed; the session is unusable. Final. (Requests that were already sent
    /// when the AuthFailed reply arrived fail with ConnectionLoss instead: they may have been
    /// applied.)
    AuthFailed,
    /// The server answered with this error code.
    Server(ErrorCode),
    /// A multi failed: the first result whose code is not Ok, and every op's result.
    MultiFailed {
        /// The code of the op that failed the multi.
        first_error: ErrorCode,
        /// One result per op: Ok (rolled back) before the failing op, RuntimeInconsistency after.
        results: Vec<MultiResult>,
    },
    /// The request names a path the server would refuse; it was not sent.
    InvalidPath {
        /// The path as given.
        path: String,
        /// Which path rule it breaks.
        reason: String,
    },
    /// Pings, auth and setWatches are the connection's business: use `add_auth` for auth.
    NotSubmittable(OpCode),
}

impl ClientError {
    /// The ZooKeeper code an application would see.
    pub fn code(&self) -> ErrorCode {
        match self {
            ClientError::ConnectionLoss => ErrorCode::ConnectionLoss,
            ClientError::SessionExpired | ClientError::SessionClosed => ErrorCode::SessionExpired,
            ClientError::AuthFailed => ErrorCode::AuthFailed,
            ClientError::Server(code) => *code,
            ClientError::MultiFailed { first_error, .. } => *first_error,
            ClientError::InvalidPath { .. } | ClientError::NotSubmittable(_) => ErrorCode::BadArguments,
        }
    }

    /// True when the request may have been applied although it failed: its outcome is unknown.
    pub fn is_indeterminate(&self) -> bool {
        matches!(self, ClientError::ConnectionLoss)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::ConnectionLoss => write!(f, "connection lost; the outcome is unknown"),
            ClientError::SessionExpired => write!(f, "session expired"),
            ClientError::SessionClosed => write!(f, "session closed"),
            ClientError::AuthFailed => write!(f, "authentication failed"),
            ClientError::Server(code) => write!(f, "server error {code}"),
            ClientError::MultiFailed { first_error, .. } => write!(f, "multi failed: {first_error}"),
            ClientError::InvalidPath { path, reason } => write!(f, "invalid path {path:?}: {reason}"),
            ClientError::NotSubmittable(op) => write!(f, "{op:?} is not an application request"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A protocol breach by a peer, or an input for a connection the client no longer has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Anomaly {
    /// An input about a connection the client does not have (a late event of an older one);
    /// ignored.
    StaleInput {
        /// The server the input named.
        server: ServerIndex,
        /// Which input.
        input: InputKind,
    },
    /// The server sent something the protocol does not allow at this point (a reply before the
    /// handshake, a second handshake answer, ...); the connection was dropped.
    UnexpectedInput {
        /// The server.
        server: ServerIndex,
        /// Which input.
        input: InputKind,
    },
    /// A reply when no request is in flight; the connection was dropped.
    ReplyWithoutRequest {
        /// The server.
        server: ServerIndex,
        /// The reply's xid.
        xid: Xid,
    },
    /// A reply for another request than the oldest in flight; the connection was dropped and the
    /// requests in flight failed with ConnectionLoss.
    ReplyOutOfOrder {
        /// The server.
        server: ServerIndex,
        /// The oldest xid in flight.
        expected: Xid,
        /// The reply's xid.
        got: Xid,
    },
    /// A successful reply whose body does not fit the request; the connection was dropped and the
    /// request failed with ConnectionLoss.
    MalformedResponse {
        /// The server.
        server: ServerIndex,
        /// The request's xid.
        xid: Xid,
        /// The request's opcode.
        opcode: OpCode,
    },
    /// A notification that no watch the client holds asked for; not delivered.
    UnwatchedNotification {
        /// The server.
        server: ServerIndex,
        /// The event as the server sent it.
        event: WatchEvent,
    },
    /// A server reported a zxid below one the client had already seen; the client keeps the
    /// larger one.
    ZxidWentBackwards {
        /// The server.
        server: ServerIndex,
        /// The client's last zxid seen.
        last_seen: Zxid,
        /// The smaller zxid.
        got: Zxid,
    },
}

/// Why `move_to` refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MoveError {
    /// No server has this index.
    UnknownServer {
        /// The index given.
        server: ServerIndex,
        /// How many servers the connect string names.
        count: usize,
    },
    /// The session is over.
    SessionEnded(SessionState),
}

impl fmt::Display for MoveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoveError::UnknownServer { server, count } => {
                write!(f, "{server} does not exist; the connect string names {count} servers")
            }
            MoveError::SessionEnded(state) => write!(f, "the session is over ({state:?})"),
        }
    }
}

impl std::error::Error for MoveError {}

/// One ZooKeeper session. See the crate documentation for the driving contract.
#[derive(Clone, Debug)]
pub struct Client {
    config: ClientConfig,
    chroot: Chroot,
    rng: ChaCha8Rng,
    hosts: HostRing,
    phase: Phase,
    state: SessionState,
    session_id: SessionId,
    passwd: [u8; 16],
    negotiated_timeout_ms: Option<u32>,
    last_zxid_seen: Zxid,
    next_xid: i32,
    /// `close()` was called: later submits fail, and the end of the connection ends the session.
    closing: bool,
    /// Sent and not answered, oldest first. Replies must come in this order.
    in_flight: VecDeque<InFlight>,
    /// Submitted while no session was established; sent in order after the next handshake.
    queued: VecDeque<Pending>,
    /// Every addAuth so far, re-sent after each handshake.
    auth: Vec<(String, Vec<u8>)>,
    watches: Watches,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting until `at` before connecting to `server`.
    Waiting { server: ServerIndex, at: Instant },
    /// Asked the host to connect to `server` at `since`.
    Connecting { server: ServerIndex, since: Instant },
    /// Sent the ConnectRequest; the connect timeout runs from `since` (the transport came up).
    Handshaking { server: ServerIndex, since: Instant },
    /// The session is established on `server`.
    Connected { server: ServerIndex, last_send: Instant, last_recv: Instant },
    /// The session is over.
    Ended,
}

#[derive(Clone, Debug)]
struct Pending {
    xid: Xid,
    request: Request,
}

#[derive(Clone, Debug)]
enum InFlight {
    App(Pending),
    /// A setWatches batch sent after a handshake; its reply is matched like a request's.
    SetWatches,
}

impl InFlight {
    fn xid(&self) -> Xid {
        match self {
            InFlight::App(p) => p.xid,
            InFlight::SetWatches => Xid::SET_WATCHES,
        }
    }
}

impl Client {
    /// A client that has not connected yet; its first deadline is [`Instant::ZERO`].
    pub fn new(config: ClientConfig) -> Result<Client, ClientConfigError> {
        let count = config.connect_string.servers.len();
        if count == 0 {
            return Err(ClientConfigError::NoServers);
        }
        if config.session_timeout_ms == 0 || i32::try_from(config.session_timeout_ms).is_err() {
            return Err(ClientConfigError::BadSessionTimeout {
                session_timeout_ms: config.session_timeout_ms,
            });
        }
        if let Some(chroot) = &config.connect_string.chroot {
            if chroot == "/" || explain_invalid_path(chroot).is_some() {
                return Err(ClientConfigError::BadChroot { chroot: chroot.clone() });
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut hosts = HostRing::new(count, &mut rng);
        let (first, _) = hosts.next();
        Ok(Client {
            chroot: Chroot::new(config.connect_string.chroot.clone()),
            config,
            rng,
            hosts,
            phase: Phase::Waiting { server: first, at: Instant::ZERO },
            state: SessionState::Disconnected,
            session_id: SessionId::NONE,
            passwd: [0; 16],
            negotiated_timeout_ms: None,
            last_zxid_seen: Zxid::ZERO,
            next_xid: Xid::FIRST.0,
            closing: false,
            in_flight: VecDeque::new(),
            queued: VecDeque::new(),
            auth: Vec::new(),
            watches: Watches::default(),
        })
    }

    /// Feeds one input.
    pub fn step(&mut self, now: Instant, input: ClientInput, out: &mut ClientOut) {
        match input {
            ClientInput::Timeout => self.on_timeout(now, out),
            ClientInput::TransportConnected { server } => match self.phase {
                Phase::Connecting { server: s, .. } if s == server => {
                    self.phase = Phase::Handshaking { server, since: now };
                    let request = ConnectRequest {
                        protocol_version: 0,
                        last_zxid_seen: self.last_zxid_seen,
                        timeout_ms: self.config.session_timeout_ms as i32,
                        session_id: self.session_id,
                        passwd: self.passwd,
                        read_only: false,
                    };
                    out.push(ClientAction::SendConnect { server, request });
                }
                _ => self.stale_or_unexpected(now, server, InputKind::TransportConnected, out),
            },
            ClientInput::TransportFailed { server } | ClientInput::TransportClosed { server } => {
                if self.connection_server() == Some(server) {
                    self.lose_connection(now, false, None, out);
                } else {
                    out.push(ClientAction::Anomaly(Anomaly::StaleInput { server, input: input.kind() }));
                }
            }
            ClientInput::ConnectResponse { server, response } => match self.phase {
                Phase::Handshaking { server: s, .. } if s == server => {
                    self.on_connect_response(now, server, response, out)
                }
                _ => self.stale_or_unexpected(now, server, InputKind::ConnectResponse, out),
            },
            ClientInput::Reply { server, header, response } => match self.phase {
                Phase::Connected { server: s, .. } if s == server => {
                    self.touch_recv(now);
                    self.on_reply(now, server, header, response, out);
                }
                _ => self.stale_or_unexpected(now, server, InputKind::Reply, out),
            },
            ClientInput::Notification { server, event, zxid } => match self.phase {
                Phase::Connected { server: s, .. } if s == server => {
                    self.touch_recv(now);
                    self.on_notification(server, event, zxid, out);
                }
                _ => self.stale_or_unexpected(now, server, InputKind::Notification, out),
            },
        }
        self.check_invariants();
    }

    /// Submits an application request and returns its xid, which its `Completed` action will
    /// carry. It is sent at once when the session is connected, else when it next connects. A
    /// request that cannot be sent (the session is over, a bad path, a connection-internal
    /// request) completes at once with the reason. `CloseSession` is the same as [`Client::close`].
    pub fn submit(&mut self, now: Instant, request: Request, out: &mut ClientOut) -> Xid {
        let xid = self.allocate_xid();
        if let Some(error) = self.refusal(&request) {
            out.push(ClientAction::Completed { xid, request, result: Err(error) });
            return xid;
        }
        if request == Request::CloseSession {
            self.closing = true;
        }
        let pending = Pending { xid, request };
        if let Phase::Connected { server, .. } = self.phase {
            self.send_pending(now, server, pending, out);
        } else {
            self.queued.push_back(pending);
        }
        self.check_invariants();
        xid
    }

    /// Closes the session (closeSession). When it completes, successfully or not, the state
    /// becomes [`SessionState::Closed`] and the connection is closed.
    pub fn close(&mut self, now: Instant, out: &mut ClientOut) -> Xid {
        self.submit(now, Request::CloseSession, out)
    }

    /// Adds authentication data: sent now if connected, and again after every reconnect. A reply
    /// of AuthFailed ends the session. Ignored once the session is over.
    pub fn add_auth(&mut self, now: Instant, scheme: &str, auth: &[u8], out: &mut ClientOut) {
        if self.state.is_final() {
            return;
        }
        self.auth.push((scheme.to_string(), auth.to_vec()));
        if let Phase::Connected { server, .. } = self.phase {
            let request = Request::Auth { scheme: scheme.to_string(), auth: auth.to_vec() };
            self.send_raw(now, server, Xid::AUTH, request, out);
        }
        self.check_invariants();
    }

    /// Drops the current connection, if any (its requests fail with ConnectionLoss), and connects
    /// to `server` at once. The round robin continues from there if that connection fails.
    pub fn move_to(
        &mut self,
        now: Instant,
        server: ServerIndex,
        out: &mut ClientOut,
    ) -> Result<(), MoveError> {
        let count = self.config.connect_string.servers.len();
        if server.0 >= count {
            return Err(MoveError::UnknownServer { server, count });
        }
        if self.state.is_final() {
            return Err(MoveError::SessionEnded(self.state));
        }
        if self.connection_server().is_some() {
            self.lose_connection(now, true, Some(server), out);
        } else {
            self.hosts.point_at(server);
            self.start_connect(now, server, out);
        }
        self.check_invariants();
        Ok(())
    }

    /// When the client next needs a `Timeout` input; `None` once the session is over.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting { at, .. } => Some(at),
            Phase::Connecting { since, .. } | Phase::Handshaking { since, .. } => {
                Some(since.plus_ms(self.connect_timeout_ms()))
            }
            Phase::Connected { last_send, last_recv, .. } => Some(std::cmp::min(
                last_recv.plus_ms(self.read_timeout_ms()),
                last_send.plus_ms(self.ping_interval_ms()),
            )),
            Phase::Ended => None,
        }
    }

    /// The session's state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The session id; [`SessionId::NONE`] until the first handshake.
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    /// The largest zxid seen in a FIFO-matched reply or a notification; presented on reconnect.
    pub fn last_zxid_seen(&self) -> Zxid {
        self.last_zxid_seen
    }

    /// The session timeout the last handshake agreed on.
    pub fn negotiated_timeout_ms(&self) -> Option<u32> {
        self.negotiated_timeout_ms
    }

    /// The server of the current connection (connecting, handshaking or established).
    pub fn connection_server(&self) -> Option<ServerIndex> {
        match self.phase {
            Phase::Connecting { server, .. }
            | Phase::Handshaking { server, .. }
            | Phase::Connected { server, .. } => Some(server),
            Phase::Waiting { .. } | Phase::Ended => None,
        }
    }

    /// The order in which the client tries the servers.
    pub fn server_order(&self) -> &[ServerIndex] {
        self.hosts.order()
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The watches the client holds.
    pub fn watches(&self) -> &Watches {
        &self.watches
    }

    /// Application requests submitted and not completed yet (sent or waiting).
    pub fn outstanding(&self) -> usize {
        self.in_flight.iter().filter(|f| matches!(f, InFlight::App(_))).count() + self.queued.len()
    }

    /// A snapshot for status lines and traces.
    pub fn status(&self) -> ClientStatus {
        let watches = &self.watches;
        ClientStatus {
            state: self.state,
            server: self.connection_server(),
            session_id: self.session_id,
            last_zxid_seen: self.last_zxid_seen,
            in_flight: self.in_flight.len(),
            queued: self.queued.len(),
            watches: watches.data.len()
                + watches.exist.len()
                + watches.child.len()
                + watches.persistent.len()
                + watches.persistent_recursive.len(),
            next_deadline: self.next_deadline(),
        }
    }

    fn on_timeout(&mut self, now: Instant, out: &mut ClientOut) {
        let Some(deadline) = self.next_deadline() else { return };
        if now < deadline {
            return;
        }
        match self.phase {
            Phase::Waiting { server, .. } => self.start_connect(now, server, out),
            Phase::Connecting { .. } | Phase::Handshaking { .. } => {
                self.lose_connection(now, true, None, out)
            }
            Phase::Connected { server, last_recv, .. } => {
                if now >= last_recv.plus_ms(self.read_timeout_ms()) {
                    self.lose_connection(now, true, None, out);
                } else {
                    self.send_raw(now, server, Xid::PING, Request::Ping, out);
                }
            }
            Phase::Ended => {}
        }
    }

    fn on_connect_response(
        &mut self,
        now: Instant,
        server: ServerIndex,
        response: ConnectResponse,
        out: &mut ClientOut,
    ) {
        if response.timeout_ms <= 0 {
            out.push(ClientAction::Close { server });
            self.end(SessionState::Expired, out);
            return;
        }
        self.negotiated_timeout_ms = Some(response.timeout_ms as u32);
        self.session_id = response.session_id;
        self.passwd = response.passwd;
        self.hosts.on_connected();
        self.phase = Phase::Connected { server, last_send: now, last_recv: now };
        self.state = SessionState::SyncConnected;
        out.push(ClientAction::State(SessionState::SyncConnected));
        for (scheme, auth) in self.auth.clone() {
            self.send_raw(now, server, Xid::AUTH, Request::Auth { scheme, auth }, out);
        }
        for batch in self.watches.set_watches(self.last_zxid_seen, &self.chroot) {
            self.in_flight.push_back(InFlight::SetWatches);
            self.send_raw(now, server, Xid::SET_WATCHES, Request::SetWatches(batch), out);
        }
        while let Some(pending) = self.queued.pop_front() {
            self.send_pending(now, server, pending, out);
        }
    }

    fn on_reply(
        &mut self,
        now: Instant,
        server: ServerIndex,
        header: ReplyHeader,
        response: Option<Response>,
        out: &mut ClientOut,
    ) {
        let xid = Xid(header.xid);
        if xid == Xid::PING {
            return;
        }
        if xid == Xid::AUTH {
            if header.err == ErrorCode::AuthFailed {
                out.push(ClientAction::Close { server });
                self.end(SessionState::AuthFailed, out);
            }
            return;
        }
        let Some(head) = self.in_flight.pop_front() else {
            out.push(ClientAction::Anomaly(Anomaly::ReplyWithoutRequest { server, xid }));
            self.lose_connection(now, true, None, out);
            return;
        };
        if head.xid() != xid {
            out.push(ClientAction::Anomaly(Anomaly::ReplyOutOfOrder {
                server,
                expected: head.xid(),
                got: xid,
            }));
            self.in_flight.push_front(head);
            self.lose_connection(now, true, None, out);
            return;
        }
        let InFlight::App(pending) = head else {
            // A setWatches reply: the server has re-registered (or fired) the watches.
            self.observe_zxid(server, header.zxid, out);
            return;
        };
        let body = if header.err == ErrorCode::Ok {
            match shape::fit(&pending.request, response) {
                Some(body) => Some(self.chroot.response_to_client(body)),
                None => {
                    let opcode = pending.request.opcode();
                    out.push(ClientAction::Anomaly(Anomaly::MalformedResponse { server, xid, opcode }));
                    self.in_flight.push_front(InFlight::App(pending));
                    self.lose_connection(now, true, None, out);
                    return;
                }
            }
        } else {
            None
        };
        self.observe_zxid(server, header.zxid, out);
        let result = self.complete(&pending.request, header, body, out);
        let closed = pending.request == Request::CloseSession;
        out.push(ClientAction::Completed { xid, request: pending.request, result });
        if closed {
            out.push(ClientAction::Close { server });
            self.end(SessionState::Closed, out);
        }
    }

    /// The result of a matched reply, with the local watch bookkeeping it implies.
    fn complete(
        &mut self,
        request: &Request,
        header: ReplyHeader,
        body: Option<Response>,
        out: &mut ClientOut,
    ) -> Result<(Response, Zxid), ClientError> {
        self.watches.register(request, header.err);
        if let Request::RemoveWatches { path, watcher_type } | Request::CheckWatches { path, watcher_type } =
            request
        {
            // As in ZooKeeper's client, a watch the client does not hold is NoWatcher whatever
            // the server answered.
            if !self.watches.holds(path, *watcher_type) {
                return Err(ClientError::Server(ErrorCode::NoWatcher));
            }
            if header.err == ErrorCode::Ok && matches!(request, Request::RemoveWatches { .. }) {
                for event in self.watches.remove(path, *watcher_type) {
                    out.push(ClientAction::Watch { event });
                }
            }
        }
        let Some(body) = body else { return Err(ClientError::Server(header.err)) };
        if let Response::Multi(results) = &body {
            let failed = results.iter().find_map(|r| match r {
                MultiResult::Error { code } if *code != ErrorCode::Ok => Some(*code),
                _ => None,
            });
            if let Some(first_error) = failed {
                return Err(ClientError::MultiFailed { first_error, results: results.clone() });
            }
        }
        Ok((body, header.zxid))
    }

    fn on_notification(&mut self, server: ServerIndex, event: WatchEvent, zxid: Zxid, out: &mut ClientOut) {
        self.observe_zxid(server, zxid, out);
        let local = self.chroot.to_client(&event.path).map(|path| WatchEvent { path, ..event.clone() });
        match local {
            Some(local) if self.watches.fire(&local) => out.push(ClientAction::Watch { event: local }),
            _ => out.push(ClientAction::Anomaly(Anomaly::UnwatchedNotification { server, event })),
        }
    }

    /// Ends the current connection: every request not answered fails with ConnectionLoss; then
    /// the session closes (if `close()` was called) or the client connects to `next` at once, or
    /// to the next server of the round robin after the reconnect delay.
    fn lose_connection(&mut self, now: Instant, close: bool, next: Option<ServerIndex>, out: &mut ClientOut) {
        let server = self.connection_server().expect("only a client with a connection can lose it");
        if close {
            out.push(ClientAction::Close { server });
        }
        self.fail_all(out);
        if self.closing {
            self.end(SessionState::Closed, out);
            return;
        }
        if self.state == SessionState::SyncConnected {
            self.state = SessionState::Disconnected;
            out.push(ClientAction::State(SessionState::Disconnected));
        }
        match next {
            Some(server) => {
                self.hosts.point_at(server);
                self.start_connect(now, server, out);
            }
            None => {
                let (server, cycled) = self.hosts.next();
                let mut delay_ms = match self.config.reconnect_delay_ms_max {
                    0 => 0,
                    max => self.rng.gen_range(0..max),
                };
                if cycled {
                    delay_ms += self.config.spin_delay_ms;
                }
                if delay_ms == 0 {
                    self.start_connect(now, server, out);
                } else {
                    self.phase = Phase::Waiting { server, at: now.plus_ms(delay_ms) };
                }
            }
        }
    }

    /// Enters a final state. Requests still waiting fail with the state's error; requests already
    /// sent fail with ConnectionLoss, because the server may have applied them (an AuthFailed reply
    /// can overtake the replies of writes sent before the auth packet).
    fn end(&mut self, state: SessionState, out: &mut ClientOut) {
        debug_assert!(state.is_final(), "end() with {state:?}");
        self.phase = Phase::Ended;
        self.state = state;
        out.push(ClientAction::State(state));
        self.fail_in_flight(out);
        let error = final_error(state).expect("final state");
        for Pending { xid, request } in self.queued.drain(..) {
            out.push(ClientAction::Completed { xid, request, result: Err(error.clone()) });
        }
        self.watches = Watches::default();
    }

    /// Fails every request not answered, sent or waiting, with ConnectionLoss.
    fn fail_all(&mut self, out: &mut ClientOut) {
        self.fail_in_flight(out);
        for Pending { xid, request } in self.queued.drain(..) {
            out.push(ClientAction::Completed { xid, request, result: Err(ClientError::ConnectionLoss) });
        }
    }

    fn fail_in_flight(&mut self, out: &mut ClientOut) {
        for in_flight in self.in_flight.drain(..) {
            if let InFlight::App(Pending { xid, request }) = in_flight {
                out.push(ClientAction::Completed { xid, request, result: Err(ClientError::ConnectionLoss) });
            }
        }
    }

    fn start_connect(&mut self, now: Instant, server: ServerIndex, out: &mut ClientOut) {
        self.phase = Phase::Connecting { server, since: now };
        out.push(ClientAction::Connect { server });
    }

    fn send_pending(&mut self, now: Instant, server: ServerIndex, pending: Pending, out: &mut ClientOut) {
        let request = self.chroot.request_to_server(&pending.request);
        self.send_raw(now, server, pending.xid, request, out);
        self.in_flight.push_back(InFlight::App(pending));
    }

    fn send_raw(
        &mut self,
        now: Instant,
        server: ServerIndex,
        xid: Xid,
        request: Request,
        out: &mut ClientOut,
    ) {
        if let Phase::Connected { last_send, .. } = &mut self.phase {
            *last_send = now;
        }
        out.push(ClientAction::Send { server, xid, request });
    }

    fn touch_recv(&mut self, now: Instant) {
        if let Phase::Connected { last_recv, .. } = &mut self.phase {
            *last_recv = now;
        }
    }

    fn observe_zxid(&mut self, server: ServerIndex, zxid: Zxid, out: &mut ClientOut) {
        // Replies that carry no zxid of a change (zxid 0, or ZooKeeper's -1) leave it alone.
        if zxid.0 == 0 || zxid.0 == u64::MAX {
            return;
        }
        if zxid < self.last_zxid_seen {
            let last_seen = self.last_zxid_seen;
            out.push(ClientAction::Anomaly(Anomaly::ZxidWentBackwards { server, last_seen, got: zxid }));
        } else {
            self.last_zxid_seen = zxid;
        }
    }

    /// An input naming the current connection's server at the wrong moment is a protocol breach
    /// (the connection is dropped); one naming another server is a late event of an old one.
    fn stale_or_unexpected(
        &mut self,
        now: Instant,
        server: ServerIndex,
        input: InputKind,
        out: &mut ClientOut,
    ) {
        if self.connection_server() == Some(server) {
            out.push(ClientAction::Anomaly(Anomaly::UnexpectedInput { server, input }));
            self.lose_connection(now, true, None, out);
        } else {
            out.push(ClientAction::Anomaly(Anomaly::StaleInput { server, input }));
        }
    }

    fn refusal(&self, request: &Request) -> Option<ClientError> {
        if let Some(error) = final_error(self.state) {
            return Some(error);
        }
        if self.closing {
            return Some(ClientError::SessionClosed);
        }
        match request {
            Request::Ping | Request::Auth { .. } | Request::SetWatches(_) => {
                Some(ClientError::NotSubmittable(request.opcode()))
            }
            _ => invalid_path(request),
        }
    }

    fn allocate_xid(&mut self) -> Xid {
        let xid = Xid(self.next_xid);
        // As ZooKeeper's client does, skip the negative (reserved) xids after 2^31 - 1 requests.
        self.next_xid = if self.next_xid == i32::MAX { Xid::FIRST.0 } else { self.next_xid + 1 };
        xid
    }

    fn timeout_basis_ms(&self) -> u64 {
        u64::from(self.negotiated_timeout_ms.unwrap_or(self.config.session_timeout_ms))
    }

    // Every timer is at least 1 ms long: with a degenerate timeout (a server that negotiates 2 ms,
    // more servers than milliseconds) a zero interval would make a deadline that is due again as
    // soon as it fires, and a host that runs deadlines at one instant would never advance.

    fn read_timeout_ms(&self) -> u64 {
        std::cmp::max(1, self.timeout_basis_ms() * 2 / 3)
    }

    fn ping_interval_ms(&self) -> u64 {
        std::cmp::max(1, std::cmp::min(self.read_timeout_ms() / 2, self.config.ping_interval_ms_max))
    }

    fn connect_timeout_ms(&self) -> u64 {
        std::cmp::max(1, self.timeout_basis_ms() / self.config.connect_string.servers.len() as u64)
    }

    fn check_invariants(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let xids: Vec<Xid> = self
            .in_flight
            .iter()
            .filter_map(|f| match f {
                InFlight::App(p) => Some(p.xid),
                InFlight::SetWatches => None,
            })
            .chain(self.queued.iter().map(|p| p.xid))
            .collect();
        // Strictly increasing, except across the wrap after i32::MAX.
        assert!(
            xids.windows(2).all(|w| w[0] < w[1] || w[1] == Xid::FIRST),
            "xids out of order: {xids:?} (session {}, state {:?})",
            self.session_id,
            self.state
        );
        assert_eq!(
            self.phase == Phase::Ended,
            self.state.is_final(),
            "phase {:?} vs state {:?}",
            self.phase,
            self.state
        );
        assert_eq!(
            matches!(self.phase, Phase::Connected { .. }),
            self.state == SessionState::SyncConnected,
            "phase {:?} vs state {:?}",
            self.phase,
            self.state
        );
        if !matches!(self.phase, Phase::Connected { .. }) {
            assert!(self.in_flight.is_empty(), "requests in flight without a session: {:?}", self.in_flight);
        } else {
            assert!(self.queued.is_empty(), "requests queued while connected: {:?}", self.queued);
        }
        if self.state.is_final() {
            assert!(self.queued.is_empty(), "requests queued after the session ended");
        }
    }
}

fn final_error(state: SessionState) -> Option<ClientError> {
    match state {
        SessionState::Expired => Some(ClientError::SessionExpired),
        SessionState::Closed => Some(ClientError::SessionClosed),
        SessionState::AuthFailed => Some(ClientError::AuthFailed),
        SessionState::Disconnected | SessionState::SyncConnected => None,
    }
}

/// The first path in `request` the server would refuse, checked client-side as ZooKeeper's client
/// does (a sequential create's path is checked with a suffix, since "/a/" becomes "/a/0000000001").
fn invalid_path(request: &Request) -> Option<ClientError> {
    let check = |path: &str, sequential: bool| {
        let full = if sequential { format!("{path}1") } else { path.to_string() };
        explain_invalid_path(&full)
            .map(|reason| ClientError::InvalidPath { path: path.to_string(), reason: reason.to_string() })
    };
    match request {
        Request::Create { path, flags, .. } => {
            let sequential = CreateMode::from_flags(*flags).is_ok_and(CreateMode::is_sequential);
            check(path, sequential)
        }
        Request::Delete { path, .. }
        | Request::Exists { path, .. }
        | Request::GetData { path, .. }
        | Request::SetData { path, .. }
        | Request::GetAcl { path }
        | Request::SetAcl { path, .. }
        | Request::GetChildren { path, .. }
        | Request::GetChildren2 { path, .. }
        | Request::GetAllChildrenNumber { path }
        | Request::Check { path, .. }
        | Request::Sync { path }
        | Request::AddWatch { path, .. }
        | Request::RemoveWatches { path, .. }
        | Request::CheckWatches { path, .. }
        | Request::DeleteContainer { path } => check(path, false),
        // "" asks for every ephemeral of the session, like "/".
        Request::GetEphemerals { prefix } if prefix.is_empty() => None,
        Request::GetEphemerals { prefix } => check(prefix, false),
        Request::Multi(ops) => ops.iter().find_map(invalid_path),
        Request::SetWatches(_) | Request::Auth { .. } | Request::CloseSession | Request::Ping => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_states_map_to_zookeeper_keeper_state_codes() {
        let codes: Vec<i32> = [
            SessionState::Disconnected,
            SessionState::SyncConnected,
            SessionState::Expired,
            SessionState::Closed,
            SessionState::AuthFailed,
        ]
        .into_iter()
        .map(|s| s.keeper_state().code())
        .collect();
        assert_eq!(codes, [0, 3, -112, 7, 4]);
    }

    #[test]
    fn the_status_line_has_fixed_columns() {
        let cs = ConnectString::parse("1:2181,2:2181").unwrap();
        let client = Client::new(ClientConfig::new(cs, 4000, 1)).unwrap();
        let line = client.status().to_string();
        assert_eq!(line, "Disconnected - session=0x0 zxid=0x0 flight=0/0 watches=0 deadline=0.000s");
        let status = ClientStatus {
            state: SessionState::SyncConnected,
            server: Some(ServerIndex(1)),
            session_id: SessionId(0x42),
            last_zxid_seen: Zxid(0x1_0000_0003),
            in_flight: 2,
            queued: 0,
            watches: 1,
            next_deadline: Some(Instant::from_ms(1020)),
        };
        assert_eq!(
            status.to_string(),
            "SyncConnected server#1 session=0x42 zxid=0x100000003 flight=2/0 watches=1 deadline=1.020s"
        );
    }

    #[test]
    fn xids_skip_the_reserved_negative_values_when_they_wrap() {
        let cs = ConnectString::parse("1:2181").unwrap();
        let mut client = Client::new(ClientConfig::new(cs, 4000, 1)).unwrap();
        client.next_xid = i32::MAX;
        assert_eq!(client.allocate_xid(), Xid(i32::MAX));
        assert_eq!(client.allocate_xid(), Xid::FIRST);
    }

    #[test]
    fn bad_configurations_are_refused_with_the_reason() {
        let cs = ConnectString::parse("1:2181").unwrap();
        let bad_timeout = ClientConfig::new(cs.clone(), 0, 1);
        assert_eq!(
            Client::new(bad_timeout).unwrap_err(),
            ClientConfigError::BadSessionTimeout { session_timeout_ms: 0 }
        );
        let no_servers = ClientConfig::new(ConnectString { servers: vec![], chroot: None }, 4000, 1);
        assert_eq!(Client::new(no_servers).unwrap_err(), ClientConfigError::NoServers);
        let slash = ClientConfig::new(ConnectString { chroot: Some("/".to_string()), ..cs }, 4000, 1);
        assert_eq!(Client::new(slash).unwrap_err(), ClientConfigError::BadChroot { chroot: "/".to_string() });
    }
}
