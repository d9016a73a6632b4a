//! Usage errors are bad input (exit 64), help is a pass (exit 0): clap's own exit code 2 would read
//! as a liveness failure in zabsim's exit-code classes.

use std::process::Command;

fn zabsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zabsim")).args(args).output().expect("zabsim runs")
}

#[test]
fn an_unknown_flag_is_bad_input() {
    let out = zabsim(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(64), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_missing_subcommand_is_bad_input() {
    assert_eq!(zabsim(&[]).status.code(), Some(64));
}

#[test]
fn help_exits_zero_and_lists_the_exit_codes() {
    let out = zabsim(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("64 bad input"), "{text}");
}
