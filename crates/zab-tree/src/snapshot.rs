//! Snapshots of a data tree: a header (magic, format version, zxid, digest, whether the tree was
//! still changing while it was written), the sessions table, every node depth-first with its
//! parent before it, an end marker and a CRC-32C seal over everything before the seal.
//!
//! A *fuzzy* snapshot ([`FuzzySnapshot`]) is written a bounded number of nodes at a time while
//! txns keep being applied, as ZooKeeper does in the background. It is named by the last
//! processed zxid at its start and may hold effects of later txns; replaying the log from that
//! zxid onwards converges because [`DataTree::apply`] is idempotent for replay (reference §4.3).

use std::collections::BTreeMap;

use crate::jute::{self, DecodeError, Reader};
use crate::path::{parent_of, validate_path};
use crate::{DataTree, NodeStat, SessionId, TreeConfig, Zxid};

const MAGIC: &[u8; 4] = b"ZTSN";
const FORMAT_VERSION: i32 = 1;
const NODE_MARKER: u8 = 1;
const END_MARKER: u8 = 0;

impl DataTree {
    /// A complete (non-fuzzy) snapshot of the tree.
    pub fn serialize(&self) -> Vec<u8> {
        let mut snap = FuzzySnapshot::start(self, false);
        snap.write_nodes(self, usize::MAX);
        snap.finish(self)
    }

    /// Loads a snapshot with the default configuration. Never panics on bad input.
    pub fn deserialize(bytes: &[u8]) -> Result<DataTree, DecodeError> {
        DataTree::deserialize_with(bytes, TreeConfig::default())
    }

    /// Loads a snapshot: checks the seal first, then the structure (valid paths, "/" first,
    /// every parent before its children, no duplicates, no children under an ephemeral), and
    /// for a complete snapshot also that the recomputed digest matches the recorded one. The
    /// tree's last processed zxid is the snapshot's zxid.
    pub fn deserialize_with(bytes: &[u8], config: TreeConfig) -> Result<DataTree, DecodeError> {
        if bytes.len() < 4 {
            return Err(DecodeError { offset: 0, expected: "a snapshot of at least 4 bytes".into() });
        }
        let (body, seal) = bytes.split_at(bytes.len() - 4);
        let recorded = u32::from_be_bytes([seal[0], seal[1], seal[2], seal[3]]);
        if crc32c::crc32c(body) != recorded {
            return Err(DecodeError {
                offset: body.len(),
                expected: "a CRC-32C seal matching the snapshot".into(),
            });
        }
        let mut r = Reader::new(body);
        if r.take(4, "snapshot magic")? != MAGIC {
            return Err(r.error_at(0, "snapshot magic \"ZTSN\""));
        }
        let at = r.offset();
        let version = r.i32("snapshot format version")?;
        if version != FORMAT_VERSION {
            return Err(r.error_at(at, format!("snapshot format version {FORMAT_VERSION}, found {version}")));
        }
        let zxid = Zxid(r.u64("snapshot zxid")?);
        let digest = r.u64("snapshot digest")?;
        let fuzzy = r.bool("fuzzy flag")?;
        let n = r.count("session", 12)?;
        let mut sessions = BTreeMap::new();
        for _ in 0..n {
            let id = SessionId(r.u64("session id")?);
            let timeout = r.i32("session timeout")?;
            sessions.insert(id, timeout);
        }
        let mut tree = DataTree::empty(config);
        loop {
            let at = r.offset();
            match r.take(1, "node marker")?[0] {
                END_MARKER => break,
                NODE_MARKER => {}
                b => return Err(r.error_at(at, format!("node marker 1 or end marker 0, found {b}"))),
            }
            let at = r.offset();
            let path = r.string("node path")?;
            let data = r.buffer("node data")?;
            let acl = r.acl("node ACL")?;
            let stat = NodeStat {
                czxid: Zxid(r.u64("czxid")?),
                mzxid: Zxid(r.u64("mzxid")?),
                pzxid: Zxid(r.u64("pzxid")?),
                ctime_ms: r.i64("ctime")?,
                mtime_ms: r.i64("mtime")?,
                version: r.i32("version")?,
                cversion: r.i32("cversion")?,
                aversion: r.i32("aversion")?,
                ephemeral_owner: SessionId(r.u64("ephemeral owner")?),
            };
            if validate_path(&path).is_err() {
                return Err(r.error_at(at, format!("a valid node path, found {path:?}")));
            }
            if tree.node(&path).is_some() {
                return Err(r.error_at(at, format!("each node once, found {path} again")));
            }
            if path == "/" {
                if tree.node_count() != 0 {
                    return Err(r.error_at(at, "\"/\" as the first node"));
                }
            } else {
                let parent = parent_of(&path).unwrap_or("/");
                match tree.node(parent) {
                    None => return Err(r.error_at(at, format!("parent {parent} before {path}"))),
                    Some(p) if p.stat.ephemeral_session().is_some() => {
                        return Err(r.error_at(at, format!("no child {path} under the ephemeral {parent}")));
                    }
                    Some(_) => {}
                }
            }
            tree.insert_raw(&path, data.map(Into::into), acl.into(), stat);
        }
        r.finish("snapshot")?;
        if tree.node("/").is_none() {
            return Err(r.error("a snapshot with a \"/\" node"));
        }
        if !fuzzy && tree.digest() != digest {
            return Err(r.error(format!(
                "a tree whose digest {:#x} matches the recorded {digest:#x}",
                tree.digest()
            )));
        }
        tree.set_loaded_state(sessions, zxid);
        Ok(tree)
    }
}

/// A snapshot written a few nodes at a time while the tree keeps changing.
///
/// Call [`FuzzySnapshot::begin`], then [`FuzzySnapshot::step`] between `apply` calls until it
/// returns true, then [`FuzzySnapshot::finish`]. Nodes are visited depth-first: a node's children
/// are taken when the node itself is written, so children created later are left to the log,
/// and nodes deleted before their turn are skipped.
#[derive(Clone, Debug)]
pub struct FuzzySnapshot {
    out: Vec<u8>,
    pending: Vec<String>,
    zxid: Zxid,
}

impl FuzzySnapshot {
    /// Starts a fuzzy snapshot named after the tree's current last processed zxid; the sessions
    /// table is captured now.
    pub fn begin(tree: &DataTree) -> FuzzySnapshot {
        FuzzySnapshot::start(tree, true)
    }

    fn start(tree: &DataTree, fuzzy: bool) -> FuzzySnapshot {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(MAGIC);
        jute::put_i32(&mut out, FORMAT_VERSION);
        jute::put_u64(&mut out, tree.last_processed_zxid().0);
        jute::put_u64(&mut out, tree.digest());
        jute::put_bool(&mut out, fuzzy);
        jute::put_i32(&mut out, tree.sessions().len() as i32);
        for (id, timeout) in tree.sessions() {
            jute::put_u64(&mut out, id.0);
            jute::put_i32(&mut out, *timeout);
        }
        FuzzySnapshot { out, pending: vec!["/".to_string()], zxid: tree.last_processed_zxid() }
    }

    /// The zxid the snapshot is named after: replay the log from the txn after it.
    pub fn zxid(&self) -> Zxid {
        self.zxid
    }

    /// Writes up to `max_nodes` more nodes of the tree as it is now; true once every node has
    /// been visited.
    pub fn step(&mut self, tree: &DataTree, max_nodes: usize) -> bool {
        self.write_nodes(tree, max_nodes);
        self.pending.is_empty()
    }

    /// Writes whatever is left and seals the snapshot.
    pub fn finish(mut self, tree: &DataTree) -> Vec<u8> {
        self.write_nodes(tree, usize::MAX);
        self.out.push(END_MARKER);
        let seal = crc32c::crc32c(&self.out);
        self.out.extend_from_slice(&seal.to_be_bytes());
        self.out
    }

    fn write_nodes(&mut self, tree: &DataTree, max_nodes: usize) {
        let mut written = 0;
        while written < max_nodes {
            let Some(path) = self.pending.pop() else { return };
            let Some(node) = tree.nodes().get(&path) else { continue };
            let out = &mut self.out;
            out.push(NODE_MARKER);
            jute::put_str(out, &path);
            jute::put_buffer(out, node.data.as_deref());
            jute::put_acl(out, &node.acl);
            let s = &node.stat;
            jute::put_u64(out, s.czxid.0);
            jute::put_u64(out, s.mzxid.0);
            jute::put_u64(out, s.pzxid.0);
            jute::put_i64(out, s.ctime_ms);
            jute::put_i64(out, s.mtime_ms);
            jute::put_i32(out, s.version);
            jute::put_i32(out, s.cversion);
            jute::put_i32(out, s.aversion);
            jute::put_u64(out, s.ephemeral_owner.0);
            // Reverse order on the stack so children are written in sorted order.
            for child in node.children.iter().rev() {
                self.pending.push(crate::path::join(&path, child));
            }
            written += 1;
        }
    }
}
