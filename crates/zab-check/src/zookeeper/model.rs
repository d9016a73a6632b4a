//! The sequential specification of ZooKeeper's guarantee, for the black-box search: zab-tree's
//! own prepare and apply steps give every write its exact result (error codes in the server's
//! check order, sequential names from the parent's cversion, multi's per-op results, every Stat
//! field), and the state keeps every version of the tree the writes produced so that a read may
//! return an older version, but never one older than its session has already seen.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use zab_tree::proto::{MultiResult, Request, Response};
use zab_tree::{
    AuthIds, DataTree, ErrorCode, OwnerKind, PrepContext, Preparer, SessionId, SessionStatus, Stat,
    TreeConfig, Txn, Zxid,
};

use crate::model::Model;

/// Zxids from here up stand for the unknown zxid of a write whose reply never came (or carried
/// none): a Stat field holding one matches any observed zxid. Real zxids never get here (the
/// epoch would have to exceed 0xFFFF_0000).
pub const UNKNOWN_ZXID_BASE: u64 = 0xFFFF_0000_0000_0000;

/// What a call observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The server answered with this response.
    Ok(Response),
    /// The server answered with this error (a failed multi: its first failing op's code).
    Err(ErrorCode),
    /// No answer (connection loss, session expired, never completed): a write may or may not
    /// have taken effect; a read constrains nothing.
    Unknown,
}

/// What an operation of the model does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkAction {
    /// A client write (create in any mode, delete, setData, setACL, multi, closeSession) that
    /// got zxid `zxid` (a stand-in from [`UNKNOWN_ZXID_BASE`] when no reply revealed it).
    Write {
        /// The request.
        request: Request,
        /// Its zxid.
        zxid: Zxid,
    },
    /// A read answered from one version of the tree, which the reply's zxid names when known.
    Read {
        /// The request.
        request: Request,
        /// The reply header's zxid: the last txn the answering server had applied.
        zxid: Option<Zxid>,
    },
    /// sync: the session's later reads see at least the state when it took effect. `zxid` is
    /// the reply's (the server's last applied txn when it answered), when known.
    Sync { zxid: Option<Zxid> },
    /// The leader's reaper deleting the container or TTL node `path` once it is eligible: no
    /// client asks for it, so it may happen at any time, or never.
    Reap {
        /// The node.
        path: String,
    },
    /// The session expiring: the leader closes it and its ephemerals go; may happen or not.
    Expire,
}

/// One operation: who did what and what they saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkOp {
    /// The session.
    pub session: u64,
    /// Position among the session's operations with a known outcome (FIFO order: they take
    /// effect in this order); `None` for operations with an unknown outcome, which may take
    /// effect late or never.
    pub order: Option<u32>,
    /// What it does.
    pub action: ZkAction,
    /// What was observed.
    pub observed: Observed,
    /// Where the revealed zxids pin it among the acknowledged writes with revealed zxids of the
    /// history being searched (see [`annotate`]): for such a write, the largest such zxid below
    /// its own (0: none), which must be the last to have taken effect before it; for a read
    /// with a zxid, the largest such zxid at or below the read's, whose write made the version
    /// it saw. `None` constrains nothing.
    pub after: Option<u64>,
}

/// Sets every operation's [`ZkOp::after`] from the acknowledged writes among `ops`. The search
/// would reach the same verdict without it (revealed zxids must increase along the order and
/// name the version a read saw), but it turns an order discovered to be wrong many steps later
/// into one refused at once.
pub fn annotate(ops: &mut [ZkOp]) {
    let mut acked: Vec<u64> = ops.iter().filter_map(acknowledged_zxid).collect();
    acked.sort_unstable();
    for op in ops.iter_mut() {
        op.after = match (&op.action, acknowledged_zxid(op)) {
            (ZkAction::Write { .. }, Some(z)) => {
                Some(acked[..acked.partition_point(|&a| a < z)].last().copied().unwrap_or(0))
            }
            (ZkAction::Read { zxid: Some(z), .. }, _) if op.observed != Observed::Unknown => {
                Some(acked[..acked.partition_point(|&a| a <= z.0)].last().copied().unwrap_or(0))
            }
            _ => None,
        };
    }
}

/// The zxid of an acknowledged write that revealed it.
fn acknowledged_zxid(op: &ZkOp) -> Option<u64> {
    match (&op.action, &op.observed) {
        (ZkAction::Write { zxid, .. }, Observed::Ok(_)) if !is_unknown(*zxid) => Some(zxid.0),
        _ => None,
    }
}

/// The model: ZooKeeper's data tree (with the server's tree settings) under ZooKeeper's
/// consistency guarantee.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZkModel {
    /// The servers' tree settings (TTL nodes need `extended_types`).
    pub config: TreeConfig,
    /// For [`super::check_black_box`]: search the whole history at once instead of one
    /// independent part at a time: slower, but it also sees session-order anomalies that span
    /// parts (see [`super::partition`]). The model itself never splits a history.
    pub unpartitioned: bool,
}

/// One version of the tree: after some prefix of the write order.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    tree: DataTree,
    /// Sessions closed or expired by now.
    closed: BTreeSet<u64>,
    /// The largest real zxid among the writes that produced it (0 for none).
    max_zxid: u64,
    hash: u64,
}

impl Version {
    fn new(tree: DataTree, closed: BTreeSet<u64>, max_zxid: u64) -> Version {
        let mut h = crate::hash::mix64(tree.digest() ^ (tree.node_count() as u64).rotate_left(40));
        h = crate::hash::mix64(h ^ max_zxid);
        for s in &closed {
            h = crate::hash::mix64(h ^ s);
        }
        Version { tree, closed, max_zxid, hash: h }
    }
}

/// Every version of the tree so far, newest first, as a shared list: states that extend one
/// another share their older versions, so a state costs its new version and nothing more.
#[derive(Clone, Debug)]
struct Versions(Rc<Link>);

#[derive(Debug)]
struct Link {
    version: Version,
    /// Position in write order (0: the initial tree).
    index: u32,
    older: Option<Rc<Link>>,
    /// Hash of this version and all older ones.
    hash: u64,
}

impl Versions {
    fn new(initial: Version) -> Versions {
        let hash = initial.hash;
        Versions(Rc::new(Link { version: initial, index: 0, older: None, hash }))
    }

    fn latest(&self) -> &Version {
        &self.0.version
    }

    fn latest_index(&self) -> u32 {
        self.0.index
    }

    fn push(&mut self, version: Version) {
        let hash = crate::hash::mix64(self.0.hash ^ version.hash.rotate_left(29));
        let index = self.0.index + 1;
        self.0 = Rc::new(Link { version, index, older: Some(Rc::clone(&self.0)), hash });
    }

    /// Newest first.
    fn iter(&self) -> impl Iterator<Item = &Link> {
        std::iter::successors(Some(&*self.0), |l| l.older.as_deref())
    }
}

impl PartialEq for Versions {
    fn eq(&self, other: &Versions) -> bool {
        let (mut a, mut b) = (&self.0, &other.0);
        loop {
            if Rc::ptr_eq(a, b) {
                return true;
            }
            if a.hash != b.hash || a.index != b.index || a.version != b.version {
                return false;
            }
            match (&a.older, &b.older) {
                (Some(x), Some(y)) => (a, b) = (x, y),
                (None, None) => return true,
                _ => return false,
            }
        }
    }
}

impl Eq for Versions {}

impl Hash for Versions {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// What the model remembers about one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct SessionView {
    /// The oldest version its reads may return.
    floor: u32,
    /// The `order` of its last operation to take effect.
    last_order: Option<u32>,
    /// The largest zxid its replies revealed.
    zxid_seen: u64,
}

/// The model's state: every version of the tree in write order, each session's view, and the
/// largest zxid any reply placed in the order so far (later writes need larger ones).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ZkState {
    versions: Versions,
    sessions: BTreeMap<u64, SessionView>,
    zxid_floor: u64,
}

impl ZkState {
    /// The latest version of the tree.
    pub fn tree(&self) -> &DataTree {
        &self.latest().tree
    }

    fn latest(&self) -> &Version {
        self.versions.latest()
    }

    /// Position of the latest version in write order.
    pub(crate) fn latest_index(&self) -> u32 {
        self.versions.latest_index()
    }

    /// Roughly what the latest version's tree holds in memory.
    pub(crate) fn latest_bytes(&self) -> usize {
        const NODE_BYTES: usize = 256;
        self.latest().tree.node_count() * NODE_BYTES
    }
}

fn is_unknown(z: Zxid) -> bool {
    z.0 >= UNKNOWN_ZXID_BASE
}

impl ZkModel {
    /// A model for servers with these tree settings.
    pub fn new(config: TreeConfig) -> Self {
        ZkModel { config, unpartitioned: false }
    }

    fn apply_write(&self, state: &ZkState, op: &ZkOp, request: &Request, zxid: Zxid) -> Option<ZkState> {
        let latest = state.latest();
        let view = state.sessions.get(&op.session).copied().unwrap_or_default();
        let known = !is_unknown(zxid);
        if known && (zxid.0 <= state.zxid_floor || zxid.0 <= view.zxid_seen) {
            return None;
        }
        if op.after.is_some_and(|after| after != latest.max_zxid) {
            return None;
        }
        let Executed { tree, result } = execute(&latest.tree, &latest.closed, op.session, request, zxid);
        if !write_matches(&result, &op.observed) {
            return None;
        }
        let mut next = state.clone();
        if let Some(tree) = tree {
            let mut closed = latest.closed.clone();
            if *request == Request::CloseSession {
                closed.insert(op.session);
            }
            let max_zxid = if known { zxid.0.max(latest.max_zxid) } else { latest.max_zxid };
            next.versions.push(Version::new(tree, closed, max_zxid));
        }
        if known {
            next.zxid_floor = zxid.0;
        }
        if op.order.is_some() {
            let latest_index = next.versions.latest_index();
            let view = next.sessions.entry(op.session).or_default();
            view.floor = latest_index;
            view.last_order = op.order;
            if known {
                view.zxid_seen = zxid.0;
            }
        }
        Some(next)
    }

    fn apply_read(
        &self,
        state: &ZkState,
        op: &ZkOp,
        request: &Request,
        zxid: Option<Zxid>,
    ) -> Option<ZkState> {
        let view = state.sessions.get(&op.session).copied().unwrap_or_default();
        let z = zxid.map(|z| z.0);
        if z.is_some_and(|z| z < view.zxid_seen) {
            return None;
        }
        let auth = AuthIds::new();
        // The oldest version at or above the session's floor that explains the reply (the most
        // permissive floor for what follows). The reply's zxid names the version: made by the
        // last acknowledged write up to it, so older ones need not be looked at.
        let found = state
            .versions
            .iter()
            .take_while(|l| l.index >= view.floor && op.after.is_none_or(|after| l.version.max_zxid >= after))
            .filter(|l| {
                op.after.is_none_or(|after| after == l.version.max_zxid)
                    && read_matches(&l.version.tree.read(request, SessionId(op.session), &auth), &op.observed)
            })
            .last()?
            .index;
        let mut next = state.clone();
        let view = next.sessions.entry(op.session).or_default();
        view.floor = found;
        view.last_order = op.order;
        if let Some(z) = z {
            view.zxid_seen = z;
            next.zxid_floor = next.zxid_floor.max(z);
        }
        Some(next)
    }

    fn apply_reap(&self, state: &ZkState, path: &str) -> Option<ZkState> {
        let latest = state.latest();
        let node = latest.tree.node(path)?;
        let eligible = node.children.is_empty()
            && match node.stat.ephemeral_owner.owner_kind() {
                OwnerKind::Container => node.stat.cversion > 0,
                OwnerKind::Ttl { .. } => true,
                _ => false,
            };
        if !eligible {
            return None;
        }
        let auth = AuthIds::new();
        let ctx = PrepContext {
            session: SessionId::NONE,
            cxid: 0,
            zxid: Zxid(UNKNOWN_ZXID_BASE),
            time_ms: 0,
            auth: &auth,
            session_status: SessionStatus::Active,
        };
        let txn = Preparer::new().prepare_delete_container(&latest.tree, &ctx, path);
        let mut tree = latest.tree.clone();
        tree.apply(&txn).result.ok()?;
        let mut next = state.clone();
        next.versions.push(Version::new(tree, latest.closed.clone(), latest.max_zxid));
        Some(next)
    }

    fn apply_expire(&self, state: &ZkState, session: u64) -> Option<ZkState> {
        let latest = state.latest();
        if latest.closed.contains(&session) {
            return None;
        }
        let auth = AuthIds::new();
        let ctx = PrepContext {
            session: SessionId(session),
            cxid: 0,
            zxid: Zxid(UNKNOWN_ZXID_BASE),
            time_ms: 0,
            auth: &auth,
            session_status: SessionStatus::Active,
        };
        let txn = Preparer::new().prepare_close_session(&latest.tree, &ctx);
        let mut tree = latest.tree.clone();
        tree.apply(&txn).result.ok()?;
        let mut closed = latest.closed.clone();
        closed.insert(session);
        let mut next = state.clone();
        next.versions.push(Version::new(tree, closed, latest.max_zxid));
        Some(next)
    }
}

impl Model for ZkModel {
    type Op = ZkOp;
    type State = ZkState;

    fn init(&self) -> ZkState {
        let tree = DataTree::new(self.config.clone());
        ZkState {
            versions: Versions::new(Version::new(tree, BTreeSet::new(), 0)),
            sessions: BTreeMap::new(),
            zxid_floor: 0,
        }
    }

    fn step(&self, state: &ZkState, op: &ZkOp, next: &mut Vec<ZkState>) {
        let view = state.sessions.get(&op.session).copied().unwrap_or_default();
        if let (Some(order), Some(last)) = (op.order, view.last_order) {
            if order <= last {
                return;
            }
        }
        let after = match &op.action {
            ZkAction::Write { request, zxid } => self.apply_write(state, op, request, *zxid),
            ZkAction::Read { request, zxid } => self.apply_read(state, op, request, *zxid),
            ZkAction::Sync { zxid } => {
                // Like a read, the reply's zxid is revealed to the session.
                let z = zxid.map(|z| z.0);
                if z.is_some_and(|z| z < view.zxid_seen) {
                    return;
                }
                let mut s = state.clone();
                let latest = s.versions.latest_index();
                let view = s.sessions.entry(op.session).or_default();
                view.floor = latest;
                view.last_order = op.order;
                if let Some(z) = z {
                    view.zxid_seen = z;
                    s.zxid_floor = s.zxid_floor.max(z);
                }
                Some(s)
            }
            ZkAction::Reap { path } => self.apply_reap(state, path),
            ZkAction::Expire => self.apply_expire(state, op.session),
        };
        next.extend(after);
    }

    fn is_noop(&self, op: &ZkOp) -> bool {
        matches!(op.action, ZkAction::Read { .. } | ZkAction::Sync { .. }) && op.observed == Observed::Unknown
    }
}

/// A write run against one version of the tree.
pub(crate) struct Executed {
    /// The tree after it, when it changed the tree (`None`: an error, a failed multi).
    pub(crate) tree: Option<DataTree>,
    /// What the server answers.
    pub(crate) result: Result<Response, ErrorCode>,
}

/// Runs `request` by `session` with zxid `zxid` on `tree`, the sessions in `closed` being gone,
/// exactly as the leader's prepare step and every replica's apply step would.
pub(crate) fn execute(
    tree: &DataTree,
    closed: &BTreeSet<u64>,
    session: u64,
    request: &Request,
    zxid: Zxid,
) -> Executed {
    let txn = prepare(tree, closed, session, request, zxid);
    if let Some(result) = DataTree::failed_result(&txn) {
        return Executed { tree: None, result };
    }
    let mut after = tree.clone();
    let result = after.apply(&txn).result;
    Executed { tree: succeeded(&result).then_some(after), result }
}

/// What the server answers to `request` (see [`execute`]), without keeping the tree it makes:
/// the tree is only copied when the request would change it.
pub(crate) fn execute_result(
    tree: &DataTree,
    closed: &BTreeSet<u64>,
    session: u64,
    request: &Request,
    zxid: Zxid,
) -> Result<Response, ErrorCode> {
    let txn = prepare(tree, closed, session, request, zxid);
    DataTree::failed_result(&txn).unwrap_or_else(|| tree.clone().apply(&txn).result)
}

/// Runs `request` (see [`execute`]) on `tree` itself and returns what the server answers. When
/// the answer is not a success (an error, a failed multi) the tree may be left anywhere between
/// before and after: the caller must then not use it any more.
pub(crate) fn execute_in_place(
    tree: &mut DataTree,
    closed: &BTreeSet<u64>,
    session: u64,
    request: &Request,
    zxid: Zxid,
) -> Result<Response, ErrorCode> {
    let txn = prepare(tree, closed, session, request, zxid);
    tree.apply(&txn).result
}

/// Did a write with this result change the tree?
pub(crate) fn succeeded(result: &Result<Response, ErrorCode>) -> bool {
    match result {
        Ok(Response::Multi(results)) => first_multi_error(results).is_none(),
        Ok(_) => true,
        Err(_) => false,
    }
}

fn prepare(tree: &DataTree, closed: &BTreeSet<u64>, session: u64, request: &Request, zxid: Zxid) -> Txn {
    let status = if closed.contains(&session) { SessionStatus::Expired } else { SessionStatus::Active };
    let auth = AuthIds::new();
    let ctx = PrepContext {
        session: SessionId(session),
        cxid: 0,
        zxid,
        time_ms: 0,
        auth: &auth,
        session_status: status,
    };
    Preparer::new().prepare(tree, &ctx, request)
}

/// Does a write's result explain what was observed?
pub(crate) fn write_matches(result: &Result<Response, ErrorCode>, seen: &Observed) -> bool {
    match (seen, result) {
        (Observed::Unknown, _) => true,
        (Observed::Ok(seen), Ok(model)) => {
            !matches!(model, Response::Multi(r) if first_multi_error(r).is_some())
                && responses_match(model, seen)
        }
        (Observed::Err(code), Ok(Response::Multi(results))) => first_multi_error(results) == Some(*code),
        (Observed::Err(code), Err(model)) => code == model,
        _ => false,
    }
}

/// The code a failed multi reports: its first result that is not `Ok`.
pub(crate) fn first_multi_error(results: &[MultiResult]) -> Option<ErrorCode> {
    results.iter().find_map(|r| match r {
        MultiResult::Error { code } if *code != ErrorCode::Ok => Some(*code),
        _ => None,
    })
}

/// Does the model's answer to a read explain what was observed?
pub(crate) fn read_matches(model: &Result<Response, ErrorCode>, seen: &Observed) -> bool {
    match (model, seen) {
        (_, Observed::Unknown) => true,
        (Ok(m), Observed::Ok(s)) => responses_match(m, s),
        (Err(m), Observed::Err(s)) => m == s,
        _ => false,
    }
}

/// Does the model's response explain the observed one? Equal but for times (the leader's clock
/// is not modelled) and for zxids the model only has stand-ins for.
pub(crate) fn responses_match(model: &Response, seen: &Response) -> bool {
    let (mut model_stats, mut seen_stats) = (Vec::new(), Vec::new());
    let model_shape = without_stats(model, &mut model_stats);
    let seen_shape = without_stats(seen, &mut seen_stats);
    model_shape == seen_shape
        && model_stats.len() == seen_stats.len()
        && model_stats.iter().zip(&seen_stats).all(|(m, s)| stat_matches(m, s))
}

/// Every field but the times, exactly; a zxid field the model only has a stand-in for matches
/// any value.
pub(crate) fn stat_matches(model: &Stat, seen: &Stat) -> bool {
    let zxid = |m: Zxid, s: Zxid| m == s || is_unknown(m);
    zxid(model.czxid, seen.czxid)
        && zxid(model.mzxid, seen.mzxid)
        && zxid(model.pzxid, seen.pzxid)
        && model.version == seen.version
        && model.cversion == seen.cversion
        && model.aversion == seen.aversion
        && model.ephemeral_owner == seen.ephemeral_owner
        && model.data_length == seen.data_length
        && model.num_children == seen.num_children
}

/// `r` with every Stat zeroed, the Stats pushed onto `stats` in order.
fn without_stats(r: &Response, stats: &mut Vec<Stat>) -> Response {
    let mut r = r.clone();
    let mut take = |s: &mut Stat| stats.push(std::mem::take(s));
    match &mut r {
        Response::Create2 { stat, .. }
        | Response::Stat(stat)
        | Response::GetData { stat, .. }
        | Response::GetAcl { stat, .. }
        | Response::GetChildren2 { stat, .. } => take(stat),
        Response::Multi(results) => {
            for result in results {
                match result {
                    MultiResult::Create { stat: Some(stat), .. } | MultiResult::SetData { stat } => {
                        take(stat)
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    r
}
