//! The byte formats (log records, snapshots, epoch files) and how a disk image applies operations.

mod persist_common;

use persist_common::{history, tree_after};
use proptest::prelude::*;
use zab_core::persist::{
    decode_snapshot, encode_epoch, encode_log_header, encode_log_record, encode_snapshot, epoch_file_ops,
    fresh_disk, log_file_name, scan_log, snapshot_file_name, DiskImage, DiskOp, DiskOpError, LogEnd,
    CURRENT_EPOCH_FILE, INITIALIZE_FILE, LOG_HEADER_LEN,
};
use zab_core::Epoch;
use zab_tree::{TreeConfig, Zxid};

fn op_append(file: &str, bytes: &[u8]) -> DiskOp {
    DiskOp::Append { file: file.into(), bytes: bytes.to_vec() }
}

#[test]
fn file_names_carry_the_zxid_in_lower_case_hex() {
    assert_eq!(log_file_name(Zxid::new(2, 0x1a)), "version-2/log.20000001a");
    assert_eq!(snapshot_file_name(Zxid::ZERO), "version-2/snapshot.0");
}

#[test]
fn an_epoch_file_write_is_tmp_then_sync_then_rename() {
    assert_eq!(
        epoch_file_ops(CURRENT_EPOCH_FILE, Epoch(7)),
        vec![
            DiskOp::WriteFile { file: "version-2/currentEpoch.tmp".into(), bytes: b"7\n".to_vec() },
            DiskOp::Sync { file: "version-2/currentEpoch.tmp".into() },
            DiskOp::Rename { from: "version-2/currentEpoch.tmp".into(), to: CURRENT_EPOCH_FILE.into() },
        ]
    );
    let mut disk = DiskImage::new();
    for op in epoch_file_ops(CURRENT_EPOCH_FILE, Epoch(7)) {
        disk.try_apply(&op).expect("applies");
    }
    assert_eq!(disk.file(CURRENT_EPOCH_FILE), Some(encode_epoch(Epoch(7)).as_slice()));
    assert_eq!(disk.files.len(), 1, "the tmp file is gone after the rename");
}

#[test]
fn disk_operations_behave_like_a_file_system() {
    let mut disk = DiskImage::new();
    disk.try_apply(&op_append("a", b"12")).expect("append creates");
    disk.try_apply(&op_append("a", b"345")).expect("append extends");
    assert_eq!(disk.file("a"), Some(&b"12345"[..]));
    disk.try_apply(&DiskOp::Truncate { file: "a".into(), len: 2 }).expect("truncate");
    assert_eq!(disk.file("a"), Some(&b"12"[..]));
    disk.try_apply(&DiskOp::Truncate { file: "a".into(), len: 4 }).expect("truncate extends with zeros");
    assert_eq!(disk.file("a"), Some(&b"12\0\0"[..]));
    disk.try_apply(&DiskOp::WriteFile { file: "a".into(), bytes: b"x".to_vec() }).expect("replace");
    assert_eq!(disk.file("a"), Some(&b"x"[..]));
    disk.try_apply(&DiskOp::WriteFile { file: "b".into(), bytes: b"y".to_vec() }).expect("create");
    disk.try_apply(&DiskOp::Rename { from: "b".into(), to: "a".into() }).expect("rename replaces");
    assert_eq!(disk.file("a"), Some(&b"y"[..]));
    assert_eq!(disk.file("b"), None);
    disk.try_apply(&DiskOp::Sync { file: "a".into() }).expect("sync");
    disk.try_apply(&DiskOp::Delete { file: "a".into() }).expect("delete");
    assert_eq!(disk, DiskImage::new());
}

#[test]
fn operations_on_missing_files_are_refused_and_change_nothing() {
    let mut disk = fresh_disk();
    let before = disk.clone();
    for op in [
        DiskOp::Truncate { file: "nope".into(), len: 0 },
        DiskOp::Rename { from: "nope".into(), to: INITIALIZE_FILE.into() },
        DiskOp::Delete { file: "nope".into() },
        DiskOp::Sync { file: "nope".into() },
    ] {
        assert_eq!(disk.try_apply(&op), Err(DiskOpError::NotFound { file: "nope".into() }));
        disk.apply(&op);
        assert_eq!(disk, before, "{op:?}");
    }
    let huge = DiskOp::Truncate { file: INITIALIZE_FILE.into(), len: u64::MAX };
    assert_eq!(
        disk.try_apply(&huge),
        Err(DiskOpError::TooLarge { file: INITIALIZE_FILE.into(), len: u64::MAX })
    );
    assert_eq!(disk, before);
}

#[test]
fn a_fresh_disk_holds_only_the_initialize_marker() {
    let disk = fresh_disk();
    assert_eq!(disk.files.keys().collect::<Vec<_>>(), vec![INITIALIZE_FILE]);
}

#[test]
fn a_log_of_only_a_header_is_empty_and_clean() {
    let scan = scan_log("log", &encode_log_header()).expect("valid");
    assert_eq!(scan.records, vec![]);
    assert_eq!(scan.valid_len, LOG_HEADER_LEN as u64);
    assert_eq!(scan.end, LogEnd::Clean);
}

#[test]
fn a_header_cut_short_is_a_torn_creation_but_wrong_header_bytes_are_corruption() {
    let header = encode_log_header();
    for cut in 0..LOG_HEADER_LEN {
        let scan = scan_log("log", &header[..cut]).expect("torn header");
        assert_eq!((scan.valid_len, scan.end), (0, LogEnd::TornTail), "cut {cut}");
    }
    assert!(scan_log("log", b"ZKLG").is_err());
}

proptest! {
    #[test]
    fn log_records_round_trip_with_their_offsets(n in 0..40usize, seed in any::<u64>()) {
        let txns = history(n, seed);
        let mut bytes = encode_log_header();
        let mut offsets = Vec::new();
        for txn in &txns {
            offsets.push(bytes.len() as u64);
            bytes.extend(encode_log_record(txn));
        }
        let scan = scan_log("log", &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(scan.records.iter().map(|r| r.txn.clone()).collect::<Vec<_>>(), txns);
        prop_assert_eq!(scan.records.iter().map(|r| r.offset).collect::<Vec<_>>(), offsets);
        prop_assert_eq!(scan.valid_len, bytes.len() as u64);
        prop_assert_eq!(scan.end, LogEnd::Clean);
    }

    #[test]
    fn snapshots_round_trip_the_tree_and_its_zxid(n in 0..40usize, seed in any::<u64>()) {
        let tree = tree_after(&history(n, seed));
        let bytes = encode_snapshot(&tree);
        let (decoded, zxid) = decode_snapshot(&bytes, &TreeConfig::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(zxid, tree.last_processed_zxid());
        prop_assert_eq!(decoded, tree);
    }

    #[test]
    fn a_snapshot_cut_anywhere_is_rejected(n in 1..20usize, seed in any::<u64>(), cut in any::<prop::sample::Index>()) {
        let bytes = encode_snapshot(&tree_after(&history(n, seed)));
        let cut = cut.index(bytes.len());
        prop_assert!(decode_snapshot(&bytes[..cut], &TreeConfig::default()).is_err());
    }

    #[test]
    fn scanning_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut with_header = encode_log_header();
        with_header.extend(&bytes);
        let _ = scan_log("log", &bytes);
        let _ = scan_log("log", &with_header);
        let _ = decode_snapshot(&bytes, &TreeConfig::default());
    }
}
