//! Create modes (reference §3.2), sequential naming (§3.6) and the Stat fields after each kind
//! of write (§3.5).

mod common;

use common::{create, create_with, delete, set, Leader};
use zab_tree::proto::CreateKind;
use zab_tree::{
    DataTree, ErrorCode, OwnerKind, Request, Response, SessionId, Stat, TreeConfig, Txn, TxnBody, Zxid,
    OPEN_ACL_UNSAFE,
};

#[test]
fn a_fresh_tree_has_the_four_system_nodes_with_zero_stats() {
    let tree = DataTree::default();
    let paths: Vec<&str> = tree.paths().collect();
    assert_eq!(paths, ["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"]);
    let root = tree.stat("/").expect("root");
    assert_eq!((root.czxid, root.mzxid, root.pzxid, root.version), (Zxid::ZERO, Zxid::ZERO, Zxid::ZERO, 0));
    assert_eq!(root.num_children, 1);
    // No child create was ever counted, so cversion reports 2×0 − 1, as the real server does.
    assert_eq!(root.cversion, -1);
    assert_eq!(tree.stat("/zookeeper").expect("zk").cversion, -2);
    let config_acl = tree.node("/zookeeper/config").expect("config").acl.to_vec();
    assert_eq!(config_acl, zab_tree::READ_ACL_UNSAFE.clone());
    assert_eq!(tree.last_processed_zxid(), Zxid::ZERO);
}

#[test]
fn persistent_create_stamps_every_stat_field() {
    let mut l = Leader::default();
    let applied = l.write_as(SessionId(9), &Default::default(), create_with("/a", 0, CreateKind::Create2));
    let Ok(Response::Create2 { path, stat }) = applied.result else { panic!("{:?}", applied.result) };
    assert_eq!(path, "/a");
    let z = l.log[0].zxid;
    assert_eq!((stat.czxid, stat.mzxid, stat.pzxid), (z, z, z));
    assert_eq!(stat.ctime_ms, l.log[0].time_ms);
    assert_eq!(stat.mtime_ms, stat.ctime_ms);
    assert_eq!((stat.version, stat.cversion, stat.aversion), (0, 0, 0));
    assert_eq!(stat.ephemeral_owner, SessionId::NONE);
    assert_eq!((stat.data_length, stat.num_children), (1, 0));
}

#[test]
fn create_replies_with_the_path_and_create2_adds_the_stat() {
    let mut l = Leader::default();
    assert_eq!(l.write(create("/a")), Ok(Response::Create { path: "/a".into() }));
    assert!(matches!(l.write(create_with("/b", 0, CreateKind::Create2)), Ok(Response::Create2 { .. })));
}

#[test]
fn ephemeral_nodes_belong_to_their_session_and_cannot_have_children() {
    let mut l = Leader::default();
    let s = SessionId(0x42);
    l.open_session(s);
    let applied = l.write_as(s, &Default::default(), create_with("/e", 1, CreateKind::Create));
    assert!(applied.result.is_ok());
    assert_eq!(l.stat("/e").ephemeral_owner, s);
    assert_eq!(l.tree.ephemerals_of(s).collect::<Vec<_>>(), ["/e"]);
    assert_eq!(l.write(create("/e/c")), Err(ErrorCode::NoChildrenForEphemerals));
}

#[test]
fn sequential_suffix_is_the_parents_create_counter_and_deletes_do_not_advance_it() {
    let mut l = Leader::default();
    l.write(create("/q")).expect("parent");
    let seq = |l: &mut Leader, p: &str| match l.write(create_with(p, 2, CreateKind::Create)) {
        Ok(Response::Create { path }) => path,
        other => panic!("{other:?}"),
    };
    assert_eq!(seq(&mut l, "/q/s-"), "/q/s-0000000000");
    assert_eq!(seq(&mut l, "/q/s-"), "/q/s-0000000001");
    l.write(create("/q/plain")).expect("non-sequential creates count too");
    l.write(delete("/q/s-0000000000")).expect("delete");
    assert_eq!(seq(&mut l, "/q/t-"), "/q/t-0000000003");
    // Failed creates do not count.
    assert_eq!(l.write(create("/q/plain")), Err(ErrorCode::NodeExists));
    // A trailing slash is fine when the suffix follows it.
    assert_eq!(seq(&mut l, "/q/"), "/q/0000000004");
    // cversion as clients see it: 5 creates + 1 delete.
    assert_eq!(l.stat("/q").cversion, 6);
}

#[test]
fn sequential_suffix_is_signed_and_wraps_like_a_java_int() {
    let mut l = Leader::default();
    l.write(create("/q")).expect("parent");
    // Force the parent's counter to i32::MAX through a replayed create.
    let txn = Txn {
        zxid: l.next_zxid,
        session: SessionId(1),
        cxid: 0,
        time_ms: 0,
        body: TxnBody::Create {
            path: "/q/x".into(),
            data: None,
            acl: OPEN_ACL_UNSAFE.clone(),
            ephemeral_owner: SessionId::NONE,
            parent_cversion: i32::MAX,
            with_stat: false,
        },
        digest: None,
    };
    l.next_zxid = l.next_zxid.next();
    l.commit(&txn);
    let first = l.write(create_with("/q/s", 2, CreateKind::Create));
    let Ok(Response::Create { path }) = first else { panic!("{first:?}") };
    assert_eq!(path, "/q/s2147483647");
    let Ok(Response::Create { path }) = l.write(create_with("/q/s", 2, CreateKind::Create)) else { panic!() };
    assert_eq!(path, "/q/s-2147483648");
}

#[test]
fn only_the_create_container_opcode_makes_a_container() {
    let mut l = Leader::default();
    l.write(create_with("/c19", 4, CreateKind::Container)).expect("container");
    l.write(create_with("/c19f0", 0, CreateKind::Container)).expect("opcode 19 with flags 0");
    l.write(create_with("/c15", 4, CreateKind::Create2)).expect("create2 with container flag");
    let owner = |l: &Leader, p: &str| l.tree.node(p).expect("exists").stat.ephemeral_owner.owner_kind();
    assert_eq!(owner(&l, "/c19"), OwnerKind::Container);
    assert_eq!(owner(&l, "/c19f0"), OwnerKind::Container);
    assert_eq!(owner(&l, "/c15"), OwnerKind::Persistent);
    // Clients never see the container marker.
    assert_eq!(l.stat("/c19").ephemeral_owner, SessionId::NONE);
}

#[test]
fn ttl_creates_are_unimplemented_unless_extended_types_are_enabled() {
    let mut l = Leader::default();
    assert_eq!(l.write(create_with("/t", 5, CreateKind::Ttl(60_000))), Err(ErrorCode::Unimplemented));
    assert_eq!(l.write(create_with("/t", 6, CreateKind::Ttl(0))), Err(ErrorCode::Unimplemented));
    assert!(l.log.iter().all(Txn::is_error), "failed creates are still txns");

    let mut l = Leader::new(TreeConfig { extended_types: true, ..TreeConfig::default() });
    assert_eq!(l.write(create_with("/t", 5, CreateKind::Ttl(0))), Err(ErrorCode::BadArguments));
    assert_eq!(l.write(create_with("/t", 5, CreateKind::Ttl(1 << 40))), Err(ErrorCode::BadArguments));
    assert_eq!(
        l.write(create_with("/t", 0, CreateKind::Ttl(100))),
        Err(ErrorCode::BadArguments),
        "TTL on a non-TTL mode"
    );
    assert_eq!(
        l.write(create_with("/t", 5, CreateKind::Create2)),
        Err(ErrorCode::BadArguments),
        "TTL mode without a TTL"
    );
    let Ok(Response::Create2 { stat, .. }) = l.write(create_with("/t", 5, CreateKind::Ttl(100))) else {
        panic!()
    };
    assert_eq!(stat.ephemeral_owner, SessionId::NONE);
    assert_eq!(
        l.tree.node("/t").expect("t").stat.ephemeral_owner.owner_kind(),
        OwnerKind::Ttl { ttl_ms: 100 }
    );
    let Ok(Response::Create2 { path, .. }) = l.write(create_with("/s", 6, CreateKind::Ttl(100))) else {
        panic!()
    };
    // "/" counted one create ("/t"); the failed ones do not count.
    assert_eq!(path, "/s0000000001");
}

#[test]
fn unknown_flags_are_bad_arguments() {
    let mut l = Leader::default();
    assert_eq!(l.write(create_with("/x", 9, CreateKind::Create)), Err(ErrorCode::BadArguments));
    assert_eq!(l.write(create_with("/x", -1, CreateKind::Create)), Err(ErrorCode::BadArguments));
}

#[test]
fn a_failed_write_consumes_a_zxid_and_changes_nothing() {
    let mut l = Leader::default();
    l.write(create("/a")).expect("create");
    let digest = l.tree.digest();
    let before = l.stat("/a");
    assert_eq!(
        l.write(Request::SetData { path: "/a".into(), data: None, version: 7 }),
        Err(ErrorCode::BadVersion)
    );
    assert_eq!(l.log.len(), 2);
    assert!(l.log[1].is_error());
    assert_eq!(l.tree.last_processed_zxid(), l.log[1].zxid);
    assert_eq!(l.stat("/a"), before);
    assert_eq!(l.tree.digest(), digest);
    l.write(set("/a", b"x")).expect("set");
    assert_eq!(l.stat("/a").mzxid, l.log[2].zxid, "the next write gets the zxid after the failed one");
    assert_eq!(l.log[2].zxid.counter(), l.log[1].zxid.counter() + 1);
}

#[test]
fn set_data_bumps_version_mzxid_and_mtime_even_for_identical_data() {
    let mut l = Leader::default();
    l.write(create("/a")).expect("create");
    let created: Stat = l.stat("/a");
    for round in 1..=2 {
        let Ok(Response::Stat(stat)) = l.write(set("/a", b"same")) else { panic!() };
        assert_eq!(stat.version, round);
        assert_eq!(stat.mzxid, l.log.last().expect("txn").zxid);
        assert!(stat.mtime_ms > created.ctime_ms);
        assert_eq!((stat.czxid, stat.ctime_ms, stat.pzxid), (created.czxid, created.ctime_ms, created.pzxid));
        assert_eq!(stat.data_length, 4);
    }
    assert_eq!(l.write(Request::SetData { path: "/a".into(), data: None, version: 2 }).map(|_| ()), Ok(()));
    assert_eq!(l.stat("/a").data_length, 0, "null data has length 0");
}

#[test]
fn child_creates_and_deletes_move_pzxid_and_cversion_but_child_set_data_does_not() {
    let mut l = Leader::default();
    l.write(create("/p")).expect("p");
    l.write(create("/p/a")).expect("a");
    let after_create = l.stat("/p");
    assert_eq!(after_create.pzxid, l.log[1].zxid);
    assert_eq!((after_create.cversion, after_create.num_children), (1, 1));
    l.write(set("/p/a", b"x")).expect("set child");
    assert_eq!(l.stat("/p").pzxid, after_create.pzxid);
    assert_eq!(l.stat("/p").mzxid, after_create.mzxid);
    l.write(delete("/p/a")).expect("delete");
    let after_delete = l.stat("/p");
    assert_eq!(after_delete.pzxid, l.log[3].zxid);
    assert_eq!((after_delete.cversion, after_delete.num_children), (2, 0));
}

#[test]
fn set_acl_bumps_aversion_only() {
    let mut l = Leader::default();
    l.write(create("/a")).expect("a");
    let before = l.stat("/a");
    let acl = zab_tree::READ_ACL_UNSAFE.clone();
    let Ok(Response::Stat(stat)) = l.write(Request::SetAcl { path: "/a".into(), acl, version: 0 }) else {
        panic!()
    };
    assert_eq!(stat.aversion, 1);
    assert_eq!(Stat { aversion: 0, ..stat }, before);
    l.write(create("/b")).expect("b");
    let acl = zab_tree::READ_ACL_UNSAFE.clone();
    assert_eq!(l.write(Request::SetAcl { path: "/b".into(), acl, version: 1 }), Err(ErrorCode::BadVersion));
    // "/a" no longer grants ADMIN to anyone, and permission is checked before the version.
    let acl = OPEN_ACL_UNSAFE.clone();
    assert_eq!(l.write(Request::SetAcl { path: "/a".into(), acl, version: 7 }), Err(ErrorCode::NoAuth));
}

#[test]
fn delete_checks_in_order_special_path_parent_permission_node_version_children() {
    let mut l = Leader::default();
    for special in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert_eq!(l.write(delete(special)), Err(ErrorCode::BadArguments), "{special}");
    }
    assert_eq!(l.write(delete("/nope/x")), Err(ErrorCode::NoNode));
    assert_eq!(l.write(delete("/nope")), Err(ErrorCode::NoNode));
    l.write(create("/a")).expect("a");
    l.write(create("/a/b")).expect("b");
    // BadVersion is checked before NotEmpty.
    assert_eq!(l.write(Request::Delete { path: "/a".into(), version: 3 }), Err(ErrorCode::BadVersion));
    assert_eq!(l.write(Request::Delete { path: "/a".into(), version: 0 }), Err(ErrorCode::NotEmpty));
    assert_eq!(l.write(delete("/a/b")), Ok(Response::Empty));
}

#[test]
fn create_checks_acl_before_the_parent_and_the_full_path_after_it() {
    let mut l = Leader::default();
    let raw = |path: &str, acl: Vec<zab_tree::Acl>| Request::Create {
        path: path.into(),
        data: None,
        acl,
        flags: 0,
        kind: CreateKind::Create,
    };
    assert_eq!(l.write(raw("/nope/x", Vec::new())), Err(ErrorCode::InvalidAcl));
    assert_eq!(l.write(raw("/bad/", OPEN_ACL_UNSAFE.clone())), Err(ErrorCode::NoNode));
    assert_eq!(l.write(raw("/nope//x", OPEN_ACL_UNSAFE.clone())), Err(ErrorCode::NoNode));
    // The parent of "//x" is "/", which exists, so the full path is checked and refused.
    assert_eq!(l.write(raw("//x", OPEN_ACL_UNSAFE.clone())), Err(ErrorCode::BadArguments));
    l.write(create("/a")).expect("a");
    assert_eq!(l.write(raw("/a/", OPEN_ACL_UNSAFE.clone())), Err(ErrorCode::BadArguments));
    assert_eq!(l.write(raw("/a/..", OPEN_ACL_UNSAFE.clone())), Err(ErrorCode::BadArguments));
    assert_eq!(l.write(raw("rel", OPEN_ACL_UNSAFE.clone())), Err(ErrorCode::BadArguments));
    assert_eq!(l.write(raw("/a\u{0}b", OPEN_ACL_UNSAFE.clone())), Err(ErrorCode::BadArguments));
    assert_eq!(l.write(raw("/", OPEN_ACL_UNSAFE.clone())), Err(ErrorCode::NodeExists));
    assert!(
        l.write(raw("/zookeeper/mine", OPEN_ACL_UNSAFE.clone())).is_ok(),
        "/zookeeper is reserved by convention only"
    );
}

#[test]
fn containers_are_reaped_only_after_they_once_had_a_child() {
    let mut l = Leader::default();
    l.write(create_with("/used", 4, CreateKind::Container)).expect("container");
    l.write(create_with("/never", 4, CreateKind::Container)).expect("container");
    l.write(create("/plain")).expect("plain");
    l.write(create("/used/x")).expect("child");
    assert!(l.tree.reap_candidates(i64::MAX).is_empty(), "a container with a child stays");
    l.write(delete("/used/x")).expect("delete child");
    l.write(create("/plain/x")).expect("child");
    l.write(delete("/plain/x")).expect("delete");
    assert_eq!(l.tree.reap_candidates(0), ["/used"]);
}

#[test]
fn ttl_nodes_are_reaped_when_their_mtime_is_older_than_the_ttl() {
    let mut l = Leader::new(TreeConfig { extended_types: true, ..TreeConfig::default() });
    l.write(create_with("/t", 5, CreateKind::Ttl(100))).expect("ttl");
    let mtime = l.stat("/t").mtime_ms;
    assert!(l.tree.reap_candidates(mtime + 100).is_empty());
    assert_eq!(l.tree.reap_candidates(mtime + 101), ["/t"]);
    l.write(set("/t", b"touch")).expect("setData refreshes mtime");
    assert!(l.tree.reap_candidates(mtime + 101).is_empty());
}

#[test]
fn delete_container_refuses_nodes_with_children_and_session_ephemerals() {
    let mut l = Leader::default();
    l.write(create_with("/c", 4, CreateKind::Container)).expect("c");
    l.write(create("/c/x")).expect("x");
    let s = SessionId(5);
    l.open_session(s);
    l.write_as(s, &Default::default(), create_with("/e", 1, CreateKind::Create));
    let reap = |l: &mut Leader, p: &str| l.write(Request::DeleteContainer { path: p.into() });
    assert_eq!(reap(&mut l, "/c"), Err(ErrorCode::NotEmpty));
    assert_eq!(reap(&mut l, "/e"), Err(ErrorCode::BadVersion));
    assert_eq!(reap(&mut l, "/gone"), Err(ErrorCode::NoNode));
    l.write(delete("/c/x")).expect("delete child");
    assert_eq!(reap(&mut l, "/c"), Ok(Response::Empty));
}

#[test]
fn replaying_a_create_that_finds_its_node_still_raises_the_parents_counter_and_pzxid() {
    let mut tree = DataTree::default();
    let create_txn = |zxid: u64, parent_cversion: i32| Txn {
        zxid: Zxid(zxid),
        session: SessionId(1),
        cxid: 0,
        time_ms: 5,
        body: TxnBody::Create {
            path: "/a".into(),
            data: None,
            acl: OPEN_ACL_UNSAFE.clone(),
            ephemeral_owner: SessionId::NONE,
            parent_cversion,
            with_stat: false,
        },
        digest: None,
    };
    assert!(tree.apply(&create_txn(1, 1)).result.is_ok());
    let replay = tree.apply(&create_txn(7, 4));
    assert_eq!(replay.result, Err(ErrorCode::NodeExists));
    assert!(replay.triggers.is_empty());
    assert_eq!(tree.node("/").expect("root").stat.cversion, 4);
    assert_eq!(tree.stat("/").expect("root").pzxid, Zxid(7));
    // Never backwards.
    tree.apply(&create_txn(9, 2));
    assert_eq!(tree.node("/").expect("root").stat.cversion, 4);
    assert_eq!(tree.stat("/").expect("root").pzxid, Zxid(7));
    assert_eq!(tree.last_processed_zxid(), Zxid(9));
    tree.check_invariants();
}

#[test]
fn replaying_a_delete_of_a_missing_node_still_raises_the_parents_pzxid() {
    let mut tree = DataTree::default();
    let txn = Txn {
        zxid: Zxid(12),
        session: SessionId(1),
        cxid: 0,
        time_ms: 0,
        body: TxnBody::Delete { path: "/gone".into() },
        digest: None,
    };
    let applied = tree.apply(&txn);
    assert_eq!(applied.result, Err(ErrorCode::NoNode));
    assert_eq!(tree.stat("/").expect("root").pzxid, Zxid(12));
    assert_eq!(tree.last_processed_zxid(), Zxid(12));
}

#[test]
fn a_txn_digest_that_disagrees_with_the_tree_is_reported_not_fatal() {
    let mut l = Leader::default();
    let mut txn = l.prepare(SessionId(1), &Default::default(), &create("/a"));
    let mut replica = l.tree.clone();
    let mut probe = l.tree.clone();
    probe.apply(&txn);
    txn.digest = Some(probe.digest());
    assert!(!replica.apply(&txn).digest_mismatch);
    let mut other = l.tree.clone();
    txn.digest = Some(probe.digest() ^ 1);
    assert!(other.apply(&txn).digest_mismatch);
    assert_eq!(other, replica, "the mismatch changes nothing else");
}

#[test]
fn the_digest_ignores_the_zookeeper_subtree_but_not_zookeeper_itself() {
    let mut l = Leader::default();
    let before = l.tree.digest();
    l.write(create("/zookeeper/x")).expect("create");
    // "/zookeeper" changed (pzxid, cversion), "/zookeeper/x" does not count.
    assert_ne!(l.tree.digest(), before);
    let mut without_child = l.tree.clone();
    assert_eq!(without_child.recompute_digest(), l.tree.digest());
    let txn = Txn {
        zxid: l.next_zxid,
        session: SessionId(1),
        cxid: 0,
        time_ms: 0,
        body: TxnBody::SetData { path: "/zookeeper/x".into(), data: Some(b"zz".to_vec()), version: 1 },
        digest: None,
    };
    let d = without_child.digest();
    without_child.apply(&txn);
    assert_eq!(without_child.digest(), d);
}

#[test]
fn applying_a_create_with_an_invalid_path_is_refused() {
    let mut tree = DataTree::default();
    let digest = tree.digest();
    for path in ["/zookeeper/", "/a//b", "/."] {
        let txn = Txn {
            zxid: Zxid(1),
            session: SessionId(1),
            cxid: 0,
            time_ms: 0,
            body: TxnBody::Create {
                path: path.into(),
                data: None,
                acl: OPEN_ACL_UNSAFE.clone(),
                ephemeral_owner: SessionId::NONE,
                parent_cversion: 1,
                with_stat: false,
            },
            digest: None,
        };
        assert_eq!(tree.apply(&txn).result, Err(ErrorCode::BadArguments), "{path}");
    }
    assert_eq!(tree.node_count(), 4);
    assert_eq!(tree.digest(), digest);
}
