//! P-compositional partitioning of ZooKeeper histories by the parts of the tree operations read.
//!
//! # The resources
//!
//! The tree is split into resources: for each path, its *node* (existence, data, ACL, owner,
//! version, aversion, czxid, mzxid) and its *children* (child names, numChildren, cversion,
//! pzxid). Each operation reads some resources (its legality or its result depends on them)
//! and writes some (its effect changes them):
//!
//! | operation                     | reads                                | writes                  |
//! |-------------------------------|--------------------------------------|-------------------------|
//! | create `p` under `q`          | node `q`, node `p`                   | node `p`, children `q`  |
//! | delete `p` under `q`          | node `p`, children `p`               | node `p`, children `q`  |
//! | setData / setACL / check `p`  | node `p`                             | node `p` (not check)    |
//! | getData / exists / getACL / getChildren `p` | node `p`, children `p` |                         |
//! | reap `p` under `q`            | node `p`, children `p`               | node `p`, children `q`  |
//! | close / expire session `s`    | node `e` for each ephemeral `e` of `s` | those, their parents' children |
//! | multi                         | the union of its ops'                | the union               |
//!
//! A sequential create's name comes from the parent's cversion, so under a parent `q` that
//! has sequential creates, every child's node counts as part of children `q` (it is read).
//! Reads over many paths (getAllChildrenNumber, getEphemerals) read everything.
//!
//! # Why splitting is sound
//!
//! Operations are joined when they touch a resource that some operation of the history
//! *reads* and some operation *writes*; the parts are the connected components. A resource
//! nobody writes holds its initial value throughout, in every part's tree alike (the root's
//! node, read by every top-level create, is one). A resource nobody reads can be dropped from
//! the state: every operation's legality and result depend only on what it reads, and its
//! effect on a resource depends only on that resource and what it reads (a create's effect on
//! children `q` is to add one name and bump cversion and pzxid), so the projection of the
//! state onto read resources evolves the same whatever the unread ones hold. What is left is a
//! product of independent objects, one per component: each component's operations touch only
//! its own read resources. Linearizability is local (Herlihy & Wing), so the writes are
//! linearizable iff they are in every component. Each component is checked on a whole tree,
//! whose values for resources other components read may be wrong but are never looked at.
//!
//! Sequential consistency is not local: a session that reads a newer state in one component and
//! then an older one in another breaks it in a way no single component shows. Per component the
//! session floors (and the zxid order) see only that component's operations, a relaxation: a
//! part found inconsistent is a real violation, but cross-component session-order anomalies are
//! left to the zxid-witness checker, which orders everything by zxid (or to an unpartitioned
//! search, [`super::check_black_box`] with `whole`). A sync belongs to every component its
//! session has operations in (the same relaxation: it may take effect at a different point in
//! each).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use zab_tree::path::parent_of;
use zab_tree::proto::Request;
use zab_tree::CreateMode;

use super::model::{ZkAction, ZkOp};

/// One resource of the tree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Resource {
    /// A node's own fields.
    Node(String),
    /// A node's children and the counters about them.
    Children(String),
    /// Everything (an operation that reads across the tree).
    All,
}

/// How an operation touches a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Its legality or result depends on it.
    Read,
    /// Its effect changes it.
    Write,
    /// Both.
    ReadWrite,
}

impl Access {
    fn reads(self) -> bool {
        self != Access::Write
    }

    fn writes(self) -> bool {
        self != Access::Read
    }
}

/// The resources each operation touches, and how.
pub(crate) struct Footprints {
    seq_parents: BTreeSet<String>,
    ephemerals: BTreeMap<u64, BTreeSet<String>>,
}

impl Footprints {
    pub(crate) fn new<'a>(ops: impl IntoIterator<Item = &'a ZkOp>) -> Self {
        let mut seq_parents = BTreeSet::new();
        let mut ephemerals: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        for op in ops {
            if let ZkAction::Write { request, .. } = &op.action {
                for_each_create(request, &mut |path, mode| {
                    if mode.is_sequential() {
                        seq_parents.insert(parent_of(path).unwrap_or("/").to_string());
                    }
                    if mode.is_ephemeral() {
                        ephemerals.entry(op.session).or_default().insert(path.to_string());
                    }
                });
            }
        }
        Footprints { seq_parents, ephemerals }
    }

    fn node(&self, path: &str) -> Resource {
        match parent_of(path) {
            Some(p) if self.seq_parents.contains(p) => Resource::Children(p.to_string()),
            _ => Resource::Node(path.to_string()),
        }
    }

    /// The resources `op` touches and how.
    pub(crate) fn of(&self, op: &ZkOp) -> Vec<(Resource, Access)> {
        let mut out = Vec::new();
        match &op.action {
            ZkAction::Write { request, .. } => self.request(op.session, request, &mut out),
            ZkAction::Read { request, .. } => self.request(op.session, request, &mut out),
            ZkAction::Sync { .. } => {}
            ZkAction::Reap { path } => self.delete(path, &mut out),
            ZkAction::Expire => self.close(op.session, &mut out),
        }
        out
    }

    fn delete(&self, path: &str, out: &mut Vec<(Resource, Access)>) {
        out.push((self.node(path), Access::ReadWrite));
        out.push((Resource::Children(path.to_string()), Access::Read));
        out.push((Resource::Children(parent_of(path).unwrap_or("/").to_string()), Access::Write));
    }

    fn close(&self, session: u64, out: &mut Vec<(Resource, Access)>) {
        for path in self.ephemerals.get(&session).into_iter().flatten() {
            out.push((self.node(path), Access::ReadWrite));
            out.push((Resource::Children(parent_of(path).unwrap_or("/").to_string()), Access::Write));
        }
    }

    fn request(&self, session: u64, request: &Request, out: &mut Vec<(Resource, Access)>) {
        match request {
            Request::Create { path, .. } => {
                let parent = parent_of(path).unwrap_or("/");
                // The parent node as its writers name it (under a sequential parent, a child counts
                // as part of the grandparent's children).
                out.push((self.node(parent), Access::Read));
                out.push((self.node(path), Access::ReadWrite));
                out.push((Resource::Children(parent.to_string()), Access::Write));
            }
            Request::Delete { path, .. } => self.delete(path, out),
            Request::SetData { path, .. } | Request::SetAcl { path, .. } => {
                out.push((self.node(path), Access::ReadWrite))
            }
            Request::Check { path, .. } => out.push((self.node(path), Access::Read)),
            Request::Exists { path, .. }
            | Request::GetData { path, .. }
            | Request::GetAcl { path }
            | Request::GetChildren { path, .. }
            | Request::GetChildren2 { path, .. } => {
                out.push((self.node(path), Access::Read));
                out.push((Resource::Children(path.clone()), Access::Read));
            }
            Request::Multi(ops) => {
                for op in ops {
                    self.request(session, op, out);
                }
            }
            Request::CloseSession => self.close(session, out),
            _ => out.push((Resource::All, Access::Read)),
        }
    }
}

/// Calls `f` with the requested path and mode of every create in `request` (a multi's too).
pub(crate) fn for_each_create(request: &Request, f: &mut dyn FnMut(&str, CreateMode)) {
    match request {
        Request::Create { path, flags, .. } => {
            if let Ok(mode) = CreateMode::from_flags(*flags) {
                f(path, mode);
            }
        }
        Request::Multi(ops) => ops.iter().for_each(|op| for_each_create(op, f)),
        _ => {}
    }
}

/// The independent parts of `ops`: connected components of "touch a resource some operation
/// reads", each in ascending index order, ordered by their first operation. Syncs join every
/// part their session is in. Takes the operations themselves or references to them.
pub fn parts<T: Borrow<ZkOp>>(ops: &[T]) -> Vec<Vec<usize>> {
    let op = |i: usize| ops[i].borrow();
    let footprints = Footprints::new(ops.iter().map(T::borrow));
    let touched: Vec<Vec<(Resource, Access)>> = ops.iter().map(|op| footprints.of(op.borrow())).collect();
    let read: BTreeSet<&Resource> =
        touched.iter().flatten().filter(|(_, a)| a.reads()).map(|(r, _)| r).collect();
    let written: BTreeSet<&Resource> =
        touched.iter().flatten().filter(|(_, a)| a.writes()).map(|(r, _)| r).collect();
    let all = read.contains(&Resource::All);
    // Only resources both read and written join: one nobody reads constrains nothing, one
    // nobody writes (a read-only node, like / itself) holds its initial value in every part.
    let read: BTreeSet<&Resource> = read.into_iter().filter(|r| written.contains(r)).collect();
    let mut uf = UnionFind::new(ops.len());
    let mut first_toucher: BTreeMap<&Resource, usize> = BTreeMap::new();
    let mut first_any: Option<usize> = None;
    for (i, footprint) in touched.iter().enumerate() {
        for (resource, _) in footprint {
            if !read.contains(resource) {
                continue;
            }
            match first_toucher.get(resource) {
                Some(&j) => uf.union(i, j),
                None => {
                    first_toucher.insert(resource, i);
                }
            }
        }
        // An operation reading everything joins every operation that touches anything.
        if all && !footprint.is_empty() {
            match first_any {
                Some(j) => uf.union(i, j),
                None => first_any = Some(i),
            }
        }
    }
    let mut parts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut syncs = Vec::new();
    for (i, op) in ops.iter().map(T::borrow).enumerate() {
        if matches!(op.action, ZkAction::Sync { .. }) {
            syncs.push(i);
        } else {
            parts.entry(uf.find(i)).or_default().push(i);
        }
    }
    let mut parts: Vec<Vec<usize>> = parts.into_values().collect();
    for s in syncs {
        let session = op(s).session;
        let mut placed = false;
        for part in &mut parts {
            if part.iter().any(|&i| op(i).session == session) {
                let at = part.partition_point(|&i| i < s);
                part.insert(at, s);
                placed = true;
            }
        }
        if !placed {
            parts.push(vec![s]);
        }
    }
    parts.sort_by_key(|p| p[0]);
    parts
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind { parent: (0..n).collect() }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b);
        }
    }
}
