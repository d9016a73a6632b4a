//! Node metadata: the persisted fields a node keeps and the 11-field `Stat` clients see
//! (reference §3.5).

use serde::{Deserialize, Serialize};

use crate::{OwnerKind, SessionId, Zxid};

/// The 11 Stat fields exactly as a client sees them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    /// Zxid of the create.
    pub czxid: Zxid,
    /// Zxid of the last setData (= czxid until then).
    pub mzxid: Zxid,
    /// Zxid of the last child create or delete (= czxid until then).
    pub pzxid: Zxid,
    /// Leader wall-clock time of the create, ms since the epoch.
    pub ctime_ms: i64,
    /// Leader wall-clock time of the last setData.
    pub mtime_ms: i64,
    /// Number of setData calls.
    pub version: i32,
    /// Number of child creates plus child deletes.
    pub cversion: i32,
    /// Number of setACL calls.
    pub aversion: i32,
    /// The owning session of an ephemeral node; 0 for every other node, container and TTL
    /// nodes included.
    pub ephemeral_owner: SessionId,
    /// Length of the data (null data counts as 0).
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
}

/// The fields a node persists (ZooKeeper's StatPersisted). `cversion` here is the *internal*
/// count of child creates only; `ephemeral_owner` keeps the container and TTL markers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStat {
    /// Zxid of the create.
    pub czxid: Zxid,
    /// Zxid of the last setData.
    pub mzxid: Zxid,
    /// Zxid of the last child create or delete.
    pub pzxid: Zxid,
    /// Create time, ms.
    pub ctime_ms: i64,
    /// Last setData time, ms.
    pub mtime_ms: i64,
    /// Data version.
    pub version: i32,
    /// Number of child creates ever performed under this node (the sequence counter).
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
    /// Session id, container marker, TTL marker or 0.
    pub ephemeral_owner: SessionId,
}

impl NodeStat {
    /// The stat of a node created by the txn with this zxid and time.
    pub fn created(zxid: Zxid, time_ms: i64, ephemeral_owner: SessionId) -> NodeStat {
        NodeStat {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime_ms: time_ms,
            mtime_ms: time_ms,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
        }
    }

    /// The client-visible Stat: cversion reported as 2 × internal − numChildren (creates plus
    /// deletes), container and TTL owners reported as 0.
    pub fn to_stat(&self, data_length: usize, num_children: usize) -> Stat {
        let num_children = num_children as i32;
        let ephemeral_owner = match self.ephemeral_owner.owner_kind() {
            OwnerKind::Session(s) => s,
            _ => SessionId::NONE,
        };
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            pzxid: self.pzxid,
            ctime_ms: self.ctime_ms,
            mtime_ms: self.mtime_ms,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner,
            data_length: data_length as i32,
            num_children,
        }
    }

    /// The session owning this node if it is a session ephemeral.
    pub fn ephemeral_session(&self) -> Option<SessionId> {
        match self.ephemeral_owner.owner_kind() {
            OwnerKind::Session(s) => Some(s),
            _ => None,
        }
    }
}
