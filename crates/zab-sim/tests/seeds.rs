//! Random seeds of the swarm profile, determinism, and replay of committed traces.
//!
//! `ZABSIM_SEED` pins the first seed and `ZABSIM_SEEDS` sets how many run (default 4, so that
//! `cargo test` stays fast; `zabsim run --seeds N` is the tool for long hunts). Without
//! `ZABSIM_SEED` the first seed comes from the OS clock and is printed, and every failure prints
//! the command that reproduces it.

use std::path::Path;

use zab_sim::sim::{run, RunConfig, RunOutcome, TraceMode};
use zab_sim::swarm::{draw_plan, Profile};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

// The test harness, like the binary, may draw its first seed from the clock.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
fn first_seed() -> u64 {
    env_u64("ZABSIM_SEED").unwrap_or_else(|| {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        d.as_secs() ^ u64::from(d.subsec_nanos())
    })
}

#[test]
fn random_swarm_seeds_pass_or_print_their_replay_command() {
    let first = first_seed();
    let count = env_u64("ZABSIM_SEEDS").unwrap_or(4);
    #[allow(clippy::print_stdout)] // shown by `cargo test -- --nocapture` and on failure
    {
        println!("swarm seeds {first}..{} (ZABSIM_SEED={first} to repeat)", first + count);
    }
    let mut failures = Vec::new();
    for seed in first..first + count {
        let plan = draw_plan(Profile::Swarm, seed);
        let report = run(&RunConfig { seed, plan, trace: TraceMode::Off, status: false })
            .expect("drawn plans are valid");
        if report.outcome != RunOutcome::Pass {
            failures.push(format!(
                "seed {seed}: {:?}: {}\n  reproduce: zabsim run --profile swarm --seed {seed} \
                 --trace-out traces/seed-{seed}.ndjson",
                report.outcome,
                report.violation.map(|v| v.to_string()).unwrap_or_default()
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {count} seeds failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_same_seed_twice_gives_the_same_trace_hash() {
    for (profile, seed) in [(Profile::Lite, 3), (Profile::Swarm, 4), (Profile::Swarm, 9), (Profile::Perf, 1)]
    {
        let cfg = |p| RunConfig { seed, plan: draw_plan(p, seed), trace: TraceMode::Hash, status: false };
        let a = run(&cfg(profile)).unwrap();
        let b = run(&cfg(profile)).unwrap();
        assert_ne!(a.trace_hash, 0);
        assert!(a.record_count > 100, "{profile:?} {seed}: only {} records", a.record_count);
        assert_eq!((a.trace_hash, a.record_count), (b.trace_hash, b.record_count), "{profile:?} seed {seed}");
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let cfg =
        |seed| RunConfig { seed, plan: draw_plan(Profile::Lite, 1), trace: TraceMode::Hash, status: false };
    assert_ne!(run(&cfg(1)).unwrap().trace_hash, run(&cfg(2)).unwrap().trace_hash);
}

#[test]
fn a_kept_trace_replays_identically_and_a_tampered_one_diverges_at_the_tampered_record() {
    let seed = 5;
    let plan = draw_plan(Profile::Lite, seed);
    let report = run(&RunConfig { seed, plan: plan.clone(), trace: TraceMode::Keep, status: false }).unwrap();
    let header = zab_trace::Header::new(seed, "lite", "test", serde_json::to_value(&plan).unwrap());
    let mut trace = zab_trace::Trace { header, records: report.records.clone() };
    let again = zab_sim::replay::replay(&trace).unwrap();
    assert_eq!(again.divergence, None);
    trace.records[40].t += 1;
    let d = zab_sim::replay::replay(&trace).unwrap().divergence.expect("a tampered record diverges");
    assert_eq!(d.index, 40);
}

#[test]
fn every_committed_trace_replays_identically() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../traces");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    let mut paths: Vec<_> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "ndjson")).collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let trace =
            zab_trace::parse_trace(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        let r = zab_sim::replay::replay(&trace).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Some(d) = r.divergence {
            panic!("{} no longer replays: {d}\n  see: zabsim replay {}", path.display(), path.display());
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_trace_text_never_panics_the_reader_or_the_plan_decoder(text in "\\PC{0,400}") {
        if let Ok(trace) = zab_trace::parse_trace(&text, "fuzz.ndjson") {
            let _ = zab_sim::replay::plan_of(&trace);
        }
    }

    #[test]
    fn a_header_with_a_mangled_plan_is_an_error_not_a_panic(key in "[a-z_]{1,12}", value in 0u64..100) {
        let mut plan = serde_json::to_value(draw_plan(Profile::Lite, 1)).unwrap();
        plan["cluster"][key.as_str()] = serde_json::json!(value);
        let header = zab_trace::Header::new(1, "lite", "test", plan);
        let trace = zab_trace::Trace { header, records: Vec::new() };
        if let Ok(p) = zab_sim::replay::plan_of(&trace) {
            let _ = p.validate();
        }
    }
}
