//! The txn log format.
//!
//! A file is a 16-byte header — magic `ZSLG`, format version (u32), database id (u64) — and then
//! records, all integers big-endian:
//!
//! ```text
//! [len u32][!len u32][crc32c u32][payload: len bytes = Txn::encode()]
//! ```
//!
//! How a reader tells the end of the data from damage:
//! - eight zero bytes where a record header starts (a zero length with a zero check) are
//!   preallocated space: the data ends there;
//! - a record that the file cuts short (inside the 12-byte header, or a valid length reaching
//!   past the end of the file) is a torn tail: the crash interrupted its append, and the data
//!   ends where it starts;
//! - anything else that does not check out in a complete record is corruption: a length whose
//!   check word disagrees, a CRC mismatch, a payload that is not a txn, zxids that do not
//!   increase. Corruption is never taken for a torn tail.
//!
//! The check word is why the header has three fields instead of ZooKeeper's two: without it, a
//! flipped bit that makes the last record's length reach past the end of the file would read as
//! a torn tail, and that record — maybe acknowledged to the leader — would silently vanish.

use zab_tree::{Txn, Zxid};

use super::recover::RecoverError;

/// Bytes in a log file header.
pub const LOG_HEADER_LEN: usize = 16;
const MAGIC: &[u8; 4] = b"ZSLG";
const FORMAT_VERSION: u32 = 1;
/// The database id written in headers. ZooKeeper writes 0 too; it is checked, not interpreted.
const DBID: u64 = 0;
pub const RECORD_HEADER_LEN: usize = 12;

/// One complete, checked record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// The decoded txn.
    pub txn: Txn,
    /// Byte offset of the record header in the file.
    pub offset: u64,
    /// Bytes of the whole record, header included.
    pub len: u64,
}

/// How a log file's data ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogEnd {
    /// At the end of the file.
    Clean,
    /// At zero bytes (preallocated space) before the end of the file.
    Preallocated,
    /// At a record (or the file header) cut short by a crash.
    TornTail,
}

/// What a log file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogScan {
    /// The complete records, in file order (zxids strictly increasing).
    pub records: Vec<LogRecord>,
    /// Bytes from the start of the file to the end of the last complete record (or of the
    /// header); the next record belongs there.
    pub valid_len: u64,
    /// Why the data stops at `valid_len`.
    pub end: LogEnd,
}

/// The header every log file starts with.
pub fn encode_log_header() -> Vec<u8> {
    let mut out = Vec::with_capacity(LOG_HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&DBID.to_be_bytes());
    out
}

/// One record holding `txn` (its zxid travels inside the payload).
pub fn encode_log_record(txn: &Txn) -> Vec<u8> {
    let payload = txn.encode();
    let len = u32::try_from(payload.len()).expect("a txn larger than 4 GiB cannot be logged");
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&(!len).to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&payload).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Reads a whole log file named `file` (the name goes into errors). Never panics.
pub fn scan_log(file: &str, bytes: &[u8]) -> Result<LogScan, RecoverError> {
    let corrupt = |offset: usize, reason: String| RecoverError::Corrupt {
        file: file.to_string(),
        offset: offset as u64,
        reason,
    };
    let header = encode_log_header();
    if bytes.len() < LOG_HEADER_LEN {
        // A header cut short is a torn file creation, unless the bytes that are there are wrong.
        let known = bytes.len().min(8);
        if bytes[..known] != header[..known] {
            return Err(corrupt(0, "expected a log header starting with \"ZSLG\" and version 1".to_string()));
        }
        return Ok(LogScan { records: Vec::new(), valid_len: 0, end: LogEnd::TornTail });
    }
    if &bytes[..4] != MAGIC {
        return Err(corrupt(0, format!("expected log magic \"ZSLG\", found {:?}", &bytes[..4])));
    }
    let version = be_u32(&bytes[4..8]);
    if version != FORMAT_VERSION {
        return Err(corrupt(4, format!("expected log format version {FORMAT_VERSION}, found {version}")));
    }
    let dbid = u64::from_be_bytes([
        bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15],
    ]);
    if dbid != DBID {
        return Err(corrupt(8, format!("expected database id {DBID}, found {dbid}")));
    }
    let mut records: Vec<LogRecord> = Vec::new();
    let mut at = LOG_HEADER_LEN;
    let end = loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break LogEnd::Clean;
        }
        if rest.len() < RECORD_HEADER_LEN {
            break if rest.iter().all(|&b| b == 0) { LogEnd::Preallocated } else { LogEnd::TornTail };
        }
        let len = be_u32(&rest[0..4]);
        let check = be_u32(&rest[4..8]);
        if len == 0 && check == 0 {
            break LogEnd::Preallocated;
        }
        if check != !len {
            return Err(corrupt(
                at,
                format!("record length {len} does not match its check word {check:#010x}"),
            ));
        }
        let total = RECORD_HEADER_LEN + len as usize;
        if rest.len() < total {
            break LogEnd::TornTail;
        }
        let crc = be_u32(&rest[8..12]);
        let payload = &rest[RECORD_HEADER_LEN..total];
        let actual = crc32c::crc32c(payload);
        if crc != actual {
            return Err(corrupt(
                at,
                format!("record CRC {crc:#010x} does not match its payload ({actual:#010x})"),
            ));
        }
        let txn = Txn::decode(payload)
            .map_err(|e| corrupt(at, format!("record payload is not a txn (payload {e})")))?;
        if let Some(previous) = records.last() {
            if txn.zxid <= previous.txn.zxid {
                return Err(corrupt(at, format!("zxid {} does not follow {}", txn.zxid, previous.txn.zxid)));
            }
        }
        records.push(LogRecord { txn, offset: at as u64, len: total as u64 });
        at += total;
    };
    Ok(LogScan { records, valid_len: at as u64, end })
}

impl LogScan {
    /// The zxid of the last complete record.
    pub fn last_zxid(&self) -> Option<Zxid> {
        self.records.last().map(|r| r.txn.zxid)
    }
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}
