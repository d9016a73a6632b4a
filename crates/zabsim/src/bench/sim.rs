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
//!
//! Time is the CPU time of the simulating thread (Linux `/proc/thread-self/stat`, 10 ms ticks),
//! so that other work on a shared machine does not count against the simulator; each run is
//! repeated until it has used at least a second of CPU. Where that file is missing, wall time.

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
    let started = Stopwatch::start();
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
    let unit = Stopwatch::unit();
    let trace_costs: Vec<(&str, Duration)> =
        [("off", TraceMode::Off), ("hash", TraceMode::Hash), ("keep", TraceMode::Keep)]
            .into_iter()
            .filter_map(|(name, mode)| timed(loaded_config(scale, mode)).ok().map(|(_, w)| (name, w)))
            .collect();

    let per_s = |n: u64, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    let messages_per_s = per_s(loaded.stats.messages, loaded_wall);
    let events_per_s = per_s(loaded.stats.events, loaded_wall);
    let writes_per_s = per_s(loaded.stats.client_writes_ok, loaded_wall);
    let light_ratio = light.sim_time.0 as f64 / light_wall.as_nanos().max(1) as f64;
    println!("## Simulator speed\n");
    println!("`zab-sim` on one core, release build, step invariants on, no trace unless stated.");
    println!("Rates are per second of {unit} time (see crates/zabsim/src/bench/sim.rs).");
    println!("Targets are issue 6's acceptance numbers for this 2-core machine.\n");
    println!("| workload | measure | value | target |");
    println!("| --- | --- | ---: | --- |");
    println!(
        "| loaded: 3 voters + 1 observer, 20 closed-loop clients, {} simulated \
         | messages delivered / s | {messages_per_s:.0} | {} |",
        loaded.sim_time,
        versus(messages_per_s, TARGET_MESSAGES_PER_S)
    );
    println!(
        "| | events processed / s | {events_per_s:.0} | {} |",
        versus(events_per_s, TARGET_MESSAGES_PER_S)
    );
    println!(
        "| | acknowledged client writes / s ({} writes, {} ops) | {writes_per_s:.0} | {} |",
        loaded.stats.client_writes_ok,
        loaded.stats.client_ops,
        versus(writes_per_s, TARGET_WRITES_PER_S)
    );
    println!(
        "| light: 3 voters, one write every 10 ms, 1–10 ms latency, {} simulated \
         | simulated / measured time | {light_ratio:.0}x | {} |",
        light.sim_time,
        versus(light_ratio, TARGET_LIGHT_RATIO)
    );
    println!(
        "| default profile (swarm), seeds 0..{seeds} | seeds / s ({failures} failing) | {:.1} | |",
        per_s(seeds, seeds_wall)
    );
    println!(
        "| | simulated / measured time | {:.0}x | |\n",
        sim_ns as f64 / seeds_wall.as_nanos().max(1) as f64
    );
    println!(
        "Trace cost on the loaded run ({} simulated):\n",
        loaded_config(scale, TraceMode::Off).plan.workload.duration_ns / NS_PER_S
    );
    println!("| trace mode | {unit} time per run |");
    println!("| --- | ---: |");
    for (name, wall) in trace_costs {
        println!("| {name} | {:.1} ms |", wall.as_secs_f64() * 1e3);
    }
    crate::EXIT_PASS
}

/// Issue 6's acceptance targets.
const TARGET_MESSAGES_PER_S: f64 = 3e6;
const TARGET_WRITES_PER_S: f64 = 2e5;
const TARGET_LIGHT_RATIO: f64 = 1e4;

/// The target cell: the target, and whether the measured value reaches it.
fn versus(value: f64, target: f64) -> String {
    let verdict = if value >= target { "met" } else { "short" };
    format!("≥ {target:.0} ({verdict}, {:.0}% of it)", 100.0 * value / target)
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

/// Runs `cfg` until at least a second of measured time has passed (at most 20 times) and
/// returns its report with the time one run took on average.
fn timed(cfg: RunConfig) -> Result<(Report, Duration), u8> {
    let started = Stopwatch::start();
    let mut runs = 0u32;
    loop {
        let report = simulate(&cfg).map_err(|e| {
            eprintln!("bench sim: {e}");
            crate::EXIT_BAD_INPUT
        })?;
        runs += 1;
        let spent = started.elapsed();
        if spent >= Duration::from_secs(1) || runs == 20 {
            return Ok((report, spent / runs));
        }
    }
}

/// Measures the CPU time of the calling thread where Linux tells it, wall time elsewhere.
struct Stopwatch {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Stopwatch {
    fn start() -> Stopwatch {
        Stopwatch { wall: Instant::now(), cpu: thread_cpu_time() }
    }

    fn elapsed(&self) -> Duration {
        match (self.cpu, thread_cpu_time()) {
            (Some(start), Some(now)) => now.saturating_sub(start),
            _ => self.wall.elapsed(),
        }
    }

    /// What `elapsed` measures here.
    fn unit() -> &'static str {
        if thread_cpu_time().is_some() {
            "CPU"
        } else {
            "wall"
        }
    }
}

/// User plus system time of this thread: fields 14 and 15 of `/proc/thread-self/stat`, in
/// clock ticks of 1/100 s (Linux's fixed USER_HZ for this file).
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    parse_cpu_ticks(&stat).map(|ticks| Duration::from_millis(ticks * 10))
}

/// The utime + stime ticks of a `stat` line. The command name (field 2) is in parentheses and
/// may hold spaces, so fields are counted from the last `)`: field 3 is the first after it.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::{parse_cpu_ticks, versus};

    #[test]
    fn cpu_ticks_are_user_plus_system_time_even_when_the_command_name_has_spaces_and_parens() {
        let line = "4242 (zab sim) x) R 1 2 3 4 5 6 7 8 9 10 120 30 0 0 20 0 1 0 99 1000 50";
        assert_eq!(parse_cpu_ticks(line), Some(150));
        assert_eq!(parse_cpu_ticks("4242 (zabsim) R 1 2"), None);
        assert_eq!(parse_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn a_target_cell_says_whether_the_value_reaches_the_target_and_by_how_much() {
        assert_eq!(versus(1.5e6, 3e6), "≥ 3000000 (short, 50% of it)");
        assert_eq!(versus(3e6, 3e6), "≥ 3000000 (met, 100% of it)");
        assert_eq!(versus(2.5e4, 1e4), "≥ 10000 (met, 250% of it)");
    }
}
