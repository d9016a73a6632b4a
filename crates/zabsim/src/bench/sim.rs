//! `zabsim bench sim`: how fast the simulator runs.
//!
//! - **Loaded**: 3 voters + 1 observer, 20 closed-loop clients (1 ms think, creates, setData and
//!   getData over 64 keys), the
//!   default long-tailed network and disk, no faults: delivered messages and processed events per
//!   wall second, and acknowledged client writes per wall second.
//! - **Light**: 3 voters, one client writing every 10 ms, 1–10 ms network latency: simulated time
//!   per wall time.
//! - **Seeds**: whole runs of the default `swarm` profile per wall second.
//!
//! Runs keep no trace (the hash-only and full trace modes cost extra; see the last table), but the
//! step invariants run after every event as in tests. Release build, one core.

// Printing the markdown section is what this benchmark is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use zab_sim::plan::{LoadMode, OpMix};
use zab_sim::rng::Latency;
use zab_sim::sim::{run as simulate, Report, RunConfig, TraceMode};
use zab_sim::swarm::{draw_plan, Profile};
use zab_sim::time::{NS_PER_MS, NS_PER_S};

pub fn run(quick: bool) -> u8 {
    let scale = if quick { 1 } else { 5 };
    let (loaded, loaded_wall) = match timed(loaded_config(2 * scale, TraceMode::Off)) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let (light, light_wall) = match timed(light_config(20 * scale)) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let seeds = if quick { 10 } else { 100 };
    let started = Instant::now();
    let mut sim_ns = 0u64;
    let mut failures = 0;
    for seed in 0..seeds {
        let cfg =
            RunConfig { seed, plan: draw_plan(Profile::Swarm, seed), trace: TraceMode::Off, status: false };
        match simulate(&cfg) {
            Ok(r) => {
                sim_ns += r.sim_time.0;
                failures += u64::from(r.violation.is_some());
            }
            Err(e) => {
                eprintln!("bench sim: seed {seed}: {e}");
                return crate::EXIT_BAD_INPUT;
            }
        }
    }
    let seeds_wall = started.elapsed();
    let trace_costs: Vec<(&str, Duration)> =
        [("off", TraceMode::Off), ("hash", TraceMode::Hash), ("keep", TraceMode::Keep)]
            .into_iter()
            .filter_map(|(name, mode)| timed(loaded_config(scale, mode)).ok().map(|(_, w)| (name, w)))
            .collect();

    let per_s = |n: u64, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    println!("## Simulator speed\n");
    println!("`zab-sim` on one core, release build, step invariants on, no trace unless stated.\n");
    println!("| workload | measure | value |");
    println!("| --- | --- | ---: |");
    println!(
        "| loaded: 3 voters + 1 observer, 20 closed-loop clients, {} simulated | messages delivered / wall s | {:.0} |",
        loaded.sim_time,
        per_s(loaded.stats.messages, loaded_wall)
    );
    println!("| | events processed / wall s | {:.0} |", per_s(loaded.stats.events, loaded_wall));
    println!(
        "| | acknowledged client writes / wall s ({} writes, {} ops) | {:.0} |",
        loaded.stats.client_writes_ok,
        loaded.stats.client_ops,
        per_s(loaded.stats.client_writes_ok, loaded_wall)
    );
    println!(
        "| light: 3 voters, one write every 10 ms, 1–10 ms latency, {} simulated | simulated / wall time | {:.0}x |",
        light.sim_time,
        light.sim_time.0 as f64 / light_wall.as_nanos().max(1) as f64
    );
    println!(
        "| default profile (swarm), seeds 0..{seeds} | seeds / wall s ({failures} failing) | {:.1} |",
        per_s(seeds, seeds_wall)
    );
    println!("| | simulated / wall time | {:.0}x |\n", sim_ns as f64 / seeds_wall.as_nanos().max(1) as f64);
    println!(
        "Trace cost on the loaded run ({} simulated):\n",
        loaded_config(scale, TraceMode::Off).plan.workload.duration_ns / NS_PER_S
    );
    println!("| trace mode | wall time |");
    println!("| --- | ---: |");
    for (name, wall) in trace_costs {
        println!("| {name} | {:.1} ms |", wall.as_secs_f64() * 1e3);
    }
    crate::EXIT_PASS
}

fn loaded_config(seconds: u64, trace: TraceMode) -> RunConfig {
    let mut plan = draw_plan(Profile::Perf, 1);
    plan.workload.duration_ns = seconds * NS_PER_S;
    plan.workload.mix = OpMix { create: 2, set_data: 6, get_data: 2, ..OpMix::default() };
    plan.knobs.digest_every_ns = 0;
    RunConfig { seed: 1, plan, trace, status: false }
}

fn light_config(seconds: u64) -> RunConfig {
    let mut plan = draw_plan(Profile::Perf, 1);
    plan.cluster.observers = 0;
    plan.workload.clients = 1;
    plan.workload.mode = LoadMode::Open;
    plan.workload.think_ns = 10 * NS_PER_MS;
    plan.workload.mix = OpMix { create: 1, set_data: 3, ..OpMix::default() };
    plan.workload.duration_ns = seconds * NS_PER_S;
    plan.knobs.net_latency = Latency::Uniform { min_ns: NS_PER_MS, max_ns: 10 * NS_PER_MS };
    plan.knobs.digest_every_ns = 0;
    RunConfig { seed: 1, plan, trace: TraceMode::Off, status: false }
}

fn timed(cfg: RunConfig) -> Result<(Report, Duration), u8> {
    let started = Instant::now();
    match simulate(&cfg) {
        Ok(r) => Ok((r, started.elapsed())),
        Err(e) => {
            eprintln!("bench sim: {e}");
            Err(crate::EXIT_BAD_INPUT)
        }
    }
}
