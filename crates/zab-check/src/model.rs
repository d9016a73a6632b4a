//! The sequential specification a history is checked against.

use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification: an initial state and what each operation may do to it.
///
/// `Op` carries both what was asked and what was observed (a read's returned value, a cas's
/// success); fields the history could not observe are `None` and constrain nothing.
pub trait Model {
    /// One operation with its observed result.
    type Op: Clone + Debug + PartialEq;
    /// A model state. Cheap states (small integers, short strings) make the search fast: every
    /// distinct state is stored once and referred to by a small integer.
    type State: Clone + Eq + Hash + Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Pushes onto `next` every state that can follow `state` when `op` takes effect with the
    /// observed result. Pushing nothing means `op` is illegal in `state`; pushing several means
    /// the step is nondeterministic and the search tries each.
    fn step(&self, state: &Self::State, op: &Self::Op, next: &mut Vec<Self::State>);

    /// True if `op` is legal in every state and changes none (a read whose result is unknown).
    /// Such operations constrain nothing and are left out of the search.
    fn is_noop(&self, op: &Self::Op) -> bool {
        let _ = op;
        false
    }

    /// True if no legal step of `op` ever changes the state (a read, a cas known to have
    /// failed). The search then takes such an operation as soon as it is legal, without trying
    /// other orders first: a large saving on read-heavy histories. Claiming this for an
    /// operation that can change the state gives wrong verdicts.
    fn is_read_only(&self, op: &Self::Op) -> bool {
        let _ = op;
        false
    }

    /// For a read-only operation ([`Model::is_read_only`]): is it legal in `state`? The default
    /// asks [`Model::step`]; models override it to answer without building a next state.
    fn read_is_legal(&self, state: &Self::State, op: &Self::Op) -> bool {
        let mut next = Vec::new();
        self.step(state, op, &mut next);
        !next.is_empty()
    }

    /// Splits a history into independent parts (P-compositionality): the whole history is
    /// linearizable iff every part is. Each part lists operation indices in history order.
    /// `None` (the default) checks the history as one part.
    fn partition(&self, ops: &[Self::Op]) -> Option<Vec<Vec<usize>>> {
        let _ = ops;
        None
    }
}
