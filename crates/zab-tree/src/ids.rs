//! Identifiers: transaction ids and session ids.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A ZooKeeper transaction id: the high 32 bits are the leader epoch, the low 32 bits a counter
/// within that epoch. Zxids order transactions totally; a counter of 0 marks the start of an
/// epoch and never names a real transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Zxid(pub u64);

impl Zxid {
    /// The zxid of an empty database.
    pub const ZERO: Zxid = Zxid(0);

    /// Builds `epoch << 32 | counter`.
    pub const fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid(((epoch as u64) << 32) | counter as u64)
    }

    /// The leader epoch that issued this zxid.
    pub const fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The position of this zxid within its epoch.
    pub const fn counter(self) -> u32 {
        self.0 as u32
    }

    /// The zxid that follows this one in the same epoch.
    ///
    /// # Panics
    /// If the counter would wrap: a leader must move to a new epoch before that (reference §1.1).
    pub fn next(self) -> Zxid {
        assert!(self.counter() < u32::MAX, "zxid counter exhausted at {self}; a new epoch is required");
        Zxid(self.0 + 1)
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// A client session id; 0 means "no session" (for example a txn the leader issues itself).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionId(pub u64);

impl SessionId {
    /// No session.
    pub const NONE: SessionId = SessionId(0);

    /// The ephemeral-owner value that marks a container node. Never a real session id.
    pub const CONTAINER_OWNER: SessionId = SessionId(0x8000_0000_0000_0000);

    /// Ephemeral owners with this top byte mark TTL nodes; the low 40 bits hold the TTL in ms.
    pub const TTL_OWNER_MARKER: u64 = 0xFF00_0000_0000_0000;

    /// The largest TTL a TTL node can carry, in milliseconds (2^40 - 1).
    pub const TTL_MAX_MS: i64 = (1 << 40) - 1;

    /// The ephemeral owner recorded for a TTL node with the given TTL.
    pub const fn ttl_owner(ttl_ms: i64) -> SessionId {
        SessionId(Self::TTL_OWNER_MARKER | (ttl_ms as u64 & Self::TTL_MAX_MS as u64))
    }

    /// What kind of node an ephemeral-owner value describes.
    pub fn owner_kind(self) -> OwnerKind {
        if self.0 == 0 {
            OwnerKind::Persistent
        } else if self == Self::CONTAINER_OWNER {
            OwnerKind::Container
        } else if self.0 & Self::TTL_OWNER_MARKER == Self::TTL_OWNER_MARKER {
            OwnerKind::Ttl { ttl_ms: (self.0 & Self::TTL_MAX_MS as u64) as i64 }
        } else {
            OwnerKind::Session(self)
        }
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// The meaning of a node's internal ephemeral-owner field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerKind {
    /// A plain persistent node (owner 0).
    Persistent,
    /// An ephemeral node owned by this session.
    Session(SessionId),
    /// A container node.
    Container,
    /// A TTL node with its TTL in milliseconds.
    Ttl { ttl_ms: i64 },
}
