//! Txn and snapshot codecs: round trips, and arbitrary or damaged bytes are errors, never panics.

mod common;

use common::{action_strategy, generated_config, run_actions};
use proptest::prelude::*;
use zab_tree::{DataTree, Txn};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_prepared_txn_survives_encode_then_decode(actions in prop::collection::vec(action_strategy(), 1..40)) {
        let (_, log) = run_actions(&actions, 3);
        for txn in &log {
            let mut txn = txn.clone();
            txn.digest = Some(txn.zxid.0.wrapping_mul(31));
            prop_assert_eq!(Txn::decode(&txn.encode()), Ok(txn));
        }
    }

    #[test]
    fn txns_and_their_requests_survive_a_json_round_trip_for_traces(
        actions in prop::collection::vec(action_strategy(), 1..30),
    ) {
        let (_, log) = run_actions(&actions, 2);
        for txn in &log {
            let json = serde_json::to_string(txn).expect("serializes");
            prop_assert_eq!(&serde_json::from_str::<Txn>(&json).expect("deserializes"), txn);
        }
        for action in &actions {
            if let common::Action::Write(_, req) = action {
                let json = serde_json::to_string(req).expect("serializes");
                prop_assert_eq!(&serde_json::from_str::<zab_tree::Request>(&json).expect("deserializes"), req);
            }
        }
    }

    #[test]
    fn txn_decode_returns_an_error_for_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        // Must not panic; any Ok must re-encode to the same bytes.
        if let Ok(txn) = Txn::decode(&bytes) {
            prop_assert_eq!(txn.encode(), bytes);
        }
    }

    #[test]
    fn a_truncated_or_extended_txn_is_an_error(
        actions in prop::collection::vec(action_strategy(), 1..20),
        cut in any::<prop::sample::Index>(),
    ) {
        let (_, log) = run_actions(&actions, 2);
        for txn in &log {
            let bytes = txn.encode();
            let at = cut.index(bytes.len());
            prop_assert!(Txn::decode(&bytes[..at]).is_err());
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(Txn::decode(&longer).is_err());
        }
    }

    #[test]
    fn snapshot_round_trip_gives_the_same_tree(actions in prop::collection::vec(action_strategy(), 0..60)) {
        let (leader, _) = run_actions(&actions, 3);
        let bytes = leader.tree.serialize();
        let loaded = DataTree::deserialize_with(&bytes, generated_config()).expect("own snapshot loads");
        loaded.check_invariants();
        prop_assert_eq!(&loaded, &leader.tree);
    }

    #[test]
    fn snapshot_deserialize_returns_an_error_for_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(tree) = DataTree::deserialize(&bytes) {
            tree.check_invariants();
        }
    }

    #[test]
    fn a_snapshot_with_any_flipped_bit_is_refused(
        actions in prop::collection::vec(action_strategy(), 0..30),
        bit in any::<prop::sample::Index>(),
    ) {
        let (leader, _) = run_actions(&actions, 2);
        let mut bytes = leader.tree.serialize();
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        prop_assert!(DataTree::deserialize(&bytes).is_err());
    }

    #[test]
    fn a_sealed_snapshot_with_broken_structure_is_still_an_error(body in prop::collection::vec(any::<u8>(), 0..200)) {
        // Valid seal over garbage: the structural checks must catch it without panicking.
        let mut bytes = b"ZTSN\0\0\0\x01".to_vec();
        bytes.extend_from_slice(&body);
        let seal = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&seal.to_be_bytes());
        if let Ok(tree) = DataTree::deserialize(&bytes) {
            tree.check_invariants();
        }
    }
}

#[test]
fn decode_errors_say_where_and_what() {
    let err = Txn::decode(&[0, 0, 0]).expect_err("too short");
    assert_eq!(err.offset, 0);
    assert!(err.expected.contains("zxid"), "{err}");

    let mut bytes = vec![0u8; 28];
    bytes.extend_from_slice(&77i32.to_be_bytes());
    let err = Txn::decode(&bytes).expect_err("unknown type");
    assert_eq!(err.offset, 28);
    assert!(err.expected.contains("txn type"), "{err}");
}

fn every_kind_of_request() -> Vec<zab_tree::Request> {
    use zab_tree::proto::CreateKind;
    use zab_tree::{AddWatchMode, Request, SetWatches, WatcherType, Zxid, OPEN_ACL_UNSAFE};
    let create = |kind| Request::Create {
        path: "/a".into(),
        data: Some(b"x".to_vec()),
        acl: OPEN_ACL_UNSAFE.clone(),
        flags: 2,
        kind,
    };
    let watches = SetWatches {
        relative_zxid: Zxid::new(2, 9),
        data: vec!["/d".into()],
        exist: vec!["/e".into(), "/f".into()],
        child: vec![],
        persistent: vec![],
        persistent_recursive: vec![],
    };
    vec![
        create(CreateKind::Create),
        create(CreateKind::Create2),
        create(CreateKind::Container),
        create(CreateKind::Ttl(60_000)),
        Request::Delete { path: "/a".into(), version: 3 },
        Request::Exists { path: "/a".into(), watch: true },
        Request::GetData { path: "/a".into(), watch: false },
        Request::SetData { path: "/a".into(), data: None, version: -1 },
        Request::GetAcl { path: "/a".into() },
        Request::SetAcl { path: "/a".into(), acl: OPEN_ACL_UNSAFE.clone(), version: 0 },
        Request::GetChildren { path: "/".into(), watch: true },
        Request::GetChildren2 { path: "/".into(), watch: false },
        Request::GetAllChildrenNumber { path: "/".into() },
        Request::GetEphemerals { prefix: "".into() },
        Request::Check { path: "/a".into(), version: 1 },
        Request::Multi(vec![create(CreateKind::Create), Request::Check { path: "/a".into(), version: 0 }]),
        Request::Multi(vec![]),
        Request::Sync { path: "/".into() },
        Request::AddWatch { path: "/a".into(), mode: AddWatchMode::PersistentRecursive },
        Request::RemoveWatches { path: "/a".into(), watcher_type: WatcherType::Any },
        Request::CheckWatches { path: "/a".into(), watcher_type: WatcherType::Children },
        Request::SetWatches(watches.clone()),
        Request::SetWatches(SetWatches { persistent_recursive: vec!["/r".into()], ..watches }),
        Request::Auth { scheme: "digest".into(), auth: b"u:p".to_vec() },
        Request::DeleteContainer { path: "/c".into() },
        Request::CloseSession,
        Request::Ping,
    ]
}

#[test]
fn every_request_kind_decodes_from_its_own_body() {
    for req in every_kind_of_request() {
        let body = req.encode_body();
        assert_eq!(body.len(), req.wire_len(), "{req:?}");
        assert_eq!(zab_tree::Request::decode_body(req.opcode(), &body), Ok(req.clone()));
    }
}

#[test]
fn request_bodies_refuse_trailing_bytes_unknown_modes_and_nested_multis() {
    use zab_tree::{OpCode, Request};
    let mut body = Request::Sync { path: "/".into() }.encode_body();
    body.push(0);
    assert!(Request::decode_body(OpCode::Sync, &body).is_err());
    let mut watch =
        Request::AddWatch { path: "/".into(), mode: zab_tree::AddWatchMode::Persistent }.encode_body();
    let n = watch.len();
    watch[n - 1] = 9;
    let err = Request::decode_body(OpCode::AddWatch, &watch).expect_err("mode 9");
    assert!(err.expected.contains("addWatch mode"), "{err}");
    let nested = Request::Multi(vec![Request::Multi(vec![])]).encode_body();
    assert!(Request::decode_body(OpCode::Multi, &nested).is_err());
    assert!(Request::decode_body(OpCode::Reconfig, &[]).is_err());
}

proptest! {
    #[test]
    fn prepared_requests_decode_from_their_own_bodies(actions in prop::collection::vec(action_strategy(), 1..30)) {
        for action in &actions {
            let common::Action::Write(_, req) = action else { continue };
            let decoded = zab_tree::Request::decode_body(req.opcode(), &req.encode_body());
            // Only creates, deletes, setData and checks can travel inside a multi.
            let wire_valid = match req {
                zab_tree::Request::Multi(ops) => ops.iter().all(|op| !matches!(op, zab_tree::Request::SetAcl { .. })),
                _ => true,
            };
            if wire_valid {
                prop_assert_eq!(decoded.as_ref(), Ok(req));
            } else {
                prop_assert!(decoded.is_err());
            }
        }
    }

    #[test]
    fn request_decoding_never_panics_on_arbitrary_bytes(
        opcode in prop::sample::select(zab_tree::OpCode::ALL.to_vec()),
        bytes in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        if let Ok(req) = zab_tree::Request::decode_body(opcode, &bytes) {
            // setWatches2 with empty persistent lists re-encodes as the shorter setWatches.
            if req.opcode() == opcode {
                prop_assert_eq!(req.wire_len(), bytes.len());
            }
        }
    }
}
