//! Concurrent histories: operations with an invocation point and, if they completed, a
//! completion point.

use std::collections::BTreeMap;
use std::fmt;

/// One operation of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<Op> {
    /// The client process that issued it.
    pub process: u64,
    /// What was asked and what was observed.
    pub op: Op,
    /// Position of the invocation. Positions order events in real time and name them in
    /// reports (a line number, or Knossos' operation index).
    pub call_at: u64,
    /// Position of the completion; `None` when the outcome is indeterminate (crash, timeout):
    /// the operation may take effect at any point after `call_at`, or never.
    pub return_at: Option<u64>,
}

/// A history: operations in invocation order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History<Op> {
    /// The operations, sorted by `call_at`.
    pub ops: Vec<Operation<Op>>,
}

impl<Op> History<Op> {
    /// An empty history.
    pub fn new() -> Self {
        History { ops: Vec::new() }
    }

    /// Operations that completed (their effect is certain).
    pub fn completed_count(&self) -> usize {
        self.ops.iter().filter(|o| o.return_at.is_some()).count()
    }
}

impl<Op> Default for History<Op> {
    fn default() -> Self {
        Self::new()
    }
}

/// A history whose events do not pair up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryError {
    /// A process invoked an operation while its previous one was still outstanding.
    AlreadyPending {
        /// The process.
        process: u64,
    },
    /// A completion arrived for a process with no outstanding operation.
    NothingPending {
        /// The process.
        process: u64,
    },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::AlreadyPending { process } => {
                write!(f, "process {process} invokes while its previous operation is still outstanding")
            }
            HistoryError::NothingPending { process } => {
                write!(f, "process {process} completes an operation it never invoked")
            }
        }
    }
}

impl std::error::Error for HistoryError {}

/// Pairs invocations with completions, one outstanding operation per process.
#[derive(Clone, Debug)]
pub struct HistoryBuilder<Op> {
    ops: Vec<Option<Operation<Op>>>,
    pending: BTreeMap<u64, usize>,
}

impl<Op> HistoryBuilder<Op> {
    /// A builder with no events.
    pub fn new() -> Self {
        HistoryBuilder { ops: Vec::new(), pending: BTreeMap::new() }
    }

    /// Records an invocation by `process` at position `at`.
    pub fn invoke(&mut self, process: u64, op: Op, at: u64) -> Result<(), HistoryError> {
        if self.pending.contains_key(&process) {
            return Err(HistoryError::AlreadyPending { process });
        }
        self.pending.insert(process, self.ops.len());
        self.ops.push(Some(Operation { process, op, call_at: at, return_at: None }));
        Ok(())
    }

    /// Records that `process`'s outstanding operation completed at `at`, and returns it so the
    /// caller can fill in what was observed.
    pub fn complete(&mut self, process: u64, at: u64) -> Result<&mut Op, HistoryError> {
        let index = self.pending.remove(&process).ok_or(HistoryError::NothingPending { process })?;
        let op = self.ops[index].as_mut().expect("a pending operation is never dropped");
        op.return_at = Some(at);
        Ok(&mut op.op)
    }

    /// `process`'s outstanding operation, if any.
    pub fn pending(&self, process: u64) -> Option<&Op> {
        let index = *self.pending.get(&process)?;
        self.ops[index].as_ref().map(|o| &o.op)
    }

    /// Removes `process`'s outstanding operation from the history: it is known not to have
    /// happened (Knossos' `:fail`).
    pub fn discard(&mut self, process: u64) -> Result<Op, HistoryError> {
        let index = self.pending.remove(&process).ok_or(HistoryError::NothingPending { process })?;
        let op = self.ops[index].take().expect("a pending operation is never dropped");
        Ok(op.op)
    }

    /// Leaves `process`'s outstanding operation open to the end (outcome indeterminate) and
    /// frees the process to invoke again.
    pub fn abandon(&mut self, process: u64) -> Result<&mut Op, HistoryError> {
        let index = self.pending.remove(&process).ok_or(HistoryError::NothingPending { process })?;
        Ok(&mut self.ops[index].as_mut().expect("a pending operation is never dropped").op)
    }

    /// The history; operations still outstanding stay open.
    pub fn finish(self) -> History<Op> {
        History { ops: self.ops.into_iter().flatten().collect() }
    }
}

impl<Op> Default for HistoryBuilder<Op> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_pairs_completions_with_the_same_process_and_keeps_crashed_ops_open() {
        let mut b = HistoryBuilder::new();
        b.invoke(1, "w", 0).unwrap();
        b.invoke(2, "r", 1).unwrap();
        b.complete(2, 2).unwrap();
        b.invoke(3, "x", 3).unwrap();
        b.discard(3).unwrap();
        let h = b.finish();
        assert_eq!(h.ops.len(), 2);
        assert_eq!(h.ops[0].return_at, None);
        assert_eq!(h.ops[1].return_at, Some(2));
        assert_eq!(h.completed_count(), 1);
    }

    #[test]
    fn builder_rejects_a_second_invocation_and_an_unmatched_completion() {
        let mut b = HistoryBuilder::new();
        b.invoke(1, (), 0).unwrap();
        assert_eq!(b.invoke(1, (), 1), Err(HistoryError::AlreadyPending { process: 1 }));
        assert_eq!(b.complete(9, 2).err(), Some(HistoryError::NothingPending { process: 9 }));
    }

    #[test]
    fn an_abandoned_process_may_invoke_again() {
        let mut b = HistoryBuilder::new();
        b.invoke(1, 'a', 0).unwrap();
        b.abandon(1).unwrap();
        b.invoke(1, 'b', 1).unwrap();
        assert_eq!(b.finish().ops.len(), 2);
    }
}
