//! Restart: from the bytes on a server's disk to its tree, last logged zxid and epochs
//! (reference §1.1 and §4.4).
//!
//! The steps, in order:
//! 1. Snapshots, newest first: the first whose seal and content check is the base; broken ones
//!    are skipped and listed (ZooKeeper tries older snapshots the same way).
//! 2. Every log file, in order of the first zxid in its name, is scanned completely: a torn tail
//!    ends that file's data, a corrupt record stops recovery ([`RecoverError::Corrupt`]). zxids
//!    must increase across files. (ZooKeeper only reads the files the replay needs; reading all
//!    of them is stricter, and gives the replica every record's position for TRUNC.)
//! 3. No valid snapshot: log records → refuse ([`RecoverError::LogWithoutSnapshot`]); no records
//!    → an empty tree at zxid 0 if the `initialize` marker exists or `db.autocreate` is on, else
//!    *uninitialized*: no zxid at all, and the server does not vote until a leader syncs it.
//! 4. Every logged txn above the base's zxid is applied, in log order. A newer snapshot that was
//!    skipped must not have been needed: if the log goes on past its zxid without the replay
//!    passing through it, the txns in between lived only in that snapshot (a TRUNC or SNAP sync
//!    logs none of the txns it brings) and recovery refuses ([`RecoverError::SnapshotNeeded`]).
//!    (ZooKeeper replays onto the older snapshot here and comes back with a different state.)
//! 5. Epoch files: a missing one takes the epoch of the last zxid; when that epoch is above
//!    `currentEpoch`, it becomes the current epoch if the `updatingEpoch` marker exists (a learner
//!    crashed after writing its NEWLEADER history, before currentEpoch), else `currentEpoch.tmp`
//!    is used if it holds an epoch at least as high, else recovery refuses;
//!    `acceptedEpoch < currentEpoch` refuses; text that is not an epoch refuses. The marker is
//!    removed after the epochs are written.
//!
//! Recovery is pure: what ZooKeeper would write at this point (derived epoch files, the empty
//! snapshot of a new database, cutting torn tails) is returned in [`Recovered::repairs`] for the
//! replica to persist.

use std::fmt;

use zab_tree::{DataTree, TreeConfig, Txn, Zxid};

use super::log::{scan_log, LogEnd, LogScan};
use super::snapshot::{decode_snapshot, encode_snapshot};
use super::{
    epoch_file_ops, snapshot_file_name, zxid_in_name, DiskImage, DiskOp, ACCEPTED_EPOCH_FILE,
    CURRENT_EPOCH_FILE, INITIALIZE_FILE, LOG_PREFIX, SNAPSHOT_PREFIX, TMP_SUFFIX, UPDATING_EPOCH_FILE,
};
use crate::config::ValidConfig;
use crate::ids::Epoch;

/// What recovery needs from the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoverOptions {
    /// `db.autocreate`: an empty disk without the `initialize` marker still starts at zxid 0.
    pub db_autocreate: bool,
    /// How the tree behaves once loaded (extended types...).
    pub tree: TreeConfig,
}

impl RecoverOptions {
    /// The options a server with `config` uses.
    pub fn from_config(config: &ValidConfig) -> RecoverOptions {
        let settings = config.settings();
        RecoverOptions {
            db_autocreate: settings.db_autocreate,
            tree: TreeConfig { extended_types: settings.extended_types_enabled, ..TreeConfig::default() },
        }
    }
}

/// A snapshot file recovery could not use, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedSnapshot {
    /// The file name.
    pub file: String,
    /// The zxid in its name: the last txn it was written to hold.
    pub zxid: Zxid,
    /// What was wrong with it.
    pub reason: String,
}

/// One log file as recovery found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFileInfo {
    /// The file name.
    pub name: String,
    /// The zxid in its name: the first txn it was opened for.
    pub first_zxid: Zxid,
    /// Bytes up to the end of the last complete record (0 if even the header is torn).
    pub valid_len: u64,
    /// Bytes in the file.
    pub file_len: u64,
    /// The last complete record's zxid.
    pub last_zxid: Option<Zxid>,
    /// Why the data ends at `valid_len`.
    pub end: LogEnd,
}

/// A logged txn and where its record sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedTxn {
    /// The txn.
    pub txn: Txn,
    /// Index into [`Recovered::log_files`].
    pub file: usize,
    /// Byte offset of the record in that file: truncating the file here removes this txn and
    /// every later one in the file.
    pub offset: u64,
}

/// A log file with bytes after its valid data: a torn tail, or zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The file name.
    pub file: String,
    /// Where its valid data ends.
    pub valid_len: u64,
    /// Its current length; `file_len - valid_len` bytes are to be cut.
    pub file_len: u64,
}

/// A disk recovery could read and trust.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovered {
    /// The tree: base snapshot plus replayed txns.
    pub tree: DataTree,
    /// False for an empty disk without `initialize` marker or `db.autocreate`: the server has
    /// no zxid to vote with and must be synced by a leader first (reference §2.3, §5 #2).
    pub initialized: bool,
    /// The newest txn on disk (snapshot or log); None when not initialized. This is the zxid
    /// the server votes with.
    pub last_logged_zxid: Option<Zxid>,
    /// The accepted epoch, after the rules of reference §1.1.
    pub accepted_epoch: Epoch,
    /// The current epoch, after the rules of reference §1.1.
    pub current_epoch: Epoch,
    /// The base snapshot: its zxid and the file's bytes.
    pub snapshot: Option<(Zxid, Vec<u8>)>,
    /// The base snapshot's file name.
    pub snapshot_file: Option<String>,
    /// Newer snapshots that could not be used.
    pub skipped_snapshots: Vec<SkippedSnapshot>,
    /// Every log file, in zxid order.
    pub log_files: Vec<LogFileInfo>,
    /// Every complete log record, in zxid order (including those at or below the snapshot).
    pub log: Vec<LoggedTxn>,
    /// The txns applied on top of the snapshot, in zxid order: the start of the committed log.
    pub replayed: Vec<Txn>,
    /// Log files with bytes after their valid data.
    pub truncations: Vec<Truncation>,
    /// Writes ZooKeeper would make at this point: epoch files derived or taken from `.tmp`,
    /// the empty snapshot of a new database, log tails cut after the valid data (a file without a
    /// complete record is deleted). The replica persists them before it relies on the disk.
    pub repairs: Vec<DiskOp>,
}

/// Why a disk cannot be trusted. The server refuses to start, as the real one does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoverError {
    /// A complete log record (or a file header) that does not check out.
    Corrupt { file: String, offset: u64, reason: String },
    /// Log records without a usable snapshot to apply them to.
    LogWithoutSnapshot { log_file: String, skipped: Vec<SkippedSnapshot> },
    /// The log goes on past an unusable snapshot without holding the txns up to it: they lived
    /// only in that snapshot (a TRUNC or SNAP sync puts the txns it brings into the snapshot
    /// written at NEWLEADER, not into the log), so the records after it have nothing to apply to.
    SnapshotNeeded { snapshot: SkippedSnapshot, log_file: String, next_zxid: Zxid },
    /// An epoch file whose content is not an epoch.
    BadEpochFile { file: String, content: String },
    /// The log holds txns of an epoch newer than `currentEpoch`, and neither the `updatingEpoch`
    /// marker nor a `currentEpoch.tmp` says the newer epoch was adopted.
    CurrentEpochBehindLog { current_epoch: Epoch, last_zxid: Zxid },
    /// `acceptedEpoch` below `currentEpoch`.
    AcceptedEpochBehindCurrent { accepted_epoch: Epoch, current_epoch: Epoch },
}

impl fmt::Display for RecoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoverError::Corrupt { file, offset, reason } => {
                write!(f, "{file}: corrupt at byte {offset}: {reason}")
            }
            RecoverError::LogWithoutSnapshot { log_file, skipped } => {
                write!(f, "{log_file}: log records but no usable snapshot")?;
                for s in skipped {
                    write!(f, "; skipped {}: {}", s.file, s.reason)?;
                }
                Ok(())
            }
            RecoverError::SnapshotNeeded { snapshot, log_file, next_zxid } => write!(
                f,
                "{} is unusable ({}), but {log_file} goes on at {next_zxid} without the txns up to {}",
                snapshot.file, snapshot.reason, snapshot.zxid
            ),
            RecoverError::BadEpochFile { file, content } => {
                write!(f, "{file}: expected a decimal epoch, got {content:?}")
            }
            RecoverError::CurrentEpochBehindLog { current_epoch, last_zxid } => write!(
                f,
                "the current epoch, {current_epoch}, is older than the last zxid, {last_zxid}, \
                 and there is no usable {CURRENT_EPOCH_FILE}{TMP_SUFFIX}"
            ),
            RecoverError::AcceptedEpochBehindCurrent { accepted_epoch, current_epoch } => write!(
                f,
                "the accepted epoch, {accepted_epoch}, is less than the current epoch, {current_epoch}"
            ),
        }
    }
}

impl std::error::Error for RecoverError {}

/// Recovers a server with `config` from `image`. Never panics, whatever the bytes.
pub fn recover_disk(image: &DiskImage, config: &ValidConfig) -> Result<Recovered, RecoverError> {
    recover_disk_with(image, &RecoverOptions::from_config(config))
}

/// [`recover_disk`] with explicit options.
pub fn recover_disk_with(image: &DiskImage, options: &RecoverOptions) -> Result<Recovered, RecoverError> {
    let mut repairs = Vec::new();
    let (base, skipped_snapshots) = newest_valid_snapshot(image, &options.tree);
    let (log_files, log, mut truncations) = scan_logs(image, &mut repairs)?;

    let (mut tree, snapshot, snapshot_file, initialized) = match base {
        Some((file, tree, zxid, bytes)) => (tree, Some((zxid, bytes)), Some(file), true),
        None => {
            if let Some(first) = log.first() {
                let log_file = log_files[first.file].name.clone();
                return Err(RecoverError::LogWithoutSnapshot { log_file, skipped: skipped_snapshots });
            }
            let tree = DataTree::new(options.tree.clone());
            let initialized = image.files.contains_key(INITIALIZE_FILE) || options.db_autocreate;
            if initialized {
                // A new database starts from an empty snapshot at zxid 0, as ZooKeeper writes one.
                let name = snapshot_file_name(Zxid::ZERO);
                repairs.push(DiskOp::WriteFile { file: name.clone(), bytes: encode_snapshot(&tree) });
                repairs.push(DiskOp::Sync { file: name });
            }
            (tree, None, None, initialized)
        }
    };

    let base_zxid = snapshot.as_ref().map_or(Zxid::ZERO, |(zxid, _)| *zxid);
    let mut log = log;
    let mut replayed = Vec::new();
    let mut prev = base_zxid;
    let mut hole = None;
    for (index, logged) in log.iter().enumerate().filter(|(_, l)| l.txn.zxid > base_zxid) {
        let zxid = logged.txn.zxid;
        // Within an epoch zxids are consecutive. A missing one means a write was lost (a failed
        // request whose successors still reached the disk): nothing after the hole was ever
        // acknowledged, and replaying past it would build a state no other server has.
        if zxid.epoch() == prev.epoch() && zxid.counter() != prev.counter().wrapping_add(1) {
            hole = Some(index);
            break;
        }
        tree.apply(&logged.txn);
        replayed.push(logged.txn.clone());
        prev = zxid;
    }
    // A newer snapshot that failed its checks can be done without only if the replay passes
    // through its zxid: then the log holds everything it held. A log that goes on past it
    // otherwise was written on top of txns that live only in that snapshot (those of a TRUNC or
    // SNAP sync, acknowledged with NEWLEADER): applying the later records to the older base would
    // build a state no other server has. (With no record above it, the snapshot was torn before
    // anything followed it, and the older state is one the server really had.)
    for skipped in skipped_snapshots.iter().filter(|s| s.zxid > base_zxid) {
        if replayed.binary_search_by_key(&skipped.zxid, |t| t.zxid).is_ok() {
            continue;
        }
        if let Some(next) = log.iter().find(|l| l.txn.zxid > skipped.zxid) {
            return Err(RecoverError::SnapshotNeeded {
                snapshot: skipped.clone(),
                log_file: log_files[next.file].name.clone(),
                next_zxid: next.txn.zxid,
            });
        }
    }
    if let Some(index) = hole {
        let first = &log[index];
        let file = log_files[first.file].name.clone();
        repairs.push(DiskOp::Truncate { file: file.clone(), len: first.offset });
        repairs.push(DiskOp::Sync { file });
        for later in &log_files[first.file + 1..] {
            repairs.push(DiskOp::Delete { file: later.name.clone() });
        }
        truncations.push(Truncation {
            file: log_files[first.file].name.clone(),
            valid_len: first.offset,
            file_len: log_files[first.file].file_len,
        });
        log.truncate(index);
    }
    let last_logged_zxid = initialized.then(|| replayed.last().map_or(base_zxid, |t| t.zxid));

    let (accepted_epoch, current_epoch) = recover_epochs(image, last_logged_zxid, &mut repairs)?;
    Ok(Recovered {
        tree,
        initialized,
        last_logged_zxid,
        accepted_epoch,
        current_epoch,
        snapshot,
        snapshot_file,
        skipped_snapshots,
        log_files,
        log,
        replayed,
        truncations,
        repairs,
    })
}

type Base = (String, DataTree, Zxid, Vec<u8>);

fn newest_valid_snapshot(image: &DiskImage, config: &TreeConfig) -> (Option<Base>, Vec<SkippedSnapshot>) {
    let mut candidates: Vec<(Zxid, &String, &Vec<u8>)> = image
        .files
        .iter()
        .filter_map(|(name, bytes)| zxid_in_name(name, SNAPSHOT_PREFIX).map(|zxid| (zxid, name, bytes)))
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut skipped = Vec::new();
    for (named, file, bytes) in candidates {
        match decode_snapshot(bytes, config) {
            Ok((tree, zxid)) if zxid == named => {
                return (Some((file.clone(), tree, zxid, bytes.clone())), skipped)
            }
            Ok((_, zxid)) => skipped.push(SkippedSnapshot {
                file: file.clone(),
                zxid: named,
                reason: format!("named {named} but holds {zxid}"),
            }),
            Err(e) => {
                skipped.push(SkippedSnapshot { file: file.clone(), zxid: named, reason: e.to_string() })
            }
        }
    }
    (None, skipped)
}

type Logs = (Vec<LogFileInfo>, Vec<LoggedTxn>, Vec<Truncation>);

fn scan_logs(image: &DiskImage, repairs: &mut Vec<DiskOp>) -> Result<Logs, RecoverError> {
    let mut files: Vec<(Zxid, &String, &Vec<u8>)> = image
        .files
        .iter()
        .filter_map(|(name, bytes)| zxid_in_name(name, LOG_PREFIX).map(|zxid| (zxid, name, bytes)))
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    let mut infos = Vec::new();
    let mut log: Vec<LoggedTxn> = Vec::new();
    let mut truncations = Vec::new();
    for (first_zxid, name, bytes) in files {
        let LogScan { records, valid_len, end } = scan_log(name, bytes)?;
        if let Some(first) = records.first() {
            if first.txn.zxid < first_zxid {
                return Err(corrupt(
                    name,
                    first.offset,
                    format!("zxid {} is below the file's name", first.txn.zxid),
                ));
            }
            if let Some(previous) = log.last() {
                if first.txn.zxid <= previous.txn.zxid {
                    let reason = format!(
                        "zxid {} does not follow {} in the previous log file",
                        first.txn.zxid, previous.txn.zxid
                    );
                    return Err(corrupt(name, first.offset, reason));
                }
            }
        }
        let file_len = bytes.len() as u64;
        // The replica appends at the end of a file, so whatever follows the valid data (a torn
        // record, or zeros that may equally be preallocation or a torn run of zero bytes) goes.
        let torn = end == LogEnd::TornTail || valid_len < file_len;
        if torn {
            truncations.push(Truncation { file: name.clone(), valid_len, file_len });
        }
        if records.is_empty() {
            // A file without a record (only a header, or a creation cut short) holds nothing, and
            // the server rolls to a new file after restarting whose name may be this one: a stale
            // header left in place would end up in the middle of that file.
            repairs.push(DiskOp::Delete { file: name.clone() });
        } else if torn {
            repairs.push(DiskOp::Truncate { file: name.clone(), len: valid_len });
            repairs.push(DiskOp::Sync { file: name.clone() });
        }
        let index = infos.len();
        let last_zxid = records.last().map(|r| r.txn.zxid);
        infos.push(LogFileInfo { name: name.clone(), first_zxid, valid_len, file_len, last_zxid, end });
        log.extend(records.into_iter().map(|r| LoggedTxn { txn: r.txn, file: index, offset: r.offset }));
    }
    Ok((infos, log, truncations))
}

fn recover_epochs(
    image: &DiskImage,
    last_logged_zxid: Option<Zxid>,
    repairs: &mut Vec<DiskOp>,
) -> Result<(Epoch, Epoch), RecoverError> {
    let last_zxid = last_logged_zxid.unwrap_or(Zxid::ZERO);
    let epoch_of_last = Epoch(last_zxid.epoch());
    let mut current = match read_epoch(image, CURRENT_EPOCH_FILE)? {
        Some(epoch) => epoch,
        None => {
            // The upgrade path: a server from before epoch files takes its log's epoch.
            repairs.extend(epoch_file_ops(CURRENT_EPOCH_FILE, epoch_of_last));
            epoch_of_last
        }
    };
    let updating = image.files.contains_key(UPDATING_EPOCH_FILE);
    if epoch_of_last > current && updating {
        // ZOOKEEPER-1653: a learner crashed after its NEWLEADER snapshot or txns (of the new
        // epoch) were durable and before currentEpoch was: it had adopted that epoch's history.
        repairs.extend(epoch_file_ops(CURRENT_EPOCH_FILE, epoch_of_last));
        current = epoch_of_last;
    } else if epoch_of_last > current {
        // A crash between writing currentEpoch.tmp and renaming it (ZOOKEEPER-4269): the txns of
        // the new epoch are on disk, so the new epoch was adopted; the .tmp says which.
        let tmp = format!("{CURRENT_EPOCH_FILE}{TMP_SUFFIX}");
        match read_epoch(image, &tmp)? {
            Some(epoch) if epoch >= epoch_of_last => {
                repairs.extend(epoch_file_ops(CURRENT_EPOCH_FILE, epoch));
                current = epoch;
            }
            _ => return Err(RecoverError::CurrentEpochBehindLog { current_epoch: current, last_zxid }),
        }
    }
    let accepted = match read_epoch(image, ACCEPTED_EPOCH_FILE)? {
        Some(epoch) => epoch,
        None => {
            repairs.extend(epoch_file_ops(ACCEPTED_EPOCH_FILE, epoch_of_last));
            epoch_of_last
        }
    };
    if accepted < current {
        return Err(RecoverError::AcceptedEpochBehindCurrent {
            accepted_epoch: accepted,
            current_epoch: current,
        });
    }
    if updating {
        // The marker has done its job once the epoch it stood for is written (the repairs are
        // persisted in order: a crash before this delete finds the marker again).
        repairs.push(DiskOp::Delete { file: UPDATING_EPOCH_FILE.to_string() });
    }
    Ok((accepted, current))
}

/// The epoch in `file`, None if the file does not exist.
fn read_epoch(image: &DiskImage, file: &str) -> Result<Option<Epoch>, RecoverError> {
    let Some(bytes) = image.file(file) else { return Ok(None) };
    let bad = || RecoverError::BadEpochFile {
        file: file.to_string(),
        content: String::from_utf8_lossy(bytes).into(),
    };
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse::<u32>().map(|e| Some(Epoch(e))).map_err(|_| bad())
}

fn corrupt(file: &str, offset: u64, reason: String) -> RecoverError {
    RecoverError::Corrupt { file: file.to_string(), offset, reason }
}
