//! The replica's inputs and outputs: the whole surface between the core and its host.

use serde::{Deserialize, Serialize};
use zab_tree::{ConnectRequest, ConnectResponse, ReplyHeader, Request, Response, WatchEvent, Zxid};

use crate::election::Notification;
use crate::ids::{Epoch, ServerId};
use crate::messages::QuorumPacket;
use crate::persist::DiskOp;

/// A point on this server's local clock, in nanoseconds since an arbitrary origin. The host passes
/// it to every `step`; it may be skewed or drift relative to other servers' clocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Instant(pub u64);

impl Instant {
    /// The instant `ms` milliseconds after the origin.
    pub const fn from_ms(ms: u64) -> Instant {
        Instant(ms * 1_000_000)
    }
    /// Milliseconds since the origin, rounded down.
    pub const fn as_ms(self) -> u64 {
        self.0 / 1_000_000
    }
    /// This instant plus `ms` milliseconds.
    pub const fn plus_ms(self, ms: u64) -> Instant {
        Instant(self.0.saturating_add(ms.saturating_mul(1_000_000)))
    }
}

impl std::fmt::Display for Instant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1_000_000_000, (self.0 / 1_000_000) % 1000)
    }
}

/// A client connection at this server, chosen by the host; unique for the server's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConnId(pub u64);

/// Names one `persist` request. `seq` grows by one per request within a process incarnation; the
/// epoch is the replica's acceptedEpoch when it was issued (after a TRUNC the same zxid slot can be
/// written again in a later epoch, and traces should tell the two writes apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IoId {
    pub epoch: Epoch,
    pub seq: u64,
}

/// Why a disk request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiskError {
    /// EIO on write or fsync.
    Io,
    /// ENOSPC.
    NoSpace,
}

/// Everything that can happen to a replica.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// `now` reached (or passed) `next_deadline()`.
    Timeout,
    /// A quorum-channel connection to `peer` is up (after our `connect`, or accepted from the peer).
    Connected { peer: ServerId },
    /// Our `connect` to `peer` failed (unreachable, refused, or timed out).
    ConnectFailed { peer: ServerId },
    /// The quorum-channel connection to `peer` closed or reset; anything in flight is lost.
    Disconnected { peer: ServerId },
    /// A packet arrived on the quorum connection with `from`.
    Received { from: ServerId, msg: QuorumPacket },
    /// An election notification arrived from `from`.
    Election { from: ServerId, n: Notification },
    /// Every operation of the `persist` request `io` is durable.
    Persisted { io: IoId },
    /// The `persist` request `io` failed; none of it can be assumed durable.
    PersistFailed { io: IoId, error: DiskError },
    /// A client opened a connection and sent its ConnectRequest.
    ClientConnect { conn: ConnId, request: ConnectRequest },
    /// A client request on an established connection.
    Client { conn: ConnId, xid: i32, request: Request },
    /// The client connection closed (either side, or a network cut).
    ClientClosed { conn: ConnId },
}

/// One output verb. The host performs them in the order they were appended.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send `msg` to `to` on the quorum connection (dropped by the host if there is none).
    Send { to: ServerId, msg: QuorumPacket },
    /// Send an election notification to `to` (best effort; the election retransmits).
    SendElection { to: ServerId, n: Notification },
    /// Open a quorum connection to `peer`; answered by `Connected` or `ConnectFailed`.
    Connect { peer: ServerId },
    /// Close the quorum connection to `peer`; the peer sees `Disconnected`.
    Disconnect { peer: ServerId },
    /// Perform these disk operations in order and answer `Persisted{io}` (or `PersistFailed`) once
    /// all are durable. Requests complete in the order they were issued.
    Persist { io: IoId, ops: Vec<DiskOp> },
    /// Answer a ConnectRequest. A `timeout_ms` of 0 means the session is expired.
    ClientConnected { conn: ConnId, response: ConnectResponse },
    /// Answer a client request.
    Reply { conn: ConnId, header: ReplyHeader, response: Option<Response> },
    /// Deliver a watch event on a client connection.
    Notify { conn: ConnId, event: WatchEvent, zxid: Zxid },
    /// Close a client connection (refused reconnect, oversized request, session expired).
    CloseClient { conn: ConnId },
    /// A fact for traces and status; the host never has to act on it.
    Event(CoreEvent),
}

/// A server role, as `srvr` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    Looking,
    Following,
    Leading,
    Observing,
    Standalone,
}

impl Role {
    /// The `Mode:` word of `srvr`.
    pub fn mode(self) -> &'static str {
        match self {
            Role::Looking => "looking",
            Role::Following => "follower",
            Role::Leading => "leader",
            Role::Observing => "observer",
            Role::Standalone => "standalone",
        }
    }
}

/// The ZAB phase (reference §1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    Election,
    Discovery,
    Synchronization,
    Broadcast,
}

/// How a leader syncs a learner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SyncMode {
    Diff,
    Trunc,
    TruncDiff,
    Snap,
}

/// Which epoch file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EpochFile {
    Accepted,
    Current,
}

/// Facts in ZAB's vocabulary, for traces and invariant checkers.
#[derive(Clone, Debug, PartialEq)]
pub enum CoreEvent {
    /// Role, phase, epochs or zxids changed (see [`Status`]).
    Transition(Status),
    ElectionDecided {
        leader: ServerId,
        round: u64,
    },
    EpochPersisted {
        file: EpochFile,
        epoch: Epoch,
    },
    LeaderInfoSent {
        peer: ServerId,
        epoch: Epoch,
    },
    LeaderEstablished {
        epoch: Epoch,
        acks: Vec<ServerId>,
    },
    SyncChosen {
        peer: ServerId,
        mode: SyncMode,
        peer_zxid: Zxid,
        leader_zxid: Zxid,
        trunc_to: Option<Zxid>,
    },
    NewLeaderAcked {
        epoch: Epoch,
    },
    Logged {
        zxid: Zxid,
        hash: u64,
    },
    Truncated {
        to: Zxid,
    },
    SnapInstalled {
        zxid: Zxid,
    },
    Durable {
        upto: Zxid,
    },
    AckSent {
        zxid: Zxid,
    },
    Committed {
        zxid: Zxid,
        acks: Vec<ServerId>,
    },
    Applied {
        zxid: Zxid,
        hash: u64,
    },
    SessionClosed {
        session: u64,
        zxid: Zxid,
        expired: bool,
    },
    /// Something went wrong that a real server would log at ERROR (a peer sent garbage, a commit
    /// arrived for an unknown txn, the disk failed) and what the replica did about it.
    Error {
        message: String,
    },
}

/// A snapshot of the replica's state for status lines and traces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: ServerId,
    pub role: Role,
    pub phase: Phase,
    pub leader: Option<ServerId>,
    pub accepted_epoch: Epoch,
    pub current_epoch: Epoch,
    /// Last zxid in the log (`None` for a database that cannot be trusted yet).
    pub last_logged: Option<Zxid>,
    /// Last zxid applied to the data tree.
    pub last_committed: Zxid,
    /// Disk requests issued but not yet durable.
    pub pending_disk: usize,
    /// Whether the server answers client requests.
    pub serving: bool,
}

/// The caller-owned output buffer that `step` appends to.
#[derive(Debug, Default)]
pub struct Out {
    pub actions: Vec<Action>,
}

impl Out {
    pub fn new() -> Out {
        Out::default()
    }
    pub fn send(&mut self, to: ServerId, msg: QuorumPacket) {
        self.actions.push(Action::Send { to, msg });
    }
    pub fn send_election(&mut self, to: ServerId, n: Notification) {
        self.actions.push(Action::SendElection { to, n });
    }
    pub fn connect(&mut self, peer: ServerId) {
        self.actions.push(Action::Connect { peer });
    }
    pub fn disconnect(&mut self, peer: ServerId) {
        self.actions.push(Action::Disconnect { peer });
    }
    pub fn persist(&mut self, io: IoId, ops: Vec<DiskOp>) {
        self.actions.push(Action::Persist { io, ops });
    }
    pub fn reply(&mut self, conn: ConnId, header: ReplyHeader, response: Option<Response>) {
        self.actions.push(Action::Reply { conn, header, response });
    }
    pub fn notify(&mut self, conn: ConnId, event: WatchEvent, zxid: Zxid) {
        self.actions.push(Action::Notify { conn, event, zxid });
    }
    pub fn event(&mut self, ev: CoreEvent) {
        self.actions.push(Action::Event(ev));
    }
    /// Takes every action appended so far, leaving the buffer empty.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Action> {
        self.actions.drain(..)
    }
}
