//! Every scenario in `scenarios/` runs with its expectation.
//!
//! A scenario pins its plan; the seed only changes latencies, the workload's choices and which
//! server "random" targets name. Each scenario runs with seed `ZABSIM_SEED` (default 1).

mod common;

use common::{env_seed, load, repo_dir, toml_files};
use zab_sim::plan::ExpectedOutcome;
use zab_sim::sim::{run, RunConfig, TraceMode};

fn scenario_files() -> Vec<std::path::PathBuf> {
    toml_files(&repo_dir("scenarios"))
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
    let seed = env_seed();
    let mut failures = Vec::new();
    for path in scenario_files() {
        let plan = load(&path);
        let expect = plan.expect.clone();
        let report =
            run(&RunConfig { seed, plan, trace: TraceMode::Hash, status: false }).expect("valid plan");
        if !expect.is_met_by(&report) {
            let got = ExpectedOutcome::from(report.outcome);
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
