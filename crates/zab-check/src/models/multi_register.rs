//! Several integer registers read and written by transactions.

use std::fmt;

use crate::model::Model;

/// One step of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Micro {
    /// Read register `key`; `value` is what it returned (`None`: unconstrained).
    Read {
        /// Index of the register.
        key: usize,
        /// The value returned.
        value: Option<i64>,
    },
    /// Write `value` to register `key`.
    Write {
        /// Index of the register.
        key: usize,
        /// The value written.
        value: i64,
    },
}

/// A transaction: its micro-operations take effect together, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiRegisterOp {
    /// The steps.
    pub micros: Vec<Micro>,
}

impl fmt::Display for MultiRegisterOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("txn [")?;
        for (i, m) in self.micros.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match m {
                Micro::Read { key, value: Some(v) } => write!(f, "r{key}={v}")?,
                Micro::Read { key, value: None } => write!(f, "r{key}=?")?,
                Micro::Write { key, value } => write!(f, "w{key}={value}")?,
            }
        }
        f.write_str("]")
    }
}

/// Registers `0..initial.len()`, starting at `initial`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiRegister {
    /// Initial value of each register.
    pub initial: Vec<i64>,
}

impl Model for MultiRegister {
    type Op = MultiRegisterOp;
    type State = Vec<i64>;

    fn init(&self) -> Vec<i64> {
        self.initial.clone()
    }

    fn is_noop(&self, op: &MultiRegisterOp) -> bool {
        op.micros.iter().all(|m| matches!(*m, Micro::Read { key, value: None } if key < self.initial.len()))
    }

    fn is_read_only(&self, op: &MultiRegisterOp) -> bool {
        op.micros.iter().all(|m| matches!(m, Micro::Read { .. }))
    }

    fn step(&self, state: &Vec<i64>, op: &MultiRegisterOp, next: &mut Vec<Vec<i64>>) {
        let mut s = state.clone();
        for micro in &op.micros {
            match *micro {
                Micro::Read { key, value } => {
                    // A register the model does not know reads as nothing at all: illegal.
                    let Some(&current) = s.get(key) else { return };
                    if value.is_some_and(|v| v != current) {
                        return;
                    }
                }
                Micro::Write { key, value } => match s.get_mut(key) {
                    Some(slot) => *slot = value,
                    None => return,
                },
            }
        }
        next.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_sees_its_own_earlier_writes_and_fails_as_a_whole() {
        let model = MultiRegister { initial: vec![0, 0] };
        let txn = |micros: Vec<Micro>| {
            let mut next = Vec::new();
            model.step(&vec![0, 0], &MultiRegisterOp { micros }, &mut next);
            next
        };
        let w = |key, value| Micro::Write { key, value };
        let r = |key, value| Micro::Read { key, value: Some(value) };
        assert_eq!(txn(vec![w(0, 3), r(0, 3), r(1, 0)]), [vec![3, 0]]);
        assert!(txn(vec![w(0, 3), r(1, 7)]).is_empty());
        assert_eq!(txn(vec![Micro::Read { key: 1, value: None }]), [vec![0, 0]]);
    }
}
