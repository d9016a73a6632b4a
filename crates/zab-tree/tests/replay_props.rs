//! Digest maintenance and fuzzy-snapshot replay over random txn sequences.

mod common;

use common::{action_strategy, generated_config, run_actions};
use proptest::prelude::*;
use zab_tree::{DataTree, FuzzySnapshot};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_running_digest_equals_a_full_recompute_after_every_txn(
        actions in prop::collection::vec(action_strategy(), 0..80),
    ) {
        let (_, log) = run_actions(&actions, 3);
        let mut tree = DataTree::new(generated_config());
        for txn in &log {
            tree.apply(txn);
            prop_assert_eq!(tree.digest(), tree.recompute_digest());
        }
    }

    #[test]
    fn the_digest_stamped_at_prepare_is_the_digest_every_replica_reaches(
        actions in prop::collection::vec(action_strategy(), 0..80),
        pipeline_depth in 1..6usize,
    ) {
        // Up to `pipeline_depth` txns are prepared ahead of the leader's apply.
        let (_, log) = run_actions(&actions, pipeline_depth);
        let mut follower = DataTree::new(generated_config());
        for txn in &log {
            let is_create_session = matches!(txn.body, zab_tree::TxnBody::CreateSession { .. });
            prop_assert_eq!(txn.digest.is_none(), is_create_session);
            let applied = follower.apply(txn);
            prop_assert!(!applied.digest_mismatch);
            if let Some(digest) = txn.digest {
                prop_assert_eq!(follower.digest(), digest);
            }
        }
    }

    #[test]
    fn applying_the_same_log_on_two_replicas_gives_equal_trees(
        actions in prop::collection::vec(action_strategy(), 0..60),
    ) {
        let (leader, log) = run_actions(&actions, 4);
        let mut follower = DataTree::new(generated_config());
        for txn in &log {
            follower.apply(txn);
        }
        prop_assert_eq!(&follower, &leader.tree);
    }

    #[test]
    fn a_fuzzy_snapshot_plus_replay_from_its_zxid_equals_straight_application(
        actions in prop::collection::vec(action_strategy(), 1..150),
        start in any::<prop::sample::Index>(),
        nodes_per_step in 1..4usize,
    ) {
        let (leader, log) = run_actions(&actions, 3);
        // Any cut point, including before the first and after the last txn (the log may be empty).
        let start = start.index(log.len() + 1);
        let mut tree = DataTree::new(generated_config());
        for txn in &log[..start] {
            tree.apply(txn);
        }
        // Snapshot while the rest of the log applies, a few nodes between txns.
        let mut snap = FuzzySnapshot::begin(&tree);
        for txn in &log[start..] {
            snap.step(&tree, nodes_per_step);
            tree.apply(txn);
        }
        let snap_zxid = snap.zxid();
        let bytes = snap.finish(&tree);

        let mut restored = DataTree::deserialize_with(&bytes, generated_config()).expect("fuzzy snapshot loads");
        prop_assert_eq!(restored.last_processed_zxid(), snap_zxid);
        for txn in log.iter().filter(|t| t.zxid > snap_zxid) {
            restored.apply(txn);
        }
        restored.check_invariants();
        prop_assert_eq!(&restored, &leader.tree);
        prop_assert_eq!(restored.digest(), leader.tree.digest());
    }
}
