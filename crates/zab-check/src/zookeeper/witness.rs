//! The zxid-witness checker: trusts the zxids replies carried as witnesses of the write order
//! and checks everything against them in one pass (no search).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use zab_tree::{AuthIds, DataTree, SessionId, Zxid};

use super::model::{
    execute_in_place, execute_result, read_matches, write_matches, Observed, ZkAction, ZkModel, ZkOp,
};
use super::partition::parts;
use crate::history::History;

/// Which part of the guarantee a violation breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// A session saw an older state than it had already seen (its replies' zxids went back, or
    /// a write of it got a zxid not above what it had seen).
    SessionOrder,
    /// The zxid order contradicts real time: a write ordered before one that completed before
    /// it began, two writes with one zxid, or a read that saw a write invoked after it ended.
    RealTime,
    /// A reply that the tree, at the point the zxids place the call, would not have given.
    WrongResult,
}

impl ViolationKind {
    /// The checker name a violation of this kind is reported under.
    pub fn checker(self) -> &'static str {
        match self {
            ViolationKind::SessionOrder => "session-order",
            ViolationKind::RealTime => "linearizability",
            ViolationKind::WrongResult => "zk-result",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.checker())
    }
}

/// What the zxid witness concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessVerdict {
    /// Every call is consistent with the zxid order, real time, sessions and the tree.
    Consistent,
    /// A call contradicts the guarantee.
    Violation {
        /// Which part of the guarantee.
        kind: ViolationKind,
        /// History position of the offending call's completion (or invocation).
        at: u64,
        /// What is wrong.
        message: String,
    },
    /// A mismatch that an operation with unknown outcome and no zxid (a lost write, the
    /// reaper, a session expiry) touching the same part of the tree might explain: only the
    /// black-box search can decide.
    Inconclusive(String),
}

/// Checks `history` (from [`super::history`]) in zxid order.
pub fn check_zxid_witness(model: &ZkModel, history: &History<ZkOp>) -> WitnessVerdict {
    match Witness::new(model, history).run() {
        Ok(()) => WitnessVerdict::Consistent,
        Err(v) => v,
    }
}

fn revealed(op: &ZkOp) -> Option<u64> {
    match (&op.action, &op.observed) {
        (_, Observed::Unknown) => None,
        (ZkAction::Write { zxid, .. }, _) if zxid.0 < super::model::UNKNOWN_ZXID_BASE => Some(zxid.0),
        (ZkAction::Read { zxid, .. } | ZkAction::Sync { zxid }, _) => zxid.map(|z| z.0),
        _ => None,
    }
}

fn is_write(op: &ZkOp) -> bool {
    matches!(op.action, ZkAction::Write { .. })
}

struct Witness<'a> {
    model: &'a ZkModel,
    h: &'a History<ZkOp>,
    /// Component of each operation (see [`super::partition`]).
    component: Vec<usize>,
    /// Per component, the earliest invocation of an operation with unknown outcome.
    first_open: BTreeMap<usize, u64>,
}

impl<'a> Witness<'a> {
    fn new(model: &'a ZkModel, h: &'a History<ZkOp>) -> Self {
        let ops: Vec<&ZkOp> = h.ops.iter().map(|o| &o.op).collect();
        let mut component = vec![usize::MAX; ops.len()];
        for (c, part) in parts(&ops).into_iter().enumerate() {
            for i in part {
                // A sync may sit in several parts; any will do (syncs never mismatch).
                component[i] = c;
            }
        }
        let mut first_open = BTreeMap::new();
        for (i, o) in h.ops.iter().enumerate() {
            let open = o.return_at.is_none()
                && !matches!(o.op.action, ZkAction::Read { .. } | ZkAction::Sync { .. });
            if open {
                let e = first_open.entry(component[i]).or_insert(o.call_at);
                *e = (*e).min(o.call_at);
            }
        }
        Witness { model, h, component, first_open }
    }

    fn end(&self, i: usize) -> u64 {
        let o = &self.h.ops[i];
        o.return_at.unwrap_or(o.call_at)
    }

    fn violation(&self, kind: ViolationKind, i: usize, message: String) -> WitnessVerdict {
        WitnessVerdict::Violation { kind, at: self.end(i), message }
    }

    /// A mismatch at `i`: a violation unless an operation of unknown outcome in the same part,
    /// invoked before `i` completed, might explain it.
    fn mismatch(&self, i: usize, message: String) -> WitnessVerdict {
        let explainable = self.first_open.get(&self.component[i]).is_some_and(|&call| call < self.end(i));
        if explainable {
            WitnessVerdict::Inconclusive(message)
        } else {
            self.violation(ViolationKind::WrongResult, i, message)
        }
    }

    fn run(&self) -> Result<(), WitnessVerdict> {
        let floors = self.session_order()?;
        let writes = self.write_order()?;
        let queries = self.queries(&writes, &floors)?;
        self.replay(&writes, queries)
    }

    /// 1. Each session's operations, in FIFO order, reveal non-decreasing zxids, strictly
    ///    increasing at writes. Returns, per operation, the largest zxid its session revealed
    ///    before it.
    fn session_order(&self) -> Result<Vec<u64>, WitnessVerdict> {
        let mut order: Vec<usize> =
            (0..self.h.ops.len()).filter(|&i| self.h.ops[i].op.order.is_some()).collect();
        order.sort_by_key(|&i| (self.h.ops[i].op.session, self.h.ops[i].op.order));
        let mut floors = vec![0u64; self.h.ops.len()];
        let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
        for i in order {
            let op = &self.h.ops[i].op;
            let prev = seen.get(&op.session).copied().unwrap_or(0);
            floors[i] = prev;
            if let Some(z) = revealed(op) {
                let backwards = if is_write(op) { z <= prev } else { z < prev };
                if backwards && prev > 0 {
                    let what = if is_write(op) { "a write" } else { "a reply" };
                    let message =
                        format!("session {:#x} got {what} at zxid {z:#x} after seeing {prev:#x}", op.session);
                    return Err(self.violation(ViolationKind::SessionOrder, i, message));
                }
                seen.insert(op.session, prev.max(z));
            }
        }
        Ok(floors)
    }

    /// 2. The writes with revealed zxids, sorted by zxid, checked against real time: zxids are
    ///    unique, and a write that completed before another began has the smaller zxid.
    fn write_order(&self) -> Result<Vec<(u64, usize)>, WitnessVerdict> {
        let mut writes: Vec<(u64, usize)> = (0..self.h.ops.len())
            .filter(|&i| is_write(&self.h.ops[i].op))
            .filter_map(|i| revealed(&self.h.ops[i].op).map(|z| (z, i)))
            .collect();
        writes.sort_unstable();
        for pair in writes.windows(2) {
            if pair[0].0 == pair[1].0 {
                let message = format!("two writes were acknowledged with zxid {:#x}", pair[0].0);
                return Err(self.violation(ViolationKind::RealTime, pair[1].1, message));
            }
        }
        let mut latest_call: Option<(u64, u64)> = None;
        for &(z, i) in &writes {
            if let (Some((call, z_before)), Some(ret)) = (latest_call, self.h.ops[i].return_at) {
                if ret < call {
                    let message = format!(
                        "the write with zxid {z:#x} completed before the write with the larger zxid {z_before:#x} began"
                    );
                    return Err(self.violation(ViolationKind::RealTime, i, message));
                }
            }
            let call = self.h.ops[i].call_at;
            if latest_call.is_none_or(|(c, _)| call > c) {
                latest_call = Some((call, z));
            }
        }
        Ok(writes)
    }

    /// 3. What each read, and each call with a known outcome but no zxid (an error reply),
    ///    must be explained by: the range of versions (in zxid order; 0 is the initial tree) it
    ///    may have seen. A read with a zxid saw exactly the version its zxid names; an error
    ///    reply, some version between what its session had seen (and, for a write, every write
    ///    that completed before it began) and the last write invoked before it completed.
    fn queries(&self, writes: &[(u64, usize)], floors: &[u64]) -> Result<Vec<Query>, WitnessVerdict> {
        // Versions are made by the acknowledged writes; their zxids, in order, after the initial 0.
        let mut version_zxids = vec![0u64];
        version_zxids.extend(writes.iter().filter(|(_, i)| self.changes_tree(*i)).map(|(z, _)| *z));
        let at_zxid = |z: u64| version_zxids.partition_point(|&v| v <= z) - 1;
        let mut latest_call = Vec::with_capacity(writes.len());
        let mut max_call = 0u64;
        for &(_, i) in writes {
            max_call = max_call.max(self.h.ops[i].call_at);
            latest_call.push(max_call);
        }
        let bounds = WriteTimes::new(writes.iter().map(|&(z, w)| (z, &self.h.ops[w])));
        let mut queries = Vec::new();
        for (i, o) in self.h.ops.iter().enumerate() {
            if o.op.observed == Observed::Unknown {
                continue;
            }
            match (&o.op.action, revealed(&o.op)) {
                (ZkAction::Read { .. }, Some(z)) => {
                    let upto = writes.partition_point(|w| w.0 <= z);
                    if upto > 0 && o.return_at.is_some_and(|r| latest_call[upto - 1] > r) {
                        let message =
                            format!("a read at zxid {z:#x} saw a write invoked after the read completed");
                        return Err(self.violation(ViolationKind::RealTime, i, message));
                    }
                    queries.push(Query { op: i, first: at_zxid(z), last: at_zxid(z), lo: z, hi: z });
                }
                (ZkAction::Sync { .. }, Some(z)) => {
                    // A sync takes effect after every write that completed before it began; the
                    // server answers once it has applied them, so its reply's zxid is at least
                    // theirs (a leader deposed without noticing answers from a stale state).
                    let done = bounds.completed_before(o.call_at);
                    if z < done {
                        let message = format!(
                            "a sync by session {:#x} answered at zxid {z:#x}, behind the write with zxid \
                             {done:#x} that completed before the sync began",
                            o.op.session
                        );
                        return Err(self.violation(ViolationKind::RealTime, i, message));
                    }
                }
                (ZkAction::Read { .. } | ZkAction::Write { .. }, None) => {
                    let mut lo = floors[i];
                    if is_write(&o.op) {
                        lo = lo.max(bounds.completed_before(o.call_at));
                    }
                    let hi = o.return_at.map_or(u64::MAX, |r| bounds.invoked_after(r));
                    let first = at_zxid(lo);
                    let last = version_zxids.partition_point(|&v| v < hi).saturating_sub(1).max(first);
                    queries.push(Query { op: i, first, last, lo, hi });
                }
                _ => {}
            }
        }
        queries.sort_by_key(|q| (q.first, q.op));
        Ok(queries)
    }

    fn changes_tree(&self, i: usize) -> bool {
        matches!(self.h.ops[i].op.observed, Observed::Ok(_))
    }

    /// 4. Replays the writes in zxid order on one tree, checking each write's result and, at
    ///    each version, the queries that may have seen it; a query no version of its range
    ///    explains is a mismatch. Only the current tree is kept, and changed in place.
    fn replay(&self, writes: &[(u64, usize)], queries: Vec<Query>) -> Result<(), WitnessVerdict> {
        let mut tree = DataTree::new(self.model.config.clone());
        let mut closed = BTreeSet::new();
        let mut pending = queries.into_iter().peekable();
        let mut active: Vec<Query> = Vec::new();
        let mut version = 0usize;
        let mut next_write = writes.iter();
        let auth = AuthIds::new();
        loop {
            while let Some(q) = pending.next_if(|q| q.first <= version) {
                active.push(q);
            }
            let mut unexplained = None;
            active.retain(|q| {
                if self.explains(q.op, &tree, &closed, &auth) {
                    return false;
                }
                if q.last <= version && unexplained.is_none() {
                    unexplained = Some(q.clone());
                }
                q.last > version
            });
            if let Some(q) = unexplained {
                let o = &self.h.ops[q.op];
                let message = if q.first == q.last {
                    format!(
                        "{:?} by session {:#x} at zxid {:#x} answered {:?}, which the tree then does not",
                        o.op.action, o.op.session, q.lo, o.op.observed
                    )
                } else {
                    format!(
                        "{:?} by session {:#x} answered {:?}, which no state between zxid {:#x} and {:#x} explains",
                        o.op.action, o.op.session, o.op.observed, q.lo, q.hi
                    )
                };
                return Err(self.mismatch(q.op, message));
            }
            // The next write that changes the tree; the ones before it (errors) are checked too.
            let Some(&(z, i)) = next_write.next() else { break };
            let op = &self.h.ops[i].op;
            let ZkAction::Write { request, .. } = &op.action else {
                unreachable!("only writes are replayed")
            };
            // A write that answered Ok runs on the tree itself: if the tree answers otherwise
            // the replay stops here, and if it answers Ok too the write changed the tree.
            let changes = self.changes_tree(i);
            let result = if changes {
                execute_in_place(&mut tree, &closed, op.session, request, Zxid(z))
            } else {
                execute_result(&tree, &closed, op.session, request, Zxid(z))
            };
            if !write_matches(&result, &op.observed) {
                let message = format!(
                    "{request:?} by session {:#x} at zxid {z:#x} answered {:?}, \
                     but in zxid order the tree answers {:?}",
                    op.session, op.observed, result
                );
                return Err(self.mismatch(i, message));
            }
            if changes {
                if *request == zab_tree::proto::Request::CloseSession {
                    closed.insert(op.session);
                }
                version += 1;
            }
        }
        Ok(())
    }

    /// Does the tree (with `closed` sessions gone) explain operation `i`'s reply?
    fn explains(&self, i: usize, tree: &DataTree, closed: &BTreeSet<u64>, auth: &AuthIds) -> bool {
        let o = &self.h.ops[i].op;
        match &o.action {
            ZkAction::Read { request, .. } => {
                read_matches(&tree.read(request, SessionId(o.session), auth), &o.observed)
            }
            ZkAction::Write { request, zxid } => {
                write_matches(&execute_result(tree, closed, o.session, request, *zxid), &o.observed)
            }
            _ => true,
        }
    }
}

/// The acknowledged writes' zxids by when they were invoked and when they completed, to bound
/// in logarithmic time the versions a call may have seen.
struct WriteTimes {
    /// (completion, zxid) sorted by completion, and the largest zxid up to each.
    returned: Vec<(u64, u64)>,
    max_zxid_upto: Vec<u64>,
    /// (invocation, zxid) sorted by invocation, and the smallest zxid from each on.
    called: Vec<(u64, u64)>,
    min_zxid_from: Vec<u64>,
}

impl WriteTimes {
    fn new<'a>(writes: impl Iterator<Item = (u64, &'a crate::history::Operation<ZkOp>)>) -> Self {
        let mut returned = Vec::new();
        let mut called = Vec::new();
        for (z, o) in writes {
            if let Some(r) = o.return_at {
                returned.push((r, z));
            }
            called.push((o.call_at, z));
        }
        returned.sort_unstable();
        called.sort_unstable();
        let max_zxid_upto = returned
            .iter()
            .scan(0u64, |m, &(_, z)| {
                *m = (*m).max(z);
                Some(*m)
            })
            .collect();
        let mut min_zxid_from: Vec<u64> = called
            .iter()
            .rev()
            .scan(u64::MAX, |m, &(_, z)| {
                *m = (*m).min(z);
                Some(*m)
            })
            .collect();
        min_zxid_from.reverse();
        WriteTimes { returned, max_zxid_upto, called, min_zxid_from }
    }

    /// The largest zxid of a write that completed before `t` (0 if none).
    fn completed_before(&self, t: u64) -> u64 {
        let n = self.returned.partition_point(|&(r, _)| r < t);
        if n == 0 {
            0
        } else {
            self.max_zxid_upto[n - 1]
        }
    }

    /// The smallest zxid of a write invoked after `t` (`u64::MAX` if none).
    fn invoked_after(&self, t: u64) -> u64 {
        let n = self.called.partition_point(|&(c, _)| c <= t);
        self.min_zxid_from.get(n).copied().unwrap_or(u64::MAX)
    }
}

/// A call and the versions (indices in zxid order) that may have answered it.
#[derive(Clone, Debug)]
struct Query {
    op: usize,
    first: usize,
    last: usize,
    /// The zxid bounds the range came from, for messages.
    lo: u64,
    hi: u64,
}
