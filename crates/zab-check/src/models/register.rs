//! A single register: read, write, compare-and-set.

use std::fmt;

use crate::model::Model;

/// A register value: absent (`nil`) or an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// No value (an etcd key that does not exist yet).
    Nil,
    /// An integer value.
    Int(i64),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Int(v) => write!(f, "{v}"),
        }
    }
}

/// A register operation with what was observed of its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// A read that returned `value` (`None`: the result is unknown and constrains nothing).
    Read {
        /// The value returned.
        value: Option<Value>,
    },
    /// A write of `value`.
    Write {
        /// The value written.
        value: Value,
    },
    /// Set to `to` if the value is `from`.
    Cas {
        /// Expected value.
        from: Value,
        /// New value.
        to: Value,
        /// Whether it swapped (`Some(false)`: it ran and found another value); `None` when the
        /// result is unknown.
        succeeded: Option<bool>,
    },
}

impl fmt::Display for RegisterOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterOp::Read { value: Some(v) } => write!(f, "read {v}"),
            RegisterOp::Read { value: None } => f.write_str("read ?"),
            RegisterOp::Write { value } => write!(f, "write {value}"),
            RegisterOp::Cas { from, to, succeeded } => {
                let result = match succeeded {
                    Some(true) => "ok",
                    Some(false) => "false",
                    None => "?",
                };
                write!(f, "cas {from}->{to} {result}")
            }
        }
    }
}

/// One register with an initial value. A read must return the current value; a write sets
/// it; a cas swaps if and only if the value equals `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Register {
    /// The value before any operation.
    pub initial: Value,
}

impl Register {
    /// A register starting at `initial`.
    pub fn new(initial: Value) -> Self {
        Register { initial }
    }
}

impl Model for Register {
    type Op = RegisterOp;
    type State = Value;

    fn init(&self) -> Value {
        self.initial
    }

    fn is_noop(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read { value: None })
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read { .. } | RegisterOp::Cas { succeeded: Some(false), .. })
    }

    fn read_is_legal(&self, state: &Value, op: &RegisterOp) -> bool {
        match *op {
            RegisterOp::Read { value } => value.is_none_or(|v| v == *state),
            RegisterOp::Cas { from, succeeded: Some(false), .. } => from != *state,
            _ => true,
        }
    }

    fn step(&self, state: &Value, op: &RegisterOp, next: &mut Vec<Value>) {
        match *op {
            RegisterOp::Read { value } => {
                if value.is_none_or(|v| v == *state) {
                    next.push(*state);
                }
            }
            RegisterOp::Write { value } => next.push(value),
            RegisterOp::Cas { from, to, succeeded } => {
                let swaps = from == *state;
                match succeeded {
                    Some(true) if swaps => next.push(to),
                    Some(false) if !swaps => next.push(*state),
                    None => next.push(if swaps { to } else { *state }),
                    Some(_) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(state: Value, op: RegisterOp) -> Vec<Value> {
        let mut next = Vec::new();
        Register::new(Value::Nil).step(&state, &op, &mut next);
        next
    }

    #[test]
    fn a_read_must_return_the_current_value_unless_its_result_is_unknown() {
        assert_eq!(after(Value::Int(1), RegisterOp::Read { value: Some(Value::Int(1)) }), [Value::Int(1)]);
        assert_eq!(after(Value::Int(1), RegisterOp::Read { value: Some(Value::Nil) }), []);
        assert_eq!(after(Value::Int(1), RegisterOp::Read { value: None }), [Value::Int(1)]);
    }

    #[test]
    fn a_cas_swaps_only_from_the_expected_value_and_a_failed_cas_needs_another_value() {
        let cas = |succeeded| RegisterOp::Cas { from: Value::Int(1), to: Value::Int(2), succeeded };
        assert_eq!(after(Value::Int(1), cas(Some(true))), [Value::Int(2)]);
        assert_eq!(after(Value::Int(3), cas(Some(true))), []);
        assert_eq!(after(Value::Int(3), cas(Some(false))), [Value::Int(3)]);
        assert_eq!(after(Value::Int(1), cas(Some(false))), []);
        assert_eq!(after(Value::Int(1), cas(None)), [Value::Int(2)]);
        assert_eq!(after(Value::Nil, cas(None)), [Value::Nil]);
    }

    #[test]
    fn the_fast_read_check_agrees_with_the_step_for_every_read_only_op() {
        let values = [Value::Nil, Value::Int(0), Value::Int(1)];
        let model = Register::new(Value::Nil);
        for &state in &values {
            for &v in &values {
                let ops = [
                    RegisterOp::Read { value: Some(v) },
                    RegisterOp::Read { value: None },
                    RegisterOp::Cas { from: v, to: Value::Int(5), succeeded: Some(false) },
                ];
                for op in ops {
                    assert!(model.is_read_only(&op));
                    assert_eq!(
                        model.read_is_legal(&state, &op),
                        !after(state, op).is_empty(),
                        "{op} in {state}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_write_always_succeeds() {
        assert_eq!(after(Value::Nil, RegisterOp::Write { value: Value::Int(5) }), [Value::Int(5)]);
    }
}
