//! Each invariant: a correct hand-made trace passes, and a trace that breaks exactly that
//! property is flagged by it (and by nothing else).

use std::collections::BTreeSet;

use zab_check::invariants::*;
use zab_trace::{CloseReason, EpochFile, Event, Outcome, Record};
use zab_tree::proto::{EventType, Request, Response, WatchEvent};

fn trace(events: Vec<Event>) -> Vec<Record> {
    events.into_iter().enumerate().map(|(i, ev)| Record { i: i as u64, t: i as u64 * 1000, ev }).collect()
}

fn voters() -> BTreeSet<u64> {
    [1, 2, 3].into_iter().collect()
}

/// The trace breaks `name` and only `name` among all invariants; the violation is at `record`.
fn only_breaks(records: &[Record], name: &str, record: u64) {
    let found = check_all(records, &voters());
    let names: Vec<&str> = found.iter().map(|v| v.invariant).collect();
    assert_eq!(names, [name], "{found:?}");
    assert_eq!(found[0].record, record, "{}", found[0]);
}

fn passes(records: &[Record]) {
    let found = check_all(records, &voters());
    assert!(found.is_empty(), "{found:?}");
}

const Z1: u64 = 0x1_0000_0001;
const Z2: u64 = 0x1_0000_0002;
const Z3: u64 = 0x1_0000_0003;

fn logged(node: u64, zxid: u64) -> Event {
    Event::Logged { node, zxid, hash: zxid * 7 }
}

fn applied(node: u64, zxid: u64) -> Event {
    Event::Applied { node, zxid, hash: zxid * 7 }
}

fn digest(node: u64, zxid: u64, digest: u64) -> Event {
    Event::Digest { node, zxid, digest, ephemerals: vec![] }
}

#[test]
fn a_log_that_grows_passes_and_a_reused_zxid_is_flagged_unless_truncated_first() {
    passes(&trace(vec![logged(1, Z1), logged(1, Z2), Event::Truncated { node: 1, to: Z1 }, logged(1, Z2)]));
    only_breaks(&trace(vec![logged(1, Z1), logged(1, Z2), logged(1, Z2)]), "zxids_increase_per_log", 2);
    passes(&trace(vec![
        logged(1, Z2),
        Event::Crash { node: 1 },
        Event::Restart { node: 1, recovered: Some(Z1) },
        logged(1, Z2),
    ]));
}

#[test]
fn epoch_files_only_move_forward() {
    let persisted = |epoch| Event::EpochPersisted { node: 2, file: EpochFile::Accepted, epoch };
    passes(&trace(vec![persisted(1), persisted(2), persisted(2)]));
    only_breaks(
        &trace(vec![persisted(2), Event::Crash { node: 2 }, persisted(1)]),
        "epochs_never_go_back",
        2,
    );
}

#[test]
fn two_leaders_in_one_epoch_are_flagged_but_successive_epochs_are_fine() {
    let established = |node, epoch| Event::LeaderEstablished { node, epoch, acks: vec![1, 2] };
    passes(&trace(vec![established(1, 1), established(2, 2)]));
    only_breaks(&trace(vec![established(1, 1), established(2, 1)]), "one_leader_per_epoch", 1);
}

#[test]
fn replicas_must_apply_the_same_txn_at_a_zxid_and_skip_none() {
    passes(&trace(vec![applied(1, Z1), applied(2, Z1), applied(1, Z2), applied(2, Z2)]));
    let other = Event::Applied { node: 2, zxid: Z1, hash: 99 };
    only_breaks(&trace(vec![applied(1, Z1), other]), "committed_prefixes_agree", 1);
    only_breaks(
        &trace(vec![applied(1, Z1), applied(1, Z2), applied(1, Z3), applied(2, Z1), applied(2, Z3)]),
        "committed_prefixes_agree",
        4,
    );
    // A snapshot install starts a new run: what came before it was covered by the snapshot.
    passes(&trace(vec![
        applied(1, Z1),
        applied(1, Z2),
        applied(1, Z3),
        Event::SnapInstalled { node: 2, zxid: Z2 },
        applied(2, Z3),
    ]));
}

#[test]
fn a_commit_needs_a_majority_of_voters_and_observer_acks_do_not_count() {
    let committed = |acks: Vec<u64>| Event::Committed { node: 1, zxid: Z1, acks };
    passes(&trace(vec![committed(vec![1, 2])]));
    // Node 4 is an observer: 1 + 4 is not a quorum of {1, 2, 3}.
    only_breaks(&trace(vec![committed(vec![1, 4])]), "commit_needs_voter_quorum", 0);
    only_breaks(&trace(vec![committed(vec![1, 1])]), "commit_needs_voter_quorum", 0);
}

#[test]
fn an_ack_before_the_proposal_is_durable_is_flagged() {
    passes(&trace(vec![
        logged(2, Z1),
        Event::Durable { node: 2, upto: Z1 },
        Event::AckSent { node: 2, zxid: Z1 },
    ]));
    only_breaks(
        &trace(vec![logged(2, Z1), Event::AckSent { node: 2, zxid: Z1 }]),
        "ack_only_after_durable",
        1,
    );
    only_breaks(
        &trace(vec![
            logged(2, Z1),
            Event::Durable { node: 2, upto: Z1 },
            Event::AckSent { node: 2, zxid: Z2 },
        ]),
        "ack_only_after_durable",
        2,
    );
}

fn set_data(xid: i32) -> Event {
    Event::Invoke {
        client: 0,
        session: 0x10,
        xid,
        server: 1,
        op: Request::SetData { path: "/a".into(), data: Some(b"x".to_vec()), version: -1 },
    }
}

fn ok(xid: i32, zxid: u64) -> Event {
    Event::Complete {
        client: 0,
        session: 0x10,
        xid,
        zxid: Some(zxid),
        result: Outcome::Ok { response: Response::Empty },
    }
}

#[test]
fn an_acknowledged_write_must_not_be_truncated_away() {
    passes(&trace(vec![
        set_data(1),
        logged(2, Z1),
        logged(2, Z2),
        ok(1, Z1),
        Event::Truncated { node: 2, to: Z1 },
    ]));
    only_breaks(
        &trace(vec![
            set_data(1),
            logged(2, Z1),
            logged(2, Z2),
            ok(1, Z2),
            Event::Truncated { node: 2, to: Z1 },
        ]),
        "acknowledged_writes_survive",
        4,
    );
    // Not yet committed when truncated: a leader truncates a rejoining follower to its committed
    // zxid and proposes the rest again, which the follower logs before the write is acknowledged.
    passes(&trace(vec![
        set_data(1),
        logged(2, Z1),
        logged(2, Z2),
        Event::Truncated { node: 2, to: Z1 },
        logged(2, Z2),
        ok(1, Z2),
    ]));
    // A read that returned with zxid Z2 acknowledges no write.
    let read = Event::Invoke {
        client: 0,
        session: 0x10,
        xid: 1,
        server: 1,
        op: Request::GetData { path: "/a".into(), watch: false },
    };
    passes(&trace(vec![read, logged(2, Z1), logged(2, Z2), ok(1, Z2), Event::Truncated { node: 2, to: Z1 }]));
}

#[test]
fn ephemerals_of_a_closed_session_must_be_gone_once_the_close_is_applied() {
    let close = Event::SessionClosed { node: 1, session: 0x10, zxid: Z2, reason: CloseReason::Expired };
    let with_eph = |zxid| Event::Digest { node: 1, zxid, digest: 5, ephemerals: vec![(0x10, "/e".into())] };
    passes(&trace(vec![with_eph(Z1), close.clone(), digest(1, Z2, 6)]));
    only_breaks(&trace(vec![close, with_eph(Z3)]), "closed_sessions_lose_ephemerals", 1);
}

#[test]
fn watch_events_come_once_each_and_in_zxid_order() {
    let watch = |path: &str, ty, zxid| Event::Watch {
        client: 0,
        session: 0x10,
        event: WatchEvent::node(ty, path),
        zxid: Some(zxid),
    };
    // One txn (deleting /a/b) fires two different watches with the same zxid: fine.
    passes(&trace(vec![
        watch("/a/b", EventType::NodeDeleted, Z1),
        watch("/a", EventType::NodeChildrenChanged, Z1),
        watch("/a", EventType::NodeDataChanged, Z2),
    ]));
    only_breaks(
        &trace(vec![
            watch("/a", EventType::NodeDataChanged, Z2),
            watch("/b", EventType::NodeDataChanged, Z1),
        ]),
        "watches_fire_once_in_zxid_order",
        1,
    );
    only_breaks(
        &trace(vec![
            watch("/a", EventType::NodeDataChanged, Z1),
            watch("/a", EventType::NodeDataChanged, Z1),
        ]),
        "watches_fire_once_in_zxid_order",
        1,
    );
}

fn role(node: u64, role: zab_trace::Role, phase: zab_trace::Phase) -> Event {
    Event::Role {
        node,
        role,
        phase,
        accepted_epoch: 1,
        current_epoch: 1,
        last_logged: Some(Z2),
        committed: Z2,
    }
}

#[test]
fn only_replicas_that_end_synced_are_held_to_the_same_digest() {
    use zab_trace::{Phase, Role};
    let ends = |last: Event| {
        trace(vec![
            role(1, Role::Leading, Phase::Broadcast),
            role(2, Role::Following, Phase::Broadcast),
            last,
            digest(1, Z2, 9),
            digest(2, Z2, 9),
            digest(3, Z1, 4),
        ])
    };
    // Still electing: it holds what it had before, and getting back in is a liveness question.
    passes(&ends(role(3, Role::Looking, Phase::Election)));
    only_breaks(&ends(role(3, Role::Following, Phase::Broadcast)), "replicas_converge", 5);
}

#[test]
fn live_replicas_must_end_with_the_same_zxid_and_digest() {
    passes(&trace(vec![digest(1, Z2, 9), digest(2, Z2, 9), digest(3, Z1, 4), Event::Crash { node: 3 }]));
    only_breaks(&trace(vec![digest(1, Z2, 9), digest(2, Z2, 8)]), "replicas_converge", 1);
    only_breaks(&trace(vec![digest(1, Z2, 9), digest(2, Z1, 9)]), "replicas_converge", 1);
}

#[test]
fn a_whole_healthy_run_passes_every_invariant() {
    let mut events = vec![
        Event::EpochPersisted { node: 1, file: EpochFile::Accepted, epoch: 1 },
        Event::EpochPersisted { node: 1, file: EpochFile::Current, epoch: 1 },
        Event::LeaderEstablished { node: 1, epoch: 1, acks: vec![1, 2] },
        set_data(1),
    ];
    for node in 1..=3 {
        events.push(logged(node, Z1));
        events.push(Event::Durable { node, upto: Z1 });
        events.push(Event::AckSent { node, zxid: Z1 });
    }
    events.push(Event::Committed { node: 1, zxid: Z1, acks: vec![1, 2] });
    for node in 1..=3 {
        events.push(applied(node, Z1));
    }
    events.push(ok(1, Z1));
    for node in 1..=3 {
        events.push(digest(node, Z1, 42));
    }
    passes(&trace(events));
}

#[test]
fn the_incremental_leader_record_names_the_first_leader_of_an_epoch_and_keeps_it() {
    let mut leaders = EpochLeaders::default();
    assert_eq!(leaders.establish(1, 1), Ok(()));
    assert_eq!(leaders.establish(1, 1), Ok(()), "the same leader again is no violation");
    assert_eq!(leaders.establish(2, 2), Ok(()));
    assert_eq!(leaders.establish(3, 1), Err(1));
    assert_eq!(leaders.establish(3, 1), Err(1), "the first leader stays recorded");
}

#[test]
fn a_voter_quorum_counts_each_voter_once_and_never_an_observer() {
    let v = voters();
    assert!(is_voter_quorum(&[1, 2], &v));
    assert!(is_voter_quorum(&[3, 1, 2], &v));
    assert!(!is_voter_quorum(&[1, 1], &v));
    assert!(!is_voter_quorum(&[1, 4, 5], &v));
    assert!(!is_voter_quorum(&[], &v));
    let five: BTreeSet<u64> = (1..=5).collect();
    assert!(!is_voter_quorum(&[1, 2], &five));
    assert!(is_voter_quorum(&[1, 2, 5], &five));
}

#[test]
fn every_committed_simulator_trace_satisfies_every_invariant() {
    // The traces in traces/ are runs the simulator passed. They hold the cases a whole-trace
    // invariant must not mistake for violations: the ACK of NEWLEADER (an epoch, not a txn), a
    // wiped disk whose epoch files start over, and a server locked out by a higher acceptedEpoch.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../traces");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("traces/ exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("ndjson") {
            continue;
        }
        let file = std::fs::File::open(&path).expect("trace opens");
        let name = path.display().to_string();
        let trace = zab_trace::read_trace(std::io::BufReader::new(file), &name).expect("trace parses");
        let mut servers = BTreeSet::new();
        let mut observers = BTreeSet::new();
        for r in &trace.records {
            if let Event::Role { node, role, .. } = r.ev {
                servers.insert(node);
                if role == zab_trace::Role::Observing {
                    observers.insert(node);
                }
            }
        }
        let voters: BTreeSet<u64> = servers.difference(&observers).copied().collect();
        let found = check_all(&trace.records, &voters);
        assert!(found.is_empty(), "{name}: {found:?}");
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} traces found in {}", dir.display());
}
