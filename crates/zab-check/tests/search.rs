//! The search against its specification: real-time order, open (crashed) operations,
//! nondeterministic steps, budgets, and agreement with a brute-force oracle.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zab_check::generate::{register_history, RegisterHistoryConfig};
use zab_check::models::{Register, RegisterOp, Value};
use zab_check::{check, check_with_budget, Budget, History, Model, Operation, Unknown, Verdict};

fn op<Op>(process: u64, op: Op, call_at: u64, return_at: Option<u64>) -> Operation<Op> {
    Operation { process, op, call_at, return_at }
}

fn read(v: Option<i64>) -> RegisterOp {
    RegisterOp::Read { value: Some(v.map_or(Value::Nil, Value::Int)) }
}

fn write(v: i64) -> RegisterOp {
    RegisterOp::Write { value: Value::Int(v) }
}

fn linearizable<M: Model>(model: &M, ops: Vec<Operation<M::Op>>) -> bool {
    match check(model, &History { ops }).verdict {
        Verdict::Linearizable => true,
        Verdict::NotLinearizable(_) => false,
        Verdict::Unknown(why) => panic!("unknown without a budget: {why:?}"),
    }
}

const NIL: Register = Register { initial: Value::Nil };

#[test]
fn an_empty_history_is_linearizable() {
    assert!(linearizable(&NIL, vec![]));
}

#[test]
fn a_read_after_a_completed_write_must_see_it_but_a_concurrent_read_may_not() {
    assert!(!linearizable(&NIL, vec![op(0, write(1), 0, Some(1)), op(1, read(None), 2, Some(3))]));
    assert!(linearizable(&NIL, vec![op(0, write(1), 0, Some(2)), op(1, read(None), 1, Some(3))]));
    assert!(linearizable(&NIL, vec![op(0, write(1), 0, Some(2)), op(1, read(Some(1)), 1, Some(3))]));
}

#[test]
fn a_crashed_write_may_take_effect_later_or_never_but_not_before_its_invocation() {
    let crashed = |at| op(0, write(1), at, None);
    assert!(linearizable(&NIL, vec![crashed(0), op(1, read(Some(1)), 5, Some(6))]));
    assert!(linearizable(&NIL, vec![crashed(0), op(1, read(None), 5, Some(6))]));
    assert!(!linearizable(&NIL, vec![op(1, read(Some(1)), 0, Some(1)), crashed(2)]));
}

#[test]
fn equal_crashed_writes_may_each_take_effect_at_different_points() {
    let ops = |second: i64| {
        vec![
            op(0, write(1), 0, None),
            op(1, write(second), 1, None),
            op(2, write(2), 2, Some(3)),
            op(3, read(Some(1)), 4, Some(5)),
            op(2, write(3), 6, Some(7)),
            op(3, read(Some(1)), 8, Some(9)),
        ]
    };
    // Both writes of 1 are needed: one before each read of 1.
    assert!(linearizable(&NIL, ops(1)));
    assert!(!linearizable(&NIL, ops(4)));
}

#[test]
fn a_write_of_the_current_value_is_still_a_write_and_may_be_needed_later() {
    // Only order: write 1, cas 1->0, read 0, write 1 (the second), cas 1->2. A search that
    // treated the second write as a read (it leaves the state 1 unchanged when taken early)
    // would take it at once and miss this order.
    let cas =
        |from, to| RegisterOp::Cas { from: Value::Int(from), to: Value::Int(to), succeeded: Some(true) };
    let ops = vec![
        op(1, write(1), 0, Some(2)),
        op(0, write(1), 3, Some(13)),
        op(1, read(Some(0)), 4, Some(14)),
        op(2, cas(1, 0), 5, Some(9)),
        op(2, cas(1, 2), 10, Some(12)),
    ];
    assert!(linearizable(&NIL, ops));
}

#[test]
fn a_crashed_write_once_observed_cannot_be_undone() {
    let ops = vec![op(0, write(1), 0, None), op(1, read(Some(1)), 1, Some(2)), op(2, read(None), 3, Some(4))];
    assert!(!linearizable(&NIL, ops));
}

#[test]
fn a_failed_cas_needs_a_moment_when_the_value_differed() {
    let cas = RegisterOp::Cas { from: Value::Int(1), to: Value::Int(2), succeeded: Some(false) };
    assert!(!linearizable(&NIL, vec![op(0, write(1), 0, Some(1)), op(1, cas, 2, Some(3))]));
    assert!(linearizable(&NIL, vec![op(0, write(1), 0, Some(3)), op(1, cas, 1, Some(2))]));
}

/// A register written by "write one of two values" steps: nondeterministic.
#[derive(Clone, Copy, Debug)]
struct Choice;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChoiceOp {
    WriteEither(u8, u8),
    Read(u8),
}

impl Model for Choice {
    type Op = ChoiceOp;
    type State = u8;

    fn init(&self) -> u8 {
        0
    }

    fn step(&self, state: &u8, op: &ChoiceOp, next: &mut Vec<u8>) {
        match *op {
            ChoiceOp::WriteEither(a, b) => next.extend([a, b]),
            ChoiceOp::Read(v) if v == *state => next.push(v),
            ChoiceOp::Read(_) => {}
        }
    }
}

#[test]
fn every_outcome_of_a_nondeterministic_step_is_tried() {
    let seq = |ops: Vec<ChoiceOp>| -> Vec<Operation<ChoiceOp>> {
        ops.into_iter().enumerate().map(|(i, o)| op(0, o, 2 * i as u64, Some(2 * i as u64 + 1))).collect()
    };
    // The first successor (1) dead-ends; only the second (2) explains the read.
    assert!(linearizable(&Choice, seq(vec![ChoiceOp::WriteEither(1, 2), ChoiceOp::Read(2)])));
    assert!(linearizable(&Choice, seq(vec![ChoiceOp::WriteEither(1, 2), ChoiceOp::Read(1)])));
    assert!(!linearizable(
        &Choice,
        seq(vec![ChoiceOp::WriteEither(1, 2), ChoiceOp::Read(2), ChoiceOp::Read(1)])
    ));
    assert!(!linearizable(&Choice, seq(vec![ChoiceOp::WriteEither(1, 2), ChoiceOp::Read(3)])));
}

fn hard_history() -> History<RegisterOp> {
    let config = RegisterHistoryConfig { clients: 20, ops: 2000, crash_per_mille: 100, values: 3 };
    register_history(&mut ChaCha8Rng::seed_from_u64(1), config)
}

#[test]
fn a_step_budget_ends_in_unknown_after_exactly_that_many_steps() {
    let h = hard_history();
    let mut budget = Budget { max_steps: Some(1000), ..Budget::unlimited() };
    let report = check_with_budget(&NIL, &h, &mut budget);
    assert_eq!(report.verdict, Verdict::Unknown(Unknown::StepLimit));
    assert_eq!(report.steps, 1000);
}

#[test]
fn a_memory_budget_ends_in_unknown_instead_of_growing() {
    let h = hard_history();
    let mut budget = Budget { max_memory_bytes: Some(200_000), ..Budget::unlimited() };
    let report = check_with_budget(&NIL, &h, &mut budget);
    assert_eq!(report.verdict, Verdict::Unknown(Unknown::MemoryLimit));
    assert!(report.peak_memory_bytes > 200_000);
}

#[test]
fn the_callers_stop_callback_is_asked_and_obeyed() {
    let h = hard_history();
    let mut asked = 0;
    let mut stop = || {
        asked += 1;
        asked == 3
    };
    let mut budget = Budget { should_stop: Some(&mut stop), ..Budget::unlimited() };
    let report = check_with_budget(&NIL, &h, &mut budget);
    assert_eq!(report.verdict, Verdict::Unknown(Unknown::Stopped));
    assert_eq!(asked, 3);
}

#[test]
fn a_generated_history_with_crashes_is_linearizable_and_checking_it_is_deterministic() {
    let h = hard_history();
    assert!(h.ops.iter().any(|o| o.return_at.is_none()));
    let a = check(&NIL, &h);
    let b = check(&NIL, &h);
    assert_eq!(a.verdict, Verdict::Linearizable);
    assert_eq!(a, b, "same history, same steps and memory");
}

/// All orders that respect real time, tried one by one: the specification of linearizability.
fn brute_force<M: Model>(model: &M, h: &History<M::Op>) -> bool {
    fn go<M: Model>(model: &M, h: &History<M::Op>, placed: &mut [bool], state: &M::State) -> bool {
        let n = h.ops.len();
        if (0..n).all(|i| placed[i] || h.ops[i].return_at.is_none()) {
            return true;
        }
        for i in 0..n {
            let blocked = (0..n)
                .any(|j| !placed[j] && j != i && h.ops[j].return_at.is_some_and(|r| r < h.ops[i].call_at));
            if placed[i] || blocked {
                continue;
            }
            let mut next = Vec::new();
            model.step(state, &h.ops[i].op, &mut next);
            for s in next {
                placed[i] = true;
                if go(model, h, placed, &s) {
                    return true;
                }
                placed[i] = false;
            }
        }
        false
    }
    go(model, h, &mut vec![false; h.ops.len()], &model.init())
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::Nil), (0i64..3).prop_map(Value::Int)]
}

fn register_op() -> impl Strategy<Value = RegisterOp> {
    prop_oneof![
        proptest::option::of(value()).prop_map(|value| RegisterOp::Read { value }),
        value().prop_map(|value| RegisterOp::Write { value }),
        (value(), value(), proptest::option::of(any::<bool>()))
            .prop_map(|(from, to, succeeded)| RegisterOp::Cas { from, to, succeeded }),
    ]
}

fn history<Op: std::fmt::Debug + Clone>(op: impl Strategy<Value = Op>) -> impl Strategy<Value = History<Op>> {
    proptest::collection::vec((op, 0u64..12, 0u64..6, proptest::bool::weighted(0.2)), 0..8).prop_map(|ops| {
        let mut ops: Vec<Operation<Op>> = ops
            .into_iter()
            .enumerate()
            .map(|(p, (o, call, len, crashed))| Operation {
                process: p as u64,
                op: o,
                call_at: call,
                return_at: (!crashed).then_some(call + len),
            })
            .collect();
        ops.sort_by_key(|o| o.call_at);
        History { ops }
    })
}

fn choice_op() -> impl Strategy<Value = ChoiceOp> {
    prop_oneof![
        (0u8..3, 0u8..3).prop_map(|(a, b)| ChoiceOp::WriteEither(a, b)),
        (0u8..3).prop_map(ChoiceOp::Read)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_search_agrees_with_brute_force_on_small_register_histories(h in history(register_op())) {
        let expected = brute_force(&NIL, &h);
        let got = check(&NIL, &h).verdict;
        prop_assert_eq!(got == Verdict::Linearizable, expected, "{:?}", got);
    }

    #[test]
    fn the_search_agrees_with_brute_force_on_nondeterministic_steps(h in history(choice_op())) {
        let expected = brute_force(&Choice, &h);
        prop_assert_eq!(check(&Choice, &h).verdict == Verdict::Linearizable, expected);
    }

    #[test]
    fn generated_histories_are_linearizable(
        seed in any::<u64>(),
        clients in 1usize..8,
        ops in 1usize..60,
        crash in 0u32..300,
    ) {
        let config = RegisterHistoryConfig { clients, ops, crash_per_mille: crash, values: 3 };
        let h = register_history(&mut ChaCha8Rng::seed_from_u64(seed), config);
        prop_assert_eq!(check(&NIL, &h).verdict, Verdict::Linearizable);
    }
}

#[test]
fn a_counterexample_prefix_replays_on_the_model_and_its_op_is_pending() {
    let ops = vec![
        op(0, write(1), 0, Some(1)),
        op(1, write(2), 2, Some(5)),
        op(2, read(Some(2)), 3, Some(4)),
        op(3, read(Some(1)), 6, Some(7)),
    ];
    let h = History { ops };
    let Verdict::NotLinearizable(c) = check(&NIL, &h).verdict else { panic!("expected a violation") };
    assert_eq!(c.op, 3, "the read of 1 after 2 was read cannot be linearized");
    assert_eq!(c.previous_ok, Some(1));
    assert_eq!(c.prefix, [0, 1, 2]);
    assert_eq!(c.pending, [3]);
}
