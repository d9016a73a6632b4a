//! Benchmarks. Each prints one markdown section on stdout; `cargo xtask bench WHAT` collects the
//! sections into docs/benchmarks.md together with the machine and the command.

use clap::{Args, ValueEnum};

mod check;
mod client;
mod recover;
mod sim;
mod tree;

#[derive(Args)]
pub struct BenchArgs {
    /// What to measure.
    pub what: BenchWhat,
    /// Shorter runs (for smoke tests); numbers are then not comparable.
    #[arg(long)]
    pub quick: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum BenchWhat {
    /// Data tree apply throughput.
    Tree,
    /// Linearizability checking against Porcupine's times on the shared histories.
    Check,
    /// Log encoding, log scanning and whole-disk recovery speed.
    Recover,
    /// Session client cost per request, watch event and reconnect.
    Client,
    /// Simulator speed: messages and events per second loaded, simulated/real time light, seeds/s.
    Sim,
}

pub fn run(args: &BenchArgs) -> u8 {
    match args.what {
        BenchWhat::Tree => tree::run(args.quick),
        BenchWhat::Check => check::run(args.quick),
        BenchWhat::Recover => recover::run(args.quick),
        BenchWhat::Client => client::run(args.quick),
        BenchWhat::Sim => sim::run(args.quick),
    }
}
