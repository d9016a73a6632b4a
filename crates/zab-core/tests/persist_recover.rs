//! Recovery from disk images: snapshots and logs, torn tails, corruption, and the epoch-file
//! rules of reference §1.1 and §4.4.

mod persist_common;

use persist_common::{history, image, log_names, tree_after, Layout};
use zab_core::config::ValidConfig;
use zab_core::persist::recover_disk;
use zab_core::persist::{
    encode_epoch, encode_log_header, encode_log_record, encode_snapshot_bytes, epoch_file_ops, log_file_name,
    recover_disk_with, snapshot_file_name, DiskImage, DiskOp, LogEnd, RecoverError, RecoverOptions,
    Recovered, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE, INITIALIZE_FILE, LOG_HEADER_LEN, UPDATING_EPOCH_FILE,
};
use zab_core::{Epoch, ServerId};
use zab_tree::{DataTree, FuzzySnapshot, Zxid};

fn recover(image: &DiskImage) -> Result<Recovered, RecoverError> {
    recover_disk_with(image, &RecoverOptions::default())
}

fn recovered(image: &DiskImage) -> Recovered {
    match recover(image) {
        Ok(r) => r,
        Err(e) => panic!("expected recovery to succeed, got: {e}"),
    }
}

fn zxids(txns: &[zab_tree::Txn]) -> Vec<Zxid> {
    txns.iter().map(|t| t.zxid).collect()
}

fn apply_all(image: &mut DiskImage, ops: &[DiskOp]) {
    for op in ops {
        image.try_apply(op).expect("repair applies");
    }
}

#[test]
fn an_empty_disk_is_uninitialized_and_has_no_zxid_to_vote_with() {
    let r = recovered(&DiskImage::new());
    assert!(!r.initialized);
    assert_eq!(r.last_logged_zxid, None);
    assert_eq!(r.tree, DataTree::default());
    assert_eq!((r.accepted_epoch, r.current_epoch), (Epoch(0), Epoch(0)));
    assert!(
        !r.repairs.iter().any(|op| matches!(op, DiskOp::WriteFile { file, .. } if file.contains("snapshot"))),
        "an uninitialized server writes no snapshot: {:?}",
        r.repairs
    );
}

#[test]
fn the_initialize_marker_starts_an_empty_database_at_zxid_zero_and_writes_its_snapshot() {
    let mut disk = DiskImage::initialized();
    let r = recovered(&disk);
    assert!(r.initialized);
    assert_eq!(r.last_logged_zxid, Some(Zxid::ZERO));
    apply_all(&mut disk, &r.repairs);
    assert!(disk.files.contains_key(&snapshot_file_name(Zxid::ZERO)));
    assert!(disk.files.contains_key(ACCEPTED_EPOCH_FILE) && disk.files.contains_key(CURRENT_EPOCH_FILE));
    let again = recovered(&disk);
    assert_eq!(again.snapshot_file.as_deref(), Some("version-2/snapshot.0"));
    assert_eq!(again.last_logged_zxid, Some(Zxid::ZERO));
    assert_eq!(again.repairs, vec![], "repairs are done once");
}

#[test]
fn db_autocreate_initializes_an_empty_disk_without_the_marker() {
    let options = RecoverOptions { db_autocreate: true, ..RecoverOptions::default() };
    let r = recover_disk_with(&DiskImage::new(), &options).expect("recovers");
    assert!(r.initialized);
    assert_eq!(r.last_logged_zxid, Some(Zxid::ZERO));
}

#[test]
fn recovery_takes_db_autocreate_from_the_server_config() {
    let config = ValidConfig::ensemble(3, 0, ServerId(1));
    assert!(!recover_disk(&DiskImage::new(), &config).expect("recovers").initialized);
    let autocreate = config.with_settings(|s| s.db_autocreate = true).expect("valid");
    assert!(recover_disk(&DiskImage::new(), &autocreate).expect("recovers").initialized);
}

#[test]
fn a_snapshot_newer_than_the_whole_log_needs_no_replay() {
    // As after a SNAP sync: the snapshot covers everything the log holds.
    let txns = history(20, 14);
    let disk = image(&txns, &Layout { snapshots_after: vec![0, 20], ..Layout::default() });
    let r = recovered(&disk);
    assert_eq!(r.replayed, vec![]);
    assert_eq!(r.last_logged_zxid, Some(txns[19].zxid));
    assert_eq!(r.log.len(), 20);
    assert_eq!(r.tree, tree_after(&txns));
}

#[test]
fn a_snapshot_plus_log_replays_every_txn_above_the_snapshot_in_order() {
    let txns = history(40, 1);
    let layout = Layout { snapshots_after: vec![0, 15], log_splits: vec![10, 25], epoch_files: true };
    let disk = image(&txns, &layout);
    let r = recovered(&disk);
    assert_eq!(r.tree, tree_after(&txns));
    assert_eq!(r.snapshot_file, Some(snapshot_file_name(txns[14].zxid)));
    assert_eq!(zxids(&r.replayed), zxids(&txns[15..]));
    assert_eq!(r.last_logged_zxid, Some(txns[39].zxid));
    assert_eq!(r.log.len(), 40, "every record is indexed, also those below the snapshot");
    let epoch = Epoch(txns[39].zxid.epoch());
    assert_eq!((r.accepted_epoch, r.current_epoch), (epoch, epoch));
    assert_eq!(r.log_files.len(), 3);
    for (info, start) in r.log_files.iter().zip([0, 10, 25]) {
        assert_eq!(info.first_zxid, txns[start].zxid);
        assert_eq!(info.valid_len, info.file_len);
        assert_eq!(info.end, LogEnd::Clean);
    }
    assert_eq!(r.truncations, vec![]);
    assert_eq!(r.repairs, vec![]);
}

#[test]
fn a_logged_txn_is_found_at_its_offset() {
    let txns = history(12, 2);
    let disk = image(&txns, &Layout::default());
    let r = recovered(&disk);
    let file = &r.log_files[0].name;
    let bytes = disk.file(file).expect("log file");
    for logged in &r.log {
        let at = logged.offset as usize;
        let record = encode_log_record(&logged.txn);
        assert_eq!(&bytes[at..at + record.len()], record.as_slice());
    }
}

#[test]
fn a_torn_newest_snapshot_falls_back_to_the_older_one_and_replays_from_there() {
    let txns = history(30, 3);
    let layout = Layout { snapshots_after: vec![0, 10, 20], ..Layout::default() };
    let mut disk = image(&txns, &layout);
    let newest = snapshot_file_name(txns[19].zxid);
    let bytes = disk.files.get_mut(&newest).expect("newest snapshot");
    bytes.truncate(bytes.len() / 2);
    let r = recovered(&disk);
    assert_eq!(r.snapshot_file, Some(snapshot_file_name(txns[9].zxid)));
    assert_eq!(r.skipped_snapshots.len(), 1);
    assert_eq!(r.skipped_snapshots[0].file, newest);
    assert_eq!(zxids(&r.replayed), zxids(&txns[10..]));
    assert_eq!(r.tree, tree_after(&txns));
}

#[test]
fn a_flipped_byte_anywhere_in_a_snapshot_makes_it_unusable() {
    let txns = history(10, 4);
    let tree = tree_after(&txns);
    let bytes = zab_core::persist::encode_snapshot(&tree);
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x20;
        assert!(
            zab_core::persist::decode_snapshot(&damaged, &Default::default()).is_err(),
            "flip at byte {at} went unnoticed"
        );
    }
}

#[test]
fn log_records_without_a_usable_snapshot_are_refused() {
    let txns = history(5, 5);
    let disk = image(&txns, &Layout { snapshots_after: vec![], ..Layout::default() });
    assert!(matches!(recover(&disk), Err(RecoverError::LogWithoutSnapshot { .. })));

    let mut with_broken = image(&txns, &Layout::default());
    with_broken.files.insert(snapshot_file_name(Zxid::ZERO), b"garbage".to_vec());
    match recover(&with_broken) {
        Err(RecoverError::LogWithoutSnapshot { log_file, skipped }) => {
            assert_eq!(log_file, log_file_name(txns[0].zxid));
            assert_eq!(skipped.len(), 1);
        }
        other => panic!("expected LogWithoutSnapshot, got {other:?}"),
    }
}

#[test]
fn a_torn_tail_at_every_byte_offset_recovers_exactly_the_complete_records() {
    let txns = history(8, 6);
    let layout = Layout { log_splits: vec![3], ..Layout::default() };
    let disk = image(&txns, &layout);
    let last_log = log_names(&disk).pop().expect("two log files");
    let full = disk.file(&last_log).expect("log").to_vec();
    let ends: Vec<usize> = {
        let mut at = LOG_HEADER_LEN;
        txns[3..]
            .iter()
            .map(|t| {
                at += encode_log_record(t).len();
                at
            })
            .collect()
    };
    for cut in 0..full.len() {
        let mut torn = disk.clone();
        torn.files.insert(last_log.clone(), full[..cut].to_vec());
        let r = recovered(&torn);
        let complete = ends.iter().filter(|&&end| end <= cut).count();
        assert_eq!(zxids(&r.replayed), zxids(&txns[..3 + complete]), "cut at {cut}");
        let valid_len =
            if cut < LOG_HEADER_LEN { 0 } else { ends[..complete].last().copied().unwrap_or(LOG_HEADER_LEN) };
        let truncated = valid_len < cut || cut < LOG_HEADER_LEN;
        // A cut inside a record header that kept only zero bytes reads as preallocated space; the
        // data ends at the same place either way.
        let expected_end = if !truncated {
            LogEnd::Clean
        } else if cut >= LOG_HEADER_LEN
            && cut - valid_len < 12
            && full[valid_len..cut].iter().all(|&b| b == 0)
        {
            LogEnd::Preallocated
        } else {
            LogEnd::TornTail
        };
        assert_eq!(r.log_files.last().map(|f| f.end), Some(expected_end), "cut at {cut}");
        assert_eq!(r.truncations.len(), usize::from(truncated), "cut at {cut}");
        if truncated {
            assert_eq!(r.truncations[0].valid_len, valid_len as u64, "cut at {cut}");
            assert_eq!(r.truncations[0].file_len, cut as u64, "cut at {cut}");
        }
        // Applying the repairs leaves a disk that recovers the same txns without further repair.
        let mut repaired = torn.clone();
        apply_all(&mut repaired, &r.repairs);
        let again = recovered(&repaired);
        assert_eq!(zxids(&again.replayed), zxids(&r.replayed), "cut at {cut}");
        assert_eq!(again.truncations, vec![], "cut at {cut}");
    }
}

#[test]
fn a_torn_tail_in_an_earlier_log_file_ends_that_file_and_recovery_goes_on_with_the_next() {
    // As in ZooKeeper: a partial last record ends its file. The torn txn was never synced, so it
    // was never acknowledged; the server rolled to a new file after restarting.
    let txns = history(9, 15);
    let disk = image(&txns, &Layout { log_splits: vec![4], ..Layout::default() });
    let first = log_names(&disk)[0].clone();
    let mut torn = disk.clone();
    let bytes = torn.files.get_mut(&first).expect("first log");
    let last_record = encode_log_record(&txns[3]).len();
    bytes.truncate(bytes.len() - last_record / 2);
    let r = recovered(&torn);
    let expected: Vec<Zxid> = txns.iter().enumerate().filter(|(i, _)| *i != 3).map(|(_, t)| t.zxid).collect();
    assert_eq!(zxids(&r.replayed), expected);
    assert_eq!(r.truncations.len(), 1);
    assert_eq!(r.truncations[0].file, first);
    assert_eq!(r.log_files[0].end, LogEnd::TornTail);
}

#[test]
fn a_flipped_byte_anywhere_in_a_log_file_is_reported_as_corruption_never_accepted() {
    let txns = history(6, 7);
    let disk = image(&txns, &Layout::default());
    let name = log_names(&disk).pop().expect("log");
    let full = disk.file(&name).expect("log").to_vec();
    let record_starts: Vec<u64> = {
        let mut at = LOG_HEADER_LEN as u64;
        let mut starts = vec![0];
        for t in &txns {
            starts.push(at);
            at += encode_log_record(t).len() as u64;
        }
        starts
    };
    for at in 0..full.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut damaged = disk.clone();
            damaged.files.get_mut(&name).expect("log")[at] ^= mask;
            match recover(&damaged) {
                Err(RecoverError::Corrupt { file, offset, .. }) => {
                    assert_eq!(file, name);
                    let record = record_starts.iter().filter(|&&s| s <= at as u64).max().copied();
                    let expected = if at < 4 {
                        0
                    } else if at < LOG_HEADER_LEN {
                        offset
                    } else {
                        record.unwrap_or(0)
                    };
                    assert_eq!(offset, expected, "flip {mask:#x} at byte {at}");
                }
                other => panic!("flip {mask:#x} at byte {at}: expected Corrupt, got {other:?}"),
            }
        }
    }
}

#[test]
fn preallocated_zeros_after_the_data_end_the_log_and_are_cut_before_appending() {
    let txns = history(5, 8);
    let mut disk = image(&txns, &Layout::default());
    let name = log_names(&disk).pop().expect("log");
    let data_len = disk.file(&name).expect("log").len() as u64;
    disk.files.get_mut(&name).expect("log").extend(std::iter::repeat_n(0u8, 4096));
    let r = recovered(&disk);
    assert_eq!(zxids(&r.replayed), zxids(&txns));
    assert_eq!(r.log_files[0].end, LogEnd::Preallocated);
    assert_eq!(r.log_files[0].valid_len, data_len);
    assert_eq!(r.truncations.len(), 1);
    assert_eq!(r.truncations[0].valid_len, data_len);
    assert_eq!(
        r.repairs,
        vec![DiskOp::Truncate { file: name.clone(), len: data_len }, DiskOp::Sync { file: name }]
    );
}

#[test]
fn zxids_that_go_backwards_across_log_files_are_corruption() {
    let txns = history(6, 9);
    let mut disk = image(&txns, &Layout::default());
    // A second file named after a later zxid but holding an earlier txn.
    let mut bytes = encode_log_header();
    bytes.extend(encode_log_record(&txns[2]));
    disk.files.insert(log_file_name(Zxid(txns[5].zxid.0 + 1)), bytes);
    assert!(matches!(recover(&disk), Err(RecoverError::Corrupt { .. })));
}

#[test]
fn files_that_are_neither_logs_snapshots_nor_epochs_are_ignored() {
    let txns = history(4, 10);
    let mut disk = image(&txns, &Layout::default());
    disk.files.insert("version-2/log.zz".into(), b"junk".to_vec());
    disk.files.insert("version-2/snapshot.".into(), b"junk".to_vec());
    disk.files.insert("notes.txt".into(), b"junk".to_vec());
    assert_eq!(zxids(&recovered(&disk).replayed), zxids(&txns));
}

#[test]
fn a_fuzzy_snapshot_replayed_with_the_log_converges_to_the_full_tree() {
    let txns = history(60, 11);
    let mut tree = tree_after(&txns[..20]);
    let mut fuzzy = FuzzySnapshot::begin(&tree);
    let label = fuzzy.zxid();
    // Txns keep being applied while the snapshot is written a few nodes at a time.
    for txn in &txns[20..40] {
        tree.apply(txn);
        fuzzy.step(&tree, 1);
    }
    let bytes = encode_snapshot_bytes(&fuzzy.finish(&tree), label);
    let mut disk = image(&txns, &Layout { snapshots_after: vec![], ..Layout::default() });
    disk.files.insert(snapshot_file_name(label), bytes);
    let r = recovered(&disk);
    assert_eq!(r.snapshot.as_ref().map(|s| s.0), Some(txns[19].zxid));
    assert_eq!(zxids(&r.replayed), zxids(&txns[20..]));
    assert_eq!(r.tree, tree_after(&txns));
}

// Epoch files (reference §1.1).

/// A disk whose log ends in epoch 3 and whose epoch files say `accepted` / `current`.
fn disk_with_epochs(accepted: Option<&[u8]>, current: Option<&[u8]>) -> (DiskImage, Zxid) {
    let txns = history(30, 12);
    let last = txns.last().expect("txns").zxid;
    let mut disk = image(&txns, &Layout { epoch_files: false, ..Layout::default() });
    if let Some(bytes) = accepted {
        disk.files.insert(ACCEPTED_EPOCH_FILE.into(), bytes.to_vec());
    }
    if let Some(bytes) = current {
        disk.files.insert(CURRENT_EPOCH_FILE.into(), bytes.to_vec());
    }
    (disk, last)
}

#[test]
fn missing_epoch_files_take_the_epoch_of_the_last_zxid_and_are_written() {
    let (disk, last) = disk_with_epochs(None, None);
    let r = recovered(&disk);
    let epoch = Epoch(last.epoch());
    assert!(epoch > Epoch(1), "the history spans several epochs");
    assert_eq!((r.accepted_epoch, r.current_epoch), (epoch, epoch));
    let mut expected = epoch_file_ops(CURRENT_EPOCH_FILE, epoch);
    expected.extend(epoch_file_ops(ACCEPTED_EPOCH_FILE, epoch));
    assert_eq!(r.repairs, expected);
}

#[test]
fn a_current_epoch_behind_the_log_without_a_tmp_file_is_refused() {
    let (disk, last) = disk_with_epochs(Some(b"1\n"), Some(b"1\n"));
    assert_eq!(
        recover(&disk),
        Err(RecoverError::CurrentEpochBehindLog { current_epoch: Epoch(1), last_zxid: last })
    );
}

#[test]
fn every_crash_point_of_a_current_epoch_write_follows_the_tmp_rule() {
    let (base, last) = disk_with_epochs(None, Some(b"1\n"));
    let epoch = Epoch(last.epoch());
    let mut base = base;
    base.files.insert(ACCEPTED_EPOCH_FILE.into(), encode_epoch(epoch));
    let ops = epoch_file_ops(CURRENT_EPOCH_FILE, epoch);
    for done in 0..=ops.len() {
        let mut disk = base.clone();
        apply_all(&mut disk, &ops[..done]);
        let result = recover(&disk);
        match done {
            // Crashed before the tmp file existed: the log's epoch was never adopted on disk.
            0 => assert!(matches!(result, Err(RecoverError::CurrentEpochBehindLog { .. })), "{result:?}"),
            // The tmp file holds the new epoch (synced or not): it is adopted and made permanent.
            1 | 2 => {
                let r = result.expect("adopts the tmp epoch");
                assert_eq!(r.current_epoch, epoch);
                assert_eq!(r.repairs, epoch_file_ops(CURRENT_EPOCH_FILE, epoch));
            }
            _ => assert_eq!(result.expect("renamed").current_epoch, epoch),
        }
    }
}

#[test]
fn a_torn_or_garbage_current_epoch_tmp_file_is_not_trusted() {
    let (mut disk, last) = disk_with_epochs(Some(b"9\n"), Some(b"1\n"));
    let tmp = format!("{CURRENT_EPOCH_FILE}.tmp");
    disk.files.insert(tmp.clone(), b"x7".to_vec());
    assert_eq!(recover(&disk), Err(RecoverError::BadEpochFile { file: tmp.clone(), content: "x7".into() }));
    // A torn write can leave an empty file, or a prefix of the digits that reads as an older epoch.
    disk.files.insert(tmp.clone(), Vec::new());
    assert!(matches!(recover(&disk), Err(RecoverError::BadEpochFile { .. })));
    disk.files.insert(tmp, b"1".to_vec());
    assert_eq!(
        recover(&disk),
        Err(RecoverError::CurrentEpochBehindLog { current_epoch: Epoch(1), last_zxid: last })
    );
}

#[test]
fn the_updating_epoch_marker_makes_the_epoch_of_a_newer_log_current_and_is_removed_after() {
    // ZOOKEEPER-1653: a learner crashed after its NEWLEADER history (txns of the new epoch) was
    // durable and before its currentEpoch write began.
    let (mut disk, last) = disk_with_epochs(None, Some(b"1\n"));
    let epoch = Epoch(last.epoch());
    disk.files.insert(ACCEPTED_EPOCH_FILE.into(), encode_epoch(epoch));
    disk.files.insert(UPDATING_EPOCH_FILE.into(), Vec::new());
    let r = recovered(&disk);
    assert_eq!((r.accepted_epoch, r.current_epoch), (epoch, epoch));
    let mut expected = epoch_file_ops(CURRENT_EPOCH_FILE, epoch);
    expected.push(DiskOp::Delete { file: UPDATING_EPOCH_FILE.into() });
    assert_eq!(r.repairs, expected);
    apply_all(&mut disk, &r.repairs);
    assert!(disk.file(UPDATING_EPOCH_FILE).is_none());
    let again = recovered(&disk);
    assert_eq!((again.current_epoch, again.repairs), (epoch, Vec::new()));
}

#[test]
fn the_updating_epoch_marker_wins_over_a_torn_current_epoch_tmp_file() {
    let (mut disk, last) = disk_with_epochs(None, Some(b"1\n"));
    let epoch = Epoch(last.epoch());
    disk.files.insert(ACCEPTED_EPOCH_FILE.into(), encode_epoch(epoch));
    disk.files.insert(format!("{CURRENT_EPOCH_FILE}.tmp"), Vec::new());
    assert!(matches!(recover(&disk), Err(RecoverError::BadEpochFile { .. })));
    disk.files.insert(UPDATING_EPOCH_FILE.into(), Vec::new());
    assert_eq!(recovered(&disk).current_epoch, epoch);
}

#[test]
fn a_stale_updating_epoch_marker_changes_no_epoch_and_is_removed() {
    // The log's epoch is not above currentEpoch: the marker says nothing and only goes away.
    let (mut disk, _) = disk_with_epochs(Some(b"9\n"), Some(b"8\n"));
    disk.files.insert(UPDATING_EPOCH_FILE.into(), Vec::new());
    let r = recovered(&disk);
    assert_eq!((r.accepted_epoch, r.current_epoch), (Epoch(9), Epoch(8)));
    assert_eq!(r.repairs, vec![DiskOp::Delete { file: UPDATING_EPOCH_FILE.into() }]);
}

#[test]
fn an_accepted_epoch_below_the_current_epoch_is_refused() {
    let (disk, last) = disk_with_epochs(Some(b"1\n"), Some(format!("{}\n", last_epoch()).as_bytes()));
    let current = Epoch(last.epoch());
    assert_eq!(
        recover(&disk),
        Err(RecoverError::AcceptedEpochBehindCurrent { accepted_epoch: Epoch(1), current_epoch: current })
    );
}

#[test]
fn epoch_files_ahead_of_the_log_are_kept() {
    // acceptedEpoch and currentEpoch may be ahead of the last zxid: a leader was established
    // but no txn of its epoch was logged yet.
    assert!(last_epoch() < 8, "the premise: the log's epoch is below both files");
    let (disk, _) = disk_with_epochs(Some(b"9\n"), Some(b"8\n"));
    let r = recovered(&disk);
    assert_eq!((r.accepted_epoch, r.current_epoch), (Epoch(9), Epoch(8)));
}

#[test]
fn an_epoch_file_that_is_not_a_number_is_refused() {
    let (disk, _) = disk_with_epochs(Some(b"9\n"), Some(b"eight"));
    assert_eq!(
        recover(&disk),
        Err(RecoverError::BadEpochFile { file: CURRENT_EPOCH_FILE.into(), content: "eight".into() })
    );
    let (disk, _) = disk_with_epochs(Some(&[0xff, 0xfe]), Some(b"8"));
    assert!(
        matches!(recover(&disk), Err(RecoverError::BadEpochFile { file, .. }) if file == ACCEPTED_EPOCH_FILE)
    );
}

#[test]
fn the_initialize_marker_is_not_needed_once_data_exists() {
    let txns = history(5, 13);
    let mut disk = image(&txns, &Layout::default());
    disk.files.remove(INITIALIZE_FILE);
    let r = recovered(&disk);
    assert!(r.initialized);
    assert_eq!(r.last_logged_zxid, Some(txns[4].zxid));
}

fn last_epoch() -> u32 {
    history(30, 12).last().expect("txns").zxid.epoch()
}

/// The disk of a follower synced by TRUNC or SNAP: the txns the sync brought (`synced`) are only in
/// the snapshot written at NEWLEADER; the log holds what came before the sync and what came after.
fn disk_after_a_snapshot_sync(txns: &[zab_tree::Txn], synced: std::ops::Range<usize>) -> DiskImage {
    let mut disk = image(&txns[..synced.start], &Layout::default());
    let at_newleader = tree_after(&txns[..synced.end]);
    disk.files.insert(
        snapshot_file_name(at_newleader.last_processed_zxid()),
        zab_core::persist::encode_snapshot(&at_newleader),
    );
    if synced.end < txns.len() {
        let mut log = encode_log_header();
        for txn in &txns[synced.end..] {
            log.extend(encode_log_record(txn));
        }
        disk.files.insert(log_file_name(txns[synced.end].zxid), log);
    }
    let epoch = Epoch(txns.last().expect("txns").zxid.epoch());
    disk.files.insert(ACCEPTED_EPOCH_FILE.to_string(), encode_epoch(epoch));
    disk.files.insert(CURRENT_EPOCH_FILE.to_string(), encode_epoch(epoch));
    disk
}

#[test]
fn an_intact_snapshot_from_a_sync_bridges_the_txns_the_log_never_held() {
    let txns = history(40, 11);
    let disk = disk_after_a_snapshot_sync(&txns, 12..30);
    let r = recovered(&disk);
    assert_eq!(r.snapshot_file, Some(snapshot_file_name(txns[29].zxid)));
    assert_eq!(zxids(&r.replayed), zxids(&txns[30..]));
    assert_eq!(r.tree, tree_after(&txns));
}

/// Clean swarm seeds 201772, 202724 and 206562: a follower synced by TRUNC read its NEWLEADER
/// snapshot back with a flipped bit, fell back to an older snapshot, and replayed the later log on
/// top of it without the synced txns: it came back at the right zxid with a different tree.
#[test]
fn a_damaged_snapshot_that_the_later_log_builds_on_is_refused() {
    let txns = history(40, 11);
    let mut disk = disk_after_a_snapshot_sync(&txns, 12..30);
    let name = snapshot_file_name(txns[29].zxid);
    let bytes = disk.files.get_mut(&name).expect("NEWLEADER snapshot");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x04;
    match recover(&disk) {
        Err(RecoverError::SnapshotNeeded { snapshot, log_file, next_zxid }) => {
            assert_eq!(snapshot.file, name);
            assert_eq!(snapshot.zxid, txns[29].zxid);
            assert_eq!(log_file, log_file_name(txns[30].zxid));
            assert_eq!(next_zxid, txns[30].zxid);
        }
        other => panic!("expected SnapshotNeeded, got {other:?}"),
    }
}

#[test]
fn a_damaged_snapshot_nothing_was_logged_after_leaves_the_older_state() {
    // A crash tore the NEWLEADER snapshot before anything followed it: the server never got past
    // the sync, and the state before it is one it really had.
    let txns = history(30, 12);
    let mut disk = disk_after_a_snapshot_sync(&txns, 12..30);
    let name = snapshot_file_name(txns[29].zxid);
    let bytes = disk.files.get_mut(&name).expect("NEWLEADER snapshot");
    bytes.truncate(bytes.len() / 3);
    let r = recovered(&disk);
    assert_eq!(r.skipped_snapshots.len(), 1);
    assert_eq!(r.skipped_snapshots[0].zxid, txns[29].zxid);
    assert_eq!(r.last_logged_zxid, Some(txns[11].zxid));
    assert_eq!(r.tree, tree_after(&txns[..12]));
}

#[test]
fn a_damaged_snapshot_whose_txns_the_log_also_holds_is_not_needed() {
    // A periodic snapshot: every txn it holds is in the log too, so the log passes through it.
    let txns = history(30, 13);
    let layout = Layout { snapshots_after: vec![0, 10, 20], log_splits: vec![20], ..Layout::default() };
    let mut disk = image(&txns, &layout);
    let bytes = disk.files.get_mut(&snapshot_file_name(txns[19].zxid)).expect("snapshot");
    bytes[20] ^= 0x80;
    let r = recovered(&disk);
    assert_eq!(r.snapshot_file, Some(snapshot_file_name(txns[9].zxid)));
    assert_eq!(r.tree, tree_after(&txns));
}
