//! The leader's prepare step against pending (prepared, not yet applied) txns, and multi
//! (reference §3.4).

mod common;

use common::{create, create_with, delete, set, Leader};
use zab_tree::proto::CreateKind;
use zab_tree::{AuthIds, ErrorCode, MultiResult, Request, Response, SessionId, TxnBody};

fn check(path: &str, version: i32) -> Request {
    Request::Check { path: path.into(), version }
}

#[test]
fn a_create_under_a_parent_whose_create_is_still_pending_succeeds() {
    let mut l = Leader::default();
    let auth = AuthIds::new();
    let s = SessionId(1);
    let a = l.prepare(s, &auth, &create("/a"));
    let b = l.prepare(s, &auth, &create("/a/b"));
    assert!(!a.is_error() && !b.is_error(), "{b:?}");
    // The same create again is NodeExists against the pending state.
    let again = l.prepare(s, &auth, &create("/a"));
    assert_eq!(again.body, TxnBody::Error { code: ErrorCode::NodeExists });
    for txn in [&a, &b, &again] {
        l.commit(txn);
    }
    assert!(l.tree.node("/a/b").is_some());
    assert_eq!(l.prep.outstanding_count(), 0, "applied txns drop their change records");
}

#[test]
fn sequential_numbers_come_from_the_pending_counter() {
    let mut l = Leader::default();
    let auth = AuthIds::new();
    let s = SessionId(1);
    let t1 = l.prepare(s, &auth, &create_with("/s-", 2, CreateKind::Create));
    let t2 = l.prepare(s, &auth, &create_with("/s-", 2, CreateKind::Create));
    let paths: Vec<String> = [&t1, &t2]
        .iter()
        .map(|t| match &t.body {
            TxnBody::Create { path, .. } => path.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    // The second create sees the counter the first one will leave behind.
    assert_eq!(paths, ["/s-0000000000", "/s-0000000001"]);
}

#[test]
fn pending_deletes_and_set_data_are_visible_to_later_prepares() {
    let mut l = Leader::default();
    l.write(create("/a")).expect("a");
    let auth = AuthIds::new();
    let s = SessionId(1);
    let del = l.prepare(s, &auth, &delete("/a"));
    assert!(!del.is_error());
    assert_eq!(l.prepare(s, &auth, &set("/a", b"x")).body, TxnBody::Error { code: ErrorCode::NoNode });
    assert!(!l.prepare(s, &auth, &create("/a")).is_error(), "recreating a pending delete is fine");
    let v = l.prepare(s, &auth, &set("/a", b"x"));
    assert_eq!(v.body, TxnBody::SetData { path: "/a".into(), data: Some(b"x".to_vec()), version: 1 });
    let checked = l.prepare(s, &auth, &Request::SetData { path: "/a".into(), data: None, version: 1 });
    assert!(!checked.is_error(), "the version after the pending setData is 1");
}

#[test]
fn clear_forgets_pending_changes() {
    let mut l = Leader::default();
    let auth = AuthIds::new();
    l.prepare(SessionId(1), &auth, &create("/a"));
    assert!(l.prep.outstanding_count() > 0);
    l.prep.clear();
    assert_eq!(l.prep.outstanding_count(), 0);
    assert_eq!(
        l.prepare(SessionId(1), &auth, &create("/a/b")).body,
        TxnBody::Error { code: ErrorCode::NoNode }
    );
}

#[test]
fn close_session_lists_applied_and_pending_ephemerals_but_not_pending_deletes() {
    let mut l = Leader::default();
    let s = SessionId(7);
    let auth = AuthIds::new();
    l.open_session(s);
    assert_eq!(l.tree.sessions().get(&s), Some(&30_000), "createSession fills the sessions table");
    l.write_as(s, &auth, create_with("/e1", 1, CreateKind::Create));
    l.write_as(s, &auth, create_with("/e2", 1, CreateKind::Create));
    let pending_create = l.prepare(s, &auth, &create_with("/e3", 1, CreateKind::Create));
    let pending_delete = l.prepare(s, &auth, &delete("/e1"));
    let close = l.prepare(s, &auth, &Request::CloseSession);
    assert_eq!(close.body, TxnBody::CloseSession { paths_to_delete: vec!["/e2".into(), "/e3".into()] });
    for txn in [&pending_create, &pending_delete, &close] {
        l.commit(txn);
    }
    assert_eq!(l.tree.ephemerals_of(s).count(), 0);
    assert!(!l.tree.sessions().contains_key(&s));
    assert_eq!(l.tree.node_count(), 4);
}

#[test]
fn a_successful_multi_applies_every_op_under_one_zxid() {
    let mut l = Leader::default();
    let r = l.write(Request::Multi(vec![
        create("/m"),
        set("/m", b"v"),
        check("/m", 1),
        create_with("/m/c", 0, CreateKind::Create2),
        delete("/m/c"),
    ]));
    let Ok(Response::Multi(results)) = r else { panic!("{r:?}") };
    let zxid = l.log[0].zxid;
    assert!(matches!(&results[0], MultiResult::Create { path, stat: None } if path == "/m"));
    assert!(matches!(&results[1], MultiResult::SetData { stat } if stat.version == 1 && stat.mzxid == zxid));
    assert_eq!(results[2], MultiResult::Check);
    assert!(matches!(&results[3], MultiResult::Create { stat: Some(s), .. } if s.czxid == zxid));
    assert_eq!(results[4], MultiResult::Delete);
    let m = l.stat("/m");
    assert_eq!((m.czxid, m.pzxid, m.cversion, m.num_children), (zxid, zxid, 2, 0));
    assert_eq!(l.tree.last_processed_zxid(), zxid);
}

#[test]
fn a_failed_multi_reports_rolled_back_the_error_and_runtime_inconsistency_and_changes_nothing() {
    let mut l = Leader::default();
    l.write(create("/m1")).expect("m1");
    let digest = l.tree.digest();
    let r = l.write(Request::Multi(vec![create("/m2"), set("/nope", b"x"), create("/m3")]));
    let errors = |codes: &[ErrorCode]| {
        Ok(Response::Multi(codes.iter().map(|code| MultiResult::Error { code: *code }).collect()))
    };
    assert_eq!(r, errors(&[ErrorCode::Ok, ErrorCode::NoNode, ErrorCode::RuntimeInconsistency]));
    assert!(l.tree.node("/m2").is_none());
    assert_eq!(l.tree.digest(), digest);
    assert_eq!(l.tree.last_processed_zxid(), l.log[1].zxid, "the failed multi consumed a zxid");
    // Its change records were rolled back: /m2 can be created right away.
    assert!(l.write(create("/m2")).is_ok());
    // A create that collides with an earlier op of the same multi.
    let r = l.write(Request::Multi(vec![create("/m5"), delete("/m1"), create("/m5")]));
    assert_eq!(r, errors(&[ErrorCode::Ok, ErrorCode::Ok, ErrorCode::NodeExists]));
    assert!(l.tree.node("/m1").is_some());
    let r = l.write(Request::Multi(vec![check("/m1", 99), create("/m4")]));
    assert_eq!(r, errors(&[ErrorCode::BadVersion, ErrorCode::RuntimeInconsistency]));
}

#[test]
fn a_multi_with_a_non_write_op_fails_at_that_op() {
    let mut l = Leader::default();
    let r = l.write(Request::Multi(vec![create("/a"), Request::Sync { path: "/".into() }]));
    let expected = vec![
        MultiResult::Error { code: ErrorCode::Ok },
        MultiResult::Error { code: ErrorCode::BadArguments },
    ];
    assert_eq!(r, Ok(Response::Multi(expected)));
}

#[test]
fn an_empty_multi_succeeds_and_consumes_a_zxid() {
    let mut l = Leader::default();
    assert_eq!(l.write(Request::Multi(vec![])), Ok(Response::Multi(vec![])));
    assert_eq!(l.tree.last_processed_zxid(), l.log[0].zxid);
}

#[test]
fn a_multi_fires_its_watches_in_op_order() {
    let mut l = Leader::default();
    for p in ["/w1", "/w2"] {
        l.write(create(p)).expect("create");
    }
    let mut w = zab_tree::WatchManager::<u32>::new();
    w.add_data_watch("/w1", 1);
    w.add_data_watch("/w2", 1);
    w.add_child_watch("/", 1);
    let multi = Request::Multi(vec![set("/w2", b"a"), set("/w1", b"b"), create("/x")]);
    let applied = l.write_as(SessionId(1), &AuthIds::new(), multi);
    assert_eq!(
        common::watcher_events(&mut w, &applied),
        [
            (1, "NodeDataChanged".to_string(), "/w2".to_string()),
            (1, "NodeDataChanged".to_string(), "/w1".to_string()),
            (1, "NodeChildrenChanged".to_string(), "/".to_string()),
        ]
    );
}

#[test]
fn close_session_skips_an_ephemeral_that_a_pending_multi_replaced_with_a_persistent_node() {
    let mut l = Leader::default();
    let (owner, other) = (SessionId(3), SessionId(1));
    let auth = AuthIds::new();
    l.open_session(owner);
    l.write_as(owner, &auth, create_with("/b", 1, CreateKind::Create));
    let replace = l.prepare(other, &auth, &Request::Multi(vec![delete("/b"), create("/b")]));
    let child = l.prepare(other, &auth, &create("/b/a"));
    let close = l.prepare(owner, &auth, &Request::CloseSession);
    assert_eq!(close.body, TxnBody::CloseSession { paths_to_delete: vec![] });
    for txn in [&replace, &child, &close] {
        l.commit(txn);
    }
    assert!(l.tree.node("/b/a").is_some(), "the persistent replacement and its child survive");
}
