//! ZooKeeper histories from zabsim traces: the black-box write search and the zxid-witness
//! checker agree on the writes, and the witness checker also holds reads to session order.

use zab_check::zookeeper::{check_writes, check_zxid_witness, WitnessVerdict};
use zab_check::Verdict;
use zab_trace::{Event, Outcome, Record};
use zab_tree::proto::{CreateKind, Request, Response};
use zab_tree::{ErrorCode, Stat};

const Z1: u64 = 0x1_0000_0001;
const Z2: u64 = 0x1_0000_0002;
const Z3: u64 = 0x1_0000_0003;

fn trace(events: Vec<Event>) -> Vec<Record> {
    events.into_iter().enumerate().map(|(i, ev)| Record { i: i as u64, t: i as u64, ev }).collect()
}

fn invoke(session: u64, xid: i32, op: Request) -> Event {
    Event::Invoke { client: session as u32, session, xid, server: 1, op }
}

fn done(session: u64, xid: i32, zxid: Option<u64>, result: Outcome) -> Event {
    Event::Complete { client: session as u32, session, xid, zxid, result }
}

fn create(path: &str) -> Request {
    Request::Create {
        path: path.into(),
        data: Some(b"v0".to_vec()),
        acl: vec![],
        flags: 0,
        kind: CreateKind::Create,
    }
}

fn set(path: &str, data: &[u8]) -> Request {
    Request::SetData { path: path.into(), data: Some(data.to_vec()), version: -1 }
}

fn get(path: &str) -> Request {
    Request::GetData { path: path.into(), watch: false }
}

fn created(path: &str) -> Outcome {
    Outcome::Ok { response: Response::Create { path: path.into() } }
}

fn stat(version: i32) -> Stat {
    Stat { version, ..Stat::default() }
}

fn got(data: &[u8], version: i32) -> Outcome {
    Outcome::Ok { response: Response::GetData { data: Some(data.to_vec()), stat: stat(version) } }
}

fn writes_linearizable(records: &[Record]) -> bool {
    match check_writes(records).expect("supported history").verdict {
        Verdict::Linearizable => true,
        Verdict::NotLinearizable(_) => false,
        Verdict::Unknown(why) => panic!("unknown: {why:?}"),
    }
}

fn witness(records: &[Record]) -> WitnessVerdict {
    check_zxid_witness(records).expect("supported history")
}

#[test]
fn a_consistent_history_passes_both_checkers() {
    let t = trace(vec![
        invoke(1, 1, create("/a")),
        done(1, 1, Some(Z1), created("/a")),
        invoke(2, 1, get("/a")),
        done(2, 1, Some(Z1), got(b"v0", 0)),
        invoke(1, 2, set("/a", b"v1")),
        done(1, 2, Some(Z2), Outcome::Ok { response: Response::Stat(stat(1)) }),
        // Session 2 may still read the older state: reads are sequentially consistent.
        invoke(2, 2, get("/a")),
        done(2, 2, Some(Z1), got(b"v0", 0)),
        invoke(1, 3, get("/a")),
        done(1, 3, Some(Z2), got(b"v1", 1)),
    ]);
    assert!(writes_linearizable(&t));
    assert_eq!(witness(&t), WitnessVerdict::Consistent);
}

#[test]
fn two_successful_creates_of_one_path_fail_both_checkers() {
    let t = trace(vec![
        invoke(1, 1, create("/a")),
        done(1, 1, Some(Z1), created("/a")),
        invoke(2, 1, create("/a")),
        done(2, 1, Some(Z2), created("/a")),
    ]);
    assert!(!writes_linearizable(&t));
    assert!(matches!(witness(&t), WitnessVerdict::Violation { record: 3, .. }), "{:?}", witness(&t));
}

#[test]
fn a_lost_create_may_explain_a_later_node_exists_and_neither_checker_cries_wolf() {
    let t = trace(vec![
        invoke(1, 1, create("/a")),
        done(1, 1, None, Outcome::ConnectionLoss),
        invoke(2, 1, create("/a")),
        done(2, 1, Some(Z2), Outcome::Err { code: ErrorCode::NodeExists }),
    ]);
    assert!(writes_linearizable(&t));
    assert!(matches!(witness(&t), WitnessVerdict::Inconclusive(_)), "{:?}", witness(&t));
}

#[test]
fn a_node_exists_error_nothing_explains_fails_both_checkers() {
    let t = trace(vec![
        invoke(2, 1, create("/a")),
        done(2, 1, Some(Z2), Outcome::Err { code: ErrorCode::NodeExists }),
    ]);
    assert!(!writes_linearizable(&t));
    assert!(matches!(witness(&t), WitnessVerdict::Violation { .. }));
}

#[test]
fn a_session_that_sees_an_older_zxid_than_before_is_flagged() {
    let t = trace(vec![
        invoke(1, 1, create("/a")),
        done(1, 1, Some(Z1), created("/a")),
        invoke(1, 2, set("/a", b"v1")),
        done(1, 2, Some(Z2), Outcome::Ok { response: Response::Stat(stat(1)) }),
        // Its own write is at Z2, then it reads the state at Z1: read-your-writes broken.
        invoke(1, 3, get("/a")),
        done(1, 3, Some(Z1), got(b"v0", 0)),
    ]);
    assert!(writes_linearizable(&t), "the writes alone are fine");
    assert!(matches!(witness(&t), WitnessVerdict::Violation { record: 5, .. }), "{:?}", witness(&t));
}

#[test]
fn a_read_that_does_not_match_the_state_at_its_zxid_is_flagged() {
    let t = trace(vec![
        invoke(1, 1, create("/a")),
        done(1, 1, Some(Z1), created("/a")),
        invoke(2, 1, get("/a")),
        done(2, 1, Some(Z1), got(b"never written", 0)),
    ]);
    assert!(matches!(witness(&t), WitnessVerdict::Violation { record: 3, .. }), "{:?}", witness(&t));
}

#[test]
fn writes_whose_zxids_contradict_real_time_are_flagged_by_the_witness() {
    let t = trace(vec![
        invoke(1, 1, create("/a")),
        done(1, 1, Some(Z3), created("/a")),
        invoke(2, 1, create("/b")),
        done(2, 1, Some(Z2), created("/b")),
    ]);
    assert!(writes_linearizable(&t), "without zxids the two creates commute");
    assert!(matches!(witness(&t), WitnessVerdict::Violation { .. }), "{:?}", witness(&t));
}

#[test]
fn deletes_need_the_right_version_and_no_children() {
    let delete = |path: &str, version| Request::Delete { path: path.into(), version };
    let ok = Outcome::Ok { response: Response::Empty };
    let t = trace(vec![
        invoke(1, 1, create("/a")),
        done(1, 1, Some(Z1), created("/a")),
        invoke(1, 2, create("/a/b")),
        done(1, 2, Some(Z2), created("/a/b")),
        invoke(1, 3, delete("/a", -1)),
        done(1, 3, Some(Z3), ok.clone()),
    ]);
    assert!(!writes_linearizable(&t), "/a still had a child");
    let t = trace(vec![
        invoke(1, 1, create("/a")),
        done(1, 1, Some(Z1), created("/a")),
        invoke(1, 2, delete("/a", 3)),
        done(1, 2, Some(Z2), Outcome::Err { code: ErrorCode::BadVersion }),
        invoke(1, 3, delete("/a", 0)),
        done(1, 3, Some(Z3), ok),
    ]);
    assert!(writes_linearizable(&t));
    assert_eq!(witness(&t), WitnessVerdict::Consistent);
}

#[test]
fn unsupported_writes_are_rejected_not_misjudged() {
    let t = trace(vec![invoke(1, 1, Request::Multi(vec![])), done(1, 1, Some(Z1), Outcome::ConnectionLoss)]);
    let e = check_writes(&t).unwrap_err();
    assert!(e.message.contains("not supported"), "{e}");
}
