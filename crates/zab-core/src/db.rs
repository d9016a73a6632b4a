//! The replica's database: the data tree (applied state), the txn log as it is on disk, the
//! in-memory history used to serve DIFFs, and the bookkeeping that keeps memory equal to what a
//! restart would read back from disk.
//!
//! Three zxids matter and are kept apart:
//! - `last_logged`: the newest txn appended to the log (durable or not yet);
//! - `tree.last_processed_zxid()`: the newest txn applied to the tree;
//! - `confirmed`: the newest applied txn known to be committed. Txns between `confirmed` and the
//!   tree's zxid were applied by a fast-forward or a sync and may still be truncated; traces report
//!   a txn as `Applied` only once it is confirmed.

use std::collections::VecDeque;

use zab_tree::{DataTree, Txn, Zxid};

use crate::persist::{self, DiskOp};

/// One txn in the log, with where its record sits on disk.
#[derive(Clone, Debug)]
pub(crate) struct LogEntry {
    pub txn: Txn,
    /// Index into `Db::log_files`.
    pub file: usize,
    /// Byte offset of the record in that file.
    pub offset: u64,
    /// Its [`txn_hash`], taken from the record's bytes when it was logged.
    pub hash: u64,
}

/// One log file (`version-2/log.<hex first zxid>`).
#[derive(Clone, Debug)]
pub(crate) struct LogFile {
    pub name: String,
    pub len: u64,
}

pub(crate) struct Db {
    pub tree: DataTree,
    /// False while the database cannot be trusted (wiped or never initialized): the server neither
    /// proposes itself nor counts in elections until a leader syncs it (reference §5 #2).
    pub initialized: bool,
    /// Log entries since the base snapshot, in zxid order.
    pub log: Vec<LogEntry>,
    pub log_files: Vec<LogFile>,
    /// Start a new log file at the next append (after a snapshot).
    pub roll_next: bool,
    /// The newest snapshot on disk: (zxid, encoded bytes). TRUNC rebuilds the tree from it.
    pub base: Option<(Zxid, Vec<u8>)>,
    /// Recently applied txns (the committedLog of reference §1.1), newest last.
    pub history: VecDeque<Txn>,
    pub history_cap: usize,
    /// Highest zxid whose append is durable.
    pub durable_upto: Zxid,
    /// Appends since the last snapshot.
    pub since_snapshot: u64,
    /// Applied txns not yet known committed: (zxid, content hash).
    pub tentative: VecDeque<(Zxid, u64)>,
    pub confirmed: Zxid,
}

impl Db {
    /// The newest zxid this database holds: what it votes with and reports in ACKEPOCH.
    pub fn last_zxid(&self) -> Zxid {
        let logged = self.log.last().map(|e| e.txn.zxid).unwrap_or(Zxid(0));
        logged.max(self.tree.last_processed_zxid())
    }

    /// The newest logged zxid (ignoring txns applied but not logged during a SNAP/TRUNC sync).
    pub fn last_logged(&self) -> Zxid {
        self.log
            .last()
            .map(|e| e.txn.zxid)
            .unwrap_or_else(|| self.base.as_ref().map(|b| b.0).unwrap_or(Zxid(0)))
    }

    /// Disk operations that append `txn` to the log, and the in-memory entry for it.
    pub fn append(&mut self, txn: &Txn) -> Vec<DiskOp> {
        let mut ops = Vec::new();
        if self.roll_next || self.log_files.is_empty() {
            let name = persist::log_file_name(txn.zxid);
            let header = persist::encode_log_header();
            ops.push(DiskOp::Append { file: name.clone(), bytes: header.clone() });
            self.log_files.push(LogFile { name, len: header.len() as u64 });
            self.roll_next = false;
        }
        let file = self.log_files.len() - 1;
        let record = persist::encode_log_record(txn);
        // The record's payload is the txn's encoding: hash it here rather than encode again.
        let hash = fnv1a(&record[persist::RECORD_HEADER_LEN..]);
        let lf = &mut self.log_files[file];
        let offset = lf.len;
        lf.len += record.len() as u64;
        ops.push(DiskOp::Append { file: lf.name.clone(), bytes: record });
        ops.push(DiskOp::Sync { file: lf.name.clone() });
        self.log.push(LogEntry { txn: txn.clone(), file, offset, hash });
        self.since_snapshot += 1;
        ops
    }

    /// Disk operations that remove every logged txn above `to`, and the in-memory truncation.
    pub fn truncate_log(&mut self, to: Zxid) -> Vec<DiskOp> {
        let mut ops = Vec::new();
        let Some(cut) = self.log.iter().position(|e| e.txn.zxid > to) else { return ops };
        let first_gone = &self.log[cut];
        let (file, offset) = (first_gone.file, first_gone.offset);
        let name = self.log_files[file].name.clone();
        // A file whose first record goes is deleted, not cut to its header: the next roll may
        // create a file of the same name (the next txn's zxid), whose header would then follow
        // the stale one and read as a corrupt record.
        let keeps_a_record = offset > persist::LOG_HEADER_LEN as u64;
        if keeps_a_record {
            ops.push(DiskOp::Truncate { file: name.clone(), len: offset });
            ops.push(DiskOp::Sync { file: name });
        }
        let gone = if keeps_a_record { file + 1 } else { file };
        for lf in &self.log_files[gone..] {
            ops.push(DiskOp::Delete { file: lf.name.clone() });
        }
        self.log_files.truncate(gone);
        if keeps_a_record {
            self.log_files[file].len = offset;
        }
        self.log.truncate(cut);
        self.durable_upto = self.durable_upto.min(to);
        self.history.retain(|t| t.zxid <= to);
        self.tentative.retain(|(z, _)| *z <= to);
        ops
    }

    /// Records `txn` as applied to the tree (it joins the DIFF history).
    pub fn remember_applied(&mut self, txn: &Txn, hash: u64) {
        if self.history.len() == self.history_cap {
            self.history.pop_front();
        }
        if self.history_cap > 0 {
            self.history.push_back(txn.clone());
        }
        self.tentative.push_back((txn.zxid, hash));
    }

    /// The [`txn_hash`] of `txn`: the one its log entry kept when this very txn is among the
    /// newest entries of the log (the usual case: a txn is applied soon after it is logged),
    /// else computed.
    pub fn hash_of(&self, txn: &Txn) -> u64 {
        const RECENT: usize = 64;
        let logged = self.log.iter().rev().take(RECENT).find(|e| e.txn.zxid <= txn.zxid);
        match logged {
            Some(e) if e.txn == *txn => e.hash,
            _ => txn_hash(txn),
        }
    }

    /// Marks applied txns up to `upto` as committed; returns them for `Applied` events.
    pub fn confirm(&mut self, upto: Zxid) -> Vec<(Zxid, u64)> {
        let mut done = Vec::new();
        while let Some(&(z, h)) = self.tentative.front() {
            if z > upto {
                break;
            }
            self.tentative.pop_front();
            done.push((z, h));
        }
        if upto > self.confirmed {
            self.confirmed = upto;
        }
        done
    }

    /// The logged txns not yet applied to the tree, in zxid order.
    pub fn unapplied(&self) -> Vec<Txn> {
        let applied = self.tree.last_processed_zxid();
        self.log.iter().filter(|e| e.txn.zxid > applied).map(|e| e.txn.clone()).collect()
    }

    /// Disk operations that write a snapshot of the current tree and start a new log file.
    pub fn snapshot(&mut self, fsync: bool) -> Vec<DiskOp> {
        let zxid = self.tree.last_processed_zxid();
        let bytes = persist::encode_snapshot(&self.tree);
        self.install_snapshot(zxid, bytes, fsync)
    }

    /// Disk operations that write `bytes` as the snapshot of `zxid` and start a new log file.
    pub fn install_snapshot(&mut self, zxid: Zxid, bytes: Vec<u8>, fsync: bool) -> Vec<DiskOp> {
        let name = persist::snapshot_file_name(zxid);
        let mut ops = vec![DiskOp::WriteFile { file: name.clone(), bytes: bytes.clone() }];
        if fsync {
            ops.push(DiskOp::Sync { file: name });
        }
        self.base = Some((zxid, bytes));
        // Entries at or below the snapshot are covered by it; keep only later ones in memory.
        self.log.retain(|e| e.txn.zxid > zxid);
        self.roll_next = true;
        self.since_snapshot = 0;
        ops
    }

    /// The bounds of the DIFF history, or None when it is empty.
    pub fn history_bounds(&self) -> Option<(Zxid, Zxid)> {
        Some((self.history.front()?.zxid, self.history.back()?.zxid))
    }
}

/// A 64-bit content hash of a txn (FNV-1a over its encoding), so traces can compare the txn two
/// replicas applied at the same zxid.
pub(crate) fn txn_hash(txn: &Txn) -> u64 {
    fnv1a(&txn.encode())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use zab_tree::{DataTree, ErrorCode, SessionId, Txn, TxnBody, Zxid};

    use super::{txn_hash, Db};
    use crate::persist::{recover_disk_with, DiskImage, DiskOp, RecoverOptions};

    fn txn(epoch: u32, counter: u32) -> Txn {
        Txn {
            zxid: Zxid::new(epoch, counter),
            session: SessionId(1),
            cxid: counter as i32,
            time_ms: 0,
            body: TxnBody::Error { code: ErrorCode::NoNode },
            digest: None,
        }
    }

    fn empty_db() -> Db {
        Db {
            tree: DataTree::default(),
            initialized: true,
            log: Vec::new(),
            log_files: Vec::new(),
            roll_next: true,
            base: None,
            history: VecDeque::new(),
            history_cap: 0,
            durable_upto: Zxid(0),
            since_snapshot: 0,
            tentative: VecDeque::new(),
            confirmed: Zxid(0),
        }
    }

    fn set_data(zxid: u64, data: &[u8]) -> Txn {
        Txn {
            zxid: Zxid(zxid),
            session: SessionId(7),
            cxid: 1,
            time_ms: 0,
            body: TxnBody::SetData { path: "/a".to_string(), data: Some(data.to_vec()), version: 1 },
            digest: None,
        }
    }

    #[test]
    fn the_hash_kept_at_append_is_the_content_hash_of_the_logged_txn() {
        let mut db = empty_db();
        let txns: Vec<Txn> = (1..=5).map(|z| set_data(z, &[z as u8; 40])).collect();
        for t in &txns {
            db.append(t);
        }
        for t in &txns {
            assert_eq!(db.log.iter().find(|e| e.txn.zxid == t.zxid).map(|e| e.hash), Some(txn_hash(t)));
            assert_eq!(db.hash_of(t), txn_hash(t));
        }
    }

    #[test]
    fn a_txn_the_log_does_not_hold_is_hashed_from_its_content() {
        let mut db = empty_db();
        db.append(&set_data(1, b"logged"));
        // Same zxid, other content (a diverged txn), and a zxid beyond the log.
        let other = set_data(1, b"other");
        let beyond = set_data(9, b"later");
        assert_eq!(db.hash_of(&other), txn_hash(&other));
        assert_ne!(db.hash_of(&other), db.hash_of(&set_data(1, b"logged")));
        assert_eq!(db.hash_of(&beyond), txn_hash(&beyond));
    }

    #[test]
    fn truncating_away_a_whole_log_file_deletes_it_so_a_later_roll_can_reuse_its_name() {
        let mut db = empty_db();
        let mut disk = DiskImage::initialized();
        let mut ops = db.snapshot(true);
        ops.extend(db.append(&txn(1, 1)));
        db.roll_next = true;
        ops.extend(db.append(&txn(1, 2)));
        ops.extend(db.truncate_log(Zxid::new(1, 1)));
        assert!(ops
            .iter()
            .any(|op| matches!(op, DiskOp::Delete { file } if file.ends_with("log.100000002"))));
        // The same zxid comes back (a DIFF from the new leader) in a file rolled to the same name.
        db.roll_next = true;
        ops.extend(db.append(&txn(1, 2)));
        for op in &ops {
            disk.apply(op);
        }
        let recovered = recover_disk_with(&disk, &RecoverOptions::default()).expect("the log reads back");
        assert_eq!(recovered.last_logged_zxid, Some(Zxid::new(1, 2)));
    }
}
