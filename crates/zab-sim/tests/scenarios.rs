//! Every scenario in `scenarios/` runs with its expectation.
//!
//! A scenario pins its plan; the seed only changes latencies, the workload's choices and which
//! server "random" targets name. Each scenario runs with seed `ZABSIM_SEED` (default 1).

use std::path::{Path, PathBuf};

use zab_sim::plan::ExpectedOutcome;
use zab_sim::sim::{run, RunConfig, RunOutcome, TraceMode};

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn seed() -> u64 {
    std::env::var("ZABSIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1)
}

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> zab_sim::plan::RunPlan {
    let text = std::fs::read_to_string(path).expect("readable scenario");
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| e.to_string());
    zab_sim::scenario::parse_scenario(&text, &path.display().to_string(), &read)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn there_are_at_least_ten_scenarios_and_each_says_what_it_is_about() {
    let files = scenario_files();
    assert!(files.len() >= 10, "only {} scenarios", files.len());
    for f in &files {
        assert!(!load(f).description.is_empty(), "{} has no leading comment", f.display());
    }
}

#[test]
fn every_scenario_meets_its_expectation() {
    let seed = seed();
    let mut failures = Vec::new();
    for path in scenario_files() {
        let plan = load(&path);
        let expect = plan.expect.clone();
        let report =
            run(&RunConfig { seed, plan, trace: TraceMode::Hash, status: false }).expect("valid plan");
        let got = match report.outcome {
            RunOutcome::Pass => ExpectedOutcome::Pass,
            RunOutcome::Safety => ExpectedOutcome::Safety,
            RunOutcome::Liveness => ExpectedOutcome::Liveness,
        };
        let checker_ok = match &expect.violation {
            Some(name) => report.violation.as_ref().is_some_and(|v| &v.checker == name),
            None => true,
        };
        if got != expect.outcome || !checker_ok {
            failures.push(format!(
                "{}: expected {:?}{}, got {got:?} ({})\n  reproduce: zabsim run --scenario {} --seed {seed}",
                path.display(),
                expect.outcome,
                expect.violation.map(|v| format!(" ({v})")).unwrap_or_default(),
                report.violation.map_or("no violation".to_string(), |v| v.to_string()),
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{} scenario(s) failed:\n{}", failures.len(), failures.join("\n"));
}
