//! `zabsim replay TRACE`: re-run a trace's seed and plan and compare record by record.

// Printing is this command's job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use clap::Args;

use crate::cmd_run::{exit_code, panic_message};
use crate::{EXIT_BAD_INPUT, EXIT_PANIC, EXIT_SAFETY};

#[derive(Args)]
pub struct ReplayArgs {
    /// The trace file (NDJSON, as `zabsim run` writes it).
    pub trace: PathBuf,
    /// Print one line per role/phase transition of the replayed run.
    #[arg(long)]
    pub status: bool,
    /// After a change that alters behaviour on purpose: run the trace's own seed and plan on this
    /// build and write the new records over the file (the header keeps its profile, seed and
    /// plan; the commit is this one). Prints the new outcome, as a replay does.
    #[arg(long)]
    pub rerecord: bool,
}

pub fn run(args: &ReplayArgs) -> u8 {
    let trace = match read_trace(&args.trace) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("zabsim replay: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let seed = trace.header.seed;
    let result = match catch_unwind(AssertUnwindSafe(|| zab_sim::replay::replay(&trace))) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("zabsim replay: {}: {e}", args.trace.display());
            return EXIT_BAD_INPUT;
        }
        Err(panic) => {
            eprintln!("seed {seed}: PANIC in simulated code (reproduced): {}", panic_message(&panic));
            return EXIT_PANIC;
        }
    };
    if args.rerecord {
        let r = &result.report;
        let plan = zab_sim::replay::plan_of(&trace).unwrap_or_else(|_| unreachable!("replay parsed it"));
        let profile = trace.header.profile.clone();
        if let Err(e) = crate::cmd_run::write_trace(&args.trace, seed, &profile, &plan, &r.records) {
            eprintln!("zabsim replay: cannot write {}: {e}", args.trace.display());
            return EXIT_BAD_INPUT;
        }
        let verdict = r.violation.as_ref().map_or("pass".to_string(), |v| format!("{:?}: {v}", r.outcome));
        let was = match &result.divergence {
            Some(d) => format!("first change at record {}", d.index),
            None => "unchanged".to_string(),
        };
        println!(
            "seed {seed}: re-recorded {} ({} records, {was}); outcome {verdict}",
            args.trace.display(),
            r.records.len()
        );
        return exit_code(r.outcome);
    }
    if args.status {
        let plan = zab_sim::replay::plan_of(&trace).unwrap_or_else(|_| unreachable!("replay parsed it"));
        let cfg = zab_sim::sim::RunConfig { seed, plan, trace: zab_sim::sim::TraceMode::Off, status: true };
        if let Ok(r) = zab_sim::sim::run(&cfg) {
            for line in r.status_lines {
                println!("{line}");
            }
        }
    }
    if let Some(d) = &result.divergence {
        println!(
            "seed {seed}: replay diverged from {} ({} records recorded)",
            args.trace.display(),
            trace.records.len()
        );
        println!("{d}");
        return EXIT_SAFETY;
    }
    let r = &result.report;
    let verdict = r.violation.as_ref().map_or("pass".to_string(), |v| format!("{:?}: {v}", r.outcome));
    println!(
        "seed {seed}: replayed {} records identically; outcome {verdict}; trace hash {:016x}",
        r.record_count, r.trace_hash
    );
    exit_code(r.outcome)
}

/// Reads a trace file with line-numbered errors.
pub fn read_trace(path: &std::path::Path) -> Result<zab_trace::Trace, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    zab_trace::read_trace(std::io::BufReader::new(file), &path.display().to_string())
        .map_err(|e| e.to_string())
}
