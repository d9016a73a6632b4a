//! ZooKeeper's guarantee over client histories: the exact data model (Stat rules, sequential
//! names, multi, ephemerals, containers, error codes), linearizable writes, reads that may be
//! stale but never below their session's floor, per-session FIFO, and lost calls as
//! indeterminate — each judged by the zxid witness and by the black-box search (split per part
//! and whole).

use zab_check::zookeeper::{
    calls, check_black_box, check_calls, check_zxid_witness, history, partition, CallRecorder, ViolationKind,
    WitnessVerdict, ZkCall, ZkModel,
};
use zab_check::{Budget, Verdict};
use zab_trace::{Event, Outcome, Record};
use zab_tree::proto::{CreateKind, MultiResult, Request, Response};
use zab_tree::{ErrorCode, SessionId, Stat, TreeConfig, Zxid};

fn z(n: u32) -> u64 {
    Zxid::new(1, n).0
}

/// A history written call by call: each call completes before the next begins, unless opened
/// with `begin` and closed with `end`. Clients are numbered like their sessions.
struct H {
    rec: CallRecorder,
    at: u64,
    xid: i32,
}

impl H {
    fn new() -> H {
        H { rec: CallRecorder::new(), at: 0, xid: 0 }
    }

    fn begin(&mut self, session: u64, request: Request) -> i32 {
        self.xid += 1;
        self.rec.invoke(session as u32, session, self.xid, request, self.at).unwrap();
        self.at += 1;
        self.xid
    }

    fn end(&mut self, session: u64, xid: i32, zxid: Option<u64>, outcome: Outcome) {
        self.rec.complete(session as u32, session, xid, zxid, outcome, self.at).unwrap();
        self.at += 1;
    }

    fn call(mut self, session: u64, request: Request, zxid: Option<u64>, outcome: Outcome) -> H {
        let xid = self.begin(session, request);
        self.end(session, xid, zxid, outcome);
        self
    }

    fn ok(self, session: u64, request: Request, zxid: u64, response: Response) -> H {
        self.call(session, request, Some(zxid), Outcome::Ok { response })
    }

    fn err(self, session: u64, request: Request, code: ErrorCode) -> H {
        self.call(session, request, None, Outcome::Err { code })
    }

    fn calls(&self) -> Vec<ZkCall> {
        self.rec.clone().finish()
    }
}

fn create_req(path: &str, data: &str, flags: i32, kind: CreateKind) -> Request {
    let acl = zab_tree::OPEN_ACL_UNSAFE.clone();
    Request::Create { path: path.into(), data: Some(data.as_bytes().to_vec()), acl, flags, kind }
}

fn create(path: &str, data: &str) -> Request {
    create_req(path, data, 0, CreateKind::Create)
}

fn created(path: &str) -> Response {
    Response::Create { path: path.into() }
}

fn set(path: &str, data: &str, version: i32) -> Request {
    Request::SetData { path: path.into(), data: Some(data.as_bytes().to_vec()), version }
}

fn get(path: &str) -> Request {
    Request::GetData { path: path.into(), watch: false }
}

fn exists(path: &str) -> Request {
    Request::Exists { path: path.into(), watch: false }
}

/// The Stat of a node created at `c`, last set at `m`, children last changed at `p`.
fn stat(c: u64, m: u64, p: u64, version: i32, data: &str) -> Stat {
    Stat {
        czxid: Zxid(c),
        mzxid: Zxid(m),
        pzxid: Zxid(p),
        version,
        data_length: data.len() as i32,
        ..Stat::default()
    }
}

fn data(value: &str, stat: Stat) -> Response {
    Response::GetData { data: Some(value.as_bytes().to_vec()), stat }
}

struct Judged {
    witness: WitnessVerdict,
    parts: Verdict,
    whole: Verdict,
}

fn judge(calls: &[ZkCall]) -> Judged {
    let h = history(calls);
    let model = ZkModel::new(TreeConfig::default());
    let whole_model = ZkModel { unpartitioned: true, ..model.clone() };
    let budget = || Budget { max_steps: Some(2_000_000), max_memory_bytes: None, should_stop: None };
    let judged = Judged {
        witness: check_zxid_witness(&model, &h),
        parts: check_black_box(&model, &h, &mut budget()).verdict,
        whole: check_black_box(&whole_model, &h, &mut budget()).verdict,
    };
    assert!(!matches!(judged.parts, Verdict::Unknown(_)) && !matches!(judged.whole, Verdict::Unknown(_)));
    judged
}

fn assert_passes(h: &H) {
    let j = judge(&h.calls());
    assert!(!matches!(j.witness, WitnessVerdict::Violation { .. }), "witness: {:?}", j.witness);
    assert_eq!(j.parts, Verdict::Linearizable);
    assert_eq!(j.whole, Verdict::Linearizable);
}

/// Both searches and the witness (with this kind) flag it.
fn assert_flagged(h: &H, kind: ViolationKind) {
    let j = judge(&h.calls());
    assert!(
        matches!(&j.witness, WitnessVerdict::Violation { kind: k, .. } if *k == kind),
        "witness: {:?}",
        j.witness
    );
    assert!(matches!(j.parts, Verdict::NotLinearizable(_)), "per part: {:?}", j.parts);
    assert!(matches!(j.whole, Verdict::NotLinearizable(_)), "whole: {:?}", j.whole);
}

fn parent_and_child(parent_stat: Stat) -> H {
    H::new()
        .ok(
            1,
            create_req("/a", "x", 0, CreateKind::Create2),
            z(1),
            Response::Create2 { path: "/a".into(), stat: stat(z(1), z(1), z(1), 0, "x") },
        )
        .ok(1, create("/a/b", ""), z(2), created("/a/b"))
        .ok(2, get("/a"), z(2), data("x", parent_stat))
}

#[test]
fn every_stat_field_follows_the_rules_and_a_wrong_one_is_flagged() {
    let right = Stat { cversion: 1, num_children: 1, ..stat(z(1), z(1), z(2), 0, "x") };
    assert_passes(&parent_and_child(right));
    let wrong = [
        Stat { cversion: 0, ..right },
        Stat { num_children: 0, ..right },
        Stat { pzxid: Zxid(z(1)), ..right },
        Stat { mzxid: Zxid(z(2)), ..right },
        Stat { czxid: Zxid(z(2)), ..right },
        Stat { version: 1, ..right },
        Stat { data_length: 0, ..right },
        Stat { ephemeral_owner: SessionId(1), ..right },
    ];
    for w in wrong {
        assert_flagged(&parent_and_child(w), ViolationKind::WrongResult);
    }
}

fn sequential_child(name: &str) -> H {
    H::new()
        .ok(1, create("/p", ""), z(1), created("/p"))
        .ok(1, create("/p/c", ""), z(2), created("/p/c"))
        .ok(1, Request::Delete { path: "/p/c".into(), version: -1 }, z(3), Response::Empty)
        .ok(1, create_req("/p/s-", "", 2, CreateKind::Create), z(4), created(name))
}

#[test]
fn a_sequential_name_comes_from_the_parent_cversion() {
    assert_passes(&sequential_child("/p/s-0000000001"));
    assert_flagged(&sequential_child("/p/s-0000000000"), ViolationKind::WrongResult);
}

fn ephemeral_then_close(after_close: Outcome) -> H {
    let owner = Stat { ephemeral_owner: SessionId(7), ..stat(z(1), z(1), z(1), 0, "e") };
    H::new()
        .ok(7, create_req("/e", "e", 1, CreateKind::Create), z(1), created("/e"))
        .ok(8, exists("/e"), z(1), Response::Stat(owner))
        .ok(7, Request::CloseSession, z(2), Response::Empty)
        .call(8, exists("/e"), Some(z(2)), after_close)
}

#[test]
fn an_ephemeral_is_owned_by_its_session_and_goes_when_the_session_closes() {
    assert_passes(&ephemeral_then_close(Outcome::Err { code: ErrorCode::NoNode }));
    let still_there = Stat { ephemeral_owner: SessionId(7), ..stat(z(1), z(1), z(1), 0, "e") };
    let h = ephemeral_then_close(Outcome::Ok { response: Response::Stat(still_there) });
    assert_flagged(&h, ViolationKind::WrongResult);
}

fn failed_multi(b_after: Outcome) -> H {
    let multi = Request::Multi(vec![
        Request::Check { path: "/a".into(), version: 5 },
        set("/a", "new", -1),
        create("/b", "b"),
    ]);
    H::new()
        .ok(1, create("/a", "old"), z(1), created("/a"))
        .err(1, multi, ErrorCode::BadVersion)
        .ok(2, get("/a"), z(2), data("old", stat(z(1), z(1), z(1), 0, "old")))
        .call(2, exists("/b"), Some(z(2)), b_after)
}

#[test]
fn a_failed_multi_changes_nothing_and_a_torn_one_is_flagged() {
    assert_passes(&failed_multi(Outcome::Err { code: ErrorCode::NoNode }));
    let torn = Outcome::Ok { response: Response::Stat(stat(z(2), z(2), z(2), 0, "b")) };
    assert_flagged(&failed_multi(torn), ViolationKind::WrongResult);
}

#[test]
fn a_successful_multi_reports_every_op_result() {
    let multi = Request::Multi(vec![
        Request::Check { path: "/a".into(), version: 0 },
        set("/a", "new", -1),
        create("/b", "b"),
    ]);
    let results = |version| {
        Response::Multi(vec![
            MultiResult::Check,
            MultiResult::SetData { stat: stat(z(1), z(2), z(1), version, "new") },
            MultiResult::Create { path: "/b".into(), stat: None },
        ])
    };
    let h = |version| {
        H::new().ok(1, create("/a", "old"), z(1), created("/a")).ok(1, multi.clone(), z(2), results(version))
    };
    assert_passes(&h(1));
    assert_flagged(&h(0), ViolationKind::WrongResult);
}

fn children(listed: &[&str]) -> H {
    H::new()
        .ok(1, create("/p", ""), z(1), created("/p"))
        .ok(1, create("/p/b", ""), z(2), created("/p/b"))
        .ok(1, create("/p/a", ""), z(3), created("/p/a"))
        .ok(
            1,
            Request::GetChildren { path: "/p".into(), watch: false },
            z(3),
            Response::GetChildren { children: listed.iter().map(|s| s.to_string()).collect() },
        )
}

#[test]
fn get_children_lists_the_children_sorted() {
    assert_passes(&children(&["a", "b"]));
    assert_flagged(&children(&["b", "a"]), ViolationKind::WrongResult);
    assert_flagged(&children(&["a"]), ViolationKind::WrongResult);
}

fn two_versions_then(reader: u64) -> H {
    H::new()
        .ok(1, create("/a", "v1"), z(1), created("/a"))
        .ok(1, set("/a", "v2", -1), z(2), Response::Stat(stat(z(1), z(2), z(1), 1, "v2")))
        .ok(reader, get("/a"), z(1), data("v1", stat(z(1), z(1), z(1), 0, "v1")))
}

#[test]
fn another_session_may_read_a_stale_version_but_the_writer_may_not() {
    assert_passes(&two_versions_then(2));
    assert_flagged(&two_versions_then(1), ViolationKind::SessionOrder);
}

/// Session 1 sees /b at zxid 3, then reads /a as it was before zxid 2.
fn stale_across_paths() -> H {
    H::new()
        .ok(2, create("/a", "v1"), z(1), created("/a"))
        .ok(2, set("/a", "v2", -1), z(2), Response::Stat(stat(z(1), z(2), z(1), 1, "v2")))
        .ok(2, create("/b", "b"), z(3), created("/b"))
        .ok(1, get("/b"), z(3), data("b", stat(z(3), z(3), z(3), 0, "b")))
        .ok(1, get("/a"), z(1), data("v1", stat(z(1), z(1), z(1), 0, "v1")))
}

#[test]
fn a_stale_read_below_a_floor_set_on_another_path_is_seen_by_the_witness_and_the_whole_search() {
    let j = judge(&stale_across_paths().calls());
    assert!(matches!(j.witness, WitnessVerdict::Violation { kind: ViolationKind::SessionOrder, .. }));
    assert!(matches!(j.whole, Verdict::NotLinearizable(_)));
    // Sequential consistency is not local: per part, the floor set on /b is invisible to /a.
    assert_eq!(j.parts, Verdict::Linearizable);
}

fn lost_set_then_read(value: &str, version: i32, zxid: u64) -> H {
    let mut h = H::new().ok(1, create("/a", "v1"), z(1), created("/a"));
    let xid = h.begin(1, set("/a", "v2", -1));
    h.end(1, xid, None, Outcome::ConnectionLoss);
    h.ok(2, get("/a"), zxid, data(value, stat(z(1), zxid, z(1), version, value)))
}

#[test]
fn a_write_that_lost_its_connection_may_or_may_not_have_happened() {
    assert_passes(&lost_set_then_read("v1", 0, z(1)));
    assert_passes(&lost_set_then_read("v2", 1, z(2)));
    // But not twice.
    let j = judge(&lost_set_then_read("v2", 2, z(2)).calls());
    assert!(matches!(j.whole, Verdict::NotLinearizable(_)), "{:?}", j.whole);
}

#[test]
fn an_error_about_the_session_not_the_tree_leaves_the_outcome_unknown() {
    let moved = |seen: &str, version: i32, zxid: u64| {
        H::new()
            .ok(1, create("/a", "v1"), z(1), created("/a"))
            .err(1, set("/a", "v2", -1), ErrorCode::SessionMoved)
            .ok(2, get("/a"), zxid, data(seen, stat(z(1), zxid, z(1), version, seen)))
    };
    assert_passes(&moved("v1", 0, z(1)));
    assert_passes(&moved("v2", 1, z(2)));
    // A tree error is the tree's answer: the node exists, so NoNode cannot be.
    let h = H::new().ok(1, create("/a", "v1"), z(1), created("/a")).err(
        1,
        set("/a", "v2", -1),
        ErrorCode::NoNode,
    );
    assert_flagged(&h, ViolationKind::WrongResult);
}

#[test]
fn an_acknowledged_write_that_later_reads_do_not_show_is_flagged() {
    let h = H::new()
        .ok(1, create("/a", "v1"), z(1), created("/a"))
        .ok(1, set("/a", "v2", -1), z(2), Response::Stat(stat(z(1), z(2), z(1), 1, "v2")))
        .ok(2, get("/a"), z(2), data("v1", stat(z(1), z(1), z(1), 0, "v1")));
    assert_flagged(&h, ViolationKind::WrongResult);
}

/// Session 2 syncs after session 1's create was acknowledged, then reads `/a`; the sync and the
/// read are answered at `sync_zxid` from a server that has applied the create or not.
fn read_after_sync(sync_zxid: u64, read: H) -> H {
    let sync = Request::Sync { path: "/a".into() };
    let h = H::new().ok(1, create("/a", "v1"), z(1), created("/a"));
    let h = h.ok(2, sync, sync_zxid, Response::Sync { path: "/a".into() });
    let mut calls = h.calls();
    calls.extend(read.calls());
    let mut out = H::new();
    for c in calls {
        out = out.call(c.session, c.request, c.zxid, c.outcome.expect("complete"));
    }
    out
}

#[test]
fn a_sync_answered_behind_a_write_acknowledged_before_it_began_is_flagged() {
    // Catalog entry 19: a leader deposed without noticing answers sync from its stale state.
    let stale = read_after_sync(0, H::new().err(2, get("/a"), ErrorCode::NoNode));
    assert_flagged(&stale, ViolationKind::RealTime);
    let fresh =
        read_after_sync(z(1), H::new().ok(2, get("/a"), z(1), data("v1", stat(z(1), z(1), z(1), 0, "v1"))));
    assert_passes(&fresh);
}

#[test]
fn zxids_that_contradict_real_time_are_flagged() {
    let h =
        H::new().ok(1, create("/a", ""), z(5), created("/a")).ok(2, create("/b", ""), z(3), created("/b"));
    let j = judge(&h.calls());
    assert!(matches!(j.witness, WitnessVerdict::Violation { kind: ViolationKind::RealTime, .. }));
    assert!(matches!(j.whole, Verdict::NotLinearizable(_)));
}

#[test]
fn a_session_pipelined_calls_take_effect_in_issue_order() {
    let pipelined = |delete_first: bool| {
        let mut h = H::new();
        let c = h.begin(1, create("/a", ""));
        let d = h.begin(1, Request::Delete { path: "/a".into(), version: -1 });
        if delete_first {
            h.end(1, d, None, Outcome::Err { code: ErrorCode::NoNode });
            h.end(1, c, Some(z(1)), Outcome::Ok { response: created("/a") });
        } else {
            h.end(1, c, Some(z(1)), Outcome::Ok { response: created("/a") });
            h.end(1, d, Some(z(2)), Outcome::Ok { response: Response::Empty });
        }
        h
    };
    assert_passes(&pipelined(false));
    // Concurrent, so linearizable without FIFO; ZooKeeper's FIFO order forbids it.
    assert_flagged(&pipelined(true), ViolationKind::WrongResult);
}

fn ephemeral_then_missing(again: bool) -> H {
    let owner = Stat { ephemeral_owner: SessionId(7), ..stat(z(1), z(1), z(1), 0, "") };
    let h = H::new()
        .ok(7, create_req("/e", "", 1, CreateKind::Create), z(1), created("/e"))
        .ok(8, exists("/e"), z(1), Response::Stat(owner))
        .err(8, exists("/e"), ErrorCode::NoNode);
    if again {
        h.ok(8, exists("/e"), z(3), Response::Stat(owner))
    } else {
        h
    }
}

#[test]
fn an_expired_session_ephemerals_vanish_once_without_any_client_delete() {
    let calls = ephemeral_then_missing(false).calls();
    let (report, h) = check_calls(&calls, &TreeConfig::default(), &mut Budget::unlimited());
    assert_eq!(report.violation(&h), None);
    let calls = ephemeral_then_missing(true).calls();
    let (report, h) = check_calls(&calls, &TreeConfig::default(), &mut Budget::unlimited());
    assert_eq!(report.violation(&h).map(|v| v.checker), Some("linearizability"));
}

fn container(read_before_child: bool) -> H {
    let h = H::new()
        .ok(
            1,
            create_req("/c", "", 4, CreateKind::Container),
            z(1),
            Response::Create2 { path: "/c".into(), stat: stat(z(1), z(1), z(1), 0, "") },
        )
        .ok(2, exists("/c"), z(1), Response::Stat(stat(z(1), z(1), z(1), 0, "")));
    let h = if read_before_child { h.err(2, exists("/c"), ErrorCode::NoNode) } else { h };
    h.ok(1, create("/c/x", ""), z(2), created("/c/x"))
        .ok(1, Request::Delete { path: "/c/x".into(), version: -1 }, z(3), Response::Empty)
        .err(2, exists("/c"), ErrorCode::NoNode)
}

#[test]
fn a_container_is_reaped_only_after_it_had_a_child() {
    let (report, h) =
        check_calls(&container(false).calls(), &TreeConfig::default(), &mut Budget::unlimited());
    assert_eq!(report.violation(&h), None);
    let (report, h) = check_calls(&container(true).calls(), &TreeConfig::default(), &mut Budget::unlimited());
    assert!(report.violation(&h).is_some());
}

#[test]
fn parts_join_operations_through_what_they_read() {
    let h = H::new()
        .ok(1, create("/a", ""), z(1), created("/a"))
        .ok(1, create("/b", ""), z(2), created("/b"))
        .ok(1, create("/a/x", ""), z(3), created("/a/x"))
        .ok(1, set("/b", "", -1), z(4), Response::Stat(stat(z(2), z(4), z(2), 1, "")))
        .ok(1, create("/c", ""), z(5), created("/c"));
    let ops: Vec<_> = history(&h.calls()).ops.into_iter().map(|o| o.op).collect();
    // /a/x reads /a's node; / 's children are written by all three top-level creates but read
    // by nobody, so they do not join.
    assert_eq!(partition::parts(&ops), vec![vec![0, 2], vec![1, 3], vec![4]]);
    let mut joined = ops.clone();
    joined.push(
        history(
            &H::new()
                .ok(
                    1,
                    Request::GetChildren { path: "/".into(), watch: false },
                    z(5),
                    Response::GetChildren { children: vec![] },
                )
                .calls(),
        )
        .ops[0]
            .op
            .clone(),
    );
    assert_eq!(partition::parts(&joined), vec![vec![0, 1, 2, 3, 4, 5]]);
    let multi = Request::Multi(vec![set("/a", "", -1), set("/c", "", -1)]);
    let mut by_multi = ops;
    by_multi.push(history(&H::new().err(1, multi, ErrorCode::NoNode).calls()).ops[0].op.clone());
    assert_eq!(partition::parts(&by_multi), vec![vec![0, 2, 4, 5], vec![1, 3]]);
}

#[test]
fn calls_pair_trace_events_and_reject_unpaired_ones() {
    let records: Vec<Record> = [
        Event::Invoke { client: 1, session: 0, xid: 1, server: 1, op: create("/a", "") },
        Event::Complete {
            client: 1,
            session: 9,
            xid: 1,
            zxid: Some(z(1)),
            result: Outcome::Ok { response: created("/a") },
        },
        Event::Invoke { client: 1, session: 9, xid: 2, server: 1, op: get("/a") },
    ]
    .into_iter()
    .enumerate()
    .map(|(i, ev)| Record { i: i as u64, t: i as u64, ev })
    .collect();
    let c = calls(&records).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!((c[0].session, c[0].completed_at, c[0].zxid), (9, Some(1), Some(z(1))));
    assert_eq!((c[1].completed_at, &c[1].outcome), (None, &None));
    let orphan = Record {
        i: 3,
        t: 3,
        ev: Event::Complete { client: 2, session: 9, xid: 5, zxid: None, result: Outcome::ConnectionLoss },
    };
    let err = calls(&[records, vec![orphan]].concat()).unwrap_err();
    assert_eq!(err.record, 3);
    assert!(err.message.contains("never invoked"), "{err}");
}

/// Generated histories from a correct single-copy ZooKeeper (zab-tree's own prepare and apply
/// steps, stale reads within each session's floor, lost replies that did or did not take
/// effect), with one injected anomaly or none: both checkers agree.
mod agreement {
    use proptest::prelude::*;

    use super::*;
    use zab_tree::{AuthIds, DataTree, PrepContext, Preparer, SessionStatus};

    const PATHS: [&str; 3] = ["/a", "/a/b", "/c"];

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Anomaly {
        None,
        /// A read answered from a version below what its session had seen.
        StaleBelowFloor,
        /// An acknowledged setData that never took effect; its session then reads the node.
        LostAckedWrite,
        /// Two replies of one session with their zxids swapped.
        OutOfOrderSession,
        /// A reply's Stat with the wrong version.
        WrongStat,
        /// A multi acknowledged whole of which the create never took effect; its session then
        /// asks whether the node exists.
        TornMulti,
    }

    const ANOMALIES: [Anomaly; 6] = [
        Anomaly::None,
        Anomaly::StaleBelowFloor,
        Anomaly::LostAckedWrite,
        Anomaly::OutOfOrderSession,
        Anomaly::WrongStat,
        Anomaly::TornMulti,
    ];

    /// (session, kind, path, version, lost, pick) per step.
    type Step = (u64, u8, usize, i32, bool, u8);

    fn step() -> impl Strategy<Value = Step> {
        (1u64..4, 0u8..10, 0usize..3, -1i32..2, proptest::bool::weighted(0.1), any::<u8>())
    }

    fn request(kind: u8, p: usize, version: i32, value: &str) -> Request {
        let path = PATHS[p];
        match kind {
            0 => create(path, value),
            1 => create_req(path, value, 1, CreateKind::Create2),
            2 => create_req(&format!("{path}/s-"), value, 2, CreateKind::Create),
            3 => Request::Delete { path: path.into(), version },
            4 => set(path, value, version),
            5 => get(path),
            6 => exists(path),
            7 => Request::GetChildren { path: path.into(), watch: false },
            8 => Request::Multi(vec![
                Request::Check { path: path.into(), version },
                set(path, value, -1),
                create(PATHS[(p + 1) % 3], value),
            ]),
            _ => Request::Sync { path: path.into() },
        }
    }

    /// One correct server plus the injected anomaly; returns the history and whether the
    /// anomaly found a place.
    struct Server {
        versions: Vec<(u64, DataTree)>,
        last_zxid: u64,
        floor: [usize; 4],
        seen: [u64; 4],
        h: H,
        injected: bool,
    }

    impl Server {
        fn new() -> Server {
            Server {
                versions: vec![(0, DataTree::default())],
                last_zxid: 0,
                floor: [0; 4],
                seen: [0; 4],
                h: H::new(),
                injected: false,
            }
        }

        fn write(&mut self, session: u64, req: &Request, apply: bool) -> (u64, Result<Response, ErrorCode>) {
            self.last_zxid = if self.last_zxid == 0 { z(1) } else { self.last_zxid + 1 };
            let zxid = self.last_zxid;
            let auth = AuthIds::new();
            let ctx = PrepContext {
                session: SessionId(session),
                cxid: 0,
                zxid: Zxid(zxid),
                time_ms: 0,
                auth: &auth,
                session_status: SessionStatus::Active,
            };
            let tree = &self.versions.last().unwrap().1;
            let txn = Preparer::new().prepare(tree, &ctx, req);
            let mut after = tree.clone();
            let result = after.apply(&txn).result;
            let ok = match &result {
                Ok(Response::Multi(rs)) => !rs.iter().any(|r| matches!(r, MultiResult::Error { .. })),
                Ok(_) => true,
                Err(_) => false,
            };
            if ok && apply {
                self.versions.push((zxid, after));
            }
            (zxid, result)
        }

        fn reply(
            &mut self,
            session: u64,
            req: Request,
            zxid: Option<u64>,
            result: Result<Response, ErrorCode>,
        ) {
            let h = std::mem::replace(&mut self.h, H::new());
            self.h = match result {
                Ok(Response::Multi(rs)) if rs.iter().any(|r| matches!(r, MultiResult::Error { .. })) => {
                    let code = rs
                        .iter()
                        .find_map(|r| match r {
                            MultiResult::Error { code } if *code != ErrorCode::Ok => Some(*code),
                            _ => None,
                        })
                        .unwrap();
                    h.err(session, req, code)
                }
                Ok(response) => h.call(session, req, zxid, Outcome::Ok { response }),
                Err(code) => h.err(session, req, code),
            };
        }

        fn read(&mut self, session: u64, req: Request, pick: u8, anomaly: Anomaly) {
            let s = session as usize;
            let latest = self.versions.len() - 1;
            let mut v = self.floor[s] + pick as usize % (latest + 1 - self.floor[s]);
            let mut zxid = if v == latest { self.last_zxid } else { self.versions[v].0.max(self.seen[s]) };
            let auth = AuthIds::new();
            // Stale below what the session's replies revealed, so both checkers can tell.
            let below = self.versions.partition_point(|(zx, _)| *zx < self.seen[s]);
            if anomaly == Anomaly::StaleBelowFloor && !self.injected && below > 0 {
                let stale = below - 1;
                if self.versions[stale].1.read(&req, SessionId(session), &auth).is_ok() {
                    v = stale;
                    zxid = self.versions[stale].0;
                    self.injected = true;
                }
            }
            let result = self.versions[v].1.read(&req, SessionId(session), &auth);
            if result.is_ok() {
                self.seen[s] = zxid;
            }
            self.floor[s] = v;
            self.reply(session, req, Some(zxid), result);
        }

        fn run(steps: &[Step], anomaly: Anomaly) -> Server {
            let mut server = Server::new();
            for (n, &(session, kind, p, version, lost, pick)) in steps.iter().enumerate() {
                let s = session as usize;
                let req = request(kind, p, version, &format!("v{n}"));
                if kind == 9 {
                    server.floor[s] = server.versions.len() - 1;
                    let path = PATHS[p].to_string();
                    let zxid = server.last_zxid;
                    // The sync's reply reveals the server's last zxid to the session.
                    server.seen[s] = server.seen[s].max(zxid);
                    server.h = std::mem::replace(&mut server.h, H::new()).ok(
                        session,
                        req,
                        zxid,
                        Response::Sync { path },
                    );
                } else if req.is_read() {
                    if lost {
                        let mut h = std::mem::replace(&mut server.h, H::new());
                        let xid = h.begin(session, req);
                        h.end(session, xid, None, Outcome::ConnectionLoss);
                        server.h = h;
                    } else {
                        server.read(session, req, pick, anomaly);
                    }
                } else if lost {
                    let _ = server.write(session, &req, pick % 2 == 0);
                    let mut h = std::mem::replace(&mut server.h, H::new());
                    let xid = h.begin(session, req);
                    h.end(session, xid, None, Outcome::ConnectionLoss);
                    server.h = h;
                } else {
                    let lose_it = anomaly == Anomaly::LostAckedWrite && !server.injected && kind == 4;
                    let tear = anomaly == Anomaly::TornMulti && !server.injected && kind == 8;
                    let before = server.versions.len();
                    let (zxid, mut result) = server.write(session, &req, !lose_it);
                    let took_effect = server.versions.len() > before;
                    if tear && took_effect {
                        // Replace the new version by one where only the check and setData ran.
                        server.versions.pop();
                        let Request::Multi(ops) = &req else { unreachable!("kind 8 is a multi") };
                        let partial = Request::Multi(ops[..2].to_vec());
                        server.last_zxid -= 1;
                        let _ = server.write(session, &partial, true);
                    }
                    let acked = match &result {
                        Ok(Response::Multi(rs)) => !rs.iter().any(|x| matches!(x, MultiResult::Error { .. })),
                        Ok(_) => true,
                        Err(_) => false,
                    };
                    if anomaly == Anomaly::WrongStat && !server.injected && acked {
                        if let Ok(Response::Stat(st) | Response::Create2 { stat: st, .. }) = &mut result {
                            st.version += 1;
                            server.injected = true;
                        }
                    }
                    // Failed writes are ordered too (they consume a zxid), but reveal none.
                    server.floor[s] = server.versions.len() - 1;
                    if acked {
                        server.seen[s] = zxid;
                    }
                    server.reply(session, req.clone(), Some(zxid), result);
                    let follow = match (lose_it && acked, tear && took_effect) {
                        (true, _) => Some(get(PATHS[p])),
                        (_, true) => Some(exists(PATHS[(p + 1) % 3])),
                        _ => None,
                    };
                    if let Some(read) = follow {
                        server.injected = true;
                        let latest = server.versions.len() - 1;
                        server.floor[s] = latest;
                        server.read(session, read, 0, Anomaly::None);
                    }
                }
            }
            if anomaly == Anomaly::WrongStat && !server.injected {
                server.injected = corrupt_read_stat(&mut server.h);
            }
            if anomaly == Anomaly::OutOfOrderSession {
                server.injected = swap_session_zxids(&mut server.h);
            }
            server
        }
    }

    /// The first getData/exists reply gets a Stat version one too high.
    fn corrupt_read_stat(h: &mut H) -> bool {
        let mut calls = h.calls();
        let found = calls.iter_mut().find_map(|c| match &mut c.outcome {
            Some(Outcome::Ok { response: Response::GetData { stat, .. } | Response::Stat(stat) }) => {
                Some(stat)
            }
            _ => None,
        });
        let Some(stat) = found else { return false };
        stat.version += 1;
        *h = rebuild(calls);
        true
    }

    /// The first session with two replies of different zxids gets them swapped.
    fn swap_session_zxids(h: &mut H) -> bool {
        let mut calls = h.calls();
        let mut last: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
        for i in 0..calls.len() {
            let c = &calls[i];
            if c.zxid.is_none()
                || !matches!(c.outcome, Some(Outcome::Ok { .. }))
                || matches!(c.request, Request::Sync { .. })
            {
                continue;
            }
            if let Some(&j) = last.get(&c.session) {
                if calls[j].zxid != c.zxid {
                    let (a, b) = (calls[j].zxid, calls[i].zxid);
                    calls[j].zxid = b;
                    calls[i].zxid = a;
                    *h = rebuild(calls);
                    return true;
                }
            }
            last.insert(c.session, i);
        }
        false
    }

    fn rebuild(calls: Vec<ZkCall>) -> H {
        let mut h = H::new();
        for c in calls {
            let xid = h.begin(c.session, c.request);
            h.end(c.session, xid, c.zxid, c.outcome.expect("generated calls complete"));
        }
        h
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn honest_histories_pass_both_checkers(steps in proptest::collection::vec(step(), 0..30)) {
            let server = Server::run(&steps, Anomaly::None);
            let j = judge(&server.h.calls());
            prop_assert!(!matches!(j.witness, WitnessVerdict::Violation { .. }), "{:?}", j.witness);
            prop_assert_eq!(j.parts, Verdict::Linearizable);
            prop_assert_eq!(j.whole, Verdict::Linearizable);
        }

        #[test]
        fn every_injected_anomaly_is_flagged_by_both_checkers(
            steps in proptest::collection::vec(step(), 1..30),
            which in 1usize..6,
        ) {
            // No lost calls and no ephemerals: nothing of unknown outcome could explain it.
            let persistent = |kind: u8| if kind == 1 { 0 } else { kind };
            let steps: Vec<Step> =
                steps.into_iter().map(|(s, k, p, v, _, pick)| (s, persistent(k), p, v, false, pick)).collect();
            let anomaly = ANOMALIES[which];
            let server = Server::run(&steps, anomaly);
            let j = judge(&server.h.calls());
            if server.injected {
                prop_assert!(matches!(j.witness, WitnessVerdict::Violation { .. }), "{:?}: {:?}", anomaly, j.witness);
                prop_assert!(matches!(j.whole, Verdict::NotLinearizable(_)), "{:?}: {:?}", anomaly, j.whole);
                if matches!(anomaly, Anomaly::LostAckedWrite | Anomaly::WrongStat | Anomaly::TornMulti) {
                    prop_assert!(matches!(j.parts, Verdict::NotLinearizable(_)), "{:?}: {:?}", anomaly, j.parts);
                }
            } else {
                prop_assert!(!matches!(j.witness, WitnessVerdict::Violation { .. }), "{:?}", j.witness);
                prop_assert_eq!(j.whole, Verdict::Linearizable);
            }
        }

        #[test]
        fn the_checkers_agree_whenever_the_witness_is_conclusive(
            steps in proptest::collection::vec(step(), 1..30),
            which in 0usize..6,
        ) {
            let server = Server::run(&steps, ANOMALIES[which]);
            let j = judge(&server.h.calls());
            match &j.witness {
                WitnessVerdict::Consistent => prop_assert_eq!(&j.whole, &Verdict::Linearizable),
                WitnessVerdict::Violation { .. } => {
                    prop_assert!(matches!(j.whole, Verdict::NotLinearizable(_)), "{:?}", j.whole)
                }
                WitnessVerdict::Inconclusive(_) => {}
            }
            // Per part is a relaxation of the whole search: it never flags more.
            if j.whole == Verdict::Linearizable {
                prop_assert_eq!(j.parts, Verdict::Linearizable);
            }
        }
    }
}
