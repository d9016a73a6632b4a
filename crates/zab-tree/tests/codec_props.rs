//! Txn and snapshot codecs: round trips, and arbitrary or damaged bytes are errors, never panics.

mod common;

use common::{action_strategy, run_actions};
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
        let loaded = DataTree::deserialize(&bytes).expect("own snapshot loads");
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
