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

mod generated {
    //! Generated ZooKeeper-like runs: one total write order (zxids), reads served from any
    //! state a session may see. Whatever the run, the two checkers must not contradict each
    //! other: a witness-consistent history has linearizable writes, and writes that cannot be
    //! linearized at all cannot be consistent in zxid order either.

    use proptest::prelude::*;
    use zab_check::zookeeper::{check_writes, check_zxid_witness, WitnessVerdict, ZkModel, ZkOp, ZkResult};
    use zab_check::{Model, Verdict};
    use zab_trace::{Event, Outcome, Record};
    use zab_tree::proto::{CreateKind, Request, Response};
    use zab_tree::{ErrorCode, Stat};

    const PATHS: [&str; 3] = ["/a", "/a/b", "/c"];

    /// The result the model gives `op` in `state`, found by asking it (the property is about
    /// the checkers agreeing, not about the model).
    fn outcome(
        state: &zab_check::zookeeper::ZkState,
        op: &ZkOp,
    ) -> (ZkResult, zab_check::zookeeper::ZkState) {
        let codes = [ErrorCode::NodeExists, ErrorCode::NoNode, ErrorCode::BadVersion, ErrorCode::NotEmpty];
        for result in std::iter::once(ZkResult::Ok).chain(codes.into_iter().map(ZkResult::Err)) {
            let mut op = op.clone();
            match &mut op {
                ZkOp::Create { result: r, .. }
                | ZkOp::Delete { result: r, .. }
                | ZkOp::SetData { result: r, .. } => *r = result.clone(),
            }
            let mut next = Vec::new();
            ZkModel.step(state, &op, &mut next);
            if let Some(s) = next.pop() {
                return (result, s);
            }
        }
        unreachable!("some result is always legal")
    }

    /// (session, kind 0..4, path, version, lost, corrupt) per step.
    type Step = (u64, u8, usize, i32, bool, bool);

    fn run(steps: &[Step]) -> Vec<Record> {
        let mut events = Vec::new();
        let mut states = vec![zab_check::zookeeper::ZkState::new()];
        let mut seen = [0usize; 4];
        for (xid, &(session, kind, p, version, lost, corrupt)) in steps.iter().enumerate() {
            let xid = xid as i32;
            let path = PATHS[p].to_string();
            let (request, op) = match kind {
                0 => (
                    Request::Create {
                        path: path.clone(),
                        data: None,
                        acl: vec![],
                        flags: 0,
                        kind: CreateKind::Create,
                    },
                    Some(ZkOp::Create { path: path.clone(), data: None, result: ZkResult::Ok }),
                ),
                1 => (
                    Request::Delete { path: path.clone(), version },
                    Some(ZkOp::Delete { path: path.clone(), version, result: ZkResult::Ok }),
                ),
                2 => (
                    Request::SetData { path: path.clone(), data: Some(vec![xid as u8]), version },
                    Some(ZkOp::SetData {
                        path: path.clone(),
                        data: Some(vec![xid as u8]),
                        version,
                        result: ZkResult::Ok,
                        new_version: None,
                    }),
                ),
                _ => (Request::GetData { path: path.clone(), watch: false }, None),
            };
            events.push(Event::Invoke { client: session as u32, session, xid, server: 1, op: request });
            let (zxid, result) = match op {
                Some(op) => {
                    let (result, after) = outcome(states.last().expect("initial state"), &op);
                    states.push(after.clone());
                    let zxid = states.len() - 1;
                    seen[session as usize] = zxid;
                    let mut reply = match (&result, &op) {
                        (ZkResult::Ok, ZkOp::SetData { path, .. }) => {
                            let version = after.get(path).map_or(0, |n| n.version);
                            Outcome::Ok { response: Response::Stat(Stat { version, ..Stat::default() }) }
                        }
                        (ZkResult::Ok, ZkOp::Create { path, .. }) => {
                            Outcome::Ok { response: Response::Create { path: path.clone() } }
                        }
                        (ZkResult::Ok, _) => Outcome::Ok { response: Response::Empty },
                        (ZkResult::Err(code), _) => Outcome::Err { code: *code },
                        (ZkResult::Unknown, _) => unreachable!("outcome never says unknown"),
                    };
                    if corrupt {
                        // A wrong answer: ok becomes an error, an error becomes ok.
                        reply = match reply {
                            Outcome::Ok { .. } => Outcome::Err { code: ErrorCode::NodeExists },
                            _ => Outcome::Ok { response: Response::Empty },
                        };
                    }
                    if lost {
                        (None, Outcome::ConnectionLoss)
                    } else {
                        (Some(0x1_0000_0000 + zxid as u64), reply)
                    }
                }
                None => {
                    // Served by some replica at a zxid the session may see.
                    let at = seen[session as usize]
                        + (xid as usize % 2).min(states.len() - 1 - seen[session as usize]);
                    seen[session as usize] = at;
                    let result = match states[at].get(&path) {
                        Some(n) => Outcome::Ok {
                            response: Response::GetData {
                                data: n.data.clone(),
                                stat: Stat { version: n.version, ..Stat::default() },
                            },
                        },
                        None => Outcome::Err { code: ErrorCode::NoNode },
                    };
                    (Some(0x1_0000_0000 + at as u64), result)
                }
            };
            events.push(Event::Complete { client: session as u32, session, xid, zxid, result });
        }
        events.into_iter().enumerate().map(|(i, ev)| Record { i: i as u64, t: i as u64, ev }).collect()
    }

    fn step() -> impl Strategy<Value = Step> {
        (1u64..4, 0u8..4, 0usize..3, -1i32..2, proptest::bool::weighted(0.1), proptest::bool::weighted(0.05))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        #[test]
        fn the_checkers_never_contradict_each_other(steps in proptest::collection::vec(step(), 0..25)) {
            let records = run(&steps);
            let writes = check_writes(&records).expect("supported").verdict;
            let witness = check_zxid_witness(&records).expect("supported");
            prop_assert!(!matches!(writes, Verdict::Unknown(_)));
            if witness == WitnessVerdict::Consistent {
                prop_assert_eq!(&writes, &Verdict::Linearizable);
            }
            if matches!(writes, Verdict::NotLinearizable(_)) {
                prop_assert!(witness != WitnessVerdict::Consistent);
            }
        }

        #[test]
        fn honest_runs_pass_both_checkers(steps in proptest::collection::vec(step(), 0..25)) {
            let honest: Vec<Step> = steps.into_iter().map(|(s, k, p, v, lost, _)| (s, k, p, v, lost, false)).collect();
            let records = run(&honest);
            prop_assert_eq!(check_writes(&records).expect("supported").verdict, Verdict::Linearizable);
            let witness = check_zxid_witness(&records).expect("supported");
            prop_assert!(!matches!(witness, WitnessVerdict::Violation { .. }), "{:?}", witness);
            let any_lost = honest.iter().any(|&(_, kind, _, _, lost, _)| lost && kind < 3);
            if !any_lost {
                prop_assert_eq!(witness, WitnessVerdict::Consistent);
            }
        }

        #[test]
        fn a_wrong_write_result_without_lost_writes_is_caught_by_the_witness(
            steps in proptest::collection::vec(step(), 1..25),
            victim in any::<proptest::sample::Index>(),
        ) {
            // Writes only (kind 0..3), none lost, one corrupted.
            let mut steps: Vec<Step> =
                steps.into_iter().map(|(s, k, p, v, _, _)| (s, k % 3, p, v, false, false)).collect();
            let i = victim.index(steps.len());
            steps[i].5 = true;
            let witness = check_zxid_witness(&run(&steps)).expect("supported");
            prop_assert!(matches!(witness, WitnessVerdict::Violation { .. }), "{:?}", witness);
        }
    }
}
