//! Votes, notifications, the total order on votes, and the notification byte encoding.
//!
//! A notification is what one server tells another on the election port: its state, the vote it
//! currently proposes, and the election round it is in. Peers' bytes are data:
//! [`Notification::decode`] checks every field and returns a [`DecodeError`] naming what was
//! wrong; it never panics.
//!
//! Byte layout (all integers big-endian, as the Java servers write them):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | state ordinal: 0 LOOKING, 1 FOLLOWING, 2 LEADING, 3 OBSERVING |
//! | 4 | 8 | proposed leader sid (`i64::MIN` = nobody) |
//! | 12 | 8 | proposed zxid (-1 = uninitialized database) |
//! | 20 | 8 | round (the sender's election epoch / logical clock) |
//! | 28 | 8 | proposed leader's peer epoch |
//! | 36 | 4 | version (≥ 2) |
//! | 40 | 4 | config length, then that many config bytes |
//!
//! Two older forms are accepted on input: 28 bytes (no peer epoch; it is taken from the zxid) and
//! 40 bytes (peer epoch, then 4 unused bytes; version 0). Dynamic reconfiguration is not modelled,
//! so config bytes are length-checked and discarded, and encoding always writes an empty config.

use std::collections::BTreeSet;
use std::fmt;

use zab_tree::Zxid;

use crate::ids::{Epoch, ServerId};

/// The protocol version this engine puts in the notifications it sends.
pub const NOTIFICATION_VERSION: u32 = 2;

/// A server's role as announced in a notification. The discriminant is the wire ordinal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerState {
    /// Running an election.
    Looking = 0,
    /// Following the leader named in its vote.
    Following = 1,
    /// Leading; its vote names itself.
    Leading = 2,
    /// A non-voting learner attached to the leader named in its vote.
    Observing = 3,
}

/// A proposal for who should lead: the candidate, its last logged zxid and its current epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vote {
    /// The proposed leader.
    pub leader: ServerId,
    /// The proposed leader's last logged zxid; `None` when its database is uninitialized (a wiped
    /// data directory without permission to start empty), which Java servers send as -1.
    pub zxid: Option<Zxid>,
    /// The proposed leader's current epoch (its `currentEpoch` file), not the election round.
    pub peer_epoch: Epoch,
}

/// One election message, as sent or as decoded from a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The sender's state when it sent this.
    pub state: PeerState,
    /// The sender's proposal; `None` when it proposes nobody (an observer that has not adopted
    /// anyone's vote yet).
    pub vote: Option<Vote>,
    /// The sender's election round (Java's `electionEpoch`/`logicalclock`). A server that is not
    /// LOOKING reports the round in which it decided.
    pub round: u64,
    /// Who sent it. Not part of the bytes: the connection names the sender.
    pub sender: ServerId,
    /// Protocol version: 0 for the old 28/40-byte forms, [`NOTIFICATION_VERSION`] for ours.
    pub version: u32,
}

/// Why a notification's bytes were rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer than 28 bytes: not even the oldest form.
    TooShort { len: usize },
    /// The length is none of 28, 40 or at least 44 bytes.
    BadLength { len: usize },
    /// The state ordinal is not 0..=3.
    UnknownState { ordinal: i32 },
    /// A leader sid below zero (other than the `i64::MIN` "nobody" marker).
    NegativeLeader { leader: i64 },
    /// A negative round.
    NegativeRound { round: i64 },
    /// A peer epoch outside `0..=u32::MAX`.
    PeerEpochOutOfRange { peer_epoch: i64 },
    /// A long-form notification whose version is below 2 (such versions use the 40-byte form).
    UnsupportedVersion { version: u32 },
    /// The config length is negative or disagrees with the bytes that follow it.
    BadConfigLength { config_len: i32, remaining: usize },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooShort { len } => {
                write!(f, "notification of {len} bytes is shorter than the 28-byte minimum")
            }
            DecodeError::BadLength { len } => {
                write!(f, "notification of {len} bytes: expected 28, 40, or at least 44 bytes")
            }
            DecodeError::UnknownState { ordinal } => {
                write!(f, "notification state ordinal {ordinal}: expected 0..=3")
            }
            DecodeError::NegativeLeader { leader } => {
                write!(f, "notification proposes negative sid {leader}")
            }
            DecodeError::NegativeRound { round } => write!(f, "notification carries negative round {round}"),
            DecodeError::PeerEpochOutOfRange { peer_epoch } => {
                write!(f, "notification peer epoch {peer_epoch} is outside 0..=4294967295")
            }
            DecodeError::UnsupportedVersion { version } => {
                write!(f, "long-form notification with version {version}: expected at least 2")
            }
            DecodeError::BadConfigLength { config_len, remaining } => write!(
                f,
                "notification config length {config_len} but {remaining} bytes follow the length field"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The total order on votes (`totalOrderPredicate`): does `candidate` beat `current`?
///
/// A candidate that is not a voter never wins. Otherwise the higher peer epoch wins, then the
/// higher zxid (an uninitialized database loses to every zxid), then the higher sid. Anything beats
/// proposing nobody.
pub fn vote_beats(candidate: &Vote, current: Option<&Vote>, voters: &BTreeSet<ServerId>) -> bool {
    if !voters.contains(&candidate.leader) {
        return false;
    }
    match current {
        None => true,
        Some(current) => candidate.order_key() > current.order_key(),
    }
}

impl Vote {
    /// The key [`vote_beats`] compares: (peer epoch, zxid, leader), lexicographically.
    pub fn order_key(&self) -> (Epoch, Option<Zxid>, ServerId) {
        (self.peer_epoch, self.zxid, self.leader)
    }
}

impl PeerState {
    /// The state for a wire ordinal, if it names one.
    pub fn from_ordinal(ordinal: i32) -> Option<PeerState> {
        match ordinal {
            0 => Some(PeerState::Looking),
            1 => Some(PeerState::Following),
            2 => Some(PeerState::Leading),
            3 => Some(PeerState::Observing),
            _ => None,
        }
    }
}

impl Notification {
    /// Encodes in the current 44-byte form, or in the legacy 40-byte form when `version` < 2.
    ///
    /// # Panics
    /// In debug builds, if a field cannot be represented on the wire: a leader sid or round of
    /// 2^63 or more, or the zxid `u64::MAX` (which would read back as "uninitialized"; a leader
    /// never issues it because it changes epoch before the counter reaches `u32::MAX`).
    pub fn encode(&self) -> Vec<u8> {
        let (leader, zxid, peer_epoch) = match &self.vote {
            None => (i64::MIN, i64::MIN, i64::MIN),
            Some(vote) => {
                debug_assert!(vote.leader.0 <= i64::MAX as u64, "leader sid {} not encodable", vote.leader);
                debug_assert!(vote.zxid != Some(Zxid(u64::MAX)), "zxid u64::MAX would decode as -1");
                let zxid = vote.zxid.map_or(-1, |z| z.0 as i64);
                (vote.leader.0 as i64, zxid, i64::from(vote.peer_epoch.0))
            }
        };
        debug_assert!(self.round <= i64::MAX as u64, "round {} not encodable", self.round);
        let mut bytes = Vec::with_capacity(44);
        bytes.extend_from_slice(&(self.state as i32).to_be_bytes());
        bytes.extend_from_slice(&leader.to_be_bytes());
        bytes.extend_from_slice(&zxid.to_be_bytes());
        bytes.extend_from_slice(&(self.round as i64).to_be_bytes());
        bytes.extend_from_slice(&peer_epoch.to_be_bytes());
        if self.version < 2 {
            bytes.extend_from_slice(&[0; 4]);
        } else {
            bytes.extend_from_slice(&self.version.to_be_bytes());
            bytes.extend_from_slice(&0i32.to_be_bytes());
        }
        bytes
    }

    /// Decodes the bytes `sender` sent. Never panics; see the module doc for the accepted forms.
    pub fn decode(sender: ServerId, bytes: &[u8]) -> Result<Notification, DecodeError> {
        let len = bytes.len();
        if len < 28 {
            return Err(DecodeError::TooShort { len });
        }
        if len != 28 && len != 40 && len < 44 {
            return Err(DecodeError::BadLength { len });
        }
        let mut reader = Reader { bytes, at: 0 };
        let ordinal = reader.i32();
        let state = PeerState::from_ordinal(ordinal).ok_or(DecodeError::UnknownState { ordinal })?;
        let leader = reader.i64();
        let zxid = reader.i64();
        let round = reader.i64();
        if round < 0 {
            return Err(DecodeError::NegativeRound { round });
        }
        let zxid = if zxid == -1 { None } else { Some(Zxid(zxid as u64)) };
        let (peer_epoch, version) = if len == 28 {
            // The oldest form predates peer epochs; the proposed zxid's epoch stands in for it.
            (zxid.map_or(0, |z| i64::from(z.epoch())), 0)
        } else if len == 40 {
            (reader.i64(), 0)
        } else {
            let peer_epoch = reader.i64();
            let version = reader.i32() as u32;
            if version < 2 {
                return Err(DecodeError::UnsupportedVersion { version });
            }
            let config_len = reader.i32();
            let remaining = len - reader.at;
            if usize::try_from(config_len).ok() != Some(remaining) {
                return Err(DecodeError::BadConfigLength { config_len, remaining });
            }
            (peer_epoch, version)
        };
        let vote = if leader == i64::MIN {
            None
        } else if leader < 0 {
            return Err(DecodeError::NegativeLeader { leader });
        } else {
            let peer_epoch =
                u32::try_from(peer_epoch).map_err(|_| DecodeError::PeerEpochOutOfRange { peer_epoch })?;
            Some(Vote { leader: ServerId(leader as u64), zxid, peer_epoch: Epoch(peer_epoch) })
        };
        Ok(Notification { state, vote, round: round as u64, sender, version })
    }
}

impl fmt::Display for Vote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.zxid {
            Some(zxid) => write!(f, "(leader {}, zxid {zxid}, peer epoch {})", self.leader, self.peer_epoch),
            None => write!(f, "(leader {}, zxid -1, peer epoch {})", self.leader, self.peer_epoch),
        }
    }
}

/// Reads big-endian integers from a slice whose length the caller has already checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut field = [0; N];
        field.copy_from_slice(&self.bytes[self.at..self.at + N]);
        self.at += N;
        field
    }

    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take())
    }

    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take())
    }
}
