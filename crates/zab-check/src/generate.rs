//! Seeded generators of histories that are linearizable by construction, for tests and
//! benchmarks.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::history::{History, HistoryBuilder};
use crate::models::{RegisterOp, Value};

/// Shape of a generated register history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterHistoryConfig {
    /// Concurrent client processes.
    pub clients: usize,
    /// Operations to invoke in all.
    pub ops: usize,
    /// Chance, in thousandths, that an operation never completes (its process then retires
    /// and a new process id takes its place, as in Jepsen).
    pub crash_per_mille: u32,
    /// Values written are drawn from `0..values`.
    pub values: i64,
}

/// A register history (initially `nil`) in the Jepsen etcd style: reads, writes and cas,
/// where a failed cas ran and returned false and crashed operations stay open.
///
/// Each operation takes effect at a random moment between its invocation and its completion
/// (a crashed one may take effect or not), on a real register, so the history is linearizable.
pub fn register_history<R: Rng>(rng: &mut R, config: RegisterHistoryConfig) -> History<RegisterOp> {
    assert!(config.clients > 0 && config.values > 0, "a history needs clients and values: {config:?}");
    let mut builder = HistoryBuilder::new();
    let mut register = Value::Nil;
    // Per client slot: its process id and the phase of its current operation.
    let mut slots: Vec<(u64, Phase)> = (0..config.clients as u64).map(|p| (p, Phase::Idle)).collect();
    let mut next_process = config.clients as u64;
    let mut invoked = 0usize;
    let mut position = 0u64;
    loop {
        let busy = slots.iter().any(|(_, phase)| *phase != Phase::Idle);
        if invoked == config.ops && !busy {
            break;
        }
        let slot = rng.gen_range(0..slots.len());
        let (process, phase) = slots[slot];
        match phase {
            Phase::Idle => {
                if invoked == config.ops {
                    continue;
                }
                let op = match rng.gen_range(0..10) {
                    0..=3 => RegisterOp::Read { value: None },
                    4..=6 => RegisterOp::Write { value: Value::Int(rng.gen_range(0..config.values)) },
                    _ => {
                        let from = if rng.gen_range(0..4) == 0 {
                            Value::Nil
                        } else {
                            Value::Int(rng.gen_range(0..config.values))
                        };
                        RegisterOp::Cas {
                            from,
                            to: Value::Int(rng.gen_range(0..config.values)),
                            succeeded: None,
                        }
                    }
                };
                builder.invoke(process, op, position).expect("an idle slot has nothing outstanding");
                invoked += 1;
                slots[slot].1 = Phase::Invoked;
            }
            Phase::Invoked => {
                let op = builder.pending(process).copied().expect("an invoked slot has an operation");
                let (next, observed) = apply(register, op);
                register = next;
                slots[slot].1 = Phase::Applied(observed);
            }
            Phase::Applied(observed) => {
                if rng.gen_range(0..1000) < config.crash_per_mille {
                    // Crashed after taking effect: the result is lost.
                    builder.abandon(process).expect("outstanding");
                    slots[slot] = (next_process, Phase::Idle);
                    next_process += 1;
                } else {
                    let op = builder.complete(process, position).expect("outstanding");
                    *op = observed;
                    slots[slot].1 = Phase::Idle;
                }
            }
        }
        // A crash can also come before the operation took effect.
        if slots[slot].1 == Phase::Invoked && rng.gen_range(0..2000) < config.crash_per_mille {
            builder.abandon(process).expect("outstanding");
            slots[slot] = (next_process, Phase::Idle);
            next_process += 1;
        }
        position += 1;
    }
    builder.finish()
}

/// [`register_history`] drawn from a `ChaCha8Rng` seeded with `seed`.
pub fn register_history_from_seed(seed: u64, config: RegisterHistoryConfig) -> History<RegisterOp> {
    register_history(&mut ChaCha8Rng::seed_from_u64(seed), config)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Invoked,
    /// Took effect; holds the operation with its observed result.
    Applied(RegisterOp),
}

fn apply(register: Value, op: RegisterOp) -> (Value, RegisterOp) {
    match op {
        RegisterOp::Read { .. } => (register, RegisterOp::Read { value: Some(register) }),
        RegisterOp::Write { value } => (value, op),
        RegisterOp::Cas { from, to, .. } => {
            let swaps = register == from;
            (if swaps { to } else { register }, RegisterOp::Cas { from, to, succeeded: Some(swaps) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_history_with_the_requested_size() {
        let config = RegisterHistoryConfig { clients: 5, ops: 200, crash_per_mille: 50, values: 5 };
        let a = register_history(&mut ChaCha8Rng::seed_from_u64(7), config);
        let b = register_history_from_seed(7, config);
        assert_eq!(a, b);
        assert_eq!(a.ops.len(), 200);
        let open = a.ops.iter().filter(|o| o.return_at.is_none()).count();
        assert!(open > 0 && open < 40, "{open} crashed operations");
    }
}
