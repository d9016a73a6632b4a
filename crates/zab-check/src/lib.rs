//! History checkers for zabsim: a fast linearizability search, the models it checks against,
//! readers for third-party histories with known verdicts, the cross-replica invariants of ZAB
//! over zabsim traces ([`invariants`]), and ZooKeeper's own guarantee over a run's client
//! history ([`zookeeper`]: a black-box search and a zxid-witness checker that must agree).
//!
//! # Checking a history
//!
//! 1. Build a [`History`] of operations, each with the position of its invocation and, if it
//!    completed, of its completion (positions order events in real time). Use
//!    [`HistoryBuilder`] to pair invocations with completions per process, or one of the
//!    readers in [`formats`] for Jepsen etcd logs, Porcupine kv logs and Knossos EDN files.
//! 2. Pick a [`Model`]: [`models::Register`] (read/write, optionally cas), [`models::Kv`],
//!    [`models::Mutex`] or [`models::MultiRegister`], or write your own.
//! 3. Call [`check`] (no limits) or [`check_with_budget`]. The answer is a [`Verdict`]:
//!    linearizable, not linearizable with a [`Counterexample`], or unknown because the
//!    [`Budget`] ran out (steps, memory, or the caller's "should stop" callback, which is how a
//!    wall-clock timeout is supplied without this crate reading a clock).
//!
//! # Semantics
//!
//! An operation that completed took effect exactly once, between its invocation and its
//! completion. An operation that never completed (crashed, timed out: its outcome is
//! indeterminate) may take effect at any point after its invocation, or never; the search
//! leaves it open until the end. A model step may be nondeterministic: it yields the set of
//! possible next states, and the search tries each.
//!
//! # The search
//!
//! Wing & Gong's search with Lowe's memoisation: walk a linked list of call and return events,
//! try to linearize each pending call whose predecessors allow it, and backtrack on the first
//! return of an operation not yet linearized. A configuration is the set of linearized
//! operations (a bitset, hashed incrementally with one random key per operation) plus the model
//! state (interned to a small integer); a configuration seen before is never explored twice.
//! The memo table stores full keys, so a hash collision costs a comparison, never a wrong
//! verdict. Models that say how to split a history ([`Model::partition`], e.g. per key) are
//! checked one independent part at a time.

pub mod edn;
pub mod formats;
pub mod generate;
mod hash;
mod history;
pub mod invariants;
mod memo;
mod model;
pub mod models;
mod search;
pub mod zookeeper;

/// The trace format the invariants and ZooKeeper checkers read (re-exported for callers that
/// only need to parse a trace before checking it).
pub use zab_trace;

pub use history::{History, HistoryBuilder, HistoryError, Operation};
pub use model::Model;
pub use search::{check, check_with_budget, Budget, CheckReport, Counterexample, Unknown, Verdict};
