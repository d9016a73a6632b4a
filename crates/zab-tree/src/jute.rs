//! A small big-endian record codec in the style of ZooKeeper's jute: ints and longs big-endian,
//! strings and buffers as a 4-byte length (-1 = null) followed by the bytes, vectors as a count
//! followed by the items. Used for request sizes, txns and snapshots. The reader never panics: every
//! failure is a [`DecodeError`] that says at which offset what was expected.

use std::fmt;

use crate::{Acl, Id, Perms};

/// Why bytes could not be decoded: the offset and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset from the start of the input.
    pub offset: usize,
    /// What the decoder expected at that offset.
    pub expected: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: expected {}", self.offset, self.expected)
    }
}

impl std::error::Error for DecodeError {}

/// Where encoded bytes go: a buffer, or a counter when only the length matters.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Counts bytes without storing them.
#[derive(Default)]
pub(crate) struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

pub(crate) fn put_i32(out: &mut impl Sink, v: i32) {
    out.put(&v.to_be_bytes());
}

pub(crate) fn put_i64(out: &mut impl Sink, v: i64) {
    out.put(&v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut impl Sink, v: u64) {
    out.put(&v.to_be_bytes());
}

pub(crate) fn put_bool(out: &mut impl Sink, v: bool) {
    out.put(&[v as u8]);
}

pub(crate) fn put_buffer(out: &mut impl Sink, v: Option<&[u8]>) {
    match v {
        Some(bytes) => {
            put_i32(out, bytes.len() as i32);
            out.put(bytes);
        }
        None => put_i32(out, -1),
    }
}

pub(crate) fn put_str(out: &mut impl Sink, v: &str) {
    put_buffer(out, Some(v.as_bytes()));
}

pub(crate) fn put_strings(out: &mut impl Sink, v: &[String]) {
    put_i32(out, v.len() as i32);
    for s in v {
        put_str(out, s);
    }
}

pub(crate) fn put_acl(out: &mut impl Sink, acl: &[Acl]) {
    put_i32(out, acl.len() as i32);
    for entry in acl {
        put_i32(out, entry.perms.0 as i32);
        put_str(out, &entry.id.scheme);
        put_str(out, &entry.id.id);
    }
}

/// A cursor over input bytes.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn error(&self, expected: impl Into<String>) -> DecodeError {
        DecodeError { offset: self.pos, expected: expected.into() }
    }

    pub(crate) fn error_at(&self, offset: usize, expected: impl Into<String>) -> DecodeError {
        DecodeError { offset, expected: expected.into() }
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(self.error(format!("{what} ({n} bytes, {} left)", self.remaining())));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub(crate) fn i32(&mut self, what: &str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i64(&mut self, what: &str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn bool(&mut self, what: &str) -> Result<bool, DecodeError> {
        let at = self.pos;
        match self.array::<1>(what)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.error_at(at, format!("{what} as a boolean 0 or 1, found {b}"))),
        }
    }

    pub(crate) fn buffer(&mut self, what: &str) -> Result<Option<Vec<u8>>, DecodeError> {
        let at = self.pos;
        let len = self.i32(what)?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(self.error_at(at, format!("{what} length >= -1, found {len}")));
        }
        Ok(Some(self.take(len as usize, what)?.to_vec()))
    }

    pub(crate) fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let at = self.pos;
        match self.buffer(what)? {
            Some(bytes) => {
                String::from_utf8(bytes).map_err(|_| self.error_at(at, format!("{what} as UTF-8 text")))
            }
            None => Err(self.error_at(at, format!("{what} (a string, not null)"))),
        }
    }

    /// A vector count, checked against the bytes left so a corrupt count cannot make the caller
    /// allocate or loop for long: every item takes at least `min_item_bytes`.
    pub(crate) fn count(&mut self, what: &str, min_item_bytes: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.i32(what)?;
        if n < 0 || (n as usize).saturating_mul(min_item_bytes) > self.remaining() {
            return Err(self.error_at(at, format!("{what} count that fits the input, found {n}")));
        }
        Ok(n as usize)
    }

    pub(crate) fn strings(&mut self, what: &str) -> Result<Vec<String>, DecodeError> {
        let n = self.count(what, 4)?;
        (0..n).map(|_| self.string(what)).collect()
    }

    pub(crate) fn acl(&mut self, what: &str) -> Result<Vec<Acl>, DecodeError> {
        let n = self.count(what, 12)?;
        let mut acl = Vec::with_capacity(n);
        for _ in 0..n {
            let perms = Perms(self.i32("ACL perms")? as u32);
            let scheme = self.string("ACL scheme")?;
            let id = self.string("ACL id")?;
            acl.push(Acl { perms, id: Id { scheme, id } });
        }
        Ok(acl)
    }

    pub(crate) fn finish(&self, what: &str) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(self.error(format!("end of {what}, found {} more bytes", self.remaining())))
        }
    }
}
