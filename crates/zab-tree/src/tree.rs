//! The replicated state: znodes, the sessions table, each session's ephemerals, the running
//! digest, and the one `apply` routine every replica runs for every committed txn
//! (reference §3, §4.3).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::acl::{check_acl, mask_digests};
use crate::path::{join, name_of, parent_of, validate_path};
use crate::{
    Acl, AuthIds, ErrorCode, EventType, MultiResult, NodeStat, OwnerKind, Perms, Request, Response,
    SessionId, Stat, TreeConfig, Txn, TxnBody, WatchTrigger, Zxid, READ_ACL_UNSAFE,
};

/// What applying one txn produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The client-visible result: a response (for a multi, per-op results, also when it failed)
    /// or the error of an error txn.
    pub result: Result<Response, ErrorCode>,
    /// Watch triggers in the order the server fires them; feed them to
    /// [`crate::WatchManager::trigger`].
    pub triggers: Vec<WatchTrigger>,
    /// The txn carried a digest and it differs from the tree's digest after applying it.
    /// ZooKeeper only counts and logs this; it is not fatal.
    pub digest_mismatch: bool,
}

/// A read-only view of one node.
#[derive(Clone, Copy, Debug)]
pub struct NodeRef<'a> {
    /// The persisted stat (internal cversion, raw ephemeral owner).
    pub stat: &'a NodeStat,
    /// Data.
    pub data: Option<&'a [u8]>,
    /// ACL.
    pub acl: &'a [Acl],
    /// Child names, sorted.
    pub children: &'a BTreeSet<String>,
}

impl NodeRef<'_> {
    /// The client-visible stat.
    pub fn client_stat(&self) -> Stat {
        self.stat.to_stat(self.data.map_or(0, <[u8]>::len), self.children.len())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    /// Shared with the preparer's change records.
    pub(crate) data: Option<Arc<[u8]>>,
    /// Shared with watch triggers and the preparer's change records, so they cost no copy.
    pub(crate) acl: Arc<[Acl]>,
    pub(crate) stat: NodeStat,
    pub(crate) children: BTreeSet<String>,
    /// This node's share of the tree digest (0 for the excluded /zookeeper/ subtree).
    pub(crate) digest: u32,
}

impl Node {
    fn view(&self) -> NodeRef<'_> {
        NodeRef { stat: &self.stat, data: self.data.as_deref(), acl: &self.acl, children: &self.children }
    }
}

/// The ZooKeeper data tree. Pure: time and session ids come in through txns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataTree {
    config: TreeConfig,
    nodes: BTreeMap<String, Node>,
    sessions: BTreeMap<SessionId, i32>,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    last_processed_zxid: Zxid,
    digest: u64,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new(TreeConfig::default())
    }
}

impl DataTree {
    /// A fresh tree: "/", "/zookeeper", "/zookeeper/quota" and "/zookeeper/config" (read-only
    /// for everyone), all stats zero, no sessions, last processed zxid 0.
    pub fn new(config: TreeConfig) -> DataTree {
        let mut tree = DataTree {
            config,
            nodes: BTreeMap::new(),
            sessions: BTreeMap::new(),
            ephemerals: BTreeMap::new(),
            last_processed_zxid: Zxid::ZERO,
            digest: 0,
        };
        let open: Arc<[Acl]> = Arc::from(crate::OPEN_ACL_UNSAFE.as_slice());
        tree.insert_raw("/", None, Arc::clone(&open), NodeStat::default());
        tree.insert_raw("/zookeeper", None, Arc::clone(&open), NodeStat::default());
        tree.insert_raw("/zookeeper/quota", None, open, NodeStat::default());
        tree.insert_raw(
            "/zookeeper/config",
            None,
            Arc::from(READ_ACL_UNSAFE.as_slice()),
            NodeStat::default(),
        );
        tree
    }

    /// An empty tree without even "/" (the starting point of snapshot loading).
    pub(crate) fn empty(config: TreeConfig) -> DataTree {
        DataTree {
            config,
            nodes: BTreeMap::new(),
            sessions: BTreeMap::new(),
            ephemerals: BTreeMap::new(),
            last_processed_zxid: Zxid::ZERO,
            digest: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TreeConfig {
        &self.config
    }

    /// The zxid of the last txn applied completely.
    pub fn last_processed_zxid(&self) -> Zxid {
        self.last_processed_zxid
    }

    /// The running tree digest (wrapping sum of node digests; the /zookeeper/ subtree excluded).
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The tree digest computed from scratch (equals [`DataTree::digest`] unless there is a bug).
    pub fn recompute_digest(&self) -> u64 {
        self.nodes.iter().fold(0u64, |sum, (path, node)| sum.wrapping_add(node_digest(path, node) as u64))
    }

    /// Number of nodes, "/" included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// A node, if it exists.
    pub fn node(&self, path: &str) -> Option<NodeRef<'_>> {
        self.nodes.get(path).map(Node::view)
    }

    /// The client-visible stat of a node.
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.node(path).map(|n| n.client_stat())
    }

    /// Every path, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    /// The sessions table: session id → timeout in ms.
    pub fn sessions(&self) -> &BTreeMap<SessionId, i32> {
        &self.sessions
    }

    /// The ephemerals a session owns, sorted.
    pub fn ephemerals_of(&self, session: SessionId) -> impl Iterator<Item = &str> {
        self.ephemerals.get(&session).into_iter().flatten().map(String::as_str)
    }

    /// Applies one committed txn. Idempotent for fuzzy-snapshot replay: a create that finds the
    /// node present still raises the parent's child-create counter and pzxid to the txn's values
    /// if they are larger, and a delete of a missing node still raises the parent's pzxid.
    /// The last processed zxid moves only after the whole txn (a multi included).
    pub fn apply(&mut self, txn: &Txn) -> Applied {
        let mut triggers = Vec::new();
        let result = match &txn.body {
            TxnBody::Multi(ops) => Ok(Response::Multi(self.apply_multi(txn, ops, &mut triggers))),
            body => self.apply_op(txn, body, &mut triggers),
        };
        if txn.zxid > self.last_processed_zxid {
            self.last_processed_zxid = txn.zxid;
        }
        let digest_mismatch = txn.digest.is_some_and(|d| d != self.digest);
        Applied { result, triggers, digest_mismatch }
    }

    /// The result applying `txn` gives when it changes no node and no session, without
    /// applying it: an error txn's code, or a failed multi's per-op codes. `None` for a txn
    /// that would change the tree (whose result only applying it tells).
    pub fn failed_result(txn: &Txn) -> Option<Result<Response, ErrorCode>> {
        match &txn.body {
            TxnBody::Error { code } => Some(Err(*code)),
            TxnBody::Multi(ops) => failed_multi_results(ops).map(|r| Ok(Response::Multi(r))),
            _ => None,
        }
    }

    /// Answers a read (exists, getData, getChildren, getChildren2, getAllChildrenNumber,
    /// getEphemerals of `session`, getACL) for a connection with `auth` ids. exists on a missing
    /// node is `NoNode` on the wire (the client turns it into a null Stat). ACLs: READ for
    /// getData/getChildren*/getAllChildrenNumber; for exists only with
    /// `TreeConfig::exists_requires_read`; none for getEphemerals; READ or ADMIN for getACL,
    /// with digest hashes masked without ADMIN. Anything else is `BadArguments`.
    pub fn read(&self, req: &Request, session: SessionId, auth: &AuthIds) -> Result<Response, ErrorCode> {
        let lookup = |path: &str, perm: Option<Perms>| -> Result<&Node, ErrorCode> {
            let node = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
            match perm {
                Some(perm) if !check_acl(&node.acl, auth, perm) => Err(ErrorCode::NoAuth),
                _ => Ok(node),
            }
        };
        match req {
            Request::Exists { path, .. } => {
                let perm = self.config.exists_requires_read.then_some(Perms::READ);
                Ok(Response::Stat(lookup(path, perm)?.view().client_stat()))
            }
            Request::GetData { path, .. } => {
                let node = lookup(path, Some(Perms::READ))?;
                let data = node.data.as_deref().map(<[u8]>::to_vec);
                Ok(Response::GetData { data, stat: node.view().client_stat() })
            }
            Request::GetChildren { path, .. } => {
                let node = lookup(path, Some(Perms::READ))?;
                Ok(Response::GetChildren { children: node.children.iter().cloned().collect() })
            }
            Request::GetChildren2 { path, .. } => {
                let node = lookup(path, Some(Perms::READ))?;
                let children = node.children.iter().cloned().collect();
                Ok(Response::GetChildren2 { children, stat: node.view().client_stat() })
            }
            Request::GetAllChildrenNumber { path } => {
                lookup(path, Some(Perms::READ))?;
                Ok(Response::AllChildrenNumber(self.descendant_count(path) as i32))
            }
            Request::GetEphemerals { prefix } => {
                let all = prefix.is_empty() || prefix.trim() == "/";
                let paths = self
                    .ephemerals_of(session)
                    .filter(|p| all || p.starts_with(prefix.as_str()))
                    .map(str::to_string)
                    .collect();
                Ok(Response::Ephemerals(paths))
            }
            Request::GetAcl { path } => {
                let node = lookup(path, Some(Perms::READ | Perms::ADMIN))?;
                let acl = if check_acl(&node.acl, auth, Perms::ADMIN) {
                    node.acl.to_vec()
                } else {
                    mask_digests(&node.acl)
                };
                Ok(Response::GetAcl { acl, stat: node.view().client_stat() })
            }
            _ => Err(ErrorCode::BadArguments),
        }
    }

    /// Containers and TTL nodes the leader's reaper should delete at `now_ms`: containers with
    /// no children that once had one (child-create counter > 0), and TTL nodes with no children
    /// whose mtime is more than their TTL ago. Sorted by path.
    pub fn reap_candidates(&self, now_ms: i64) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, node)| node.children.is_empty())
            .filter(|(_, node)| match node.stat.ephemeral_owner.owner_kind() {
                OwnerKind::Container => node.stat.cversion > 0,
                OwnerKind::Ttl { ttl_ms } => now_ms.saturating_sub(node.stat.mtime_ms) > ttl_ms,
                _ => false,
            })
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// Number of nodes below `path` (all descendants).
    pub fn descendant_count(&self, path: &str) -> usize {
        if path == "/" {
            return self.nodes.len().saturating_sub(1);
        }
        let prefix = format!("{path}/");
        self.nodes.range(prefix.clone()..).take_while(|(p, _)| p.starts_with(&prefix)).count()
    }

    /// Checks the structural invariants: every node but "/" has its parent, parent and child
    /// links agree, the ephemerals index matches the nodes' owners, no ephemeral has children,
    /// cached node digests and the running tree digest are exact. Panics with the first
    /// violation.
    pub fn check_invariants(&self) {
        assert!(self.nodes.contains_key("/"), "tree has no root");
        let mut ephemerals: BTreeMap<SessionId, BTreeSet<String>> = BTreeMap::new();
        for (path, node) in &self.nodes {
            if path != "/" {
                let parent = parent_of(path).unwrap_or_else(|| panic!("bad path {path:?} in tree"));
                let p = self.nodes.get(parent).unwrap_or_else(|| panic!("{path} has no parent {parent}"));
                assert!(p.children.contains(name_of(path)), "{parent} does not list its child {path}");
            }
            for child in &node.children {
                assert!(self.nodes.contains_key(&join(path, child)), "{path} lists missing child {child}");
            }
            if let Some(session) = node.stat.ephemeral_session() {
                assert!(node.children.is_empty(), "ephemeral {path} has children");
                ephemerals.entry(session).or_default().insert(path.clone());
            }
            assert_eq!(node.digest, node_digest(path, node), "stale cached digest of {path}");
        }
        assert_eq!(ephemerals, self.ephemerals, "ephemerals index disagrees with node owners");
        assert_eq!(self.digest, self.recompute_digest(), "running digest disagrees with a recompute");
    }

    // ---------------------------------------------------------------- apply internals

    fn apply_multi(
        &mut self,
        txn: &Txn,
        ops: &[TxnBody],
        triggers: &mut Vec<WatchTrigger>,
    ) -> Vec<MultiResult> {
        if let Some(failed) = failed_multi_results(ops) {
            return failed;
        }
        ops.iter()
            .map(|op| match (op, self.apply_op(txn, op, triggers)) {
                (_, Err(code)) => MultiResult::Error { code },
                (_, Ok(Response::Create { path })) => MultiResult::Create { path, stat: None },
                (_, Ok(Response::Create2 { path, stat })) => MultiResult::Create { path, stat: Some(stat) },
                (TxnBody::SetData { .. }, Ok(Response::Stat(stat))) => MultiResult::SetData { stat },
                (TxnBody::Check { .. }, Ok(_)) => MultiResult::Check,
                (TxnBody::Delete { .. } | TxnBody::DeleteContainer { .. }, Ok(_)) => MultiResult::Delete,
                // Prepare never puts other ops in a multi; a decoded log could. They are applied,
                // and reported like a delete: success without a body.
                (_, Ok(_)) => MultiResult::Delete,
            })
            .collect()
    }

    fn apply_op(
        &mut self,
        txn: &Txn,
        body: &TxnBody,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<Response, ErrorCode> {
        match body {
            TxnBody::CreateSession { timeout_ms } => {
                self.sessions.insert(txn.session, *timeout_ms);
                Ok(Response::Empty)
            }
            TxnBody::CloseSession { paths_to_delete } => {
                self.close_session(txn.session, txn.zxid, paths_to_delete, triggers);
                Ok(Response::Empty)
            }
            TxnBody::Create { path, data, acl, ephemeral_owner, parent_cversion, with_stat } => {
                let stat =
                    self.create_node(path, data, acl, *ephemeral_owner, *parent_cversion, txn, triggers)?;
                Ok(if *with_stat {
                    Response::Create2 { path: path.clone(), stat }
                } else {
                    Response::Create { path: path.clone() }
                })
            }
            TxnBody::CreateContainer { path, data, acl, parent_cversion } => {
                let owner = SessionId::CONTAINER_OWNER;
                let stat = self.create_node(path, data, acl, owner, *parent_cversion, txn, triggers)?;
                Ok(Response::Create2 { path: path.clone(), stat })
            }
            TxnBody::CreateTtl { path, data, acl, parent_cversion, ttl_ms } => {
                let owner = SessionId::ttl_owner(*ttl_ms);
                let stat = self.create_node(path, data, acl, owner, *parent_cversion, txn, triggers)?;
                Ok(Response::Create2 { path: path.clone(), stat })
            }
            TxnBody::Delete { path } | TxnBody::DeleteContainer { path } => {
                self.delete_node(path, txn.zxid, triggers)?;
                Ok(Response::Empty)
            }
            TxnBody::SetData { path, data, version } => {
                let zxid = txn.zxid;
                let stat = self
                    .update_node(path, |node| {
                        node.data = data.as_deref().map(Arc::from);
                        node.stat.mzxid = zxid;
                        node.stat.mtime_ms = txn.time_ms;
                        node.stat.version = *version;
                    })
                    .ok_or(ErrorCode::NoNode)?;
                triggers.push(self.trigger(path, EventType::NodeDataChanged, zxid));
                Ok(Response::Stat(stat))
            }
            TxnBody::SetAcl { path, acl, version } => {
                let stat = self
                    .update_node(path, |node| {
                        node.acl = Arc::from(acl.as_slice());
                        node.stat.aversion = *version;
                    })
                    .ok_or(ErrorCode::NoNode)?;
                Ok(Response::Stat(stat))
            }
            TxnBody::Check { path, .. } => {
                self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                Ok(Response::Empty)
            }
            TxnBody::Multi(_) => Err(ErrorCode::MarshallingError),
            TxnBody::Error { code } => Err(*code),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        path: &str,
        data: &Option<Vec<u8>>,
        acl: &[Acl],
        owner: SessionId,
        parent_cversion: i32,
        txn: &Txn,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<Stat, ErrorCode> {
        let zxid = txn.zxid;
        if path == "/" {
            return Err(ErrorCode::NodeExists);
        }
        // Prepared txns carry valid paths; a txn from elsewhere must not plant an unreachable node.
        validate_path(path)?;
        let parent = parent_of(path).ok_or(ErrorCode::BadArguments)?;
        let name = name_of(path);
        let parent_node = self.nodes.get(parent).ok_or(ErrorCode::NoNode)?;
        let exists = parent_node.children.contains(name);
        let target_cversion =
            if parent_cversion == -1 { parent_node.stat.cversion.wrapping_add(1) } else { parent_cversion };
        // Replay of a create whose effects a fuzzy snapshot already holds must still move the
        // parent's counter and pzxid forward (never back). "Forward" is serial-number order so
        // the counter can wrap past i32::MAX like the server's int does.
        let raise = target_cversion.wrapping_sub(parent_node.stat.cversion) > 0;
        if raise {
            self.update_node(parent, |p| {
                p.stat.cversion = target_cversion;
                p.stat.pzxid = zxid;
            });
        }
        if exists {
            return Err(ErrorCode::NodeExists);
        }
        let stat = NodeStat::created(zxid, txn.time_ms, owner);
        self.insert_raw(path, data.as_deref().map(Arc::from), Arc::from(acl), stat);
        triggers.push(self.trigger(path, EventType::NodeCreated, zxid));
        triggers.push(self.trigger(parent, EventType::NodeChildrenChanged, zxid));
        Ok(self.nodes[path].view().client_stat())
    }

    fn delete_node(
        &mut self,
        path: &str,
        zxid: Zxid,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<(), ErrorCode> {
        let parent = parent_of(path).ok_or(ErrorCode::BadArguments)?;
        if path == "/" || !self.nodes.contains_key(parent) {
            return Err(ErrorCode::NoNode);
        }
        let name = name_of(path);
        self.update_node(parent, |p| {
            p.children.remove(name);
            if zxid > p.stat.pzxid {
                p.stat.pzxid = zxid;
            }
        });
        let acl = match self.nodes.get(path) {
            Some(node) => Arc::clone(&node.acl),
            None => return Err(ErrorCode::NoNode),
        };
        // Live deletes only reach childless nodes (prepare checks NotEmpty). During replay onto a
        // fuzzy snapshot a node can hold children that were created after this txn; they will be
        // re-created by later txns of the log, so they go with it.
        let doomed: Vec<String> = if self.nodes[path].children.is_empty() {
            vec![path.to_string()]
        } else {
            let prefix = format!("{path}/");
            std::iter::once(path.to_string())
                .chain(
                    self.nodes
                        .range(prefix.clone()..)
                        .take_while(|(p, _)| p.starts_with(&prefix))
                        .map(|(p, _)| p.clone()),
                )
                .collect()
        };
        for doomed_path in &doomed {
            self.remove_raw(doomed_path);
        }
        triggers.push(WatchTrigger { path: path.to_string(), event_type: EventType::NodeDeleted, zxid, acl });
        triggers.push(self.trigger(parent, EventType::NodeChildrenChanged, zxid));
        Ok(())
    }

    fn close_session(
        &mut self,
        session: SessionId,
        zxid: Zxid,
        listed: &[String],
        triggers: &mut Vec<WatchTrigger>,
    ) {
        let local = self.ephemerals.get(&session).cloned().unwrap_or_default();
        for path in listed.iter().chain(local.iter().filter(|p| !listed.contains(p))) {
            // Paths already gone are skipped, as on replay.
            let _ = self.delete_node(path, zxid, triggers);
        }
        self.ephemerals.remove(&session);
        self.sessions.remove(&session);
    }

    fn trigger(&self, path: &str, event_type: EventType, zxid: Zxid) -> WatchTrigger {
        let acl = self.nodes.get(path).map_or_else(|| Arc::from(Vec::new()), |n| Arc::clone(&n.acl));
        WatchTrigger { path: path.to_string(), event_type, zxid, acl }
    }

    /// Mutates a node and keeps its cached digest and the tree digest exact; returns the new
    /// client-visible stat.
    fn update_node(&mut self, path: &str, f: impl FnOnce(&mut Node)) -> Option<Stat> {
        let node = self.nodes.get_mut(path)?;
        let before = node.digest;
        f(node);
        node.digest = node_digest(path, node);
        self.digest = self.digest.wrapping_sub(before as u64).wrapping_add(node.digest as u64);
        Some(node.view().client_stat())
    }

    /// Inserts a node and links it into its parent if the parent is present (the initial tree,
    /// creates and snapshot loading).
    pub(crate) fn insert_raw(
        &mut self,
        path: &str,
        data: Option<Arc<[u8]>>,
        acl: Arc<[Acl]>,
        stat: NodeStat,
    ) {
        let mut node = Node { data, acl, stat, children: BTreeSet::new(), digest: 0 };
        node.digest = node_digest(path, &node);
        self.digest = self.digest.wrapping_add(node.digest as u64);
        if let Some(session) = stat.ephemeral_session() {
            self.ephemerals.entry(session).or_default().insert(path.to_string());
        }
        if path != "/" {
            if let Some(parent) = parent_of(path) {
                if let Some(p) = self.nodes.get_mut(parent) {
                    p.children.insert(name_of(path).to_string());
                }
            }
        }
        if let Some(old) = self.nodes.insert(path.to_string(), node) {
            self.digest = self.digest.wrapping_sub(old.digest as u64);
        }
    }

    fn remove_raw(&mut self, path: &str) {
        if let Some(node) = self.nodes.remove(path) {
            self.digest = self.digest.wrapping_sub(node.digest as u64);
            if let Some(session) = node.stat.ephemeral_session() {
                if let Some(set) = self.ephemerals.get_mut(&session) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&session);
                    }
                }
            }
        }
    }

    pub(crate) fn nodes(&self) -> &BTreeMap<String, Node> {
        &self.nodes
    }

    pub(crate) fn set_loaded_state(&mut self, sessions: BTreeMap<SessionId, i32>, zxid: Zxid) {
        self.sessions = sessions;
        self.last_processed_zxid = zxid;
    }

    /// True if `path` is in the subtree whose nodes do not count toward the digest.
    pub fn is_digest_excluded(path: &str) -> bool {
        path.starts_with("/zookeeper/")
    }
}

fn node_digest(path: &str, node: &Node) -> u32 {
    node_digest_of(path, node.data.as_deref(), &node.stat)
}

/// CRC-32 over the path ("/" as ""), the data and the nine persisted stat fields (60 bytes,
/// big-endian); 0 for the /zookeeper/ subtree.
pub(crate) fn node_digest_of(path: &str, data: Option<&[u8]>, s: &NodeStat) -> u32 {
    if DataTree::is_digest_excluded(path) {
        return 0;
    }
    let mut h = crc32fast::Hasher::new();
    h.update(if path == "/" { b"" } else { path.as_bytes() });
    if let Some(data) = data {
        h.update(data);
    }
    let mut fields = [0u8; 60];
    fields[0..8].copy_from_slice(&s.czxid.0.to_be_bytes());
    fields[8..16].copy_from_slice(&s.mzxid.0.to_be_bytes());
    fields[16..24].copy_from_slice(&s.pzxid.0.to_be_bytes());
    fields[24..32].copy_from_slice(&s.ctime_ms.to_be_bytes());
    fields[32..40].copy_from_slice(&s.mtime_ms.to_be_bytes());
    fields[40..44].copy_from_slice(&s.version.to_be_bytes());
    fields[44..48].copy_from_slice(&s.cversion.to_be_bytes());
    fields[48..52].copy_from_slice(&s.aversion.to_be_bytes());
    fields[52..60].copy_from_slice(&s.ephemeral_owner.0.to_be_bytes());
    h.update(&fields);
    h.finalize()
}

/// A multi with an error op is a failed multi: it changes nothing and each op reports its code
/// (an op that is not an error, `RuntimeInconsistency`). `None` for a multi without errors.
fn failed_multi_results(ops: &[TxnBody]) -> Option<Vec<MultiResult>> {
    if !ops.iter().any(|op| matches!(op, TxnBody::Error { .. })) {
        return None;
    }
    let results = ops
        .iter()
        .map(|op| match op {
            TxnBody::Error { code } => MultiResult::Error { code: *code },
            _ => MultiResult::Error { code: ErrorCode::RuntimeInconsistency },
        })
        .collect();
    Some(results)
}
