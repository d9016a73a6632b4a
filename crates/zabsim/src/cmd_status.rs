//! `zabsim status`: run (or replay) one seed and print each server's state at the end, the way
//! the `srvr` four-letter word prints `Mode:`.

// Printing is this command's job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use clap::Args;
use zab_sim::sim::{run, RunConfig, TraceMode};

use crate::cmd_run::{exit_code, load_scenario};
use crate::EXIT_BAD_INPUT;

#[derive(Args)]
pub struct StatusArgs {
    /// The seed to run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run this scenario instead of a profile draw.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Profile for the drawn plan.
    #[arg(long, default_value = "lite")]
    pub profile: String,
    /// Take seed and plan from this trace instead.
    #[arg(long)]
    pub trace: Option<PathBuf>,
}

pub fn run_cmd(args: &StatusArgs) -> u8 {
    let (seed, plan) = match resolve(args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("zabsim status: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let report = match run(&RunConfig { seed, plan, trace: TraceMode::Off, status: false }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zabsim status: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    println!("seed {seed} at {} (simulated)", report.sim_time);
    for n in &report.nodes {
        print!("server.{}  Mode: {:<10} epoch {:<4} zxid {:#x}", n.id, n.mode, n.epoch, n.last_committed);
        if let Some(d) = n.digest {
            print!("  digest {d:#x}");
        }
        if let Some(why) = &n.refused {
            print!("  (recovery refused: {why})");
        }
        println!();
    }
    if let Some(v) = &report.violation {
        println!("{:?}: {v}", report.outcome);
    }
    exit_code(report.outcome)
}

fn resolve(args: &StatusArgs) -> Result<(u64, zab_sim::plan::RunPlan), String> {
    if let Some(path) = &args.trace {
        let trace = crate::cmd_replay::read_trace(path)?;
        let plan = zab_sim::replay::plan_of(&trace)?;
        return Ok((trace.header.seed, plan));
    }
    if let Some(path) = &args.scenario {
        return Ok((args.seed, load_scenario(path)?));
    }
    let profile = zab_sim::swarm::Profile::parse(&args.profile)?;
    Ok((args.seed, zab_sim::swarm::draw_plan(profile, args.seed)))
}
