//! The whole realzk probe (`shared/realzk/probe.py`) against zab-core servers, through zab-client.
//!
//! Four sessions (s1..s4, as in probe.py) are `zab_client::Client`s whose transport and clock are
//! a deterministic driver (`probe/mod.rs`) around a harness [`Cluster`]. The script is the one
//! the data tree's conformance test runs (`crates/zab-tree/tests/probe_script/`): every step of
//! probe.py runs as probe.py runs it, the unrecorded setup requests and `flush` syncs included, and prints
//! the line probe.py prints, normalised the same way (zxids relative to the czxid of /probe,
//! `ctime_eq_mtime`, session owners as s1..s4, children sorted, the notifications the server sent
//! with reply markers in arrival order). The lines must equal the real ZooKeeper 3.8.0's
//! (`shared/realzk/expected/probe-3.8.0.jsonl`, without the `meta` line), with the client on:
//! a standalone server, and the leader, a follower and the observer of a 3-voter + 1-observer
//! ensemble. As for the real servers, `znode.container.checkIntervalMs=1000` is set in zoo.cfg.
//!
//! probe.py sends some requests by hand, bypassing kazoo's own checks; see [`REWRITTEN_STEPS`]
//! for the ones that also bypass our client's checks, and how.

mod probe;
#[path = "../../zab-tree/tests/probe_script/mod.rs"]
mod probe_script;

use serde_json::{json, Map};
use zab_client::{ClientError, SessionState};
use zab_core::config::SourceText;
use zab_core::harness::Cluster;
use zab_core::{Role, ServerId, ValidConfig};
use zab_tree::{ErrorCode, Request, Response, SessionId};

use probe::{Driver, NoAnswer, Outcome};
use probe_script::{
    assert_matches_real_zookeeper, expected_step_names, run_probe, Failure, Probe, ProbeServer, WireItem,
};

/// Steps whose request the client refuses itself (an invalid path), so the driver hands the client
/// a stand-in with a valid path and puts the real request on the wire under the client's xid:
/// exactly what probe.py's `raw()` does through kazoo's connection, bypassing kazoo's path check.
const REWRITTEN_STEPS: &[&str] = &[
    "create_trailing_slash_missing_parent",
    "create_trailing_slash_existing_parent",
    "create_double_slash",
    "create_relative_BadArguments",
    "create_dot_component",
    "create_dotdot_component",
    "create_nul_char",
];

/// Steps of probe.py that this test cannot run, with the reason. None: every step runs.
const NOT_RUN: &[(&str, &str)] = &[];

/// The stand-in path the client sees for a rewritten request (never reaches a server).
const STAND_IN_PATH: &str = "/probe/stand-in";

/// Where the probe's clients connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Standalone,
    Leader,
    Follower,
    Observer,
}

/// A server config with the probe's zoo.cfg extra key, parsed as a zoo.cfg would be.
fn with_container_check_1s(cfg: ValidConfig) -> ValidConfig {
    let text = format!("{}znode.container.checkIntervalMs=1000\n", cfg.render());
    let myid = cfg.render_myid();
    ValidConfig::parse(
        SourceText { name: "zoo.cfg", text: &text },
        Some(SourceText { name: "myid", text: &myid }),
    )
    .expect("a rendered config plus one extra key parses")
    .config
}

/// A serving cluster and the server the probe's clients use.
fn serving_cluster(target: Target) -> (Cluster, ServerId) {
    let mut cluster = match target {
        Target::Standalone => Cluster::new(1, 0, with_container_check_1s),
        _ => Cluster::new(3, 1, with_container_check_1s),
    };
    cluster.start_all();
    assert!(cluster.run_until(60_000, Cluster::all_serving), "not serving:\n{}", cluster.status_table());
    let role_of = |c: &Cluster, id: ServerId| c.status(id).map(|s| s.role);
    let server = match target {
        Target::Standalone => ServerId(1),
        Target::Leader => cluster.leader().expect("one leader"),
        Target::Follower => *cluster
            .nodes
            .keys()
            .find(|id| role_of(&cluster, **id) == Some(Role::Following))
            .expect("a follower"),
        Target::Observer => ServerId(4),
    };
    let want = match target {
        Target::Standalone => Role::Standalone,
        Target::Leader => Role::Leading,
        Target::Follower => Role::Following,
        Target::Observer => Role::Observing,
    };
    assert_eq!(role_of(&cluster, server), Some(want), "{}", cluster.status_table());
    (cluster, server)
}

// ------------------------------------------------------------------ the server under test

/// zab-core servers as the probe's sessions reach them: zab-client sessions on the driver.
struct ClientServer {
    d: Driver,
    /// Steps whose request went through [`Driver::call_rewritten`].
    rewritten: Vec<String>,
}

impl ClientServer {
    fn new(target: Target) -> ClientServer {
        let (cluster, server) = serving_cluster(target);
        ClientServer { d: Driver::new(cluster, server), rewritten: Vec::new() }
    }
}

fn client_side(what: &str, msg: String) -> Failure {
    let mut m = Map::new();
    m.insert("err".into(), json!(what));
    m.insert("client_side".into(), json!(true));
    m.insert("msg".into(), json!(msg));
    Failure::Client(m)
}

fn no_answer(e: NoAnswer) -> Failure {
    client_side("Timeout", format!("no answer: {}", e.what))
}

/// How kazoo reports a failed call.
fn failure(e: ClientError) -> Failure {
    match e {
        ClientError::Server(code) => Failure::Server(code),
        ClientError::ConnectionLoss => Failure::Server(ErrorCode::ConnectionLoss),
        ClientError::AuthFailed => Failure::Server(ErrorCode::AuthFailed),
        ClientError::MultiFailed { results, .. } => Failure::MultiFailed(results),
        other => client_side("ClientError", other.to_string()),
    }
}

fn answered(outcome: Result<Outcome, NoAnswer>) -> Result<Response, Failure> {
    match outcome.map_err(no_answer)? {
        Ok((response, _)) => Ok(response),
        Err(e) => Err(failure(e)),
    }
}

impl ProbeServer for ClientServer {
    fn connect(&mut self, label: &'static str) -> (usize, SessionId) {
        let seed = 0x5eed_0000 + self.d.sessions.len() as u64;
        let i = self
            .d
            .connect(label, seed)
            .unwrap_or_else(|e| panic!("{e:?}:\n{}", self.d.cluster.status_table()));
        (i, self.d.session_id(i))
    }

    fn call(&mut self, s: usize, req: Request) -> Result<Response, Failure> {
        answered(self.d.call(s, req))
    }

    /// When the client would refuse the path, the client is handed a stand-in and the wire
    /// carries the real request.
    fn call_raw(&mut self, s: usize, req: Request, step: &str) -> Result<Response, Failure> {
        let Request::Create { path, .. } = &req else { panic!("probe.py sends only creates raw") };
        if zab_tree::path::explain_invalid_path(path).is_none() {
            return self.call(s, req);
        }
        let mut stand_in = req.clone();
        if let Request::Create { path, .. } = &mut stand_in {
            *path = STAND_IN_PATH.to_string();
        }
        self.rewritten.push(step.to_string());
        answered(self.d.call_rewritten(s, stand_in, req))
    }

    fn add_auth(&mut self, s: usize, scheme: &str, credentials: &str) -> Result<(), Failure> {
        let header = self.d.add_auth(s, scheme, credentials.as_bytes()).map_err(no_answer)?;
        if header.err == ErrorCode::Ok {
            Ok(())
        } else {
            Err(Failure::Server(header.err))
        }
    }

    fn close(&mut self, s: usize) -> Result<(), Failure> {
        answered(self.d.close(s)).map(|_| ())
    }

    fn sleep(&mut self, ms: u64) {
        self.d.sleep(ms);
    }

    fn now_ms(&self) -> u64 {
        self.d.cluster.now.as_ms()
    }

    fn wait_for(&mut self, limit_ms: u64, done: &dyn Fn(&[WireItem]) -> bool) {
        self.d.run_until(limit_ms, |d| done(&d.wire));
    }

    fn wire(&mut self) -> &mut Vec<WireItem> {
        &mut self.d.wire
    }
}

/// Runs the probe against `target` and asserts every line equals the real server's, that no
/// client saw a protocol breach, and how the sessions ended.
fn probe_matches_real_zookeeper(target: Target) -> Probe<ClientServer> {
    let (actual, probe) = run_probe(ClientServer::new(target));
    assert_matches_real_zookeeper(&format!("{target:?}"), &actual);
    for s in &probe.s.d.sessions {
        assert!(s.anomalies.is_empty(), "{target:?}: {} saw protocol breaches: {:?}", s.label, s.anomalies);
    }
    assert_eq!(session_outcomes(&probe), EXPECTED_SESSION_OUTCOMES, "{target:?}: how the sessions ended");
    probe
}

/// How each session ends, and how many connections it opened: s1 loses its connection to the
/// oversized request and resumes the same session on a second one; s2 closes; s4's unknown auth
/// scheme ends it.
const EXPECTED_SESSION_OUTCOMES: &[(&str, SessionState, u32, bool)] = &[
    ("s1", SessionState::SyncConnected, 2, true),
    ("s2", SessionState::Closed, 1, true),
    ("s3", SessionState::SyncConnected, 1, true),
    ("s4", SessionState::AuthFailed, 1, true),
];

/// (label, final state, handshakes, whether the session id is still the one it started with).
fn session_outcomes(probe: &Probe<ClientServer>) -> Vec<(&'static str, SessionState, u32, bool)> {
    probe
        .s
        .d
        .sessions
        .iter()
        .map(|s| {
            let same_session = probe.label(s.client.session_id()) == Some(s.label);
            (s.label, s.client.state(), s.handshakes, same_session)
        })
        .collect()
}

#[test]
fn a_standalone_server_answers_every_probe_step_like_zookeeper_3_8_0() {
    // The standalone server runs the container reaper itself (step containers_exist_after_reaper).
    zab_core::marks::expect("standalone: container reaper proposes deleteContainer", || {
        probe_matches_real_zookeeper(Target::Standalone)
    });
}

#[test]
fn the_ensemble_leader_answers_every_probe_step_like_zookeeper_3_8_0() {
    probe_matches_real_zookeeper(Target::Leader);
}

#[test]
fn an_ensemble_follower_answers_every_probe_step_like_zookeeper_3_8_0() {
    probe_matches_real_zookeeper(Target::Follower);
}

#[test]
fn the_ensemble_observer_answers_every_probe_step_like_zookeeper_3_8_0() {
    probe_matches_real_zookeeper(Target::Observer);
}

#[test]
fn every_probe_step_runs_and_only_the_invalid_path_creates_bypass_the_client() {
    let expected = expected_step_names();
    let (actual, probe) = run_probe(ClientServer::new(Target::Standalone));
    let printed: Vec<String> = actual.iter().map(|v| v["name"].as_str().unwrap_or("").to_string()).collect();
    let not_run: Vec<&str> = expected.iter().filter(|n| !printed.contains(n)).map(String::as_str).collect();
    let listed: Vec<&str> = NOT_RUN.iter().map(|(name, _)| *name).collect();
    assert_eq!(not_run, listed, "steps not run");
    assert_eq!(probe.s.rewritten, REWRITTEN_STEPS, "steps whose request bypassed the client's checks");
}
