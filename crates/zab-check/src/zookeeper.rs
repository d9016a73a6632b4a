//! ZooKeeper's consistency guarantee over zabsim client histories: writes are linearizable,
//! reads are ordered-sequentially consistent (each session sees a monotonic prefix of the
//! write order, its own writes included). `ConnectionLoss` leaves a write indeterminate; an
//! expired session's pending operation did not take effect.
//!
//! Two checkers read the same trace and must agree on the writes:
//!
//! - [`check_writes`], a black-box linearizability search of the writes with the [`ZkModel`]
//!   (create / delete / setData with versions and their error results), split per top-level
//!   subtree, using no server-provided ordering at all;
//! - [`check_zxid_witness`], fast and order-aware: it trusts the zxids in replies as witnesses of
//!   the write order, checks that they respect real time and each session's order, replays the
//!   writes in zxid order on the same model, and checks every read against the state at the zxid
//!   its reply carried.
//!
//! Supported writes: create (persistent and ephemeral, sequential only when it completed, so its
//! name is known), delete and setData. Histories with other writes (multi, setACL, ...) are
//! rejected with [`ZkHistoryError`] rather than checked wrongly.

use std::collections::BTreeMap;
use std::fmt;

use zab_trace::{Event, Outcome, Record};
use zab_tree::proto::{Request, Response};
use zab_tree::ErrorCode;

use crate::history::{History, Operation};
use crate::model::Model;
use crate::search::{check, CheckReport};

/// What a write reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkResult {
    /// It took effect.
    Ok,
    /// The server refused it with this code: it did not change the tree, and the code must be
    /// justified by the tree at that point.
    Err(ErrorCode),
    /// No answer (connection loss): it may or may not have taken effect.
    Unknown,
}

/// A write with its result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkOp {
    /// Create `path` (the actual path, sequence suffix included, for a completed create).
    Create {
        /// Path.
        path: String,
        /// Initial data.
        data: Option<Vec<u8>>,
        /// Result.
        result: ZkResult,
    },
    /// Delete `path` if its version is `version` (-1: any).
    Delete {
        /// Path.
        path: String,
        /// Expected version.
        version: i32,
        /// Result.
        result: ZkResult,
    },
    /// Set `path`'s data if its version is `version` (-1: any); `new_version` is the version
    /// the reply's Stat reported.
    SetData {
        /// Path.
        path: String,
        /// New data.
        data: Option<Vec<u8>>,
        /// Expected version.
        version: i32,
        /// Result.
        result: ZkResult,
        /// Version after the write, from the reply.
        new_version: Option<i32>,
    },
}

impl ZkOp {
    fn path(&self) -> &str {
        match self {
            ZkOp::Create { path, .. } | ZkOp::Delete { path, .. } | ZkOp::SetData { path, .. } => path,
        }
    }

    fn result(&self) -> &ZkResult {
        match self {
            ZkOp::Create { result, .. } | ZkOp::Delete { result, .. } | ZkOp::SetData { result, .. } => {
                result
            }
        }
    }
}

/// A znode in the model: data and data version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ZNode {
    /// Data (`None` is null data).
    pub data: Option<Vec<u8>>,
    /// Number of setData calls.
    pub version: i32,
}

/// The data tree as the writes see it: every node but the root, by path. The root always
/// exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZkModel;

/// The model's state.
pub type ZkState = BTreeMap<String, ZNode>;

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn exists(state: &ZkState, path: &str) -> bool {
    path == "/" || state.contains_key(path)
}

fn has_children(state: &ZkState, path: &str) -> bool {
    let prefix = format!("{path}/");
    state.range(prefix.clone()..).next().is_some_and(|(p, _)| p.starts_with(&prefix))
}

/// The result `op` would have in `state`, and the state after it.
fn apply(state: &ZkState, op: &ZkOp) -> (ZkResult, Option<ZkState>) {
    use ErrorCode::{BadVersion, NoNode, NodeExists, NotEmpty};
    let version_ok = |node: &ZNode, version: i32| version == -1 || version == node.version;
    match op {
        ZkOp::Create { path, data, .. } => {
            if exists(state, path) {
                (ZkResult::Err(NodeExists), None)
            } else if !exists(state, parent(path)) {
                (ZkResult::Err(NoNode), None)
            } else {
                let mut s = state.clone();
                s.insert(path.clone(), ZNode { data: data.clone(), version: 0 });
                (ZkResult::Ok, Some(s))
            }
        }
        ZkOp::Delete { path, version, .. } => match state.get(path) {
            None => (ZkResult::Err(NoNode), None),
            Some(node) if !version_ok(node, *version) => (ZkResult::Err(BadVersion), None),
            Some(_) if has_children(state, path) => (ZkResult::Err(NotEmpty), None),
            Some(_) => {
                let mut s = state.clone();
                s.remove(path);
                (ZkResult::Ok, Some(s))
            }
        },
        ZkOp::SetData { path, data, version, .. } => match state.get(path) {
            None => (ZkResult::Err(NoNode), None),
            Some(node) if !version_ok(node, *version) => (ZkResult::Err(BadVersion), None),
            Some(node) => {
                let mut s = state.clone();
                s.insert(path.clone(), ZNode { data: data.clone(), version: node.version + 1 });
                (ZkResult::Ok, Some(s))
            }
        },
    }
}

impl Model for ZkModel {
    type Op = ZkOp;
    type State = ZkState;

    fn init(&self) -> ZkState {
        ZkState::new()
    }

    fn step(&self, state: &ZkState, op: &ZkOp, next: &mut Vec<ZkState>) {
        let (result, after) = apply(state, op);
        match (op.result(), result) {
            (ZkResult::Ok, ZkResult::Ok) => {
                let after = after.expect("an ok result comes with a state");
                if let ZkOp::SetData { new_version: Some(v), path, .. } = op {
                    if after.get(path).map(|n| n.version) != Some(*v) {
                        return;
                    }
                }
                next.push(after);
            }
            // An error is legal when the tree justifies exactly that code.
            (ZkResult::Err(observed), ZkResult::Err(expected)) if *observed == expected => {
                next.push(state.clone())
            }
            // An unknown outcome that would fail changes nothing (like never happening).
            (ZkResult::Unknown, ZkResult::Ok) => next.push(after.expect("an ok result comes with a state")),
            (ZkResult::Unknown, ZkResult::Err(_)) => next.push(state.clone()),
            _ => {}
        }
    }

    fn is_read_only(&self, op: &ZkOp) -> bool {
        matches!(op.result(), ZkResult::Err(_))
    }

    /// Subtrees under different top-level nodes never interact (the root always exists).
    fn partition(&self, ops: &[ZkOp]) -> Option<Vec<Vec<usize>>> {
        let mut parts: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            let path = op.path();
            let top = path[1..].find('/').map_or(path, |j| &path[..j + 1]);
            parts.entry(top).or_default().push(i);
        }
        Some(parts.into_values().collect())
    }
}

/// A trace whose history cannot be checked here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkHistoryError {
    /// Index of the offending record.
    pub record: u64,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ZkHistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}: {}", self.record, self.message)
    }
}

impl std::error::Error for ZkHistoryError {}

/// One client call of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct ZkCall {
    /// The session it ran under.
    pub session: u64,
    /// What was asked.
    pub request: Request,
    /// Record index of the invocation.
    pub invoked_at: u64,
    /// Record index of the completion, if any.
    pub completed_at: Option<u64>,
    /// The reply header's zxid, when there was a reply.
    pub zxid: Option<u64>,
    /// How it ended (`None`: never completed).
    pub outcome: Option<Outcome>,
}

/// The client calls of a trace, in invocation order.
pub fn calls(records: &[Record]) -> Result<Vec<ZkCall>, ZkHistoryError> {
    let mut out: Vec<ZkCall> = Vec::new();
    let mut pending: BTreeMap<(u32, u64, i32), usize> = BTreeMap::new();
    for r in records {
        match &r.ev {
            Event::Invoke { client, session, xid, op, .. } => {
                if pending.insert((*client, *session, *xid), out.len()).is_some() {
                    let message = format!("client {client} reuses xid {xid} while it is outstanding");
                    return Err(ZkHistoryError { record: r.i, message });
                }
                out.push(ZkCall {
                    session: *session,
                    request: op.clone(),
                    invoked_at: r.i,
                    completed_at: None,
                    zxid: None,
                    outcome: None,
                });
            }
            Event::Complete { client, session, xid, zxid, result } => {
                let Some(index) = pending.remove(&(*client, *session, *xid)) else {
                    let message = format!("client {client} completes xid {xid}, which it never invoked");
                    return Err(ZkHistoryError { record: r.i, message });
                };
                let call = &mut out[index];
                call.completed_at = Some(r.i);
                call.zxid = *zxid;
                call.outcome = Some(result.clone());
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The writes of `calls` as a history for [`ZkModel`], with the index into `calls` of each.
/// Expired-session writes did not happen and are left out; reads are left out.
pub fn write_history(calls: &[ZkCall]) -> Result<(History<ZkOp>, Vec<usize>), ZkHistoryError> {
    let mut ops = Vec::new();
    let mut origin = Vec::new();
    for (index, call) in calls.iter().enumerate() {
        if !call.request.is_write() || matches!(call.request, Request::CloseSession) {
            continue;
        }
        let (result, return_at) = match &call.outcome {
            Some(Outcome::Ok { .. }) => (ZkResult::Ok, call.completed_at),
            Some(Outcome::Err { code }) => (ZkResult::Err(*code), call.completed_at),
            Some(Outcome::SessionExpired) => continue,
            Some(Outcome::ConnectionLoss) | None => (ZkResult::Unknown, None),
        };
        let response = match &call.outcome {
            Some(Outcome::Ok { response }) => Some(response),
            _ => None,
        };
        let unsupported = |what: &str| ZkHistoryError {
            record: call.invoked_at,
            message: format!("{what} is not supported by the ZooKeeper write model"),
        };
        let op = match &call.request {
            Request::Create { path, data, flags, .. } => {
                let sequential = zab_tree::CreateMode::from_flags(*flags).is_ok_and(|m| m.is_sequential());
                let actual = match response {
                    Some(Response::Create { path } | Response::Create2 { path, .. }) => path.clone(),
                    _ if sequential => {
                        if result == ZkResult::Unknown {
                            // Its name is unknown; a lost sequential create is left out.
                            continue;
                        }
                        path.clone()
                    }
                    _ => path.clone(),
                };
                ZkOp::Create { path: actual, data: data.clone(), result }
            }
            Request::Delete { path, version } => {
                ZkOp::Delete { path: path.clone(), version: *version, result }
            }
            Request::SetData { path, data, version } => {
                let new_version = match response {
                    Some(Response::Stat(stat)) => Some(stat.version),
                    _ => None,
                };
                ZkOp::SetData {
                    path: path.clone(),
                    data: data.clone(),
                    version: *version,
                    result,
                    new_version,
                }
            }
            other => return Err(unsupported(&format!("{other:?}"))),
        };
        ops.push(Operation { process: call.session, op, call_at: call.invoked_at, return_at });
        origin.push(index);
    }
    Ok((History { ops }, origin))
}

/// Black-box check: are the writes of the trace linearizable?
pub fn check_writes(records: &[Record]) -> Result<CheckReport, ZkHistoryError> {
    let calls = calls(records)?;
    let (history, _) = write_history(&calls)?;
    Ok(check(&ZkModel, &history))
}

/// The verdict of [`check_zxid_witness`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessVerdict {
    /// The zxids order every write and read consistently with real time, sessions and the model.
    Consistent,
    /// A call contradicts the guarantee.
    Violation {
        /// Record index of the call's completion (or invocation).
        record: u64,
        /// What is wrong.
        message: String,
    },
    /// The zxids cannot decide (a write with an unknown outcome might explain what was seen);
    /// use [`check_writes`].
    Inconclusive(String),
}

/// Zxid-witness check of the whole history (writes and reads).
pub fn check_zxid_witness(records: &[Record]) -> Result<WitnessVerdict, ZkHistoryError> {
    let calls = calls(records)?;
    let violation = |record: u64, message: String| Ok(WitnessVerdict::Violation { record, message });
    // 1. Each session's replies carry non-decreasing zxids, in completion order: a session never
    //    sees an older state than it has seen (its own writes included).
    let mut by_completion: Vec<&ZkCall> = calls.iter().filter(|c| c.zxid.is_some()).collect();
    by_completion.sort_by_key(|c| c.completed_at);
    let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
    for c in &by_completion {
        let z = c.zxid.expect("filtered");
        if let Some(&prev) = seen.get(&c.session) {
            if z < prev {
                let at = c.completed_at.unwrap_or(c.invoked_at);
                return violation(at, format!("session {:#x} saw zxid {z:#x} after {prev:#x}", c.session));
            }
        }
        seen.insert(c.session, z);
    }
    // 2. A write that completed before another was invoked has the smaller zxid.
    let (history, origin) = write_history(&calls)?;
    let mut witnessed: Vec<(u64, usize)> = Vec::new();
    for (k, op) in history.ops.iter().enumerate() {
        if op.return_at.is_some() {
            if let Some(z) = calls[origin[k]].zxid {
                witnessed.push((z, k));
            }
        }
    }
    witnessed.sort_unstable();
    for pair in witnessed.windows(2) {
        let ((za, a), (zb, b)) = (pair[0], pair[1]);
        if za == zb
            && history.ops[a].op.result() == &ZkResult::Ok
            && history.ops[b].op.result() == &ZkResult::Ok
        {
            let at = history.ops[b].return_at.unwrap_or(0);
            return violation(at, format!("two writes acknowledged with the same zxid {za:#x}"));
        }
    }
    for &(z, k) in &witnessed {
        let after = witnessed.iter().find(|&&(z2, k2)| {
            z2 < z && history.ops[k].return_at.is_some_and(|r| r < history.ops[k2].call_at)
        });
        if let Some(&(z2, _)) = after {
            let at = history.ops[k].return_at.unwrap_or(0);
            return violation(
                at,
                format!("write with zxid {z:#x} completed before a write with smaller zxid {z2:#x} began"),
            );
        }
    }
    // 3. Replay the witnessed writes in zxid order; check reads against the state at their zxid.
    // Writes with an unknown outcome have no zxid; one invoked before a mismatch may explain it.
    let open_calls: Vec<u64> =
        history.ops.iter().filter(|o| o.return_at.is_none()).map(|o| o.call_at).collect();
    let explainable = |at: u64| open_calls.iter().any(|&call| call < at);
    let mut reads: Vec<(u64, &ZkCall)> = calls
        .iter()
        .filter(|c| {
            c.request.is_read() && matches!(c.outcome, Some(Outcome::Ok { .. } | Outcome::Err { .. }))
        })
        .filter_map(|c| c.zxid.map(|z| (z, c)))
        .collect();
    reads.sort_by_key(|&(z, c)| (z, c.completed_at));
    let mut state = ZkState::new();
    let mut next_read = 0;
    for &(z, k) in witnessed.iter().chain(std::iter::once(&(u64::MAX, usize::MAX))) {
        while next_read < reads.len() && reads[next_read].0 < z {
            let (rz, call) = reads[next_read];
            next_read += 1;
            if let Some(message) = read_mismatch(&state, call) {
                if explainable(call.completed_at.unwrap_or(call.invoked_at)) {
                    return Ok(WitnessVerdict::Inconclusive(message));
                }
                return violation(
                    call.completed_at.unwrap_or(call.invoked_at),
                    format!("read at zxid {rz:#x}: {message}"),
                );
            }
        }
        if k == usize::MAX {
            break;
        }
        let mut next = Vec::new();
        ZkModel.step(&state, &history.ops[k].op, &mut next);
        match next.pop() {
            Some(s) => state = s,
            None => {
                let message =
                    format!("write {:?} at zxid {z:#x} is impossible in zxid order", history.ops[k].op);
                if explainable(history.ops[k].return_at.unwrap_or(u64::MAX)) {
                    return Ok(WitnessVerdict::Inconclusive(message));
                }
                return violation(history.ops[k].return_at.unwrap_or(0), message);
            }
        }
    }
    Ok(WitnessVerdict::Consistent)
}

fn read_path(call: &ZkCall) -> Option<&str> {
    match &call.request {
        Request::GetData { path, .. } | Request::Exists { path, .. } => Some(path),
        _ => None,
    }
}

/// Why `call` (a read) could not have been answered from `state`, if it could not.
fn read_mismatch(state: &ZkState, call: &ZkCall) -> Option<String> {
    let path = read_path(call)?;
    let node = state.get(path);
    match (&call.outcome, node) {
        (Some(Outcome::Ok { response: Response::GetData { data, stat } }), Some(n)) => {
            (n.data != *data || n.version != stat.version).then(|| {
                format!(
                    "getData {path} returned version {} but the node had version {}",
                    stat.version, n.version
                )
            })
        }
        (Some(Outcome::Ok { response: Response::Stat(stat) }), Some(n)) => {
            (n.version != stat.version).then(|| {
                format!(
                    "exists {path} returned version {} but the node had version {}",
                    stat.version, n.version
                )
            })
        }
        (Some(Outcome::Ok { .. }), None) if path != "/" => Some(format!("{path} was read but did not exist")),
        (Some(Outcome::Err { code: ErrorCode::NoNode }), Some(_)) => {
            Some(format!("{path} read as missing but existed"))
        }
        _ => None,
    }
}
