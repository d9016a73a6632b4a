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
    /// not partition), less those that constrain nothing ([`Model::is_noop`]).
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
    for mut part in parts {
        part.retain(|&i| !model.is_noop(&history.ops[i].op));
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
    /// For an open operation: the return node that bounded the candidates when it was taken.
    cut: u32,
    /// Taken as a neutral operation (see `run`): on backtracking, its configuration is dead.
    neutral: bool,
}

/// No operation (in `twin`).
const NONE: u32 = u32::MAX;

/// One part's search. Operations are numbered 0..n within the part (in invocation order).
///
/// Events live in two circular doubly linked lists over one node space: list A (head node 0)
/// holds the calls and returns of completed operations in real-time order; list B (head node
/// `b_head`) holds the calls of open operations. The candidates to take effect next are the
/// calls in A before A's first return, then the calls in B invoked no later than that return.
/// Completed operations are tried first: open ones rarely need to take effect, and trying them
/// last finds linearizations of correct histories much sooner (the set of configurations, and
/// so the verdict, does not depend on the order).
struct Search<'a, M: Model> {
    model: &'a M,
    ops: Vec<&'a M::Op>,
    /// For each node: `op << 1 | is_return`.
    node_code: Vec<u32>,
    node_at: Vec<u64>,
    next: Vec<u32>,
    prev: Vec<u32>,
    b_head: u32,
    call_node: Vec<u32>,
    /// 0 for an operation that never completed.
    return_node: Vec<u32>,
    /// For an open operation: the latest earlier open operation equal to it, or `NONE`. Equal
    /// open operations are interchangeable, so the later one may only take effect after the
    /// earlier one did (a symmetry reduction that keeps every verdict).
    twin: Vec<u32>,
    /// Bit of each operation in the memo bitsets: completed operations first, in invocation
    /// order, from bit 0; open ones from word `memo_a_words` on (see [`Memo`]).
    bit_of: Vec<u32>,
    words: usize,
    /// [`Model::is_read_only`] per operation.
    read_only: Vec<bool>,
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
        let ops: Vec<&M::Op> = part.iter().map(|&i| &history.ops[i].op).collect();
        // (position, is_return, op): calls sort before returns at the same position, so equal
        // positions count as concurrent, the permissive reading.
        let mut completed_events: Vec<(u64, u32, u32)> = Vec::with_capacity(2 * n);
        let mut open_events: Vec<(u64, u32, u32)> = Vec::new();
        for (i, &index) in part.iter().enumerate() {
            let op = &history.ops[index];
            match op.return_at {
                Some(at) => {
                    completed_events.push((op.call_at, 0, i as u32));
                    completed_events.push((at, 1, i as u32));
                }
                None => open_events.push((op.call_at, 0, i as u32)),
            }
        }
        completed_events.sort_unstable();
        open_events.sort_unstable();
        let b_head = completed_events.len() as u32 + 1;
        let nodes = b_head as usize + 1 + open_events.len();
        let mut node_code = vec![0u32; nodes];
        let mut node_at = vec![0u64; nodes];
        let mut next = vec![0u32; nodes];
        let mut prev = vec![0u32; nodes];
        let mut call_node = vec![0u32; n];
        let mut return_node = vec![0u32; n];
        for (head, events) in [(0u32, &completed_events), (b_head, &open_events)] {
            let last = head + events.len() as u32;
            for (k, &(at, is_return, op)) in events.iter().enumerate() {
                let node = head + 1 + k as u32;
                node_code[node as usize] = (op << 1) | is_return;
                node_at[node as usize] = at;
                if is_return == 1 {
                    return_node[op as usize] = node;
                } else {
                    call_node[op as usize] = node;
                }
            }
            for node in head..=last {
                next[node as usize] = if node == last { head } else { node + 1 };
                prev[node as usize] = if node == head { last } else { node - 1 };
            }
        }
        let mut twin = vec![NONE; n];
        let open: Vec<u32> = open_events.iter().map(|&(_, _, op)| op).collect();
        for (k, &j) in open.iter().enumerate() {
            if let Some(&i) = open[..k].iter().rev().find(|&&i| ops[i as usize] == ops[j as usize]) {
                twin[j as usize] = i;
            }
        }
        let op_key = (0..n as u64).map(|i| mix64(i ^ 0x6a09_e667_f3bc_c908)).collect();
        let completed = completed_events.len() / 2;
        let a_words = completed.div_ceil(64);
        let mut bit_of = vec![0u32; n];
        let (mut next_completed, mut next_open) = (0u32, a_words as u32 * 64);
        for (i, bit) in bit_of.iter_mut().enumerate() {
            let counter = if return_node[i] != 0 { &mut next_completed } else { &mut next_open };
            *bit = *counter;
            *counter += 1;
        }
        let words = a_words + open.len().div_ceil(64);
        Search {
            model,
            read_only: ops.iter().map(|op| model.is_read_only(op)).collect(),
            ops,
            node_code,
            node_at,
            next,
            prev,
            b_head,
            call_node,
            return_node,
            twin,
            bit_of,
            words,
            op_key,
            completed,
            interner: Interner::new(),
            transitions: Transitions::for_ops(n),
            memo: Memo::new(a_words),
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
        // The walk: `cur` in list A, or in list B (`in_open`) bounded by the return node `cut`.
        let mut cur = self.next[0];
        let mut in_open = false;
        let mut cut = 0u32;
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
            if !in_open {
                // Some completed operation is not linearized yet, so its return node is still
                // in list A ahead of the end.
                debug_assert_ne!(cur, 0, "list A ended before every completed operation was linearized");
                let code = self.node_code[cur as usize];
                if code & 1 == 1 {
                    cut = cur;
                    in_open = true;
                    cur = self.next[self.b_head as usize];
                    continue;
                }
                let op = code >> 1;
                let (start, len) = self.successors(op, state);
                // A read-only operation that is legal here can go first in any linearization of
                // the rest (it is legal wherever it went, and changes nothing there), so nothing
                // else needs to be tried here: it is taken without a choice point, and if that
                // configuration was already explored, this one is dead too.
                let neutral = self.read_only[op as usize] && len == 1;
                debug_assert!(
                    !neutral || self.transitions.successor(start) == state,
                    "read-only op changed state"
                );
                let alts = start..start + len;
                if self.try_linearize(
                    op,
                    alts,
                    0,
                    neutral,
                    &mut state,
                    &mut bits,
                    &mut bits_hash,
                    &mut frames,
                ) {
                    done += 1;
                    cur = self.next[0];
                    continue;
                }
                if !neutral {
                    cur = self.next[cur as usize];
                    continue;
                }
            } else if cur != self.b_head && self.node_at[cur as usize] <= self.node_at[cut as usize] {
                let op = self.node_code[cur as usize] >> 1;
                let twin = self.twin[op as usize];
                let twin_bit = if twin == NONE { 0 } else { self.bit_of[twin as usize] };
                if twin == NONE || bits[(twin_bit >> 6) as usize] & (1u64 << (twin_bit & 63)) != 0 {
                    let (start, len) = self.successors(op, state);
                    // An open operation that would leave the state as it is can as well never
                    // take effect.
                    let neutral = len == 1 && self.transitions.successor(start) == state;
                    let alts = start..start + len;
                    if !neutral
                        && self.try_linearize(
                            op,
                            alts,
                            cut,
                            false,
                            &mut state,
                            &mut bits,
                            &mut bits_hash,
                            &mut frames,
                        )
                    {
                        in_open = false;
                        cur = self.next[0];
                        continue;
                    }
                }
                cur = self.next[cur as usize];
                continue;
            } else {
                // No candidate is left before the completion at `cut`: every order of what
                // precedes it has been tried from this configuration.
                self.note_stuck(cut, &frames);
            }
            // Backtrack: undo frames until one has an untried successor or candidate.
            loop {
                let Some(frame) = frames.pop() else {
                    return PartOutcome::NotLinearizable;
                };
                let undone = frame.op;
                let was_completed = self.return_node[undone as usize] != 0;
                let bit = self.bit_of[undone as usize];
                bits[(bit >> 6) as usize] &= !(1u64 << (bit & 63));
                bits_hash ^= self.op_key[undone as usize];
                state = frame.prev_state;
                self.unlift(undone);
                if was_completed {
                    done -= 1;
                }
                if frame.neutral {
                    continue;
                }
                let alts = frame.alt_next..frame.alt_end;
                if self.try_linearize(
                    undone,
                    alts,
                    frame.cut,
                    false,
                    &mut state,
                    &mut bits,
                    &mut bits_hash,
                    &mut frames,
                ) {
                    if was_completed {
                        done += 1;
                    }
                    in_open = false;
                    cur = self.next[0];
                } else {
                    in_open = !was_completed;
                    cut = frame.cut;
                    cur = self.next[self.call_node[undone as usize] as usize];
                }
                break;
            }
        }
    }

    fn memo_words(&self) -> usize {
        self.words
    }

    /// Tries successors `alts` of `op` in the current state; on the first configuration not
    /// seen before, takes it (pushes a frame, lifts `op` out of its list) and returns true.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn try_linearize(
        &mut self,
        op: u32,
        alts: std::ops::Range<u32>,
        cut: u32,
        neutral: bool,
        state: &mut u32,
        bits: &mut [u64],
        bits_hash: &mut u64,
        frames: &mut Vec<Frame>,
    ) -> bool {
        if alts.is_empty() {
            return false;
        }
        let end = alts.end;
        let bit_index = self.bit_of[op as usize];
        let word = (bit_index >> 6) as usize;
        let bit = 1u64 << (bit_index & 63);
        bits[word] |= bit;
        let hash = *bits_hash ^ self.op_key[op as usize];
        for alt in alts {
            let next_state = self.transitions.successor(alt);
            let key = hash ^ mix64(u64::from(next_state) | STATE_SALT);
            if self.memo.insert(key, next_state, bits) {
                frames.push(Frame { op, prev_state: *state, alt_next: alt + 1, alt_end: end, cut, neutral });
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
        self.scratch_ids.clear();
        if self.read_only[op as usize] {
            // No next state to build: a legal read leaves the state as it is.
            if self.model.read_is_legal(self.interner.get(state), self.ops[op as usize]) {
                self.scratch_ids.push(state);
            }
            return self.transitions.store(op, state, &self.scratch_ids);
        }
        self.scratch_states.clear();
        self.model.step(self.interner.get(state), self.ops[op as usize], &mut self.scratch_states);
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

    fn note_stuck(&mut self, cut: u32, frames: &[Frame]) {
        if cut <= self.deepest {
            return;
        }
        self.deepest = cut;
        self.deepest_prefix = frames.iter().map(|f| f.op).collect();
        self.deepest_pending.clear();
        let mut cur = self.next[0];
        while cur != cut {
            let code = self.node_code[cur as usize];
            if code & 1 == 0 {
                self.deepest_pending.push(code >> 1);
            }
            cur = self.next[cur as usize];
        }
        let mut cur = self.next[self.b_head as usize];
        while cur != self.b_head && self.node_at[cur as usize] <= self.node_at[cut as usize] {
            self.deepest_pending.push(self.node_code[cur as usize] >> 1);
            cur = self.next[cur as usize];
        }
    }

    fn memory_bytes(&self) -> usize {
        self.memo.bytes_after_growth()
            + self.interner.bytes()
            + self.transitions.bytes()
            + (self.node_code.len() * 5 + self.call_node.len() * 3) * 4
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
