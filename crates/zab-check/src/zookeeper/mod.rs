//! ZooKeeper's consistency guarantee over client histories (reference §3.11): writes are
//! linearizable; reads are sequentially consistent per session — a read may return a state
//! older than real time allows, but never older than what its own session has already seen (its
//! own writes, earlier reads), and each session's operations take effect in the order it issued
//! them. A call that ended in connection loss (or session expiry, or never ended) may or may not
//! have taken effect. The data model is zab-tree's own (every create mode, versions, multi,
//! ACLs, the exact Stat rules and error codes).
//!
//! Two checkers judge the same history and must agree:
//!
//! - [`check_black_box`]: a linearizability search with [`ZkModel`], whose state keeps every
//!   version of the tree so a read may pick an older one (never below its session's floor). It
//!   does not trust the order of zxids, only that they are consistent: a write's revealed zxid
//!   is the one its created/modified nodes carry and exceeds every zxid placed before it; a
//!   read's zxid names the version it saw. Split per independent part of the tree
//!   ([`partition`] explains why that is sound).
//! - [`check_zxid_witness`]: no search; it takes the zxids in replies as the write order,
//!   checks them against real time and session order, replays the writes in that order on the
//!   data tree and checks every reply against the version its zxid names. A mismatch that an
//!   operation with unknown outcome could explain makes it [`WitnessVerdict::Inconclusive`].
//!
//! [`check_calls`] runs both, as the simulator does at the end of every run.
//!
//! Server-side deletions no client asked for are part of the history as operations with unknown
//! outcome: the reaper deleting a container or TTL node (one per create of one), and the
//! expiry of each session that created ephemerals. Watch notifications are not checked here.

mod calls;
mod model;
pub mod partition;
mod witness;

use std::cell::Cell;

use zab_trace::{Outcome, Record};
use zab_tree::proto::{CreateKind, Request};
use zab_tree::{ErrorCode, TreeConfig, Zxid};

pub use calls::{calls, CallRecorder, ZkCall, ZkHistoryError};
pub use model::{annotate, Observed, ZkAction, ZkModel, ZkOp, ZkState, UNKNOWN_ZXID_BASE};
pub use witness::{check_zxid_witness, ViolationKind, WitnessVerdict};

use crate::history::{History, Operation};
use crate::model::Model;
use crate::search::{check_with_budget, Budget, CheckReport, Unknown, Verdict};

/// The history the checkers judge, built from client calls.
///
/// Positions: a call at position `p` (invocation or completion) is at `2 p`; the operations added
/// for the reaper and for session expiry are at `2 p + 1` just after the invocation they follow.
/// Calls that change nothing in the tree (watch management, auth, pings) are left out.
pub fn history(calls: &[ZkCall]) -> History<ZkOp> {
    let mut ops = Vec::new();
    let mut order: std::collections::BTreeMap<u64, u32> = std::collections::BTreeMap::new();
    // A session whose closeSession succeeded never expired (its close would have failed).
    let mut expiring: std::collections::BTreeSet<u64> = calls
        .iter()
        .filter(|c| c.request == Request::CloseSession && matches!(c.outcome, Some(Outcome::Ok { .. })))
        .map(|c| c.session)
        .collect();
    for (index, call) in calls.iter().enumerate() {
        let observed = match &call.outcome {
            Some(Outcome::Ok { response }) => Observed::Ok(response.clone()),
            Some(Outcome::Err { code }) if decided_by_tree(*code) => Observed::Err(*code),
            Some(Outcome::Err { .. } | Outcome::ConnectionLoss | Outcome::SessionExpired) | None => {
                Observed::Unknown
            }
        };
        let zxid = call.zxid.filter(|_| observed != Observed::Unknown).map(Zxid);
        let action = match &call.request {
            Request::Sync { .. } => ZkAction::Sync { zxid },
            r if r.is_read() => ZkAction::Read { request: r.clone(), zxid },
            r if r.is_write() && !matches!(r, Request::Check { .. } | Request::DeleteContainer { .. }) => {
                ZkAction::Write {
                    request: r.clone(),
                    zxid: zxid.unwrap_or(Zxid(UNKNOWN_ZXID_BASE + index as u64)),
                }
            }
            _ => continue,
        };
        let definite = observed != Observed::Unknown;
        let order = definite.then(|| {
            let next = order.entry(call.session).or_insert(0);
            *next += 1;
            *next - 1
        });
        let call_at = 2 * call.invoked_at;
        let return_at = if definite { call.completed_at.map(|c| 2 * c) } else { None };
        let session = call.session;
        if let ZkAction::Write { request, .. } = &action {
            if !matches!(observed, Observed::Err(_)) {
                let mut synthetic = Vec::new();
                partition::for_each_create(request, &mut |path, mode| {
                    if mode.is_container() || mode.is_ttl() || is_container_kind(request, path) {
                        synthetic.push(ZkAction::Reap { path: path.to_string() });
                    }
                    if mode.is_ephemeral() && expiring.insert(session) {
                        synthetic.push(ZkAction::Expire);
                    }
                });
                for action in synthetic {
                    let op = ZkOp { session, order: None, action, observed: Observed::Unknown, after: None };
                    ops.push(Operation { process: session, op, call_at: call_at + 1, return_at: None });
                }
            }
        }
        let op = ZkOp { session, order, action, observed, after: None };
        ops.push(Operation { process: session, op, call_at, return_at });
    }
    ops.sort_by_key(|o| o.call_at);
    let mut bare: Vec<ZkOp> = ops.iter().map(|o| o.op.clone()).collect();
    annotate(&mut bare);
    for (o, b) in ops.iter_mut().zip(bare) {
        o.op.after = b.after;
    }
    History { ops }
}

/// Whether an error code is the tree's answer (a checker must explain it) rather than the
/// connection's or the session's (timeouts, a moved or expired session, throttling, a server
/// error): those leave the call's outcome unknown.
fn decided_by_tree(code: ErrorCode) -> bool {
    use ErrorCode::*;
    !matches!(
        code,
        SystemError
            | ConnectionLoss
            | MarshallingError
            | OperationTimeout
            | UnknownSession
            | NewConfigNoQuorum
            | ReconfigInProgress
            | SessionExpired
            | InvalidCallback
            | AuthFailed
            | SessionMoved
            | NotReadOnly
            | RequestTimeout
            | ReconfigDisabled
            | SessionClosedRequireSaslAuth
            | ThrottledOp
    )
}

/// A create whose opcode makes a container or TTL node (the flags alone do not say so).
fn is_container_kind(request: &Request, path: &str) -> bool {
    match request {
        Request::Create { kind, path: p, .. } => {
            p == path && matches!(kind, CreateKind::Container | CreateKind::Ttl(_))
        }
        Request::Multi(ops) => ops.iter().any(|op| is_container_kind(op, path)),
        _ => false,
    }
}

/// The tree settings a history shows: TTL nodes are enabled if a TTL create ever got anything
/// but `Unimplemented` (the code servers without extended types give).
pub fn tree_config_of(calls: &[ZkCall]) -> TreeConfig {
    // Only plain TTL creates: a multi's first error may come from another of its ops.
    let has_ttl = |r: &Request| matches!(r, Request::Create { kind: CreateKind::Ttl(_), .. });
    let extended_types = calls.iter().any(|c| {
        has_ttl(&c.request)
            && match &c.outcome {
                Some(Outcome::Ok { .. }) => true,
                Some(Outcome::Err { code }) => *code != ErrorCode::Unimplemented,
                _ => false,
            }
    });
    TreeConfig { extended_types, ..TreeConfig::default() }
}

/// The black-box search over `history`: one independent part at a time ([`partition`]) unless
/// `model.unpartitioned`, each part's operations [`annotate`]d among themselves. Steps are
/// counted over all parts; the counterexample's indices are into `history`.
pub fn check_black_box(model: &ZkModel, history: &History<ZkOp>, budget: &mut Budget<'_>) -> CheckReport {
    let ops: Vec<ZkOp> = history.ops.iter().map(|o| o.op.clone()).collect();
    let parts = if model.unpartitioned { vec![(0..ops.len()).collect()] } else { partition::parts(&ops) };
    let mut report = CheckReport {
        verdict: Verdict::Linearizable,
        steps: 0,
        configurations: 0,
        peak_memory_bytes: 0,
        parts: parts.len(),
    };
    let mut unknown = None;
    for part in parts {
        let mut sub = History { ops: part.iter().map(|&i| history.ops[i].clone()).collect() };
        let mut bare: Vec<ZkOp> = sub.ops.iter().map(|o| o.op.clone()).collect();
        annotate(&mut bare);
        for (o, b) in sub.ops.iter_mut().zip(bare) {
            o.op.after = b.after;
        }
        let metered = Metered { model, bytes: Cell::new(0) };
        let limit = budget.max_memory_bytes;
        let over = || limit.is_some_and(|l| metered.bytes.get() > l);
        let mut caller_stop = budget.should_stop.as_mut();
        let mut stop = || over() || caller_stop.as_mut().is_some_and(|f| f());
        let mut part_budget = Budget {
            max_steps: budget.max_steps.map(|m| m.saturating_sub(report.steps)),
            max_memory_bytes: limit,
            should_stop: Some(&mut stop),
        };
        let mut r = check_with_budget(&metered, &sub, &mut part_budget);
        if r.verdict == Verdict::Unknown(Unknown::Stopped) && over() {
            r.verdict = Verdict::Unknown(Unknown::MemoryLimit);
        }
        report.peak_memory_bytes = report.peak_memory_bytes.max(metered.bytes.get());
        report.steps += r.steps;
        report.configurations += r.configurations;
        report.peak_memory_bytes = report.peak_memory_bytes.max(r.peak_memory_bytes);
        match r.verdict {
            Verdict::Linearizable => {}
            Verdict::NotLinearizable(mut c) => {
                let global = |i: usize| part[i];
                c.op = global(c.op);
                c.previous_ok = c.previous_ok.map(global);
                for list in [&mut c.prefix, &mut c.pending, &mut c.part] {
                    list.iter_mut().for_each(|i| *i = global(*i));
                }
                report.verdict = Verdict::NotLinearizable(c);
                return report;
            }
            Verdict::Unknown(why) => {
                unknown = Some(why);
                if why != Unknown::MemoryLimit {
                    break;
                }
            }
        }
    }
    if let Some(why) = unknown {
        report.verdict = Verdict::Unknown(why);
    }
    report
}

/// [`ZkModel`] counting the bytes of the tree versions its steps create: the search's own
/// tables do not see them, and a search that stores many trees must still stop at its memory
/// budget (an upper bound: versions of states never kept count too).
struct Metered<'a> {
    model: &'a ZkModel,
    bytes: Cell<usize>,
}

impl Model for Metered<'_> {
    type Op = ZkOp;
    type State = ZkState;

    fn init(&self) -> ZkState {
        self.model.init()
    }

    fn step(&self, state: &ZkState, op: &ZkOp, next: &mut Vec<ZkState>) {
        let before = next.len();
        self.model.step(state, op, next);
        for s in &next[before..] {
            if s.latest_index() > state.latest_index() {
                self.bytes.set(self.bytes.get() + s.latest_bytes());
            }
        }
    }

    fn is_noop(&self, op: &ZkOp) -> bool {
        self.model.is_noop(op)
    }
}

/// Both checkers' verdicts on one history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkReport {
    /// The zxid witness.
    pub witness: WitnessVerdict,
    /// The black-box search (its verdict may be `Unknown` when the budget ran out).
    pub search: CheckReport,
    /// Operations checked (client calls plus reaper and expiry operations).
    pub ops: usize,
}

/// A broken guarantee, as the simulator reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkViolation {
    /// "linearizability", "session-order" or "zk-result".
    pub checker: &'static str,
    /// What was found, with history positions halved back to the caller's positions.
    pub message: String,
}

impl ZkReport {
    /// The violation either checker found, the witness's first (it names the guarantee).
    pub fn violation(&self, history: &History<ZkOp>) -> Option<ZkViolation> {
        if let WitnessVerdict::Violation { kind, at, message } = &self.witness {
            return Some(ZkViolation {
                checker: kind.checker(),
                message: format!("zxid witness, call ending at {}: {message}", at / 2),
            });
        }
        if let Verdict::NotLinearizable(c) = &self.search.verdict {
            let op = &history.ops[c.op];
            return Some(ZkViolation {
                checker: "linearizability",
                message: format!(
                    "black-box search: no order of the calls explains {:?} by session {:#x} answered {:?} \
                     (invoked at {}, completed at {:?}); {} calls linearized before it",
                    op.op.action,
                    op.op.session,
                    op.op.observed,
                    op.call_at / 2,
                    op.return_at.map(|r| r / 2),
                    c.prefix.len()
                ),
            });
        }
        None
    }

    /// True when the search ran out of budget (not a failure; worth saying in a report).
    pub fn search_unknown(&self) -> bool {
        matches!(self.search.verdict, Verdict::Unknown(_))
    }
}

/// Runs the zxid witness and the black-box search (within `budget`) over `calls`.
pub fn check_calls(
    calls: &[ZkCall],
    config: &TreeConfig,
    budget: &mut Budget<'_>,
) -> (ZkReport, History<ZkOp>) {
    let history = history(calls);
    let model = ZkModel::new(config.clone());
    let witness = check_zxid_witness(&model, &history);
    let search = check_black_box(&model, &history, budget);
    (ZkReport { witness, search, ops: history.ops.len() }, history)
}

/// [`check_calls`] over the client events of a trace.
pub fn check_trace(
    records: &[Record],
    config: &TreeConfig,
    budget: &mut Budget<'_>,
) -> Result<(ZkReport, History<ZkOp>), ZkHistoryError> {
    Ok(check_calls(&calls(records)?, config, budget))
}
