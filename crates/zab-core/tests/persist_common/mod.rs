//! Shared helpers for the persistence tests: realistic txn histories and disk images built from
//! them the way a replica writes them.

#![allow(dead_code)] // Each test file uses a different subset.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zab_core::persist::{
    encode_epoch, encode_log_header, encode_log_record, encode_snapshot, log_file_name, snapshot_file_name,
    DiskImage, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE, INITIALIZE_FILE,
};
use zab_core::Epoch;
use zab_tree::{
    AuthIds, CreateKind, DataTree, PrepContext, Preparer, Request, SessionId, SessionStatus, Txn, Zxid,
    OPEN_ACL_UNSAFE,
};

/// `n` txns as a leader would produce them: creates, setData, deletes (some failing, which still
/// consume a zxid), a session, and an epoch change every `epoch_every` txns.
pub fn history(n: usize, seed: u64) -> Vec<Txn> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tree = DataTree::default();
    let mut prep = Preparer::new();
    let auth = AuthIds::new();
    let mut txns = Vec::new();
    let mut epoch = 1;
    let mut counter = 0;
    for i in 0..n {
        if i > 0 && rng.gen_ratio(1, 8) {
            epoch += 1;
            counter = 0;
        }
        counter += 1;
        let path = format!("/k{}", rng.gen_range(0..6));
        let request = match rng.gen_range(0..4) {
            0 | 1 => Request::Create {
                path,
                data: Some(vec![i as u8; rng.gen_range(0..20)]),
                acl: OPEN_ACL_UNSAFE.clone(),
                flags: 0,
                kind: CreateKind::Create,
            },
            2 => Request::SetData { path, data: Some(vec![7; rng.gen_range(0..5)]), version: -1 },
            _ => Request::Delete { path, version: -1 },
        };
        let ctx = PrepContext {
            session: SessionId(0x100),
            cxid: i as i32,
            zxid: Zxid::new(epoch, counter),
            time_ms: 1_000 + i as i64,
            auth: &auth,
            session_status: SessionStatus::Active,
        };
        let txn = prep.prepare(&tree, &ctx, &request);
        tree.apply(&txn);
        prep.applied(txn.zxid);
        txns.push(txn);
    }
    txns
}

/// The tree after applying `txns` to a fresh tree.
pub fn tree_after(txns: &[Txn]) -> DataTree {
    let mut tree = DataTree::default();
    for txn in txns {
        tree.apply(txn);
    }
    tree
}

/// How to lay a history out on disk.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Take a snapshot after this many txns (0 = an empty snapshot at zxid 0).
    pub snapshots_after: Vec<usize>,
    /// Start a new log file before these txn indices (the first file always starts at 0).
    pub log_splits: Vec<usize>,
    /// Write epoch files with the last txn's epoch.
    pub epoch_files: bool,
}

impl Default for Layout {
    fn default() -> Self {
        Layout { snapshots_after: vec![0], log_splits: Vec::new(), epoch_files: true }
    }
}

/// A disk image holding `txns` as `layout` says, plus the `initialize` marker.
pub fn image(txns: &[Txn], layout: &Layout) -> DiskImage {
    let mut image = DiskImage::initialized();
    for &k in &layout.snapshots_after {
        let tree = tree_after(&txns[..k]);
        image.files.insert(snapshot_file_name(tree.last_processed_zxid()), encode_snapshot(&tree));
    }
    let mut starts: Vec<usize> = std::iter::once(0).chain(layout.log_splits.iter().copied()).collect();
    starts.sort();
    starts.dedup();
    for (index, &start) in starts.iter().enumerate() {
        let end = starts.get(index + 1).copied().unwrap_or(txns.len());
        if start >= end {
            continue;
        }
        let mut bytes = encode_log_header();
        for txn in &txns[start..end] {
            bytes.extend(encode_log_record(txn));
        }
        image.files.insert(log_file_name(txns[start].zxid), bytes);
    }
    if layout.epoch_files {
        let epoch = Epoch(txns.last().map_or(0, |t| t.zxid.epoch()));
        image.files.insert(ACCEPTED_EPOCH_FILE.to_string(), encode_epoch(epoch));
        image.files.insert(CURRENT_EPOCH_FILE.to_string(), encode_epoch(epoch));
    }
    assert!(image.files.contains_key(INITIALIZE_FILE));
    image
}

/// The names of the log files in `image`, in zxid order.
pub fn log_names(image: &DiskImage) -> Vec<String> {
    let mut names: Vec<(u64, String)> = image
        .files
        .keys()
        .filter_map(|name| {
            let hex = name.strip_prefix("version-2/log.")?;
            Some((u64::from_str_radix(hex, 16).ok()?, name.clone()))
        })
        .collect();
    names.sort();
    names.into_iter().map(|(_, name)| name).collect()
}
