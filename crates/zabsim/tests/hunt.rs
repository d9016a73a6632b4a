//! `zabsim hunt` and `zabsim run --mutation`: a switched-on defect is found by random seeds and
//! reported with its seed, checker and replay command; the answer does not depend on the number of
//! threads; a clean run counts every seed; unknown mutation names are bad input.

use std::process::Command;

fn zabsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zabsim")).args(args).output().expect("zabsim runs")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn hunt_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["hunt", "--json"];
    all.extend_from_slice(args);
    let out = zabsim(&all);
    serde_json::from_str(stdout(&out).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

#[test]
fn list_names_every_mutation_with_its_jira_and_entry() {
    let out = zabsim(&["hunt", "--list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for &m in zab_core::Mutation::ALL {
        let line = text.lines().find(|l| l.starts_with(&format!("{} ", m.name()))).unwrap_or_else(|| {
            panic!("{} missing from:\n{text}", m.name());
        });
        assert!(line.contains(&m.jira()) && line.contains(m.what_it_breaks()), "{line}");
    }
}

#[test]
fn an_unknown_mutation_is_bad_input_for_hunt_and_run() {
    for args in [&["hunt", "--mutation", "ZK-99999"][..], &["run", "--seed", "1", "--mutation", "ZK-0"][..]] {
        let out = zabsim(args);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("ZK-261"), "the error lists the known names");
    }
}

/// ZK-2845 is caught within a few swarm seeds (it was the first mutation the core had).
#[test]
fn a_hunt_stops_at_the_first_detecting_seed_and_prints_how_to_replay_it() {
    let r = hunt_json(&["--mutation", "zookeeper-2845", "--seeds", "40", "--start-seed", "0"]);
    let first = &r["first_failure"];
    let seed = first["seed"].as_u64().expect("detected within 40 seeds");
    assert_eq!(r["seeds_run"].as_u64(), Some(seed + 1));
    assert_eq!(r["mutation"], "ZK-2845");
    assert!(first["checker"].as_str().is_some_and(|c| !c.is_empty()));
    let replay = r["replay"].as_str().expect("a replay command");
    assert_eq!(replay, format!("zabsim run --profile swarm --seed {seed} --mutation ZK-2845"));
    // The replay command reproduces the failure.
    let trace = std::env::temp_dir().join(format!("zabsim-hunt-test-{}.ndjson", std::process::id()));
    let trace_arg = trace.display().to_string();
    let mut args: Vec<&str> = replay.split(' ').skip(1).collect();
    args.extend(["--trace-out", &trace_arg]);
    let again = zabsim(&args);
    let _ = std::fs::remove_file(&trace);
    assert_ne!(again.status.code(), Some(0), "{}", stdout(&again));
    // The same hunt on two threads reports the same seed.
    let r2 = hunt_json(&["--mutation", "ZK-2845", "--seeds", "40", "--jobs", "2"]);
    assert_eq!(r2["first_failure"]["seed"], first["seed"]);
    assert_eq!(r2["seeds_run"], r["seeds_run"]);
}

#[test]
fn a_clean_run_runs_every_seed_and_reports_no_failure() {
    let out = zabsim(&["hunt", "--seeds", "4", "--start-seed", "10"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("clean run: 4 seed(s) of swarm from 10: 0 failure(s)"), "{}", stdout(&out));
    let r = hunt_json(&["--seeds", "3", "--profile", "lite"]);
    assert_eq!((r["seeds_run"].as_u64(), r["failures"].as_array().map(Vec::len)), (Some(3), Some(0)));
    assert!(r["first_failure"].is_null() && r["replay"].is_null());
}

#[test]
fn run_with_a_mutation_applies_it_to_the_drawn_plan() {
    let out = zabsim(&["run", "--seed", "3", "--mutation", "zk-261", "--verbose"]);
    assert!(stdout(&out).contains("mutation: ZK-261"), "{}", stdout(&out));
}
