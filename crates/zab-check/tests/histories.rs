//! Every third-party history listed in the shared INDEX.tsv gets its known verdict, and the
//! counterexamples point at the operations Knossos' own tests pin.

use std::path::PathBuf;

use zab_check::formats::{
    parse_jepsen_etcd, parse_knossos_cas_register, parse_knossos_multi_register, parse_knossos_mutex,
    parse_porcupine_kv,
};
use zab_check::models::{Kv, Mutex, Register, Value};
use zab_check::{check, CheckReport, Counterexample, History, Model, Verdict};

fn histories_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/histories")
}

fn read(path: &str) -> String {
    let full = histories_dir().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// Checks one listed file with the model INDEX.tsv names; returns (operations, report).
fn check_listed(path: &str) -> (usize, CheckReport) {
    let text = read(path);
    fn run<M: Model>(model: &M, h: &History<M::Op>) -> (usize, CheckReport) {
        (h.ops.len(), check(model, h))
    }
    if path.starts_with("porcupine/jepsen/") {
        run(&Register::new(Value::Nil), &parse_jepsen_etcd(&text, path).unwrap())
    } else if path.starts_with("porcupine/kv/") {
        run(&Kv::default(), &parse_porcupine_kv(&text, path).unwrap())
    } else if path.starts_with("knossos/cas-register/") {
        run(&Register::new(Value::Int(0)), &parse_knossos_cas_register(&text, path).unwrap())
    } else if path.starts_with("knossos/multi-register/") {
        let h = parse_knossos_multi_register(&text, path).unwrap();
        run(&h.model(0), &h.history)
    } else if path.starts_with("knossos/mutex/") {
        run(&Mutex, &parse_knossos_mutex(&text, path).unwrap())
    } else {
        panic!("INDEX.tsv lists {path}, which no reader here handles")
    }
}

#[test]
fn every_indexed_history_gets_its_expected_verdict_with_the_indexed_operation_count() {
    let index = read("INDEX.tsv");
    let mut checked = 0;
    for (n, line) in index.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 3, "INDEX.tsv line {}: too few columns", n + 1);
        let (path, expected, ops_checked) = (cols[0], cols[1], cols[2]);
        let (ops, report) = check_listed(path);
        assert_eq!(ops.to_string(), ops_checked, "{path}: operations handed to the checker");
        let linearizable = match &report.verdict {
            Verdict::Linearizable => true,
            Verdict::NotLinearizable(_) => false,
            Verdict::Unknown(why) => panic!("{path}: unknown ({why:?}) with no budget"),
        };
        match expected {
            "true" => assert!(linearizable, "{path}: expected linearizable, got {:?}", report.verdict),
            "false" => assert!(!linearizable, "{path}: expected not linearizable"),
            "none" => assert!(linearizable && ops == 0, "{path}: an empty history is trivially linearizable"),
            other => panic!("{path}: unknown expected verdict {other:?}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 143, "INDEX.tsv lists 143 histories");
}

#[test]
fn kv_verdicts_are_the_same_without_partitioning_by_key() {
    for (path, expected) in [("porcupine/kv/c01-bad.txt", false), ("porcupine/kv/c10-ok.txt", true)] {
        let h = parse_porcupine_kv(&read(path), path).unwrap();
        let whole = check(&Kv { unpartitioned: true }, &h);
        let split = check(&Kv::default(), &h);
        assert_eq!(whole.parts, 1);
        assert!(split.parts > 1, "{path}: kv histories split per key");
        assert_eq!(whole.verdict == Verdict::Linearizable, expected, "{path}");
        assert_eq!(split.verdict == Verdict::Linearizable, expected, "{path}");
    }
}

fn counterexample(path: &str, initial: Value) -> (History<zab_check::models::RegisterOp>, Counterexample) {
    let h = parse_knossos_cas_register(&read(path), path).unwrap();
    match check(&Register::new(initial), &h).verdict {
        Verdict::NotLinearizable(c) => (h, c),
        other => panic!("{path}: expected not linearizable, got {other:?}"),
    }
}

#[test]
fn bad_analysis_fails_at_the_read_of_2_by_process_21_after_the_read_of_0_by_process_19() {
    let (h, c) = counterexample("knossos/cas-register/bad/bad-analysis.edn", Value::Int(0));
    let op = &h.ops[c.op];
    assert_eq!((op.process, op.return_at), (21, Some(14)));
    assert_eq!(op.op, zab_check::models::RegisterOp::Read { value: Some(Value::Int(2)) });
    let previous = &h.ops[c.previous_ok.expect("an earlier ok")];
    assert_eq!((previous.process, previous.return_at), (19, Some(11)));
}

#[test]
fn cas_failure_fails_at_the_read_of_0_by_process_70_right_after_the_write_of_2_by_process_76() {
    let (h, c) = counterexample("knossos/cas-register/bad/cas-failure.edn", Value::Int(0));
    let op = &h.ops[c.op];
    assert_eq!((op.process, op.call_at, op.return_at), (70, 488, Some(491)));
    let last = &h.ops[*c.prefix.last().expect("a non-empty prefix")];
    assert_eq!((last.process, last.return_at), (76, Some(472)));
    let previous = &h.ops[c.previous_ok.expect("an earlier ok")];
    assert_eq!((previous.process, previous.return_at), (74, Some(478)));
    assert!(c.pending.contains(&c.op));
}

#[test]
fn rethink_histories_fail_at_the_read_of_3_that_comes_out_of_nowhere() {
    let (h, c) = counterexample("knossos/cas-register/bad/rethink-fail-minimal.edn", Value::Nil);
    assert_eq!((h.ops[c.op].process, h.ops[c.op].return_at), (1, Some(4)));
    let (h, c) = counterexample("knossos/cas-register/bad/rethink-fail-smaller.edn", Value::Nil);
    assert_eq!((h.ops[c.op].process, h.ops[c.op].return_at), (12, Some(217)));
}

#[test]
fn the_prefix_of_a_counterexample_is_itself_a_linearizable_history_order() {
    let (h, c) = counterexample("knossos/cas-register/bad/cas-failure.edn", Value::Int(0));
    // Replaying the prefix on the model must succeed step by step.
    let model = Register::new(Value::Int(0));
    let mut state = model.init();
    for &i in &c.prefix {
        let mut next = Vec::new();
        model.step(&state, &h.ops[i].op, &mut next);
        state = *next.first().unwrap_or_else(|| panic!("prefix op {i} is illegal"));
    }
    assert_eq!(state, Value::Int(2));
}
