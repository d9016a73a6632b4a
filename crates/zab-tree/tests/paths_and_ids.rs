//! Path validation (reference §3.1), identifiers, error codes and the protocol's numbers.

use zab_tree::path::{explain_invalid_path, is_within, name_of, parent_of};
use zab_tree::proto::CreateKind;
use zab_tree::{
    session_password, validate_path, Acl, ErrorCode, EventType, KeeperState, OpCode, OwnerKind, Request,
    SessionId, WatcherType, Zxid, MAX_REQUEST_BYTES,
};

#[test]
fn path_validation_follows_every_rule_of_the_server() {
    let table: &[(&str, Option<&str>)] = &[
        ("/", None),
        ("/a", None),
        ("/a/b-c_d.e", None),
        ("/zookeeper/x", None),
        ("/a/...", None),
        ("/a/.b", None),
        ("/\u{e9}t\u{e9}", None),
        ("", Some("path must not be empty")),
        ("a", Some("path must start with '/'")),
        ("probe-rel", Some("path must start with '/'")),
        ("/a/", Some("path must not end with '/'")),
        ("/a//b", Some("empty component ('//')")),
        ("//", Some("path must not end with '/'")),
        ("/.", Some("'.' and '..' components are not allowed")),
        ("/a/..", Some("'.' and '..' components are not allowed")),
        ("/a/./b", Some("'.' and '..' components are not allowed")),
        ("/a\u{0}b", Some("NUL character")),
        ("/a\u{1}", Some("forbidden character")),
        ("/a\u{1f}", Some("forbidden character")),
        ("/a\u{7f}", Some("forbidden character")),
        ("/a\u{9f}", Some("forbidden character")),
        ("/a\u{e000}", Some("forbidden character")),
        ("/a\u{f8ff}", Some("forbidden character")),
        ("/a\u{fff0}", Some("forbidden character")),
        ("/a\u{ffff}", Some("forbidden character")),
        ("/emoji\u{1F600}", Some("forbidden character")),
    ];
    for (path, why) in table {
        assert_eq!(explain_invalid_path(path), *why, "{path:?}");
        let expected = if why.is_some() { Err(ErrorCode::BadArguments) } else { Ok(()) };
        assert_eq!(validate_path(path), expected, "{path:?}");
    }
    // The characters just outside the forbidden ranges are fine.
    for ok in ["/a\u{20}", "/a\u{a0}", "/a\u{d7ff}", "/a\u{f900}", "/a\u{ffef}"] {
        assert_eq!(validate_path(ok), Ok(()), "{ok:?}");
    }
}

#[test]
fn parent_and_name_are_taken_from_the_last_slash_without_validation() {
    assert_eq!(parent_of("/a/b"), Some("/a"));
    assert_eq!(parent_of("/a"), Some("/"));
    assert_eq!(parent_of("/"), Some("/"));
    assert_eq!(parent_of("/a//b"), Some("/a/"));
    assert_eq!(parent_of("/a/"), Some("/a"));
    assert_eq!(parent_of("rel"), None);
    assert_eq!(name_of("/a/b"), "b");
    assert_eq!(name_of("/"), "");
    assert!(is_within("/a/b", "/a"));
    assert!(is_within("/a", "/a"));
    assert!(!is_within("/ab", "/a"));
    assert!(is_within("/x", "/"));
}

#[test]
fn zxid_packs_epoch_and_counter_and_prints_in_hex() {
    let z = Zxid::new(3, 17);
    assert_eq!(z.0, (3 << 32) | 17);
    assert_eq!((z.epoch(), z.counter()), (3, 17));
    assert_eq!(z.to_string(), "0x300000011");
    assert_eq!(Zxid::ZERO.to_string(), "0x0");
    assert!(Zxid::new(2, 0) > Zxid::new(1, u32::MAX));
    assert_eq!(z.next(), Zxid::new(3, 18));
}

#[test]
#[should_panic(expected = "counter exhausted")]
fn the_zxid_counter_never_wraps_into_the_next_epoch() {
    let _ = Zxid::new(1, u32::MAX).next();
}

#[test]
fn ephemeral_owner_values_distinguish_sessions_containers_and_ttl_nodes() {
    assert_eq!(SessionId::CONTAINER_OWNER.0, 0x8000_0000_0000_0000);
    assert_eq!(SessionId::CONTAINER_OWNER.owner_kind(), OwnerKind::Container);
    assert_eq!(SessionId::ttl_owner(60_000).owner_kind(), OwnerKind::Ttl { ttl_ms: 60_000 });
    assert_eq!(SessionId::ttl_owner(60_000).0 >> 56, 0xFF);
    assert_eq!(SessionId(0).owner_kind(), OwnerKind::Persistent);
    assert_eq!(
        SessionId(0x0100_0000_0000_0001).owner_kind(),
        OwnerKind::Session(SessionId(0x0100_0000_0000_0001))
    );
}

#[test]
fn error_codes_have_the_servers_numbers_and_names() {
    let expected = [
        (ErrorCode::Ok, 0),
        (ErrorCode::SystemError, -1),
        (ErrorCode::RuntimeInconsistency, -2),
        (ErrorCode::DataInconsistency, -3),
        (ErrorCode::ConnectionLoss, -4),
        (ErrorCode::MarshallingError, -5),
        (ErrorCode::Unimplemented, -6),
        (ErrorCode::OperationTimeout, -7),
        (ErrorCode::BadArguments, -8),
        (ErrorCode::UnknownSession, -12),
        (ErrorCode::NewConfigNoQuorum, -13),
        (ErrorCode::ReconfigInProgress, -14),
        (ErrorCode::ApiError, -100),
        (ErrorCode::NoNode, -101),
        (ErrorCode::NoAuth, -102),
        (ErrorCode::BadVersion, -103),
        (ErrorCode::NoChildrenForEphemerals, -108),
        (ErrorCode::NodeExists, -110),
        (ErrorCode::NotEmpty, -111),
        (ErrorCode::SessionExpired, -112),
        (ErrorCode::InvalidCallback, -113),
        (ErrorCode::InvalidAcl, -114),
        (ErrorCode::AuthFailed, -115),
        (ErrorCode::SessionMoved, -118),
        (ErrorCode::NotReadOnly, -119),
        (ErrorCode::EphemeralOnLocalSession, -120),
        (ErrorCode::NoWatcher, -121),
        (ErrorCode::RequestTimeout, -122),
        (ErrorCode::ReconfigDisabled, -123),
        (ErrorCode::SessionClosedRequireSaslAuth, -124),
        (ErrorCode::QuotaExceeded, -125),
        (ErrorCode::ThrottledOp, -127),
    ];
    assert_eq!(ErrorCode::ALL.len(), expected.len());
    for (code, n) in expected {
        assert_eq!(code.code(), n);
        assert_eq!(ErrorCode::from_code(n), Some(code));
    }
    assert_eq!(ErrorCode::NoNode.name(), "NoNode");
    assert_eq!(ErrorCode::from_code(-9), None);
}

#[test]
fn protocol_numbers_match_zookeeper() {
    let ops = [
        (OpCode::Create, 1),
        (OpCode::Delete, 2),
        (OpCode::Exists, 3),
        (OpCode::GetData, 4),
        (OpCode::SetData, 5),
        (OpCode::GetAcl, 6),
        (OpCode::SetAcl, 7),
        (OpCode::GetChildren, 8),
        (OpCode::Sync, 9),
        (OpCode::Ping, 11),
        (OpCode::GetChildren2, 12),
        (OpCode::Check, 13),
        (OpCode::Multi, 14),
        (OpCode::Create2, 15),
        (OpCode::CreateContainer, 19),
        (OpCode::DeleteContainer, 20),
        (OpCode::CreateTtl, 21),
        (OpCode::Auth, 100),
        (OpCode::SetWatches, 101),
        (OpCode::GetEphemerals, 103),
        (OpCode::GetAllChildrenNumber, 104),
        (OpCode::SetWatches2, 105),
        (OpCode::AddWatch, 106),
        (OpCode::CreateSession, -10),
        (OpCode::CloseSession, -11),
        (OpCode::Error, -1),
    ];
    for (op, n) in ops {
        assert_eq!(op.code(), n);
        assert_eq!(OpCode::from_code(n), Some(op));
    }
    assert_eq!(EventType::NodeChildrenChanged.code(), 4);
    assert_eq!(EventType::PersistentWatchRemoved.code(), 7);
    assert_eq!(KeeperState::SyncConnected.code(), 3);
    assert_eq!(KeeperState::Expired.code(), -112);
    assert_eq!(WatcherType::PersistentRecursive.code(), 5);
}

#[test]
fn request_opcodes_follow_the_create_kind() {
    let create = |kind| Request::Create { path: "/a".into(), data: None, acl: vec![], flags: 0, kind };
    assert_eq!(create(CreateKind::Create).opcode(), OpCode::Create);
    assert_eq!(create(CreateKind::Create2).opcode(), OpCode::Create2);
    assert_eq!(create(CreateKind::Container).opcode(), OpCode::CreateContainer);
    assert_eq!(create(CreateKind::Ttl(5)).opcode(), OpCode::CreateTtl);
    assert!(create(CreateKind::Create).is_write());
    assert!(!Request::Exists { path: "/".into(), watch: false }.is_write());
    assert!(Request::GetData { path: "/".into(), watch: false }.is_read());
}

#[test]
fn wire_len_is_the_jute_body_length() {
    // path string (4 + 2) + version int (4)
    assert_eq!(Request::Delete { path: "/a".into(), version: -1 }.wire_len(), 10);
    // path (4 + 2) + watch bool (1)
    assert_eq!(Request::GetData { path: "/a".into(), watch: true }.wire_len(), 7);
    // path (6) + data (4 + 3) + acl vector (4 + 4 + 4+5 + 4+6) + flags (4)
    let acl = vec![Acl::new(zab_tree::Perms::ALL, "world", "anyone")];
    let create = Request::Create {
        path: "/a".into(),
        data: Some(b"xyz".to_vec()),
        acl,
        flags: 0,
        kind: CreateKind::Create,
    };
    assert_eq!(create.wire_len(), 6 + 7 + 27 + 4);
    assert_eq!(create.encode_body().len(), create.wire_len());
    // null data is a -1 length
    assert_eq!(Request::SetData { path: "/a".into(), data: None, version: 0 }.wire_len(), 14);
    assert_eq!(Request::Ping.wire_len(), 0);
}

#[test]
fn a_request_body_of_one_mebibyte_or_more_is_refused() {
    let set = |len: usize| Request::SetData { path: "/a".into(), data: Some(vec![0; len]), version: -1 };
    // Body = path (6) + data (4 + len) + version (4).
    let largest_allowed = MAX_REQUEST_BYTES - 1 - 14;
    assert_eq!(set(largest_allowed).wire_len(), MAX_REQUEST_BYTES - 1);
    assert!(!set(largest_allowed).exceeds_size_limit());
    assert!(set(largest_allowed + 1).exceeds_size_limit());
    assert!(set(1024 * 1024 + 1).exceeds_size_limit());
}

#[test]
fn session_passwords_are_deterministic_and_differ_between_sessions() {
    assert_eq!(session_password(SessionId(7)), session_password(SessionId(7)));
    assert_ne!(session_password(SessionId(7)), session_password(SessionId(8)));
    assert_ne!(session_password(SessionId(7)), [0u8; 16]);
}
