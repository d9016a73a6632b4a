//! A lock without owners: acquire and release.

use std::fmt;

use crate::model::Model;

/// A lock operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutexOp {
    /// Take the lock; illegal while it is held.
    Acquire,
    /// Give the lock back; illegal while it is free.
    Release,
}

impl fmt::Display for MutexOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MutexOp::Acquire => "acquire",
            MutexOp::Release => "release",
        })
    }
}

/// A lock that starts free. The state is "held".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mutex;

impl Model for Mutex {
    type Op = MutexOp;
    type State = bool;

    fn init(&self) -> bool {
        false
    }

    fn step(&self, held: &bool, op: &MutexOp, next: &mut Vec<bool>) {
        match (op, held) {
            (MutexOp::Acquire, false) => next.push(true),
            (MutexOp::Release, true) => next.push(false),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquiring_a_held_lock_or_releasing_a_free_one_is_illegal() {
        let step = |held, op| {
            let mut next = Vec::new();
            Mutex.step(&held, &op, &mut next);
            next
        };
        assert_eq!(step(false, MutexOp::Acquire), [true]);
        assert_eq!(step(true, MutexOp::Acquire), Vec::<bool>::new());
        assert_eq!(step(true, MutexOp::Release), [false]);
        assert_eq!(step(false, MutexOp::Release), Vec::<bool>::new());
    }
}
