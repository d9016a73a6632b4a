//! `zabsim bench check`: linearizability checking speed on the shared third-party histories,
//! next to Porcupine's medians from INDEX.tsv, plus a generated 20,000-operation stress history.
//!
//! Parsing is excluded from every timing. Each file is checked at least `REPS_MIN` times and for
//! at least `FILE_TIME_MIN` in all; its time is the median. The histories are read from
//! `$ZABSIM_HISTORIES`, or `../shared/histories` next to the repository.

// Printing the markdown section is what this benchmark is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use zab_check::generate::{register_history_from_seed, RegisterHistoryConfig};
use zab_check::models::{Register, Value};
use zab_check::{check_with_budget, Budget, Verdict};

use crate::cmd_check::{load, Loaded};

const REPS_MIN: usize = 5;
const REPS_MAX: usize = 2000;

struct FileResult {
    path: String,
    median: Duration,
    min: Duration,
    max: Duration,
    porcupine_ms: f64,
}

pub fn run(quick: bool) -> u8 {
    let dir = std::env::var_os("ZABSIM_HISTORIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/histories")));
    let index = match std::fs::read_to_string(dir.join("INDEX.tsv")) {
        Ok(text) => text,
        Err(e) => {
            eprintln!(
                "bench check: cannot read {}: {e} (set ZABSIM_HISTORIES)",
                dir.join("INDEX.tsv").display()
            );
            return crate::EXIT_BAD_INPUT;
        }
    };
    let file_time_min = if quick { Duration::from_millis(5) } else { Duration::from_millis(100) };
    let mut results: Vec<FileResult> = Vec::new();
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [path, expected, _ops, porcupine_ms, ..] = cols[..] else {
            eprintln!("bench check: malformed INDEX.tsv line {line:?}");
            return crate::EXIT_BAD_INPUT;
        };
        let text = match std::fs::read_to_string(dir.join(path)) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("bench check: cannot read {path}: {e}");
                return crate::EXIT_BAD_INPUT;
            }
        };
        let loaded = match load(path, &text, None) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bench check: {e}");
                return crate::EXIT_BAD_INPUT;
            }
        };
        let Some((times, verdict)) = time_file(&loaded, file_time_min) else {
            eprintln!("bench check: {path}: unknown verdict");
            return crate::EXIT_LIVENESS;
        };
        if verdict.to_string() != expected && !(expected == "none" && verdict) {
            eprintln!("bench check: {path}: verdict {verdict}, expected {expected}");
            return crate::EXIT_SAFETY;
        }
        results.push(FileResult {
            path: path.to_string(),
            median: times[times.len() / 2],
            min: times[0],
            max: times[times.len() - 1],
            porcupine_ms: porcupine_ms.parse().unwrap_or(f64::NAN),
        });
    }
    print_sets(&results);
    print_hardest(&results);
    stress(quick)
}

/// Sorted check times of `loaded` and whether it is linearizable; `None` if a check ended unknown.
fn time_file(loaded: &Loaded, time_min: Duration) -> Option<(Vec<Duration>, bool)> {
    let mut times = Vec::new();
    let mut linearizable = None;
    let started = Instant::now();
    while times.len() < REPS_MIN || (started.elapsed() < time_min && times.len() < REPS_MAX) {
        let t = Instant::now();
        let report = loaded.check(&mut Budget::unlimited());
        times.push(t.elapsed());
        linearizable = match report.verdict {
            Verdict::Linearizable => Some(true),
            Verdict::NotLinearizable(_) => Some(false),
            Verdict::Unknown(_) => return None,
        };
    }
    times.sort();
    Some((times, linearizable?))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_sets(results: &[FileResult]) {
    println!("## Linearizability checking (zab-check vs Porcupine)\n");
    println!(
        "Check time per file, parsing excluded: median of at least {REPS_MIN} runs (and at least 100 ms"
    );
    println!(
        "per file), single-threaded. Porcupine: medians from `histories/INDEX.tsv` (GOMAXPROCS=2, measured"
    );
    println!("on another 2-core machine, so the ratio is indicative, not side by side).");
    println!("Load average when the run started: {}.\n", load_average().unwrap_or_else(|| "n/a".to_string()));
    print!("| set | files | zab-check total ms | zab-check worst file (ms) ");
    println!("| Porcupine total ms | Porcupine worst (ms) | speed-up |");
    println!("| --- | ---: | ---: | --- | ---: | --- | ---: |");
    for (label, prefix) in
        [("Jepsen etcd", "porcupine/jepsen/"), ("Porcupine kv", "porcupine/kv/"), ("Knossos", "knossos/")]
    {
        let set: Vec<&FileResult> = results.iter().filter(|r| r.path.starts_with(prefix)).collect();
        let ours: f64 = set.iter().map(|r| ms(r.median)).sum();
        let theirs: f64 = set.iter().map(|r| r.porcupine_ms).sum();
        let worst = set.iter().max_by(|a, b| a.median.cmp(&b.median));
        let their_worst = set.iter().max_by(|a, b| a.porcupine_ms.total_cmp(&b.porcupine_ms));
        let name = |r: Option<&&FileResult>| {
            r.map_or(String::new(), |r| r.path.rsplit('/').next().unwrap_or("").to_string())
        };
        println!(
            "| {label} | {} | {ours:.2} | {} {:.2} | {theirs:.2} | {} {:.2} | {:.1}× |",
            set.len(),
            name(worst),
            worst.map_or(0.0, |r| ms(r.median)),
            name(their_worst),
            their_worst.map_or(0.0, |r| r.porcupine_ms),
            theirs / ours
        );
    }
    println!();
}

fn print_hardest(results: &[FileResult]) {
    println!("Hardest Jepsen etcd files for Porcupine (ms; zab-check median with min–max of its runs):\n");
    println!("| file | zab-check median | zab-check min–max | Porcupine median |");
    println!("| --- | ---: | --- | ---: |");
    let mut etcd: Vec<&FileResult> =
        results.iter().filter(|r| r.path.starts_with("porcupine/jepsen/")).collect();
    etcd.sort_by(|a, b| b.porcupine_ms.total_cmp(&a.porcupine_ms));
    for r in etcd.iter().take(6) {
        println!(
            "| {} | {:.3} | {:.3}–{:.3} | {:.3} |",
            r.path.rsplit('/').next().unwrap_or(""),
            ms(r.median),
            ms(r.min),
            ms(r.max),
            r.porcupine_ms
        );
    }
    println!();
}

/// The generated stress history: checked once, within a 1 GiB memory budget and a time limit.
fn stress(quick: bool) -> u8 {
    let config = RegisterHistoryConfig {
        clients: 20,
        ops: if quick { 2_000 } else { 20_000 },
        crash_per_mille: 5,
        values: 5,
    };
    let seed = 42;
    let history = register_history_from_seed(seed, config);
    let crashed = history.ops.iter().filter(|o| o.return_at.is_none()).count();
    let memory_max = 1usize << 30;
    let time_max = Duration::from_secs(if quick { 10 } else { 120 });
    let started = Instant::now();
    let mut stop = || started.elapsed() >= time_max;
    let mut budget =
        Budget { max_steps: None, max_memory_bytes: Some(memory_max), should_stop: Some(&mut stop) };
    let report = check_with_budget(&Register::new(Value::Nil), &history, &mut budget);
    let elapsed = started.elapsed();
    let verdict = match report.verdict {
        Verdict::Linearizable => "linearizable".to_string(),
        Verdict::NotLinearizable(_) => "NOT linearizable (generator bug)".to_string(),
        Verdict::Unknown(why) => format!("unknown ({why:?})"),
    };
    println!(
        "Generated stress history: register (nil initially), {} operations, {} clients, {crashed} crashed",
        history.ops.len(),
        config.clients
    );
    println!(
        "(open to the end), values 0..{}, seed {seed}; budget 1 GiB of search tables and {} s.\n",
        config.values,
        time_max.as_secs()
    );
    println!("| verdict | check time | search steps | configurations | peak search tables | process VmHWM |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {verdict} | {:.1} ms | {} | {} | {:.1} MiB | {} |",
        ms(elapsed),
        report.steps,
        report.configurations,
        report.peak_memory_bytes as f64 / (1u64 << 20) as f64,
        vm_hwm().unwrap_or_else(|| "n/a".to_string())
    );
    if matches!(report.verdict, Verdict::NotLinearizable(_)) {
        return crate::EXIT_SAFETY;
    }
    crate::EXIT_PASS
}

/// The 1-, 5- and 15-minute load averages, from /proc/loadavg: the machine is shared, and
/// timings mean little without them.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// Peak resident memory of this process, from /proc/self/status.
fn vm_hwm() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 =
        status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.1} MiB", kb as f64 / 1024.0))
}
