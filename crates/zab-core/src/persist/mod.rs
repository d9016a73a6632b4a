//! Durable state as bytes: the files of one server ([`DiskImage`]), the operations that change
//! them ([`DiskOp`]), the txn log and snapshot formats, and recovery ([`recover_disk`]).
//!
//! The replica never touches a file. It emits `DiskOp`s; the host applies them (the simulator may
//! tear or lose the ones that were not yet synced when it crashes a server) and, on restart, hands
//! back whatever bytes survived. [`recover_disk`] turns those bytes into a tree, a last logged zxid
//! and the two epochs, or refuses with a [`RecoverError`] when the disk cannot be trusted: a server
//! must not vote with data it cannot vouch for (reference §4.4, §5 #2).
//!
//! File layout (names are keys of [`DiskImage::files`], as in reference §4.1):
//!
//! - `version-2/acceptedEpoch`, `version-2/currentEpoch`: a decimal epoch and `\n`, always written
//!   as `<name>.tmp` + sync + rename ([`epoch_file_ops`]);
//! - `version-2/log.<hex first zxid>`: a txn log, a header then records ([`encode_log_record`]);
//! - `version-2/snapshot.<hex zxid>`: a snapshot, header, tree, zxid and seal ([`encode_snapshot`]);
//! - `version-2/updatingEpoch`: an empty marker present while a learner's NEWLEADER history is
//!   written and its currentEpoch not yet ([`UPDATING_EPOCH_FILE`]);
//! - `initialize`: an empty marker that lets an empty database start at zxid 0 and vote.
//!
//! The byte formats are this project's own (not ZooKeeper's files); what they keep from
//! ZooKeeper is the behaviour: preallocated zeros end the data, a torn last record is the end of
//! its file, a checksum mismatch in a complete record stops the server.

mod log;
mod recover;
mod snapshot;

use std::collections::BTreeMap;
use std::fmt;

use zab_tree::Zxid;

use crate::ids::Epoch;

pub use log::{
    encode_log_header, encode_log_record, scan_log, LogEnd, LogRecord, LogScan, LOG_HEADER_LEN,
    RECORD_HEADER_LEN,
};
pub use recover::{
    recover_disk, recover_disk_with, LogFileInfo, LoggedTxn, RecoverError, RecoverOptions, Recovered,
    SkippedSnapshot, Truncation,
};
pub use snapshot::{decode_snapshot, encode_snapshot, encode_snapshot_bytes, SnapshotError};

/// The accepted-epoch file (epoch of the last NEWEPOCH/LEADERINFO accepted).
pub const ACCEPTED_EPOCH_FILE: &str = "version-2/acceptedEpoch";
/// The current-epoch file (epoch of the last NEWLEADER accepted).
pub const CURRENT_EPOCH_FILE: &str = "version-2/currentEpoch";
/// The marker a learner makes durable before it writes the history a NEWLEADER synced it to, and
/// removes once currentEpoch is durable. On restart it says the txns of a newer epoch on disk came
/// from that sync, so recovery adopts their epoch as currentEpoch (ZOOKEEPER-1653).
pub const UPDATING_EPOCH_FILE: &str = "version-2/updatingEpoch";
/// Suffix of the temporary file an epoch is written to before the rename.
pub const TMP_SUFFIX: &str = ".tmp";
/// The marker that lets an empty database start initialized (zxid 0) and vote.
pub const INITIALIZE_FILE: &str = "initialize";
/// Prefix of txn log file names; the rest is the first zxid in lower-case hex.
pub const LOG_PREFIX: &str = "version-2/log.";
/// Prefix of snapshot file names; the rest is the snapshot's zxid in lower-case hex.
pub const SNAPSHOT_PREFIX: &str = "version-2/snapshot.";

/// The durable files of one server, by name. What a crash leaves behind, and what a restart
/// reads. Fault injectors may edit `files` directly (flip bytes, cut files, delete them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskImage {
    /// File name → content.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// One change to a server's disk. A host applies a batch in order and reports durability once
/// the batch is synced; until then a crash may lose or tear any of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskOp {
    /// Append bytes to a file, creating it if missing. A crash before the next `Sync` of the
    /// file may keep any prefix of the bytes.
    Append { file: String, bytes: Vec<u8> },
    /// Cut a file to `len` bytes (or extend it with zeros, as `ftruncate` does, up to
    /// [`MAX_FILE_LEN`]).
    Truncate { file: String, len: u64 },
    /// Replace a file's whole content. Not atomic: a crash before the next `Sync` of the file may
    /// leave any prefix (a torn file). Use [`epoch_file_ops`] for files that must stay whole.
    WriteFile { file: String, bytes: Vec<u8> },
    /// Rename a file, replacing `to` if it exists. Atomic and durable once applied.
    Rename { from: String, to: String },
    /// Remove a file.
    Delete { file: String },
    /// Make the file's content durable (fsync).
    Sync { file: String },
}

/// Why [`DiskImage::try_apply`] refused an operation (what a file system would answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskOpError {
    /// The operation needs a file that does not exist.
    NotFound { file: String },
    /// A truncate would grow the file beyond [`MAX_FILE_LEN`].
    TooLarge { file: String, len: u64 },
}

/// The largest file a [`DiskImage`] holds (1 GiB): a simulated server never needs more, and a
/// bad `Truncate` must not exhaust the host's memory.
pub const MAX_FILE_LEN: u64 = 1 << 30;

impl fmt::Display for DiskOpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskOpError::NotFound { file } => write!(f, "{file}: no such file"),
            DiskOpError::TooLarge { file, len } => {
                write!(f, "{file}: {len} bytes is more than a simulated file holds ({MAX_FILE_LEN})")
            }
        }
    }
}

impl std::error::Error for DiskOpError {}

impl DiskImage {
    /// An empty disk: no files at all (a new or wiped server; it starts uninitialized unless
    /// `db.autocreate` is on).
    pub fn new() -> DiskImage {
        DiskImage::default()
    }

    /// A fresh server's disk: only the `initialize` marker, so it starts at zxid 0 and votes.
    pub fn initialized() -> DiskImage {
        let mut image = DiskImage::new();
        image.files.insert(INITIALIZE_FILE.to_string(), Vec::new());
        image
    }

    /// A file's content.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }

    /// Applies `op` durably. An operation a file system would refuse (truncating, renaming or
    /// deleting a missing file) leaves the image unchanged; use [`DiskImage::try_apply`] to learn
    /// why. `Sync` has nothing to do on an image, which is durable by definition.
    pub fn apply(&mut self, op: &DiskOp) {
        // Refusals change nothing, which is also what the real system call does.
        let _ = self.try_apply(op);
    }

    /// Applies `op` durably, or says why a file system would refuse it.
    pub fn try_apply(&mut self, op: &DiskOp) -> Result<(), DiskOpError> {
        match op {
            DiskOp::Append { file, bytes } => {
                self.files.entry(file.clone()).or_default().extend_from_slice(bytes);
            }
            DiskOp::Truncate { file, len } => {
                let content = self.files.get_mut(file).ok_or_else(|| not_found(file))?;
                if *len > MAX_FILE_LEN {
                    return Err(DiskOpError::TooLarge { file: file.clone(), len: *len });
                }
                // In range: MAX_FILE_LEN fits in usize on every supported target.
                content.resize(*len as usize, 0);
            }
            DiskOp::WriteFile { file, bytes } => {
                self.files.insert(file.clone(), bytes.clone());
            }
            DiskOp::Rename { from, to } => {
                let content = self.files.remove(from).ok_or_else(|| not_found(from))?;
                self.files.insert(to.clone(), content);
            }
            DiskOp::Delete { file } => {
                self.files.remove(file).ok_or_else(|| not_found(file))?;
            }
            DiskOp::Sync { file } => {
                if !self.files.contains_key(file) {
                    return Err(not_found(file));
                }
            }
        }
        Ok(())
    }
}

/// A new server's disk, ready to vote: only the `initialize` marker.
pub fn fresh_disk() -> DiskImage {
    DiskImage::initialized()
}

/// `version-2/log.<hex first zxid>`.
pub fn log_file_name(first: Zxid) -> String {
    format!("{LOG_PREFIX}{:x}", first.0)
}

/// `version-2/snapshot.<hex zxid>`.
pub fn snapshot_file_name(zxid: Zxid) -> String {
    format!("{SNAPSHOT_PREFIX}{:x}", zxid.0)
}

/// The content of an epoch file.
pub fn encode_epoch(epoch: Epoch) -> Vec<u8> {
    format!("{}\n", epoch.0).into_bytes()
}

/// The atomic write of an epoch file (`file` is [`ACCEPTED_EPOCH_FILE`] or
/// [`CURRENT_EPOCH_FILE`]): write `file.tmp`, sync it, rename it over `file`. A crash leaves
/// either the old file or the new one, plus possibly a (maybe torn) `.tmp`, which recovery
/// handles (reference §1.1, ZOOKEEPER-4269).
pub fn epoch_file_ops(file: &str, epoch: Epoch) -> Vec<DiskOp> {
    let tmp = format!("{file}{TMP_SUFFIX}");
    vec![
        DiskOp::WriteFile { file: tmp.clone(), bytes: encode_epoch(epoch) },
        DiskOp::Sync { file: tmp.clone() },
        DiskOp::Rename { from: tmp, to: file.to_string() },
    ]
}

fn not_found(file: &str) -> DiskOpError {
    DiskOpError::NotFound { file: file.to_string() }
}

/// The zxid in a `log.<hex>` or `snapshot.<hex>` name, when `name` is one.
pub(crate) fn zxid_in_name(name: &str, prefix: &str) -> Option<Zxid> {
    let hex = name.strip_prefix(prefix)?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(Zxid)
}
