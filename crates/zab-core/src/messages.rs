//! Messages between servers on the quorum channel (reference §1.3), as Rust values.
//!
//! Election notifications travel on their own channel and are defined in [`crate::election`].
//! Every learner↔leader link is one FIFO stream: the host delivers these in send order on a live
//! connection and loses whatever is in flight when the connection resets.

use serde::{Deserialize, Serialize};
use zab_tree::{Id, Request, SessionId, Txn, Zxid};

use crate::ids::{Epoch, ServerId};

/// ZAB's protocol version number carried in FOLLOWERINFO and LEADERINFO.
pub const PROTOCOL_VERSION: u32 = 0x10000;

/// Starts the halt reason of a follower that got a COMMIT for a txn it does not hold as its
/// oldest pending proposal (the real server exits with this code): a protocol message that is not
/// legal in the receiver's state.
pub const UNMATCHED_TXN_COMMIT: &str = "UNMATCHED_TXN_COMMIT";

/// One packet on a learner↔leader connection. The variant names follow the Java constants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QuorumPacket {
    /// Learner → leader, first packet: the learner's acceptedEpoch.
    FollowerInfo { sid: ServerId, accepted_epoch: Epoch, protocol_version: u32 },
    /// Observer → leader, first packet.
    ObserverInfo { sid: ServerId, accepted_epoch: Epoch, protocol_version: u32 },
    /// Leader → learner: the new epoch, once a quorum of FOLLOWERINFO fixed it.
    LeaderInfo { epoch: Epoch, protocol_version: u32 },
    /// Learner → leader: `current_epoch` is `None` (the Java -1) when the new epoch equals the
    /// learner's acceptedEpoch; `last_zxid` is the learner's last logged zxid.
    AckEpoch { current_epoch: Option<Epoch>, last_zxid: Zxid },
    /// Leader → learner: sync by replaying PROPOSAL/COMMIT pairs that follow.
    Diff { zxid: Zxid },
    /// Leader → learner: truncate the log to `zxid`, then replay what follows.
    Trunc { zxid: Zxid },
    /// Leader → learner: replace everything with this snapshot of the leader's tree at `zxid`.
    Snap { zxid: Zxid, snapshot: Vec<u8> },
    /// Leader → learner: end of the sync stream for `zxid` = (epoch, 0).
    NewLeader { zxid: Zxid },
    /// Learner → leader: NEWLEADER ack (counter 0), proposal ack, or the ignored UPTODATE ack.
    Ack { zxid: Zxid },
    /// Leader → learner: the leader is serving; the learner may serve too.
    UpToDate,
    /// Leader → follower: a txn to log and ACK.
    Proposal { txn: Txn },
    /// Leader → follower: commit the proposal with this zxid.
    Commit { zxid: Zxid },
    /// Leader → observer: a committed txn.
    Inform { txn: Txn },
    /// Learner → leader: a forwarded write, session create/close or sync.
    Request { session: SessionId, cxid: i32, request: ForwardedRequest, auth: Vec<Id> },
    /// Leader → learner: the last proposed zxid. Learner → leader: the sessions it touched.
    Ping { zxid: Zxid, touched: Vec<(SessionId, u32)> },
    /// Learner → leader: is this session still valid (a client reconnected to the learner)?
    Revalidate { session: SessionId, timeout_ms: u32 },
    /// Leader → learner: answer to [`QuorumPacket::Revalidate`].
    RevalidateReply { session: SessionId, valid: bool },
    /// Leader → learner: the forwarded `sync` of (session, cxid) may complete once everything the
    /// learner received before this packet is applied.
    Sync { session: SessionId, cxid: i32 },
    /// Leader → follower: a `sync` arrived; confirm that you still follow this leader.
    SyncRound { round: u64 },
    /// Follower → leader: answer to [`QuorumPacket::SyncRound`].
    SyncRoundAck { round: u64 },
}

/// What a learner forwards to the leader.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ForwardedRequest {
    /// A client write or `sync`.
    Client(Request),
    /// A new session asking for this timeout.
    CreateSession { timeout_ms: u32 },
    /// A client closed its session.
    CloseSession,
}

impl QuorumPacket {
    /// A short summary for traces, such as `PROPOSAL 0x100000003`.
    pub fn summary(&self) -> String {
        match self {
            QuorumPacket::FollowerInfo { accepted_epoch, .. } => format!("FOLLOWERINFO e{accepted_epoch}"),
            QuorumPacket::ObserverInfo { accepted_epoch, .. } => format!("OBSERVERINFO e{accepted_epoch}"),
            QuorumPacket::LeaderInfo { epoch, .. } => format!("LEADERINFO e{epoch}"),
            QuorumPacket::AckEpoch { current_epoch, last_zxid } => match current_epoch {
                Some(e) => format!("ACKEPOCH e{e} {last_zxid}"),
                None => format!("ACKEPOCH -1 {last_zxid}"),
            },
            QuorumPacket::Diff { zxid } => format!("DIFF {zxid}"),
            QuorumPacket::Trunc { zxid } => format!("TRUNC {zxid}"),
            QuorumPacket::Snap { zxid, snapshot } => format!("SNAP {zxid} ({} bytes)", snapshot.len()),
            QuorumPacket::NewLeader { zxid } => format!("NEWLEADER {zxid}"),
            QuorumPacket::Ack { zxid } => format!("ACK {zxid}"),
            QuorumPacket::UpToDate => "UPTODATE".to_string(),
            QuorumPacket::Proposal { txn } => format!("PROPOSAL {}", txn.zxid),
            QuorumPacket::Commit { zxid } => format!("COMMIT {zxid}"),
            QuorumPacket::Inform { txn } => format!("INFORM {}", txn.zxid),
            QuorumPacket::Request { session, cxid, .. } => format!("REQUEST 0x{:x}/{cxid}", session.0),
            QuorumPacket::Ping { zxid, touched } => format!("PING {zxid} ({} sessions)", touched.len()),
            QuorumPacket::Revalidate { session, .. } => format!("REVALIDATE 0x{:x}", session.0),
            QuorumPacket::RevalidateReply { session, valid } => {
                format!("REVALIDATE 0x{:x} {}", session.0, if *valid { "valid" } else { "invalid" })
            }
            QuorumPacket::Sync { session, cxid } => format!("SYNC 0x{:x}/{cxid}", session.0),
            QuorumPacket::SyncRound { round } => format!("SYNCROUND {round}"),
            QuorumPacket::SyncRoundAck { round } => format!("SYNCROUND ACK {round}"),
        }
    }
}
