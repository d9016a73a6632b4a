//! ACLs per operation (reference §3.8, §3.3), authentication, and the read operations.

mod common;

use common::{create, create_acl, create_with, world, Leader};
use zab_tree::proto::CreateKind;
use zab_tree::{
    add_auth, check_acl, digest_id, fixup_acl, Acl, AuthIds, ErrorCode, Id, Perms, Request, Response,
    SessionId, TreeConfig, CREATOR_ALL_ACL, OPEN_ACL_UNSAFE,
};

fn digest_user(user: &str, password: &str) -> AuthIds {
    let mut ids = AuthIds::from_ip("10.0.0.7");
    for id in
        add_auth(&TreeConfig::default(), "digest", format!("{user}:{password}").as_bytes()).expect("digest")
    {
        ids.add(id);
    }
    ids
}

#[test]
fn digest_ids_are_user_and_base64_sha1_of_user_colon_password() {
    // The value the real server stored for alice:secret (probe#106).
    assert_eq!(digest_id("alice", "secret"), "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");
}

#[test]
fn add_auth_accepts_digest_even_with_a_wrong_password_and_refuses_unknown_schemes() {
    let config = TreeConfig::default();
    let ids = add_auth(&config, "digest", b"alice:wrong").expect("digest never fails");
    assert_eq!(ids, vec![Id::new("digest", &digest_id("alice", "wrong"))]);
    assert_eq!(add_auth(&config, "nosuchscheme", b"x"), Err(ErrorCode::AuthFailed));
    assert_eq!(add_auth(&config, "world", b"anyone"), Err(ErrorCode::AuthFailed));
    assert_eq!(add_auth(&config, "ip", b"1.2.3.4"), Ok(vec![]));
}

#[test]
fn the_super_digest_grants_super_which_passes_every_check() {
    let config = TreeConfig { super_digest: Some(digest_id("root", "pw")), ..TreeConfig::default() };
    let mut ids = AuthIds::new();
    for id in add_auth(&config, "digest", b"root:pw").expect("digest") {
        ids.add(id);
    }
    assert!(ids.is_super());
    let alice_only = vec![Acl::new(Perms::ALL, "digest", &digest_id("alice", "secret"))];
    assert!(check_acl(&alice_only, &ids, Perms::ADMIN));
    assert!(!check_acl(&alice_only, &digest_user("root", "other"), Perms::ADMIN));
}

#[test]
fn check_acl_matches_world_digest_and_ip_prefixes() {
    let alice = digest_user("alice", "secret");
    let anon = AuthIds::from_ip("10.0.0.7");
    assert!(check_acl(&[], &anon, Perms::ALL), "an empty ACL allows everything");
    assert!(check_acl(&world(Perms::READ), &anon, Perms::READ));
    assert!(!check_acl(&world(Perms::READ), &anon, Perms::WRITE));
    assert!(check_acl(&world(Perms::READ), &anon, Perms::READ | Perms::ADMIN), "any requested bit suffices");
    let acl = vec![Acl::new(Perms::ALL, "digest", &digest_id("alice", "secret"))];
    assert!(check_acl(&acl, &alice, Perms::WRITE));
    assert!(!check_acl(&acl, &anon, Perms::WRITE));
    for (pattern, allowed) in [
        ("10.0.0.0/8", true),
        ("10.0.0.7", true),
        ("10.0.1.0/24", false),
        ("0.0.0.0/0", true),
        ("10.0.0.8", false),
    ] {
        let acl = vec![Acl::new(Perms::READ, "ip", pattern)];
        assert_eq!(check_acl(&acl, &anon, Perms::READ), allowed, "{pattern}");
    }
}

#[test]
fn fixup_expands_auth_to_every_digest_id_and_rejects_invalid_entries() {
    let mut two = digest_user("alice", "a");
    two.add(Id::new("digest", &digest_id("bob", "b")));
    let fixed = fixup_acl(&CREATOR_ALL_ACL, &two).expect("expands");
    assert_eq!(
        fixed,
        vec![
            Acl::new(Perms::ALL, "digest", &digest_id("alice", "a")),
            Acl::new(Perms::ALL, "digest", &digest_id("bob", "b")),
        ]
    );
    let anon = AuthIds::from_ip("10.0.0.7");
    assert_eq!(
        fixup_acl(&CREATOR_ALL_ACL, &anon),
        Err(ErrorCode::InvalidAcl),
        "ip ids are not authenticated ids"
    );
    assert_eq!(fixup_acl(&[], &anon), Err(ErrorCode::InvalidAcl));
    for (scheme, id) in [
        ("nosuch", "x"),
        ("world", "someone"),
        ("digest", "nocolon"),
        ("digest", "alice:"),
        ("digest", "a:b:c"),
        ("ip", "10.0.0.300"),
        ("ip", "10.0.0.0/33"),
        ("super", ""),
    ] {
        assert_eq!(
            fixup_acl(&[Acl::new(Perms::ALL, scheme, id)], &anon),
            Err(ErrorCode::InvalidAcl),
            "{scheme}:{id}"
        );
    }
    // Java's split drops trailing empty parts, so a trailing ':' still makes two parts.
    let odd = vec![Acl::new(Perms::READ, "digest", "a:b:")];
    assert_eq!(fixup_acl(&odd, &anon), Ok(odd.clone()));
    let dup = vec![OPEN_ACL_UNSAFE[0].clone(), OPEN_ACL_UNSAFE[0].clone()];
    assert_eq!(fixup_acl(&dup, &anon), Ok(OPEN_ACL_UNSAFE.clone()), "duplicates removed");
}

#[test]
fn create_needs_create_on_the_parent() {
    let mut l = Leader::default();
    l.write(create_acl("/p", world(Perms::ALL.without(Perms::CREATE)))).expect("p");
    assert_eq!(l.write(create("/p/c")), Err(ErrorCode::NoAuth));
    l.write(create_acl("/q", world(Perms::CREATE))).expect("q");
    assert!(l.write(create("/q/c")).is_ok());
}

#[test]
fn delete_needs_delete_on_the_parent_not_on_the_node() {
    let mut l = Leader::default();
    l.write(create_acl("/p", world(Perms::ALL.without(Perms::DELETE)))).expect("p");
    l.write(create("/p/c")).expect("c");
    assert_eq!(l.write(Request::Delete { path: "/p/c".into(), version: -1 }), Err(ErrorCode::NoAuth));
    l.write(create_acl("/ro", world(Perms::READ))).expect("read-only node under an open parent");
    assert_eq!(l.write(Request::Delete { path: "/ro".into(), version: -1 }), Ok(Response::Empty));
}

#[test]
fn set_data_needs_write_and_set_acl_needs_admin() {
    let mut l = Leader::default();
    l.write(create_acl("/a", world(Perms::READ | Perms::ADMIN))).expect("a");
    let set = Request::SetData { path: "/a".into(), data: None, version: -1 };
    assert_eq!(l.write(set), Err(ErrorCode::NoAuth));
    let acl = OPEN_ACL_UNSAFE.clone();
    assert!(l.write(Request::SetAcl { path: "/a".into(), acl, version: -1 }).is_ok());
    l.write(create_acl("/b", world(Perms::ALL.without(Perms::ADMIN)))).expect("b");
    let acl = OPEN_ACL_UNSAFE.clone();
    assert_eq!(l.write(Request::SetAcl { path: "/b".into(), acl, version: -1 }), Err(ErrorCode::NoAuth));
    // InvalidACL wins over NoNode.
    assert_eq!(
        l.write(Request::SetAcl { path: "/nope".into(), acl: vec![], version: -1 }),
        Err(ErrorCode::InvalidAcl)
    );
}

#[test]
fn reads_need_read_but_exists_needs_nothing_as_in_3_8_0() {
    let mut l = Leader::default();
    l.write(create_acl("/secret", world(Perms::WRITE))).expect("secret");
    let anon = AuthIds::new();
    let s = SessionId(1);
    let read = |l: &Leader, req: Request| l.tree.read(&req, s, &anon);
    assert!(matches!(
        read(&l, Request::Exists { path: "/secret".into(), watch: false }),
        Ok(Response::Stat(_))
    ));
    for req in [
        Request::GetData { path: "/secret".into(), watch: false },
        Request::GetChildren { path: "/secret".into(), watch: false },
        Request::GetChildren2 { path: "/secret".into(), watch: false },
        Request::GetAllChildrenNumber { path: "/secret".into() },
        Request::GetAcl { path: "/secret".into() },
    ] {
        assert_eq!(read(&l, req.clone()), Err(ErrorCode::NoAuth), "{req:?}");
    }
    // NoNode comes before NoAuth.
    assert_eq!(read(&l, Request::GetData { path: "/nope".into(), watch: false }), Err(ErrorCode::NoNode));
    assert_eq!(read(&l, Request::Exists { path: "/nope".into(), watch: false }), Err(ErrorCode::NoNode));

    let strict = Leader::new(TreeConfig { exists_requires_read: true, ..TreeConfig::default() });
    let mut strict = strict;
    strict.write(create_acl("/secret", world(Perms::WRITE))).expect("secret");
    assert_eq!(
        read(&strict, Request::Exists { path: "/secret".into(), watch: false }),
        Err(ErrorCode::NoAuth)
    );
}

#[test]
fn get_acl_needs_read_or_admin_and_masks_digests_without_admin() {
    let mut l = Leader::default();
    let alice = Acl::new(Perms::ALL, "digest", &digest_id("alice", "secret"));
    l.write(create_acl("/a", vec![alice.clone(), Acl::new(Perms::READ, "world", "anyone")])).expect("a");
    l.write(create_acl("/admin_only", vec![Acl::new(Perms::ADMIN, "world", "anyone")])).expect("admin_only");
    let anon = AuthIds::new();
    let get =
        |path: &str, ids: &AuthIds| l.tree.read(&Request::GetAcl { path: path.into() }, SessionId(1), ids);
    let Ok(Response::GetAcl { acl, .. }) = get("/a", &anon) else { panic!() };
    assert_eq!(acl[0].id.id, "alice:x");
    assert_eq!(acl[1], Acl::new(Perms::READ, "world", "anyone"));
    let Ok(Response::GetAcl { acl, .. }) = get("/a", &digest_user("alice", "secret")) else { panic!() };
    assert_eq!(acl[0], alice);
    assert!(get("/admin_only", &anon).is_ok(), "ADMIN alone also allows getACL");
}

#[test]
fn get_children_is_sorted_and_get_all_children_number_counts_descendants() {
    let mut l = Leader::default();
    for p in ["/p", "/p/b", "/p/a", "/p/a/x", "/p/a/y", "/pq"] {
        l.write(create(p)).expect("create");
    }
    let anon = AuthIds::new();
    let read = |req: Request| l.tree.read(&req, SessionId(1), &anon);
    assert_eq!(
        read(Request::GetChildren { path: "/p".into(), watch: false }),
        Ok(Response::GetChildren { children: vec!["a".into(), "b".into()] })
    );
    assert_eq!(read(Request::GetAllChildrenNumber { path: "/p".into() }), Ok(Response::AllChildrenNumber(4)));
    // "/" counts every node but itself.
    assert_eq!(read(Request::GetAllChildrenNumber { path: "/".into() }), Ok(Response::AllChildrenNumber(9)));
    let Ok(Response::GetChildren2 { stat, .. }) =
        read(Request::GetChildren2 { path: "/p/a".into(), watch: false })
    else {
        panic!()
    };
    assert_eq!(stat.num_children, 2);
}

#[test]
fn get_ephemerals_lists_only_the_calling_sessions_nodes_under_the_prefix() {
    let mut l = Leader::default();
    let (s1, s2) = (SessionId(11), SessionId(12));
    l.open_session(s1);
    l.open_session(s2);
    l.write(create("/x")).expect("x");
    let anon = AuthIds::new();
    for (s, p) in [(s1, "/x/e1"), (s1, "/e2"), (s2, "/x/e3")] {
        assert!(l.write_as(s, &anon, create_with(p, 1, CreateKind::Create)).result.is_ok());
    }
    let eph = |s, prefix: &str| l.tree.read(&Request::GetEphemerals { prefix: prefix.into() }, s, &anon);
    assert_eq!(eph(s1, "/"), Ok(Response::Ephemerals(vec!["/e2".into(), "/x/e1".into()])));
    assert_eq!(eph(s1, ""), Ok(Response::Ephemerals(vec!["/e2".into(), "/x/e1".into()])));
    assert_eq!(eph(s1, "/x"), Ok(Response::Ephemerals(vec!["/x/e1".into()])));
    assert_eq!(eph(s2, "/"), Ok(Response::Ephemerals(vec!["/x/e3".into()])));
    assert_eq!(eph(SessionId(99), "/"), Ok(Response::Ephemerals(vec![])));
}

#[test]
fn a_write_of_an_expired_moved_or_closing_session_fails_with_its_session_error() {
    use zab_tree::{PrepContext, Preparer, SessionStatus};
    let tree = zab_tree::DataTree::default();
    let auth = AuthIds::new();
    let mut prep = Preparer::new();
    let mut ctx = PrepContext {
        session: SessionId(3),
        cxid: 1,
        zxid: zab_tree::Zxid(5),
        time_ms: 0,
        auth: &auth,
        session_status: SessionStatus::Expired,
    };
    let body = |prep: &mut Preparer, ctx: &PrepContext<'_>, req: &Request| prep.prepare(&tree, ctx, req).body;
    let err = |code| zab_tree::TxnBody::Error { code };
    assert_eq!(body(&mut prep, &ctx, &create("/a")), err(ErrorCode::SessionExpired));
    ctx.session_status = SessionStatus::Moved;
    assert_eq!(body(&mut prep, &ctx, &create("/a")), err(ErrorCode::SessionMoved));
    ctx.session_status = SessionStatus::Local;
    assert_eq!(
        body(&mut prep, &ctx, &create_with("/e", 1, CreateKind::Create)),
        err(ErrorCode::EphemeralOnLocalSession)
    );
    assert!(
        !prep.prepare(&tree, &ctx, &create("/a")).is_error(),
        "a local session may create persistent nodes"
    );
    ctx.session_status = SessionStatus::Active;
    prep.prepare_close_session(&tree, &ctx);
    assert_eq!(
        body(&mut prep, &ctx, &create("/b")),
        err(ErrorCode::SessionExpired),
        "closing sessions cannot write"
    );
}
