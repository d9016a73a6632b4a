//! Every scenario in `scenarios/regressions/` reproduces one historical defect. Each file is named
//! after its mutation (`ZK-3911.toml` sets `[cluster] mutation = "ZK-3911"`) and runs twice: with
//! the mutation it must end as its `[expect]` says, caught by the checker it names; with the
//! mutation switched off the very same plan must pass. Files are found by listing the directory,
//! so a new one is tested without touching this file. Each runs with its pinned `seed` (a plan saved
//! by `zabsim hunt --save-scenario`), else with `ZABSIM_SEED` (default 1).

mod common;

use std::path::{Path, PathBuf};

use common::{env_seed, load, repo_dir, toml_files};
use zab_core::Mutation;
use zab_sim::plan::{ExpectedOutcome, RunPlan};
use zab_sim::sim::{run, Report, RunConfig, RunOutcome, TraceMode};

fn regressions_dir() -> PathBuf {
    repo_dir("scenarios/regressions")
}

fn regression_files() -> Vec<PathBuf> {
    toml_files(&regressions_dir())
}

fn stem(path: &Path) -> String {
    path.file_stem().expect("a file name").to_string_lossy().to_string()
}

fn run_plan(plan: RunPlan) -> Report {
    let seed = plan.seed.unwrap_or_else(env_seed);
    run(&RunConfig { seed, plan, trace: TraceMode::Off, status: false }).expect("valid plan")
}

#[test]
fn each_regression_is_named_after_its_mutation_and_expects_a_named_violation() {
    let files = regression_files();
    assert!(!files.is_empty(), "no regression scenarios in {}", regressions_dir().display());
    for path in files {
        let plan = load(&path);
        let name =
            plan.cluster.mutation.as_deref().unwrap_or_else(|| {
                panic!("{}: a regression scenario needs [cluster] mutation", path.display())
            });
        let m =
            Mutation::parse(name).unwrap_or_else(|| panic!("{}: unknown mutation {name}", path.display()));
        assert_eq!(stem(&path), m.name(), "{}: the file must be named after its mutation", path.display());
        assert_ne!(plan.expect.outcome, ExpectedOutcome::Pass, "{}: expects a failure", path.display());
        assert!(plan.expect.violation.is_some(), "{}: [expect] must name the checker", path.display());
        assert!(!plan.description.is_empty(), "{}: needs a leading comment", path.display());
    }
}

#[test]
fn each_regression_is_caught_with_its_mutation_and_passes_without_it() {
    let mut failures = Vec::new();
    for path in regression_files() {
        let plan = load(&path);
        let seed = plan.seed.unwrap_or_else(env_seed);
        let expect = plan.expect.clone();
        let mutated = run_plan(plan.clone());
        if !expect.is_met_by(&mutated) {
            failures.push(format!(
                "{}: with the mutation expected {:?} ({}), got {:?} ({})\n  reproduce: zabsim run --scenario {} \
                 --seed {seed}",
                path.display(),
                expect.outcome,
                expect.violation.as_deref().unwrap_or("?"),
                mutated.outcome,
                mutated.violation.map_or("no violation".to_string(), |v| v.to_string()),
                path.display()
            ));
        }
        let mut clean = plan;
        clean.cluster.mutation = None;
        let fixed = run_plan(clean);
        if fixed.outcome != RunOutcome::Pass {
            failures.push(format!(
                "{}: without the mutation expected a pass, got {:?} ({})",
                path.display(),
                fixed.outcome,
                fixed.violation.map_or("no violation".to_string(), |v| v.to_string())
            ));
        }
    }
    assert!(failures.is_empty(), "{} regression(s) failed:\n{}", failures.len(), failures.join("\n"));
}
