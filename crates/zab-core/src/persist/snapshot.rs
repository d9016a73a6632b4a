//! The snapshot file format, all integers big-endian:
//!
//! ```text
//! [magic "ZSSN"][version u32][tree_len u32][tree: DataTree serialization][zxid u64][crc32c u32]
//! ```
//!
//! The seal covers every byte before it. A snapshot is valid only if the seal checks, the tree
//! decodes (zab-tree checks its own seal and structure too) and the tree's last processed zxid
//! equals the recorded one. A snapshot written without a sync can be torn by a crash; the seal is
//! what tells recovery to fall back to an older one.

use std::fmt;

use zab_tree::{DataTree, TreeConfig, Zxid};

const MAGIC: &[u8; 4] = b"ZSSN";
const FORMAT_VERSION: u32 = 1;
const PREFIX_LEN: usize = 12;
const SUFFIX_LEN: usize = 12;

/// Why a snapshot file is not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotError {
    /// Byte offset of the problem.
    pub offset: u64,
    /// What was expected there.
    pub reason: String,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for SnapshotError {}

/// A complete snapshot of `tree`, labelled with its last processed zxid.
pub fn encode_snapshot(tree: &DataTree) -> Vec<u8> {
    encode_snapshot_bytes(&tree.serialize(), tree.last_processed_zxid())
}

/// A snapshot file around an already serialized tree (for example a fuzzy one written while txns
/// were applied), labelled `zxid`: the last processed zxid when serialization started.
pub fn encode_snapshot_bytes(tree: &[u8], zxid: Zxid) -> Vec<u8> {
    let tree_len = u32::try_from(tree.len()).expect("a tree serialization larger than 4 GiB");
    let mut out = Vec::with_capacity(PREFIX_LEN + tree.len() + SUFFIX_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&tree_len.to_be_bytes());
    out.extend_from_slice(tree);
    out.extend_from_slice(&zxid.0.to_be_bytes());
    let seal = crc32c::crc32c(&out);
    out.extend_from_slice(&seal.to_be_bytes());
    out
}

/// Reads a snapshot file: the tree and the zxid it is labelled with. Never panics.
pub fn decode_snapshot(bytes: &[u8], config: &TreeConfig) -> Result<(DataTree, Zxid), SnapshotError> {
    let error = |offset: usize, reason: String| SnapshotError { offset: offset as u64, reason };
    if bytes.len() < PREFIX_LEN + SUFFIX_LEN {
        return Err(error(
            0,
            format!("expected at least {} bytes, found {}", PREFIX_LEN + SUFFIX_LEN, bytes.len()),
        ));
    }
    let (body, seal) = bytes.split_at(bytes.len() - 4);
    let recorded = u32::from_be_bytes([seal[0], seal[1], seal[2], seal[3]]);
    let actual = crc32c::crc32c(body);
    if recorded != actual {
        return Err(error(
            body.len(),
            format!("seal {recorded:#010x} does not match the content ({actual:#010x})"),
        ));
    }
    if &body[..4] != MAGIC {
        return Err(error(0, "expected snapshot magic \"ZSSN\"".to_string()));
    }
    let version = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    if version != FORMAT_VERSION {
        return Err(error(4, format!("expected snapshot format version {FORMAT_VERSION}, found {version}")));
    }
    let tree_len = u32::from_be_bytes([body[8], body[9], body[10], body[11]]) as usize;
    let expected_len = PREFIX_LEN + tree_len + 8;
    if body.len() != expected_len {
        return Err(error(8, format!("tree length {tree_len} does not fit a {}-byte file", bytes.len())));
    }
    let tree_bytes = &body[PREFIX_LEN..PREFIX_LEN + tree_len];
    let zxid_at = PREFIX_LEN + tree_len;
    let mut zxid_bytes = [0u8; 8];
    zxid_bytes.copy_from_slice(&body[zxid_at..zxid_at + 8]);
    let zxid = Zxid(u64::from_be_bytes(zxid_bytes));
    let tree = DataTree::deserialize_with(tree_bytes, config.clone())
        .map_err(|e| error(PREFIX_LEN + e.offset, format!("tree: expected {}", e.expected)))?;
    if tree.last_processed_zxid() != zxid {
        return Err(error(
            zxid_at,
            format!(
                "snapshot zxid {zxid} disagrees with the tree's last processed zxid {}",
                tree.last_processed_zxid()
            ),
        ));
    }
    Ok((tree, zxid))
}
