//! `zabsim config check`: the built binary on real files, its output and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> String {
    format!("{}/../zab-core/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn zabsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zabsim")).args(args).output().expect("run zabsim")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, content).expect("write temp file");
    path
}

#[test]
fn a_valid_config_prints_the_resolved_ensemble_and_exits_0() {
    let cfg = fixture("seed_000_observers_complete.cfg");
    let output = zabsim(&["config", "check", &cfg, "--myid", "4"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let out = stdout(&output);
    for expected in [
        "valid (quorum mode)",
        "this server: 4 (observer)",
        "voters: 1, 2, 3",
        "observers: 4, 5",
        "quorum size: 2 of 3 voters",
        "initLimit: 10 ticks = 20000 ms",
        "syncLimit: 5 ticks = 10000 ms",
        "session timeout: 4000..=40000 ms",
        "warnings (4):",
        "server.5: 192.168.6.139:3888 is also used by server.3",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn the_report_for_the_seed_config_is_pinned() {
    let output = Command::new(env!("CARGO_BIN_EXE_zabsim"))
        .args(["config", "check", "seed_000_observers_complete.cfg", "--myid", "1"])
        .current_dir(fixture(""))
        .output()
        .expect("run zabsim");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "seed_000_observers_complete.cfg: valid (quorum mode)
this server: 1 (participant)
voters: 1, 2, 3
observers: 4, 5
quorum size: 2 of 3 voters
tickTime: 2000 ms
initLimit: 10 ticks = 20000 ms
syncLimit: 5 ticks = 10000 ms
connectToLearnerMasterLimit: 20000 ms
session timeout: 4000..=40000 ms
client port: 2181
dataDir: /usr/local/zookeeper/data
dataLogDir: /usr/local/zookeeper/logs
db.autocreate: false (an empty disk needs an initialize marker to vote)
warnings (4):
  seed_000_observers_complete.cfg:13: server.4: 192.168.6.139:2888 is also used by server.3
  seed_000_observers_complete.cfg:13: server.4: 192.168.6.139:3888 is also used by server.3
  seed_000_observers_complete.cfg:14: server.5: 192.168.6.139:2888 is also used by server.3
  seed_000_observers_complete.cfg:14: server.5: 192.168.6.139:3888 is also used by server.3
"
    );
}

#[test]
fn an_invalid_config_prints_every_error_and_exits_64() {
    let cfg = fixture("seed_000_observers.cfg");
    let output = zabsim(&["config", "check", &cfg, "--myid", "1"]);
    assert_eq!(output.status.code(), Some(64));
    let err = stderr(&output);
    assert!(err.contains("seed_000_observers.cfg: initLimit: required in quorum mode"), "{err}");
    assert!(err.contains("seed_000_observers.cfg: syncLimit: required in quorum mode"), "{err}");
    assert!(err.contains("config check failed: 2 error(s)"), "{err}");
    assert_eq!(stdout(&output), "");
}

#[test]
fn the_myid_can_come_from_a_file_and_a_bad_one_is_reported_with_its_path() {
    let cfg = fixture("seed_000_observers_complete.cfg");
    let good = temp_file("myid-good", "2\n");
    let output = zabsim(&["config", "check", &cfg, "--myid-file", good.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert!(stdout(&output).contains("this server: 2 (participant)"));

    let bad = temp_file("myid-bad", "two\n");
    let output = zabsim(&["config", "check", &cfg, "--myid-file", bad.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("myid-bad:1: expected the server id as a decimal integer, got \"two\""),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_file_is_bad_input() {
    let output = zabsim(&["config", "check", "/nonexistent/zoo.cfg", "--myid", "1"]);
    assert_eq!(output.status.code(), Some(64));
    assert!(stderr(&output).contains("/nonexistent/zoo.cfg: cannot read"), "{}", stderr(&output));
}

#[test]
fn a_myid_that_names_no_server_is_refused() {
    let cfg = fixture("seed_000_observers_complete.cfg");
    let output = zabsim(&["config", "check", &cfg, "--myid", "9"]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("--myid:1: 9 does not match any server.N line (servers: 1, 2, 3, 4, 5)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn quorum_mode_without_a_myid_is_bad_input() {
    let cfg = fixture("seed_000_observers_complete.cfg");
    let output = zabsim(&["config", "check", &cfg]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output)
            .contains("myid: required in quorum mode: the id of this server, one of the server.N lines"),
        "{}",
        stderr(&output)
    );
}
