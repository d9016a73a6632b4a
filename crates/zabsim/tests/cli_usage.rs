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

#[test]
fn rerecord_writes_a_diverged_trace_anew_from_its_own_seed_and_plan() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rerecord-lite-3.ndjson");
    let file = path.to_str().expect("utf-8 path");
    let out = zabsim(&["run", "--profile", "lite", "--seed", "3", "--trace-out", file]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    // Stand in for a change of behaviour: the 11th record (the header is line 0) no longer matches.
    let text = std::fs::read_to_string(&path).expect("trace written");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[11] = lines[11].replacen("\"t\":", "\"t\":1", 1);
    std::fs::write(&path, lines.join("\n") + "\n").expect("trace rewritten");
    assert_eq!(zabsim(&["replay", file]).status.code(), Some(1), "the edited trace diverges");

    let out = zabsim(&["replay", file, "--rerecord"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("first change at record 10") && said.contains("outcome pass"), "{said}");
    let out = zabsim(&["replay", file]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let again = std::fs::read_to_string(&path).expect("trace re-recorded");
    assert_eq!(again.lines().next(), text.lines().next(), "the header (same commit here) is kept");
}
