//! The leader's prepare step (ZooKeeper's PrepRequestProcessor): validates a write against the
//! tree *plus* the effects of txns that are prepared but not yet applied, and turns it into a
//! [`Txn`] — an error txn when it fails, because failed writes consume a zxid too
//! (reference §1.1, §3.1 "Create check order", §3.3, §3.4).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::acl::{check_acl, fixup_acl};
use crate::path::{is_special, parent_of, validate_path};
use crate::tree::node_digest_of;
use crate::{
    Acl, AuthIds, CreateKind, CreateMode, DataTree, ErrorCode, NodeStat, Perms, Request, SessionId, Txn,
    TxnBody, Zxid,
};

/// What the server knows about the requesting session when it prepares a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    /// A live global session.
    Active,
    /// A live local session: it cannot own ephemerals.
    Local,
    /// Expired, closing or unknown: writes fail with `SessionExpired`.
    Expired,
    /// The session is now connected to another server: `SessionMoved`.
    Moved,
}

/// Everything about one request that is not in the request body.
#[derive(Clone, Copy, Debug)]
pub struct PrepContext<'a> {
    /// The requesting session.
    pub session: SessionId,
    /// The request's xid.
    pub cxid: i32,
    /// The zxid this txn gets (the next one, also if the request fails).
    pub zxid: Zxid,
    /// Leader wall-clock time, ms.
    pub time_ms: i64,
    /// The ids the connection authenticated as.
    pub auth: &'a AuthIds,
    /// The session's state.
    pub session_status: SessionStatus,
}

impl<'a> PrepContext<'a> {
    /// The context of a txn the server makes on its own, such as reaping a container or an
    /// expired TTL node: no session, no xid, the given (empty) auth.
    pub fn system(zxid: Zxid, time_ms: i64, auth: &'a AuthIds) -> PrepContext<'a> {
        PrepContext {
            session: SessionId(0),
            cxid: 0,
            zxid,
            time_ms,
            auth,
            session_status: SessionStatus::Active,
        }
    }
}

/// The state of one node as the leader expects it after every prepared txn.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingNode {
    stat: NodeStat,
    num_children: usize,
    acl: Arc<[Acl]>,
    data: Option<Arc<[u8]>>,
}

impl PendingNode {
    fn digest(&self, path: &str) -> u32 {
        node_digest_of(path, self.data.as_deref(), &self.stat)
    }
}

/// A prepared change to one path: `node` is `None` when the path will be deleted.
#[derive(Clone, Debug)]
struct ChangeRecord {
    zxid: Zxid,
    node: Option<PendingNode>,
}

/// The prepare step with its outstanding change records.
#[derive(Clone, Debug, Default)]
pub struct Preparer {
    outstanding: BTreeMap<String, ChangeRecord>,
    closing: BTreeSet<SessionId>,
    /// How much each prepared txn changes the tree digest (wrapping), by zxid, until applied.
    digest_deltas: BTreeMap<Zxid, u64>,
    /// The digest change of the txn being prepared.
    delta: u64,
}

/// Undo log for a multi: the records to restore, and the digest change to take back, if one of
/// its ops fails.
type Undo = Vec<(String, Option<ChangeRecord>, u64)>;

impl Preparer {
    /// No outstanding changes.
    pub fn new() -> Preparer {
        Preparer::default()
    }

    /// Prepares a write (`req.is_write()`): returns its txn, an error txn if a check fails.
    /// Checks run in the server's order, so the same error wins. Non-write requests give an
    /// error txn with `BadArguments`; the server answers those without the prepare step.
    pub fn prepare(&mut self, tree: &DataTree, ctx: &PrepContext<'_>, req: &Request) -> Txn {
        if *req == Request::CloseSession {
            return self.prepare_close_session(tree, ctx);
        }
        self.delta = 0;
        let body = match req {
            Request::Multi(ops) => self.prep_multi(tree, ctx, ops),
            _ => {
                let mut undo = Undo::new();
                self.prep_op(tree, ctx, req, &mut undo).unwrap_or_else(|code| TxnBody::Error { code })
            }
        };
        self.finish(tree, ctx, body)
    }

    /// Prepares a createSession txn. It changes no node, so it carries no digest (the tree is
    /// not needed to prepare it).
    pub fn prepare_create_session(&mut self, ctx: &PrepContext<'_>, timeout_ms: i32) -> Txn {
        self.closing.remove(&ctx.session);
        Txn {
            zxid: ctx.zxid,
            session: ctx.session,
            cxid: ctx.cxid,
            time_ms: ctx.time_ms,
            body: TxnBody::CreateSession { timeout_ms },
            digest: None,
        }
    }

    /// Prepares a closeSession txn listing every ephemeral of the session, including ones whose
    /// create is still pending and excluding ones whose delete is. Later writes of the session
    /// fail with `SessionExpired`, so no ephemeral can slip in after the list was taken.
    pub fn prepare_close_session(&mut self, tree: &DataTree, ctx: &PrepContext<'_>) -> Txn {
        self.delta = 0;
        let mut paths: BTreeSet<String> = tree.ephemerals_of(ctx.session).map(str::to_string).collect();
        for (path, record) in &self.outstanding {
            // The pending state decides: a path deleted, or deleted and re-created as some other
            // node (a multi can do both), is no longer this session's ephemeral.
            match &record.node {
                Some(node) if node.stat.ephemeral_session() == Some(ctx.session) => {
                    paths.insert(path.clone());
                }
                _ => {
                    paths.remove(path);
                }
            }
        }
        for path in &paths {
            self.record_delete(tree, ctx.zxid, path, &mut Undo::new());
        }
        self.closing.insert(ctx.session);
        self.finish(tree, ctx, TxnBody::CloseSession { paths_to_delete: paths.into_iter().collect() })
    }

    /// Prepares the reaper's deleteContainer for `path`: `NoNode`, `NotEmpty` if it has
    /// children, `BadVersion` if it is a session ephemeral (a race the reaper loses harmlessly).
    pub fn prepare_delete_container(&mut self, tree: &DataTree, ctx: &PrepContext<'_>, path: &str) -> Txn {
        self.delta = 0;
        let body = self.prep_delete_container(tree, ctx, path).unwrap_or_else(|code| TxnBody::Error { code });
        self.finish(tree, ctx, body)
    }

    /// The txn with this zxid (and every earlier one) has been applied to the tree: its change
    /// records are no longer needed.
    pub fn applied(&mut self, zxid: Zxid) {
        self.outstanding.retain(|_, record| record.zxid > zxid);
        self.digest_deltas.retain(|z, _| *z > zxid);
    }

    /// Drops every outstanding change (leadership lost).
    pub fn clear(&mut self) {
        self.outstanding.clear();
        self.closing.clear();
        self.digest_deltas.clear();
    }

    /// Number of paths with outstanding changes.
    pub fn outstanding_count(&self) -> usize {
        self.outstanding.len()
    }

    // ------------------------------------------------------------------ internals

    /// Stamps the txn with the tree digest every replica will have after applying it: the
    /// tree's digest, plus the changes of the prepared txns it has not applied yet, plus this
    /// txn's own change.
    fn finish(&mut self, tree: &DataTree, ctx: &PrepContext<'_>, body: TxnBody) -> Txn {
        self.digest_deltas.insert(ctx.zxid, self.delta);
        let applied = tree.last_processed_zxid();
        let digest = self
            .digest_deltas
            .range(..=ctx.zxid)
            .filter(|(z, _)| **z > applied)
            .fold(tree.digest(), |sum, (_, delta)| sum.wrapping_add(*delta));
        Txn {
            zxid: ctx.zxid,
            session: ctx.session,
            cxid: ctx.cxid,
            time_ms: ctx.time_ms,
            body,
            digest: Some(digest),
        }
    }

    fn prep_multi(&mut self, tree: &DataTree, ctx: &PrepContext<'_>, ops: &[Request]) -> TxnBody {
        let mut undo = Undo::new();
        let mut bodies = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let allowed = matches!(
                op,
                Request::Create { .. }
                    | Request::Delete { .. }
                    | Request::SetData { .. }
                    | Request::Check { .. }
            );
            let result =
                if allowed { self.prep_op(tree, ctx, op, &mut undo) } else { Err(ErrorCode::BadArguments) };
            match result {
                Ok(body) => bodies.push(body),
                Err(code) => {
                    self.rollback(undo);
                    let errors = (0..ops.len()).map(|j| TxnBody::Error {
                        code: match j.cmp(&i) {
                            std::cmp::Ordering::Less => ErrorCode::Ok,
                            std::cmp::Ordering::Equal => code,
                            std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
                        },
                    });
                    return TxnBody::Multi(errors.collect());
                }
            }
        }
        TxnBody::Multi(bodies)
    }

    fn prep_op(
        &mut self,
        tree: &DataTree,
        ctx: &PrepContext<'_>,
        req: &Request,
        undo: &mut Undo,
    ) -> Result<TxnBody, ErrorCode> {
        match req {
            Request::Create { path, data, acl, flags, kind } => {
                self.prep_create(tree, ctx, path, data, acl, *flags, *kind, undo)
            }
            Request::Delete { path, version } => {
                self.check_session(ctx, false)?;
                if path.contains('\0') || is_special(path) {
                    return Err(ErrorCode::BadArguments);
                }
                let parent_path = parent_of(path).ok_or(ErrorCode::BadArguments)?;
                let parent = self.lookup(tree, parent_path).ok_or(ErrorCode::NoNode)?;
                if !check_acl(&parent.acl, ctx.auth, Perms::DELETE) {
                    return Err(ErrorCode::NoAuth);
                }
                let node = self.lookup(tree, path).ok_or(ErrorCode::NoNode)?;
                check_version(*version, node.stat.version)?;
                if node.num_children > 0 {
                    return Err(ErrorCode::NotEmpty);
                }
                self.record_delete(tree, ctx.zxid, path, undo);
                Ok(TxnBody::Delete { path: path.clone() })
            }
            Request::SetData { path, data, version } => {
                self.check_session(ctx, false)?;
                validate_path(path)?;
                let mut node = self.lookup(tree, path).ok_or(ErrorCode::NoNode)?;
                if !check_acl(&node.acl, ctx.auth, Perms::WRITE) {
                    return Err(ErrorCode::NoAuth);
                }
                check_version(*version, node.stat.version)?;
                let new_version = node.stat.version.wrapping_add(1);
                node.stat.version = new_version;
                node.stat.mzxid = ctx.zxid;
                node.stat.mtime_ms = ctx.time_ms;
                node.data = data.as_deref().map(Arc::from);
                self.record(tree, ctx.zxid, path, Some(node), undo);
                Ok(TxnBody::SetData { path: path.clone(), data: data.clone(), version: new_version })
            }
            Request::SetAcl { path, acl, version } => {
                self.check_session(ctx, false)?;
                validate_path(path)?;
                let acl = fixup_acl(acl, ctx.auth)?;
                let mut node = self.lookup(tree, path).ok_or(ErrorCode::NoNode)?;
                if !check_acl(&node.acl, ctx.auth, Perms::ADMIN) {
                    return Err(ErrorCode::NoAuth);
                }
                check_version(*version, node.stat.aversion)?;
                let new_version = node.stat.aversion.wrapping_add(1);
                node.stat.aversion = new_version;
                node.acl = Arc::from(acl.as_slice());
                self.record(tree, ctx.zxid, path, Some(node), undo);
                Ok(TxnBody::SetAcl { path: path.clone(), acl, version: new_version })
            }
            Request::Check { path, version } => {
                self.check_session(ctx, false)?;
                validate_path(path)?;
                let node = self.lookup(tree, path).ok_or(ErrorCode::NoNode)?;
                if !check_acl(&node.acl, ctx.auth, Perms::READ) {
                    return Err(ErrorCode::NoAuth);
                }
                check_version(*version, node.stat.version)?;
                Ok(TxnBody::Check { path: path.clone(), version: *version })
            }
            Request::DeleteContainer { path } => self.prep_delete_container(tree, ctx, path),
            _ => Err(ErrorCode::BadArguments),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn prep_create(
        &mut self,
        tree: &DataTree,
        ctx: &PrepContext<'_>,
        path: &str,
        data: &Option<Vec<u8>>,
        acl: &[Acl],
        flags: i32,
        kind: CreateKind,
        undo: &mut Undo,
    ) -> Result<TxnBody, ErrorCode> {
        // 1. Mode and TTL.
        let mode = CreateMode::from_flags(flags)?;
        if mode.is_ttl() && !tree.config().extended_types {
            return Err(ErrorCode::Unimplemented);
        }
        let ttl_ms = match kind {
            CreateKind::Ttl(ttl) => ttl,
            _ => -1,
        };
        let ttl_ok = if mode.is_ttl() { (1..=SessionId::TTL_MAX_MS).contains(&ttl_ms) } else { ttl_ms < 0 };
        if !ttl_ok {
            return Err(ErrorCode::BadArguments);
        }
        // 2. Session.
        self.check_session(ctx, mode.is_ephemeral())?;
        // 3. Parent from the last '/'.
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = parent_of(path).ok_or(ErrorCode::BadArguments)?;
        // 4. ACL fix-up (before the parent lookup, so it wins over NoNode).
        let acl = fixup_acl(acl, ctx.auth)?;
        // 5. Parent.
        let parent = self.lookup(tree, parent_path).ok_or(ErrorCode::NoNode)?;
        // 6. Permission.
        if !check_acl(&parent.acl, ctx.auth, Perms::CREATE) {
            return Err(ErrorCode::NoAuth);
        }
        // 7. Sequence suffix from the pending child-create counter, then the full path.
        let path = if mode.is_sequential() {
            format!("{path}{:010}", parent.stat.cversion)
        } else {
            path.to_string()
        };
        validate_path(&path)?;
        // 8. Existing (or pending) node.
        if self.lookup(tree, &path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        // 9. Ephemeral parent.
        if parent.stat.ephemeral_session().is_some() {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let parent_cversion = parent.stat.cversion.wrapping_add(1);
        let (body, owner) = match kind {
            CreateKind::Container => (
                TxnBody::CreateContainer {
                    path: path.clone(),
                    data: data.clone(),
                    acl: acl.clone(),
                    parent_cversion,
                },
                SessionId::CONTAINER_OWNER,
            ),
            CreateKind::Ttl(ttl_ms) => (
                TxnBody::CreateTtl {
                    path: path.clone(),
                    data: data.clone(),
                    acl: acl.clone(),
                    parent_cversion,
                    ttl_ms,
                },
                SessionId::ttl_owner(ttl_ms),
            ),
            CreateKind::Create | CreateKind::Create2 => {
                let owner = if mode.is_ephemeral() { ctx.session } else { SessionId::NONE };
                let body = TxnBody::Create {
                    path: path.clone(),
                    data: data.clone(),
                    acl: acl.clone(),
                    ephemeral_owner: owner,
                    parent_cversion,
                    with_stat: kind == CreateKind::Create2,
                };
                (body, owner)
            }
        };
        let mut parent = parent;
        parent.stat.cversion = parent_cversion;
        parent.stat.pzxid = ctx.zxid;
        parent.num_children += 1;
        self.record(tree, ctx.zxid, parent_path, Some(parent), undo);
        let node = PendingNode {
            stat: NodeStat::created(ctx.zxid, ctx.time_ms, owner),
            num_children: 0,
            acl: acl.into(),
            data: data.as_deref().map(Arc::from),
        };
        self.record(tree, ctx.zxid, &path, Some(node), undo);
        Ok(body)
    }

    fn prep_delete_container(
        &mut self,
        tree: &DataTree,
        ctx: &PrepContext<'_>,
        path: &str,
    ) -> Result<TxnBody, ErrorCode> {
        if is_special(path) {
            return Err(ErrorCode::BadArguments);
        }
        let node = self.lookup(tree, path).ok_or(ErrorCode::NoNode)?;
        if node.num_children > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        if node.stat.ephemeral_session().is_some() {
            return Err(ErrorCode::BadVersion);
        }
        let parent_path = parent_of(path).ok_or(ErrorCode::BadArguments)?;
        self.lookup(tree, parent_path).ok_or(ErrorCode::NoNode)?;
        self.record_delete(tree, ctx.zxid, path, &mut Undo::new());
        Ok(TxnBody::DeleteContainer { path: path.to_string() })
    }

    fn check_session(&self, ctx: &PrepContext<'_>, ephemeral: bool) -> Result<(), ErrorCode> {
        if self.closing.contains(&ctx.session) {
            return Err(ErrorCode::SessionExpired);
        }
        match ctx.session_status {
            SessionStatus::Active => Ok(()),
            SessionStatus::Local if ephemeral => Err(ErrorCode::EphemeralOnLocalSession),
            SessionStatus::Local => Ok(()),
            SessionStatus::Expired => Err(ErrorCode::SessionExpired),
            SessionStatus::Moved => Err(ErrorCode::SessionMoved),
        }
    }

    /// The node as it will be after every prepared txn.
    fn lookup(&self, tree: &DataTree, path: &str) -> Option<PendingNode> {
        match self.outstanding.get(path) {
            Some(record) => record.node.clone(),
            None => tree.nodes().get(path).map(|n| PendingNode {
                stat: n.stat,
                num_children: n.children.len(),
                acl: Arc::clone(&n.acl),
                data: n.data.clone(),
            }),
        }
    }

    fn record_delete(&mut self, tree: &DataTree, zxid: Zxid, path: &str, undo: &mut Undo) {
        if let Some(parent_path) = parent_of(path) {
            if let Some(mut parent) = self.lookup(tree, parent_path) {
                parent.num_children = parent.num_children.saturating_sub(1);
                parent.stat.pzxid = zxid;
                self.record(tree, zxid, parent_path, Some(parent), undo);
            }
        }
        self.record(tree, zxid, path, None, undo);
    }

    /// Records the new pending state of `path` and adds its digest change to the txn's.
    fn record(
        &mut self,
        tree: &DataTree,
        zxid: Zxid,
        path: &str,
        node: Option<PendingNode>,
        undo: &mut Undo,
    ) {
        let before = self.lookup(tree, path).map_or(0, |n| n.digest(path));
        let after = node.as_ref().map_or(0, |n| n.digest(path));
        let delta = (after as u64).wrapping_sub(before as u64);
        self.delta = self.delta.wrapping_add(delta);
        let previous = self.outstanding.insert(path.to_string(), ChangeRecord { zxid, node });
        undo.push((path.to_string(), previous, delta));
    }

    fn rollback(&mut self, undo: Undo) {
        for (path, previous, delta) in undo.into_iter().rev() {
            self.delta = self.delta.wrapping_sub(delta);
            match previous {
                Some(record) => self.outstanding.insert(path, record),
                None => self.outstanding.remove(&path),
            };
        }
    }
}

fn check_version(expected: i32, current: i32) -> Result<(), ErrorCode> {
    if expected == -1 || expected == current {
        Ok(())
    } else {
        Err(ErrorCode::BadVersion)
    }
}
