//! The linearizability search (Wing–Gong–Lowe with memoisation), per independent part.

use std::fmt;

use crate::hash::mix64;
use crate::history::History;
use crate::memo::{Interner, Memo, Transitions};
use crate::model::Model;

/// Limits on a check. When one is reached the verdict is [`Verdict::Unknown`], never a wrong
/// answer and never an out-of-memory abort.
pub struct Budget<'a> {
    /// Most search steps (one step = one event of the history looked at), over all parts;
    /// exact. Memory and `should_stop` are looked at every 4096 steps.
    pub max_steps: Option<u64>,
    /// Most bytes held by the search tables of one part at any time.
    pub max_memory_bytes: Option<usize>,
    /// Asked every few thousand steps; returning true ends the check. This is how a caller
    /// supplies a wall-clock timeout (this crate reads no clock).
    pub should_stop: Option<&'a mut dyn FnMut() -> bool>,
}

impl Budget<'_> {
    /// No limits at all.
    pub fn unlimited() -> Self {
        Budget { max_steps: None, max_memory_bytes: None, should_stop: None }
    }
}

impl fmt::Debug for Budget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("max_steps", &self.max_steps)
            .field("max_memory_bytes", &self.max_memory_bytes)
            .field("should_stop", &self.should_stop.is_some())
            .finish()
    }
}

/// Why a check ended without a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unknown {
    /// `max_steps` was reached.
    StepLimit,
    /// `max_memory_bytes` would have been exceeded.
    MemoryLimit,
    /// The caller's `should_stop` said so (typically a timeout).
    Stopped,
}

/// Evidence that a history is not linearizable, from the furthest point the search reached.
///
/// Indices are into the checked [`History`]'s `ops`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// The operation that cannot be linearized: of all the completions the search was ever
    /// stuck at (an operation completed but no order of the earlier events lets it take
    /// effect), the latest in the history.
    pub op: usize,
    /// The last operation that completed (in history order) before `op` completed, within the
    /// same part; `None` if `op` is the first to complete.
    pub previous_ok: Option<usize>,
    /// The longest linearizable prefix that led there, in linearization order.
    pub prefix: Vec<usize>,
    /// The operations pending at that point (invoked before `op` completed, not in `prefix`):
    /// none of them can take effect next without dead-ending, `op` included.
    pub pending: Vec<usize>,
    /// The operations of the independent part that failed (all of them for a model that does
    /// not partition).
    pub part: Vec<usize>,
}

/// The answer of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some order of the operations respects real time and the model.
    Linearizable,
    /// No such order exists.
    NotLinearizable(Counterexample),
    /// The budget ran out first.
    Unknown(Unknown),
}

/// A verdict with the cost of reaching it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// The answer.
    pub verdict: Verdict,
    /// Search steps taken, over all parts.
    pub steps: u64,
    /// Configurations stored in the memo tables, over all parts.
    pub configurations: u64,
    /// The most bytes the search tables of one part held.
    pub peak_memory_bytes: usize,
    /// Independent parts the history was split into.
    pub parts: usize,
}

/// Checks `history` against `model` with no limits.
pub fn check<M: Model>(model: &M, history: &History<M::Op>) -> CheckReport {
    check_with_budget(model, history, &mut Budget::unlimited())
}

/// Checks `history` against `model`, ending in [`Verdict::Unknown`] when `budget` runs out.
pub fn check_with_budget<M: Model>(
    model: &M,
    history: &History<M::Op>,
    budget: &mut Budget<'_>,
) -> CheckReport {
    let parts = {
        let ops: Vec<M::Op> = history.ops.iter().map(|o| o.op.clone()).collect();
        model.partition(&ops).unwrap_or_else(|| vec![(0..history.ops.len()).collect()])
    };
    let mut report = CheckReport {
        verdict: Verdict::Linearizable,
        steps: 0,
        configurations: 0,
        peak_memory_bytes: 0,
        parts: parts.len(),
    };
    let mut unknown = None;
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let mut search = Search::new(model, history, &part);
        let outcome = search.run(budget, report.steps);
        search.peak_memory_bytes = search.peak_memory_bytes.max(search.memory_bytes());
        report.steps += search.steps;
        report.configurations += search.memo.len() as u64;
        report.peak_memory_bytes = report.peak_memory_bytes.max(search.peak_memory_bytes);
        match outcome {
            PartOutcome::Linearizable => {}
            PartOutcome::Unknown(why) => {
                unknown = Some(why);
                // Out of steps or told to stop: no later part can be searched either.
                if why != Unknown::MemoryLimit {
                    break;
                }
            }
            PartOutcome::NotLinearizable => {
                report.verdict = Verdict::NotLinearizable(search.counterexample(history, part));
                return report;
            }
        }
    }
    if let Some(why) = unknown {
        report.verdict = Verdict::Unknown(why);
    }
    report
}

enum PartOutcome {
    Linearizable,
    NotLinearizable,
    Unknown(Unknown),
}

/// How often (in steps) the budget is looked at; a power of two minus one, used as a mask.
const BUDGET_CHECK_MASK: u64 = 0xfff;

/// Mixed into state ids before they join a configuration's hash, so that state ids and the
/// per-operation keys never cancel out.
const STATE_SALT: u64 = 0x5bd1_e995_0000_0000;

struct Frame {
    op: u32,
    prev_state: u32,
    /// Next untried successor of (`op`, `prev_state`), for nondeterministic steps.
    alt_next: u32,
    alt_end: u32,
}

/// One part's search. Operations are numbered 0..n within the part, events are nodes 1..=e of a
/// circular doubly linked list whose node 0 is the head.
struct Search<'a, M: Model> {
    model: &'a M,
    ops: Vec<&'a M::Op>,
    /// For each node: `op << 1 | is_return`.
    node_code: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    call_node: Vec<u32>,
    /// 0 for an operation that never completed.
    return_node: Vec<u32>,
    op_key: Vec<u64>,
    completed: usize,
    interner: Interner<M::State>,
    transitions: Transitions,
    memo: Memo,
    scratch_states: Vec<M::State>,
    scratch_ids: Vec<u32>,
    steps: u64,
    peak_memory_bytes: usize,
    /// The latest return node the search was stuck at, with the prefix and pending ops then.
    deepest: u32,
    deepest_prefix: Vec<u32>,
    deepest_pending: Vec<u32>,
}

impl<'a, M: Model> Search<'a, M> {
    fn new(model: &'a M, history: &'a History<M::Op>, part: &[usize]) -> Self {
        let n = part.len();
        let mut events: Vec<(u64, u32, u32)> = Vec::with_capacity(2 * n);
        for (i, &index) in part.iter().enumerate() {
            let op = &history.ops[index];
            // Calls sort before returns at the same position: equal positions count as
            // concurrent, the permissive reading.
            events.push((op.call_at, 0, i as u32));
            if let Some(at) = op.return_at {
                events.push((at, 1, i as u32));
            }
        }
        events.sort_unstable();
        let e = events.len();
        let mut node_code = vec![0u32; e + 1];
        let mut call_node = vec![0u32; n];
        let mut return_node = vec![0u32; n];
        for (k, &(_, is_return, op)) in events.iter().enumerate() {
            let node = k as u32 + 1;
            node_code[node as usize] = (op << 1) | is_return;
            if is_return == 1 {
                return_node[op as usize] = node;
            } else {
                call_node[op as usize] = node;
            }
        }
        let next: Vec<u32> = (0..=e as u32).map(|i| if i as usize == e { 0 } else { i + 1 }).collect();
        let prev: Vec<u32> = (0..=e as u32).map(|i| if i == 0 { e as u32 } else { i - 1 }).collect();
        let op_key = (0..n as u64).map(|i| mix64(i ^ 0x6a09_e667_f3bc_c908)).collect();
        let completed = return_node.iter().filter(|&&r| r != 0).count();
        Search {
            model,
            ops: part.iter().map(|&i| &history.ops[i].op).collect(),
            node_code,
            next,
            prev,
            call_node,
            return_node,
            op_key,
            completed,
            interner: Interner::new(),
            transitions: Transitions::new(),
            memo: Memo::new(n.div_ceil(64)),
            scratch_states: Vec::new(),
            scratch_ids: Vec::new(),
            steps: 0,
            peak_memory_bytes: 0,
            deepest: 0,
            deepest_prefix: Vec::new(),
            deepest_pending: Vec::new(),
        }
    }

    fn run(&mut self, budget: &mut Budget<'_>, steps_before: u64) -> PartOutcome {
        let words = self.memo_words();
        let mut bits = vec![0u64; words];
        let mut bits_hash = 0u64;
        let mut state = self.interner.intern(self.model.init());
        let mut frames: Vec<Frame> = Vec::new();
        let mut done = 0usize;
        let mut cur = self.next[0];
        let step_limit = budget.max_steps.map_or(u64::MAX, |max| max.saturating_sub(steps_before));
        loop {
            if done == self.completed {
                return PartOutcome::Linearizable;
            }
            if self.steps == step_limit {
                return PartOutcome::Unknown(Unknown::StepLimit);
            }
            self.steps += 1;
            if self.steps & BUDGET_CHECK_MASK == 0 {
                if let Some(why) = self.over_budget(budget) {
                    return PartOutcome::Unknown(why);
                }
            }
            // Some completed operation is not linearized yet, so its return node is still in
            // the list ahead of the end.
            debug_assert_ne!(cur, 0, "the list ended before every completed operation was linearized");
            let code = self.node_code[cur as usize];
            let op = code >> 1;
            if code & 1 == 0 {
                let (start, len) = self.successors(op, state);
                if self.try_linearize(
                    op,
                    start,
                    start + len,
                    &mut state,
                    &mut bits,
                    &mut bits_hash,
                    &mut frames,
                ) {
                    if self.return_node[op as usize] != 0 {
                        done += 1;
                    }
                    cur = self.next[0];
                } else {
                    cur = self.next[cur as usize];
                }
                continue;
            }
            // A completion of an operation not linearized yet: every order of what precedes it
            // has been tried from here, so backtrack.
            self.note_stuck(cur, &frames);
            let Some(frame) = frames.pop() else {
                return PartOutcome::NotLinearizable;
            };
            let undone = frame.op;
            bits[(undone >> 6) as usize] &= !(1u64 << (undone & 63));
            bits_hash ^= self.op_key[undone as usize];
            state = frame.prev_state;
            self.unlift(undone);
            if self.return_node[undone as usize] != 0 {
                done -= 1;
            }
            if self.try_linearize(
                undone,
                frame.alt_next,
                frame.alt_end,
                &mut state,
                &mut bits,
                &mut bits_hash,
                &mut frames,
            ) {
                if self.return_node[undone as usize] != 0 {
                    done += 1;
                }
                cur = self.next[0];
            } else {
                cur = self.next[self.call_node[undone as usize] as usize];
            }
        }
    }

    fn memo_words(&self) -> usize {
        self.ops.len().div_ceil(64)
    }

    /// Tries successors `from..end` of `op` in the current state; on the first configuration
    /// not seen before, takes it (pushes a frame, lifts `op` out of the list) and returns true.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn try_linearize(
        &mut self,
        op: u32,
        from: u32,
        end: u32,
        state: &mut u32,
        bits: &mut [u64],
        bits_hash: &mut u64,
        frames: &mut Vec<Frame>,
    ) -> bool {
        if from == end {
            return false;
        }
        let word = (op >> 6) as usize;
        let bit = 1u64 << (op & 63);
        bits[word] |= bit;
        let hash = *bits_hash ^ self.op_key[op as usize];
        for alt in from..end {
            let next_state = self.transitions.successor(alt);
            let key = hash ^ mix64(u64::from(next_state) | STATE_SALT);
            if self.memo.insert(key, next_state, bits) {
                frames.push(Frame { op, prev_state: *state, alt_next: alt + 1, alt_end: end });
                *state = next_state;
                *bits_hash = hash;
                self.lift(op);
                return true;
            }
        }
        bits[word] &= !bit;
        false
    }

    /// The interned successors of `op` from `state`, computed once.
    #[inline]
    fn successors(&mut self, op: u32, state: u32) -> (u32, u32) {
        if let Some(found) = self.transitions.lookup(op, state) {
            return found;
        }
        self.scratch_states.clear();
        self.model.step(self.interner.get(state), self.ops[op as usize], &mut self.scratch_states);
        self.scratch_ids.clear();
        for s in self.scratch_states.drain(..) {
            self.scratch_ids.push(self.interner.intern(s));
        }
        self.transitions.store(op, state, &self.scratch_ids)
    }

    fn lift(&mut self, op: u32) {
        for node in [self.call_node[op as usize], self.return_node[op as usize]] {
            if node != 0 {
                let (p, n) = (self.prev[node as usize], self.next[node as usize]);
                self.next[p as usize] = n;
                self.prev[n as usize] = p;
            }
        }
    }

    /// Undoes [`Search::lift`]; nodes go back in the reverse order they were taken out.
    fn unlift(&mut self, op: u32) {
        for node in [self.return_node[op as usize], self.call_node[op as usize]] {
            if node != 0 {
                let (p, n) = (self.prev[node as usize], self.next[node as usize]);
                self.next[p as usize] = node;
                self.prev[n as usize] = node;
            }
        }
    }

    fn note_stuck(&mut self, node: u32, frames: &[Frame]) {
        if node <= self.deepest {
            return;
        }
        self.deepest = node;
        self.deepest_prefix = frames.iter().map(|f| f.op).collect();
        self.deepest_pending.clear();
        let mut cur = self.next[0];
        while cur != node {
            let code = self.node_code[cur as usize];
            if code & 1 == 0 {
                self.deepest_pending.push(code >> 1);
            }
            cur = self.next[cur as usize];
        }
    }

    fn memory_bytes(&self) -> usize {
        self.memo.bytes_after_growth()
            + self.interner.bytes()
            + self.transitions.bytes()
            + (self.node_code.len() * 3 + self.call_node.len() * 2) * 4
            + self.op_key.len() * 8
    }

    fn over_budget(&mut self, budget: &mut Budget<'_>) -> Option<Unknown> {
        let bytes = self.memory_bytes();
        self.peak_memory_bytes = self.peak_memory_bytes.max(bytes);
        if budget.max_memory_bytes.is_some_and(|max| bytes > max) {
            return Some(Unknown::MemoryLimit);
        }
        if budget.should_stop.as_mut().is_some_and(|stop| stop()) {
            return Some(Unknown::Stopped);
        }
        None
    }

    fn counterexample(&self, history: &History<M::Op>, part: Vec<usize>) -> Counterexample {
        let code = self.node_code[self.deepest as usize];
        debug_assert_eq!(code & 1, 1, "the search is only ever stuck at a return");
        let op = part[(code >> 1) as usize];
        let op_return = history.ops[op].return_at;
        let previous_ok = part
            .iter()
            .copied()
            .filter(|&i| history.ops[i].return_at.is_some() && history.ops[i].return_at < op_return)
            .max_by_key(|&i| history.ops[i].return_at);
        let mut pending: Vec<usize> = self.deepest_pending.iter().map(|&i| part[i as usize]).collect();
        pending.push(op);
        pending.sort_unstable();
        pending.dedup();
        Counterexample {
            op,
            previous_ok,
            prefix: self.deepest_prefix.iter().map(|&i| part[i as usize]).collect(),
            pending,
            part,
        }
    }
}
