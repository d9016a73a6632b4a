//! `zabsim run`: simulate seeds of a profile or a scenario, stop at the first failure, write its
//! trace and print one replay command.

// Printing is this command's job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use zab_sim::plan::RunPlan;
use zab_sim::sim::{run, Report, RunConfig, RunOutcome, TraceMode};
use zab_sim::swarm::{describe, draw_plan, Profile};

use crate::{EXIT_BAD_INPUT, EXIT_LIVENESS, EXIT_PANIC, EXIT_PASS, EXIT_SAFETY};

#[derive(Args)]
pub struct RunArgs {
    /// The first seed (default: the scenario's pinned `seed`, else drawn from the OS clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How many consecutive seeds to run.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Run this scenario file instead of a profile draw.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Take the ensemble from this zoo.cfg (server ids must be 1..=n).
    #[arg(long)]
    pub cluster: Option<PathBuf>,
    /// Profile for drawn plans: swarm, lite or perf.
    #[arg(long, default_value = "swarm")]
    pub profile: String,
    /// Write the trace here (always for a single seed; for a failure otherwise).
    #[arg(long)]
    pub trace_out: Option<PathBuf>,
    /// Print one line per role/phase transition: time, node, role, phase, accepted/current epoch,
    /// last logged zxid, committed zxid, pending disk writes.
    #[arg(long)]
    pub status: bool,
    /// Print the seed and every drawn knob before running.
    #[arg(long)]
    pub verbose: bool,
    /// Switch a historical defect on in every server (e.g. ZK-3911; `zabsim hunt --list` lists
    /// them). Overrides a scenario's `cluster.mutation`.
    #[arg(long)]
    pub mutation: Option<String>,
}

/// A failed seed's class, as an exit code.
pub fn exit_code(outcome: RunOutcome) -> u8 {
    match outcome {
        RunOutcome::Pass => EXIT_PASS,
        RunOutcome::Safety => EXIT_SAFETY,
        RunOutcome::Liveness => EXIT_LIVENESS,
    }
}

pub fn run_cmd(args: &RunArgs) -> u8 {
    let source = match PlanSource::from_args(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("zabsim run: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let pinned = match &source {
        PlanSource::Scenario(p) => p.seed,
        PlanSource::Profile(..) => None,
    };
    let first = args.seed.or(pinned).unwrap_or_else(clock_seed);
    let count = args.seeds.max(1);
    let bar = (count > 1).then(|| progress_bar(count));
    let started = Instant::now();
    let mut sim_ns: u128 = 0;
    for seed in first..first.saturating_add(count) {
        let plan = match source.plan(seed) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("zabsim run: {e}");
                return EXIT_BAD_INPUT;
            }
        };
        if args.verbose {
            println!("seed {seed} ({})", source.profile_name());
            for line in describe(&plan) {
                println!("  {line}");
            }
        }
        let keep = args.trace_out.is_some() && count == 1;
        let cfg = RunConfig {
            seed,
            plan: plan.clone(),
            trace: if keep { TraceMode::Keep } else { TraceMode::Hash },
            status: args.status,
        };
        let result = catch_unwind(AssertUnwindSafe(|| run(&cfg)));
        let report = match result {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                eprintln!("zabsim run: seed {seed}: {e}");
                return EXIT_BAD_INPUT;
            }
            Err(panic) => {
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                eprintln!("seed {seed}: PANIC in simulated code: {}", panic_message(&panic));
                let path = trace_path(args, seed);
                match write_trace(&path, seed, source.profile_name(), &plan, &[]) {
                    Ok(()) => println!("zabsim replay {}", path.display()),
                    Err(e) => eprintln!("cannot write {}: {e}", path.display()),
                }
                return EXIT_PANIC;
            }
        };
        sim_ns += u128::from(report.sim_time.0);
        for line in &report.status_lines {
            println!("{line}");
        }
        if keep {
            if let Err(e) =
                write_trace(&trace_path(args, seed), seed, source.profile_name(), &plan, &report.records)
            {
                eprintln!("zabsim run: cannot write the trace: {e}");
                return EXIT_BAD_INPUT;
            }
        }
        if let PlanSource::Scenario(p) = &source {
            if p.expect.is_met_by(&report) && p.expect.outcome != zab_sim::plan::ExpectedOutcome::Pass {
                let what = report.violation.as_ref().map_or(String::new(), |v| format!(": {v}"));
                println!("seed {seed}: {:?} as the scenario expects{what}", report.outcome);
                continue;
            }
        }
        if report.outcome != RunOutcome::Pass {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return report_failure(args, &source, seed, &plan, report, keep);
        }
        if let Some(bar) = &bar {
            bar.inc(1);
            let wall = started.elapsed().as_secs_f64().max(1e-9);
            let done = bar.position() as f64;
            bar.set_message(format!(
                "{:.1} seeds/s, {:.0}x real time, 0 failures",
                done / wall,
                sim_ns as f64 / 1e9 / wall
            ));
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    if count == 1 {
        println!("seed {first}: pass");
    } else {
        println!("{count} seeds from {first}: all pass");
    }
    EXIT_PASS
}

fn report_failure(
    args: &RunArgs,
    source: &PlanSource,
    seed: u64,
    plan: &RunPlan,
    report: Report,
    kept: bool,
) -> u8 {
    let code = exit_code(report.outcome);
    let what = report.violation.as_ref().map_or("failure".to_string(), |v| v.to_string());
    eprintln!("seed {seed}: {:?}: {what}", report.outcome);
    let path = trace_path(args, seed);
    let records = if kept {
        report.records
    } else {
        // The run is a function of seed and plan: run it again, keeping every record this time.
        let cfg = RunConfig { seed, plan: plan.clone(), trace: TraceMode::Keep, status: false };
        match catch_unwind(AssertUnwindSafe(|| run(&cfg))) {
            Ok(Ok(r)) => r.records,
            _ => Vec::new(),
        }
    };
    if let Err(e) = write_trace(&path, seed, source.profile_name(), plan, &records) {
        eprintln!("cannot write {}: {e}", path.display());
    }
    println!("zabsim replay {}", path.display());
    code
}

enum PlanSource {
    Scenario(Box<RunPlan>),
    /// A profile, an optional zoo.cfg text and an optional mutation name.
    Profile(Profile, Option<String>, Option<String>),
}

impl PlanSource {
    fn from_args(args: &RunArgs) -> Result<PlanSource, String> {
        let cluster = match &args.cluster {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?),
            None => None,
        };
        // The canonical name goes into the plan (and so into traces).
        let mutation = match &args.mutation {
            None => None,
            Some(name) => match zab_core::Mutation::parse(name) {
                Some(m) => Some(m.name().to_string()),
                None => {
                    return Err(format!(
                        "--mutation {name}: unknown mutation; expected one of {}",
                        zab_core::Mutation::names()
                    ))
                }
            },
        };
        if let Some(path) = &args.scenario {
            let mut plan = load_scenario(path)?;
            if let Some(text) = cluster {
                plan.cluster.zoo_cfg_text = Some(text);
            }
            if mutation.is_some() {
                plan.cluster.mutation = mutation;
            }
            zab_sim::sim::server_configs(&plan)?;
            return Ok(PlanSource::Scenario(Box::new(plan)));
        }
        Ok(PlanSource::Profile(Profile::parse(&args.profile)?, cluster, mutation))
    }

    fn plan(&self, seed: u64) -> Result<RunPlan, String> {
        match self {
            PlanSource::Scenario(p) => Ok((**p).clone()),
            PlanSource::Profile(profile, cluster, mutation) => {
                let mut plan = draw_plan(*profile, seed);
                plan.cluster.mutation.clone_from(mutation);
                if let Some(text) = cluster {
                    plan.cluster.zoo_cfg_text = Some(text.clone());
                    // Drawn faults name servers of the drawn cluster; keep only those that exist.
                    let n = zab_sim::sim::server_configs(&plan)?.len() as u64;
                    plan.cluster.voters = n.min(plan.cluster.voters).max(1);
                    plan.faults.retain(|f| {
                        zab_sim::plan::fault_targets(&f.fault)
                            .iter()
                            .all(|t| !matches!(t, zab_sim::plan::Target::Node(id) if *id > n))
                    });
                }
                Ok(plan)
            }
        }
    }

    fn profile_name(&self) -> &'static str {
        match self {
            PlanSource::Scenario(_) => "scenario",
            PlanSource::Profile(p, ..) => p.name(),
        }
    }
}

/// Reads and parses a scenario file (a `zoo_cfg` it names is read relative to it).
pub fn load_scenario(path: &Path) -> Result<RunPlan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| e.to_string());
    zab_sim::scenario::parse_scenario(&text, &path.display().to_string(), &read).map_err(|e| e.to_string())
}

/// Writes a trace file: the header (format, seed, profile, commit, plan) and the records.
pub fn write_trace(
    path: &Path,
    seed: u64,
    profile: &str,
    plan: &RunPlan,
    records: &[zab_trace::Record],
) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let plan_json = serde_json::to_value(plan).map_err(std::io::Error::other)?;
    let header = zab_trace::Header::new(seed, profile, &commit(), plan_json);
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = zab_trace::TraceWriter::new(file, &header)?;
    for r in records {
        w.write(r.t, &r.ev)?;
    }
    w.finish()?;
    Ok(())
}

fn trace_path(args: &RunArgs, seed: u64) -> PathBuf {
    args.trace_out.clone().unwrap_or_else(|| PathBuf::from(format!("traces/seed-{seed}.ndjson")))
}

/// The commit of the working directory, or `unknown`.
fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Random seeds come from the OS clock, here in the binary only.
fn clock_seed() -> u64 {
    let d = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
    d.as_secs().wrapping_mul(1_000_000_007) ^ u64::from(d.subsec_nanos())
}

fn progress_bar(count: u64) -> ProgressBar {
    let bar = ProgressBar::new(count);
    let style = ProgressStyle::with_template("{bar:30} {pos}/{len} seeds  {msg}  [{elapsed_precise}]")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".to_string())
}
