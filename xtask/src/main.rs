//! Repository automation, written in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask tidy`: checks clippy cannot: crate dependency rules, banned APIs in simulated
//!   crates, no leftover debugging or unfinished-code markers, line length.
//! - `cargo xtask bench [WHAT...]`: runs `zabsim bench WHAT` in release mode and writes each
//!   section into docs/benchmarks.md, headed by the machine and the command.
//! - `cargo xtask hunt [--seeds N] [--starts K]`: hunts every mutation from K starting seeds with
//!   the release `zabsim hunt` and writes docs/bug-catalog.md.
//! - `cargo xtask ci`: fmt check, clippy, tidy, then the README's test command.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod hunt;
mod tidy;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("tidy") => tidy::run(&root),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("hunt") => hunt::run(&root, &args[1..]),
        Some("ci") => ci(&root),
        _ => Err("usage: cargo xtask ci | tidy | bench [tree|check|sim ...] | hunt [--seeds N] [--starts K]"
            .to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Runs a command in the workspace root, failing with its name when it fails.
pub fn run_cmd(root: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed: {status}", args.join(" ")))
    }
}

fn ci(root: &Path) -> Result<(), String> {
    run_cmd(root, "cargo", &["fmt", "--all", "--check"])?;
    run_cmd(root, "cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    tidy::run(root)?;
    run_cmd(root, "cargo", &["test", "--workspace"])
}
