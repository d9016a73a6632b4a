//! `zabsim`: the command line of the zabsim testbed.
//!
//! Exit codes (by class, shared by every subcommand):
//! 0 pass, 1 safety violation (or a history that is not linearizable), 2 liveness failure
//! (or a check that ended Unknown), 3 panic in simulated code, 64 bad input.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod cmd_check;
mod cmd_config;
mod cmd_hunt;
mod cmd_replay;
mod cmd_run;
mod cmd_status;

/// Exit code for a clean pass.
pub const EXIT_PASS: u8 = 0;
/// Exit code for a safety violation.
pub const EXIT_SAFETY: u8 = 1;
/// Exit code for a liveness failure (or an Unknown verdict).
pub const EXIT_LIVENESS: u8 = 2;
/// Exit code for a panic inside simulated code.
pub const EXIT_PANIC: u8 = 3;
/// Exit code for bad input: usage, TOML, trace, zoo.cfg, history files.
pub const EXIT_BAD_INPUT: u8 = 64;

#[derive(Parser)]
#[command(name = "zabsim", version, about = "Deterministic simulation testbed for ZooKeeper's ZAB")]
#[command(after_help = "Exit codes: 0 pass, 1 safety violation, 2 liveness failure or unknown, \
                        3 panic in simulated code, 64 bad input.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure throughput and print a markdown section (used by `cargo xtask bench`).
    Bench(bench::BenchArgs),
    /// Validate server configuration: `config check zoo.cfg --myid N` prints the resolved ensemble.
    Config(cmd_config::ConfigArgs),
    /// Check recorded histories for linearizability (Jepsen .log, Porcupine kv .txt, Knossos .edn).
    Check(cmd_check::CheckArgs),
    /// Run random seeds with a historical defect switched on until a checker catches it (or, with
    /// no --mutation, run every seed clean). Exit code: the class of the first failure, 0 if none.
    Hunt(cmd_hunt::HuntArgs),
    /// Simulate seeds of a profile (swarm, lite, perf) or a scenario file; on failure write the
    /// trace and print one replay command.
    Run(cmd_run::RunArgs),
    /// Re-run a trace's seed and plan and compare record by record.
    Replay(cmd_replay::ReplayArgs),
    /// Run one seed and print each server's Mode at the end.
    Status(cmd_status::StatusArgs),
}

fn main() -> ExitCode {
    // Usage errors are bad input (64), not clap's default 2, which means a liveness failure here.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { EXIT_PASS };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Bench(args) => bench::run(&args),
        Command::Config(args) => cmd_config::run(&args),
        Command::Check(args) => cmd_check::run(&args),
        Command::Hunt(args) => cmd_hunt::run_cmd(&args),
        Command::Run(args) => cmd_run::run_cmd(&args),
        Command::Replay(args) => cmd_replay::run(&args),
        Command::Status(args) => cmd_status::run_cmd(&args),
    };
    ExitCode::from(code)
}
