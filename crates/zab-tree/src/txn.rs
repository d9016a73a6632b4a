//! Transactions: what the leader's prepare step produces, what the log stores and what every
//! replica applies (reference §1.1, §3.4, §4.2).

use serde::{Deserialize, Serialize};

use crate::jute::{self, DecodeError, Reader};
use crate::{Acl, ErrorCode, OpCode, SessionId, Zxid};

/// One transaction with its header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// Its zxid.
    pub zxid: Zxid,
    /// The session that issued it (0 for leader-issued txns such as deleteContainer).
    pub session: SessionId,
    /// The client's xid for the request.
    pub cxid: i32,
    /// Leader wall-clock time at prepare, ms; becomes ctime/mtime.
    pub time_ms: i64,
    /// What it does.
    pub body: TxnBody,
    /// The tree digest after applying it, if the leader computed one.
    pub digest: Option<u64>,
}

/// The operation of a txn. Every field the apply step needs is carried here so applying is
/// deterministic and idempotent for snapshot replay: new versions and the parent's new
/// child-create counter are absolute values, not increments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnBody {
    /// A session was created.
    CreateSession {
        /// Negotiated timeout.
        timeout_ms: i32,
    },
    /// A session ended; its ephemerals (including ones created by txns still pending at prepare
    /// time) are deleted.
    CloseSession {
        /// Ephemerals to delete, sorted.
        paths_to_delete: Vec<String>,
    },
    /// create / create2.
    Create {
        /// Final path (sequence suffix included).
        path: String,
        /// Data.
        data: Option<Vec<u8>>,
        /// Fixed-up ACL.
        acl: Vec<Acl>,
        /// The session for an ephemeral, else 0.
        ephemeral_owner: SessionId,
        /// The parent's internal child-create counter after this create.
        parent_cversion: i32,
        /// create2 (reply carries the Stat) rather than create.
        with_stat: bool,
    },
    /// createContainer.
    CreateContainer {
        /// Final path.
        path: String,
        /// Data.
        data: Option<Vec<u8>>,
        /// Fixed-up ACL.
        acl: Vec<Acl>,
        /// The parent's child-create counter after this create.
        parent_cversion: i32,
    },
    /// createTTL.
    CreateTtl {
        /// Final path.
        path: String,
        /// Data.
        data: Option<Vec<u8>>,
        /// Fixed-up ACL.
        acl: Vec<Acl>,
        /// The parent's child-create counter after this create.
        parent_cversion: i32,
        /// TTL in ms.
        ttl_ms: i64,
    },
    /// delete.
    Delete {
        /// Path.
        path: String,
    },
    /// deleteContainer (reaper).
    DeleteContainer {
        /// Path.
        path: String,
    },
    /// setData.
    SetData {
        /// Path.
        path: String,
        /// New data.
        data: Option<Vec<u8>>,
        /// The node's new version.
        version: i32,
    },
    /// setACL.
    SetAcl {
        /// Path.
        path: String,
        /// New (fixed-up) ACL.
        acl: Vec<Acl>,
        /// The node's new aversion.
        version: i32,
    },
    /// check inside a multi (no state change).
    Check {
        /// Path.
        path: String,
        /// The version that was checked.
        version: i32,
    },
    /// multi: the ops, or for a failed multi one `Error` per op.
    Multi(Vec<TxnBody>),
    /// A failed request (or, inside a failed multi, one op's result).
    Error {
        /// The code.
        code: ErrorCode,
    },
}

impl TxnBody {
    /// The txn type as logged.
    pub fn opcode(&self) -> OpCode {
        match self {
            TxnBody::CreateSession { .. } => OpCode::CreateSession,
            TxnBody::CloseSession { .. } => OpCode::CloseSession,
            TxnBody::Create { with_stat: false, .. } => OpCode::Create,
            TxnBody::Create { with_stat: true, .. } => OpCode::Create2,
            TxnBody::CreateContainer { .. } => OpCode::CreateContainer,
            TxnBody::CreateTtl { .. } => OpCode::CreateTtl,
            TxnBody::Delete { .. } => OpCode::Delete,
            TxnBody::DeleteContainer { .. } => OpCode::DeleteContainer,
            TxnBody::SetData { .. } => OpCode::SetData,
            TxnBody::SetAcl { .. } => OpCode::SetAcl,
            TxnBody::Check { .. } => OpCode::Check,
            TxnBody::Multi(_) => OpCode::Multi,
            TxnBody::Error { .. } => OpCode::Error,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        use jute::*;
        match self {
            TxnBody::CreateSession { timeout_ms } => put_i32(out, *timeout_ms),
            TxnBody::CloseSession { paths_to_delete } => put_strings(out, paths_to_delete),
            TxnBody::Create { path, data, acl, ephemeral_owner, parent_cversion, with_stat: _ } => {
                put_str(out, path);
                put_buffer(out, data.as_deref());
                put_acl(out, acl);
                put_u64(out, ephemeral_owner.0);
                put_i32(out, *parent_cversion);
            }
            TxnBody::CreateContainer { path, data, acl, parent_cversion } => {
                put_str(out, path);
                put_buffer(out, data.as_deref());
                put_acl(out, acl);
                put_i32(out, *parent_cversion);
            }
            TxnBody::CreateTtl { path, data, acl, parent_cversion, ttl_ms } => {
                put_str(out, path);
                put_buffer(out, data.as_deref());
                put_acl(out, acl);
                put_i32(out, *parent_cversion);
                put_i64(out, *ttl_ms);
            }
            TxnBody::Delete { path } | TxnBody::DeleteContainer { path } => put_str(out, path),
            TxnBody::SetData { path, data, version } => {
                put_str(out, path);
                put_buffer(out, data.as_deref());
                put_i32(out, *version);
            }
            TxnBody::SetAcl { path, acl, version } => {
                put_str(out, path);
                put_acl(out, acl);
                put_i32(out, *version);
            }
            TxnBody::Check { path, version } => {
                put_str(out, path);
                put_i32(out, *version);
            }
            TxnBody::Multi(ops) => {
                put_i32(out, ops.len() as i32);
                for op in ops {
                    put_i32(out, op.opcode().code());
                    op.encode_into(out);
                }
            }
            TxnBody::Error { code } => put_i32(out, code.code()),
        }
    }

    fn decode(r: &mut Reader<'_>, opcode: OpCode, in_multi: bool) -> Result<TxnBody, DecodeError> {
        Ok(match opcode {
            OpCode::CreateSession if !in_multi => {
                TxnBody::CreateSession { timeout_ms: r.i32("session timeout")? }
            }
            OpCode::CloseSession if !in_multi => {
                TxnBody::CloseSession { paths_to_delete: r.strings("ephemeral paths")? }
            }
            OpCode::Create | OpCode::Create2 => TxnBody::Create {
                path: r.string("create path")?,
                data: r.buffer("create data")?,
                acl: r.acl("create ACL")?,
                ephemeral_owner: SessionId(r.u64("ephemeral owner")?),
                parent_cversion: r.i32("parent cversion")?,
                with_stat: opcode == OpCode::Create2,
            },
            OpCode::CreateContainer => TxnBody::CreateContainer {
                path: r.string("create path")?,
                data: r.buffer("create data")?,
                acl: r.acl("create ACL")?,
                parent_cversion: r.i32("parent cversion")?,
            },
            OpCode::CreateTtl => TxnBody::CreateTtl {
                path: r.string("create path")?,
                data: r.buffer("create data")?,
                acl: r.acl("create ACL")?,
                parent_cversion: r.i32("parent cversion")?,
                ttl_ms: r.i64("TTL")?,
            },
            OpCode::Delete => TxnBody::Delete { path: r.string("delete path")? },
            OpCode::DeleteContainer => TxnBody::DeleteContainer { path: r.string("delete path")? },
            OpCode::SetData => TxnBody::SetData {
                path: r.string("setData path")?,
                data: r.buffer("setData data")?,
                version: r.i32("new version")?,
            },
            OpCode::SetAcl => TxnBody::SetAcl {
                path: r.string("setACL path")?,
                acl: r.acl("setACL ACL")?,
                version: r.i32("new aversion")?,
            },
            OpCode::Check => {
                TxnBody::Check { path: r.string("check path")?, version: r.i32("check version")? }
            }
            OpCode::Multi if !in_multi => {
                let n = r.count("multi op", 4)?;
                let mut ops = Vec::with_capacity(n);
                for _ in 0..n {
                    let op = read_opcode(r, true)?;
                    ops.push(TxnBody::decode(r, op, true)?);
                }
                TxnBody::Multi(ops)
            }
            OpCode::Error => {
                let at = r.offset();
                let code = r.i32("error code")?;
                TxnBody::Error {
                    code: ErrorCode::from_code(code)
                        .ok_or_else(|| r.error_at(at, format!("a known error code, found {code}")))?,
                }
            }
            other => {
                return Err(r.error(format!("a txn body, but type {other:?} cannot be one here")));
            }
        })
    }
}

fn read_opcode(r: &mut Reader<'_>, in_multi: bool) -> Result<OpCode, DecodeError> {
    let at = r.offset();
    let code = r.i32(if in_multi { "multi op type" } else { "txn type" })?;
    OpCode::from_code(code).ok_or_else(|| r.error_at(at, format!("a txn type, found {code}")))
}

impl Txn {
    /// Encodes the txn: header (zxid, session, cxid, time, type), body, then a digest flag and
    /// the digest.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        jute::put_u64(&mut out, self.zxid.0);
        jute::put_u64(&mut out, self.session.0);
        jute::put_i32(&mut out, self.cxid);
        jute::put_i64(&mut out, self.time_ms);
        jute::put_i32(&mut out, self.body.opcode().code());
        self.body.encode_into(&mut out);
        match self.digest {
            Some(d) => {
                jute::put_bool(&mut out, true);
                jute::put_u64(&mut out, d);
            }
            None => jute::put_bool(&mut out, false),
        }
        out
    }

    /// Decodes exactly one txn; trailing bytes are an error. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Txn, DecodeError> {
        let mut r = Reader::new(bytes);
        let txn = Txn::read(&mut r)?;
        r.finish("txn")?;
        Ok(txn)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Txn, DecodeError> {
        let zxid = Zxid(r.u64("zxid")?);
        let session = SessionId(r.u64("session id")?);
        let cxid = r.i32("cxid")?;
        let time_ms = r.i64("time")?;
        let opcode = read_opcode(r, false)?;
        let body = TxnBody::decode(r, opcode, false)?;
        let digest = if r.bool("digest flag")? { Some(r.u64("digest")?) } else { None };
        Ok(Txn { zxid, session, cxid, time_ms, body, digest })
    }

    /// True for an error txn (a failed request that still consumed its zxid).
    pub fn is_error(&self) -> bool {
        matches!(self.body, TxnBody::Error { .. })
    }
}
