//! `zabsim hunt`: how many random seeds the simulator needs to find a historical defect.
//!
//! With `--mutation M` it runs seeds `start, start+1, ...` of a profile with the defect switched
//! on in every server and stops at the first seed whose run fails (safety violation, liveness
//! failure or a panic in simulated code); it prints the seed, how many seeds that took, the
//! simulated and wall time, the checker that fired and the command that replays the run. Without
//! a mutation it is the clean run: every seed runs and the failures are counted (there must be
//! none). Seeds run on `--jobs` threads; the answer does not depend on their number, because the
//! reported seed is always the lowest failing one.

// Printing is this command's job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use clap::Args;
use serde::Serialize;
use zab_core::Mutation;
use zab_sim::sim::{run, RunConfig, RunOutcome, TraceMode};
use zab_sim::swarm::{draw_plan, Profile};

use crate::cmd_run::panic_message;
use crate::{EXIT_BAD_INPUT, EXIT_LIVENESS, EXIT_PANIC, EXIT_PASS, EXIT_SAFETY};

#[derive(Args)]
pub struct HuntArgs {
    /// The defect to hunt, e.g. ZK-3911 (see --list). Without one: a clean run of every seed.
    #[arg(long)]
    pub mutation: Option<String>,
    /// Give up after this many seeds (a clean run runs them all).
    #[arg(long, default_value_t = 1000)]
    pub seeds: u64,
    /// Profile the plans are drawn from: swarm, lite or perf.
    #[arg(long, default_value = "swarm")]
    pub profile: String,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub start_seed: u64,
    /// Threads running seeds (the result is the same for any number).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Print one JSON object instead of text (what `cargo xtask hunt` reads).
    #[arg(long)]
    pub json: bool,
    /// List the mutations (name, JIRA, catalog entry, defect, what it breaks) and exit.
    #[arg(long)]
    pub list: bool,
    /// Save the detecting run as a regression scenario here: the drawn plan pinned to its seed,
    /// with the mutation and the checker that fired as its expectation.
    #[arg(long)]
    pub save_scenario: Option<std::path::PathBuf>,
}

/// How one seed ended.
#[derive(Clone, Debug, Serialize)]
pub struct SeedResult {
    pub seed: u64,
    /// `pass`, `safety`, `liveness` or `panic`.
    pub outcome: &'static str,
    /// The checker that fired (`panic` for a panic in simulated code).
    pub checker: Option<String>,
    pub message: Option<String>,
    pub sim_time_s: f64,
}

/// What a hunt found, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct HuntReport {
    pub mutation: Option<String>,
    pub profile: String,
    pub start_seed: u64,
    /// Seeds asked for.
    pub seeds: u64,
    /// Seeds run up to (and including) the detecting one; all of them for a clean run.
    pub seeds_run: u64,
    pub wall_s: f64,
    /// Simulated time of the seeds counted in `seeds_run`.
    pub sim_time_s: f64,
    /// The lowest failing seed (for a hunt: the detection).
    pub first_failure: Option<SeedResult>,
    /// Every failing seed among those run (a clean run reports all of them).
    pub failures: Vec<SeedResult>,
    /// The command that replays the first failure.
    pub replay: Option<String>,
}

pub fn run_cmd(args: &HuntArgs) -> u8 {
    if args.list {
        for &m in Mutation::ALL {
            println!(
                "{:<10} {:<16} entry {:>2}  {}: {}",
                m.name(),
                m.jira(),
                m.catalog_entry(),
                m.defect(),
                m.what_it_breaks()
            );
        }
        return EXIT_PASS;
    }
    let profile = match Profile::parse(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("zabsim hunt: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let mutation = match args.mutation.as_deref().map(|n| (n, Mutation::parse(n))) {
        None => None,
        Some((_, Some(m))) => Some(m),
        Some((n, None)) => {
            eprintln!("zabsim hunt: unknown mutation {n:?}; expected one of {}", Mutation::names());
            return EXIT_BAD_INPUT;
        }
    };
    if args.seeds == 0 || args.jobs == 0 {
        eprintln!("zabsim hunt: --seeds and --jobs must be at least 1");
        return EXIT_BAD_INPUT;
    }
    let report = hunt(profile, mutation, args.start_seed, args.seeds, args.jobs);
    if let (Some(path), Some(m), Some(first)) = (&args.save_scenario, mutation, &report.first_failure) {
        match regression_scenario(profile, m, first) {
            Some(text) => {
                if let Err(e) = std::fs::write(path, text) {
                    eprintln!("zabsim hunt: cannot write {}: {e}", path.display());
                    return EXIT_BAD_INPUT;
                }
            }
            None => eprintln!("zabsim hunt: a panic is not a scenario expectation; nothing saved"),
        }
    }
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("a hunt report serializes"));
    } else {
        print_text(&report);
    }
    match report.first_failure.as_ref().map(|f| f.outcome) {
        None => EXIT_PASS,
        Some("safety") => EXIT_SAFETY,
        Some("liveness") => EXIT_LIVENESS,
        Some(_) => EXIT_PANIC,
    }
}

/// Runs the hunt (or the clean run when `mutation` is `None`).
pub fn hunt(profile: Profile, mutation: Option<Mutation>, start: u64, seeds: u64, jobs: usize) -> HuntReport {
    let end = start.saturating_add(seeds);
    let next = AtomicU64::new(start);
    // The lowest failing seed found so far: a hunt never needs seeds above it.
    let bound = AtomicU64::new(u64::MAX);
    let results: Mutex<Vec<SeedResult>> = Mutex::new(Vec::new());
    let started = Instant::now();
    let quiet = QuietPanics::install();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::SeqCst);
                if seed >= end || (mutation.is_some() && seed > bound.load(Ordering::SeqCst)) {
                    break;
                }
                let r = run_seed(profile, mutation, seed);
                if r.outcome != "pass" && mutation.is_some() {
                    bound.fetch_min(seed, Ordering::SeqCst);
                }
                results.lock().expect("no worker panics while holding the lock").push(r);
            });
        }
    });
    drop(quiet);
    let wall_s = started.elapsed().as_secs_f64();
    let mut results = results.into_inner().expect("workers are done");
    results.sort_by_key(|r| r.seed);
    let first = results.iter().find(|r| r.outcome != "pass").cloned();
    let counted: Vec<&SeedResult> = match (&first, mutation) {
        (Some(f), Some(_)) => results.iter().filter(|r| r.seed <= f.seed).collect(),
        _ => results.iter().collect(),
    };
    let replay = first.as_ref().map(|f| {
        let m = mutation.map(|m| format!(" --mutation {}", m.name())).unwrap_or_default();
        format!("zabsim run --profile {} --seed {}{m}", profile.name(), f.seed)
    });
    HuntReport {
        mutation: mutation.map(|m| m.name().to_string()),
        profile: profile.name().to_string(),
        start_seed: start,
        seeds,
        seeds_run: counted.len() as u64,
        wall_s,
        sim_time_s: counted.iter().map(|r| r.sim_time_s).sum(),
        failures: counted.iter().filter(|r| r.outcome != "pass").map(|r| (*r).clone()).collect(),
        first_failure: first,
        replay,
    }
}

fn run_seed(profile: Profile, mutation: Option<Mutation>, seed: u64) -> SeedResult {
    let mut plan = draw_plan(profile, seed);
    plan.cluster.mutation = mutation.map(|m| m.name().to_string());
    let cfg = RunConfig { seed, plan, trace: TraceMode::Off, status: false };
    match catch_unwind(AssertUnwindSafe(|| run(&cfg))) {
        Ok(Ok(report)) => SeedResult {
            seed,
            outcome: match report.outcome {
                RunOutcome::Pass => "pass",
                RunOutcome::Safety => "safety",
                RunOutcome::Liveness => "liveness",
            },
            checker: report.violation.as_ref().map(|v| v.checker.clone()),
            message: report.violation.as_ref().map(|v| v.message.clone()),
            sim_time_s: report.sim_time.0 as f64 / 1e9,
        },
        Ok(Err(e)) => SeedResult {
            seed,
            outcome: "panic",
            checker: Some("invalid-plan".to_string()),
            message: Some(e),
            sim_time_s: 0.0,
        },
        Err(panic) => SeedResult {
            seed,
            outcome: "panic",
            checker: Some("panic".to_string()),
            message: Some(panic_message(&panic)),
            sim_time_s: 0.0,
        },
    }
}

/// The regression scenario of a detection: the drawn plan pinned to the detecting seed, with the
/// mutation on and the checker that fired as the expectation. `None` for a panic.
pub fn regression_scenario(profile: Profile, m: Mutation, found: &SeedResult) -> Option<String> {
    use zab_sim::plan::{Expect, ExpectedOutcome};
    let outcome = match found.outcome {
        "safety" => ExpectedOutcome::Safety,
        "liveness" => ExpectedOutcome::Liveness,
        _ => return None,
    };
    let mut plan = draw_plan(profile, found.seed);
    plan.seed = Some(found.seed);
    plan.cluster.mutation = Some(m.name().to_string());
    plan.expect = Expect { outcome, violation: found.checker.clone() };
    plan.description = format!(
        "{} ({}): {}. Found by `zabsim hunt` in {} seed {}; without the defect the same plan passes.",
        m.name(),
        m.jira(),
        m.defect(),
        profile.name(),
        found.seed
    );
    let message = found.message.as_deref().unwrap_or("").lines().next().unwrap_or("");
    Some(format!(
        "# {}\n# It breaks: {}.\n# Caught by {}: {message}\n{}",
        plan.description,
        m.what_it_breaks(),
        found.checker.as_deref().unwrap_or("?"),
        zab_sim::scenario::to_scenario_toml(&plan)
    ))
}

fn print_text(r: &HuntReport) {
    let what = r.mutation.as_deref().unwrap_or("no mutation");
    match (&r.mutation, &r.first_failure) {
        (Some(_), Some(f)) => {
            println!(
                "{what}: detected at seed {} after {} seed(s) of {} from {}",
                f.seed, r.seeds_run, r.profile, r.start_seed
            );
            println!("  checker: {} ({})", f.checker.as_deref().unwrap_or("?"), f.outcome);
            println!("  message: {}", f.message.as_deref().unwrap_or(""));
            println!(
                "  simulated time: {:.1} s in that run, {:.1} s over the hunt; wall time {:.2} s",
                f.sim_time_s, r.sim_time_s, r.wall_s
            );
        }
        (Some(_), None) => {
            println!(
                "{what}: NOT detected in {} seed(s) of {} from {} ({:.1} s simulated, {:.2} s wall)",
                r.seeds_run, r.profile, r.start_seed, r.sim_time_s, r.wall_s
            );
        }
        (None, _) => {
            println!(
                "clean run: {} seed(s) of {} from {}: {} failure(s); {:.1} s simulated, {:.2} s wall \
                 ({:.1} seeds/s)",
                r.seeds_run,
                r.profile,
                r.start_seed,
                r.failures.len(),
                r.sim_time_s,
                r.wall_s,
                r.seeds_run as f64 / r.wall_s.max(1e-9)
            );
            for f in r.failures.iter().take(20) {
                println!(
                    "  seed {}: {} {}: {}",
                    f.seed,
                    f.outcome,
                    f.checker.as_deref().unwrap_or("?"),
                    f.message.as_deref().unwrap_or("")
                );
            }
        }
    }
    if let Some(cmd) = &r.replay {
        println!("{cmd}");
    }
}

/// Silences the default panic message while seeds run (a panic is reported as a result), and
/// restores the previous hook afterwards.
struct QuietPanics {
    previous: Option<PanicHook>,
}

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

impl QuietPanics {
    fn install() -> QuietPanics {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        QuietPanics { previous: Some(previous) }
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            std::panic::set_hook(previous);
        }
    }
}
