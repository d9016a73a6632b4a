//! Test helpers: a one-replica "leader" that prepares and applies requests, and proptest
//! strategies for random but realistic request sequences.
#![allow(dead_code)]

use proptest::prelude::*;
use zab_tree::proto::CreateKind;
use zab_tree::{
    Acl, Applied, AuthIds, DataTree, ErrorCode, Perms, PrepContext, Preparer, Request, Response, SessionId,
    SessionStatus, Stat, TreeConfig, Txn, WatchManager, Zxid, OPEN_ACL_UNSAFE,
};

/// Prepares and applies one request at a time, like a standalone server.
pub struct Leader {
    pub tree: DataTree,
    pub prep: Preparer,
    pub next_zxid: Zxid,
    pub clock_ms: i64,
    pub log: Vec<Txn>,
}

impl Default for Leader {
    fn default() -> Self {
        Leader::new(TreeConfig::default())
    }
}

impl Leader {
    pub fn new(config: TreeConfig) -> Leader {
        Leader {
            tree: DataTree::new(config),
            prep: Preparer::new(),
            next_zxid: Zxid::new(1, 1),
            clock_ms: 1_000,
            log: Vec::new(),
        }
    }

    /// Prepares a write without applying it (the txn is pending).
    pub fn prepare(&mut self, session: SessionId, auth: &AuthIds, req: &Request) -> Txn {
        let zxid = self.next_zxid;
        self.next_zxid = zxid.next();
        self.clock_ms += 10;
        let ctx = PrepContext {
            session,
            cxid: 0,
            zxid,
            time_ms: self.clock_ms,
            auth,
            session_status: SessionStatus::Active,
        };
        match req {
            Request::CloseSession => self.prep.prepare_close_session(&self.tree, &ctx),
            _ => self.prep.prepare(&self.tree, &ctx, req),
        }
    }

    /// Applies a prepared txn, checking the tree's invariants.
    pub fn commit(&mut self, txn: &Txn) -> Applied {
        let applied = self.tree.apply(txn);
        assert!(!applied.digest_mismatch, "the digest stamped at prepare differs after applying {txn:?}");
        self.prep.applied(txn.zxid);
        self.tree.check_invariants();
        self.log.push(txn.clone());
        applied
    }

    pub fn write_as(&mut self, session: SessionId, auth: &AuthIds, req: Request) -> Applied {
        let txn = self.prepare(session, auth, &req);
        self.commit(&txn)
    }

    pub fn write(&mut self, req: Request) -> Result<Response, ErrorCode> {
        self.write_as(SessionId(1), &AuthIds::new(), req).result
    }

    pub fn open_session(&mut self, session: SessionId) {
        let zxid = self.next_zxid;
        self.next_zxid = zxid.next();
        let auth = AuthIds::new();
        let ctx = PrepContext {
            session,
            cxid: 0,
            zxid,
            time_ms: self.clock_ms,
            auth: &auth,
            session_status: SessionStatus::Active,
        };
        let txn = self.prep.prepare_create_session(&ctx, 30_000);
        self.commit(&txn);
    }

    pub fn stat(&self, path: &str) -> Stat {
        self.tree.stat(path).unwrap_or_else(|| panic!("{path} should exist"))
    }
}

pub fn create(path: &str) -> Request {
    create_with(path, 0, CreateKind::Create)
}

pub fn create_with(path: &str, flags: i32, kind: CreateKind) -> Request {
    Request::Create {
        path: path.into(),
        data: Some(b"d".to_vec()),
        acl: OPEN_ACL_UNSAFE.clone(),
        flags,
        kind,
    }
}

pub fn create_acl(path: &str, acl: Vec<Acl>) -> Request {
    Request::Create { path: path.into(), data: None, acl, flags: 0, kind: CreateKind::Create }
}

pub fn delete(path: &str) -> Request {
    Request::Delete { path: path.into(), version: -1 }
}

pub fn set(path: &str, data: &[u8]) -> Request {
    Request::SetData { path: path.into(), data: Some(data.to_vec()), version: -1 }
}

pub fn world(perms: Perms) -> Vec<Acl> {
    vec![Acl::new(perms, "world", "anyone")]
}

pub fn watcher_events(w: &mut WatchManager<u32>, applied: &Applied) -> Vec<(u32, String, String)> {
    w.trigger(&applied.triggers, |_, _| true)
        .into_iter()
        .map(|(id, e)| (id, format!("{:?}", e.event_type), e.path))
        .collect()
}

// ------------------------------------------------------------------ strategies

/// Paths over a tiny namespace so random ops collide often: /a, /a/b, /b/c/a, ...
const NAMES: [&str; 3] = ["a", "b", "c"];

pub fn path_strategy() -> impl Strategy<Value = String> {
    let depth = prop_oneof![3 => Just(1usize), 3 => Just(2usize), 1 => Just(3usize)];
    depth
        .prop_flat_map(|d| prop::collection::vec(0..NAMES.len(), d))
        .prop_map(|ix| ix.iter().map(|i| format!("/{}", NAMES[*i])).collect::<String>())
}

fn data_strategy() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![1 => Just(None), 4 => prop::collection::vec(any::<u8>(), 0..8).prop_map(Some)]
}

/// One random client action.
#[derive(Clone, Debug)]
pub enum Action {
    Write(u64, Request),
    OpenSession(u64),
    CloseSession(u64),
    /// The leader's container/TTL reaper runs once.
    Reap,
}

/// The configuration random runs use: TTL nodes enabled so every txn type occurs.
pub fn generated_config() -> TreeConfig {
    TreeConfig { extended_types: true, ..TreeConfig::default() }
}

fn op_strategy() -> impl Strategy<Value = Request> {
    prop_oneof![
        8 => (path_strategy(), data_strategy(), 0..4i32, prop::bool::ANY).prop_map(|(path, data, flags, two)| {
            Request::Create {
                path,
                data,
                acl: OPEN_ACL_UNSAFE.clone(),
                flags,
                kind: if two { CreateKind::Create2 } else { CreateKind::Create },
            }
        }),
        1 => (path_strategy(), data_strategy()).prop_map(|(path, data)| Request::Create {
            path,
            data,
            acl: OPEN_ACL_UNSAFE.clone(),
            flags: 4,
            kind: CreateKind::Container,
        }),
        2 => (path_strategy(), -1..2i32).prop_map(|(path, version)| Request::Delete { path, version }),
        3 => (path_strategy(), data_strategy(), -1..3i32)
            .prop_map(|(path, data, version)| Request::SetData { path, data, version }),
        1 => (path_strategy(), 1..32u32).prop_map(|(path, perms)| Request::SetAcl {
            path,
            acl: vec![Acl::new(Perms(perms), "world", "anyone")],
            version: -1,
        }),
        1 => (path_strategy(), -1..2i32).prop_map(|(path, version)| Request::Check { path, version }),
        1 => (path_strategy(), data_strategy(), 5..7i32, 1..200i64).prop_map(|(path, data, flags, ttl)| {
            Request::Create { path, data, acl: OPEN_ACL_UNSAFE.clone(), flags, kind: CreateKind::Ttl(ttl) }
        }),
        1 => (path_strategy(), prop::bool::ANY).prop_map(|(path, with_digest)| {
            let mut acl = vec![Acl::new(Perms::ALL, "world", "anyone")];
            if with_digest {
                acl.insert(0, Acl::new(Perms::ADMIN, "digest", "u:aGFzaA=="));
            }
            Request::SetAcl { path, acl, version: -1 }
        }),
    ]
}

pub fn action_strategy() -> impl Strategy<Value = Action> {
    prop_oneof![
        8 => (1..4u64, op_strategy()).prop_map(|(s, r)| Action::Write(s, r)),
        2 => (1..4u64, prop::collection::vec(op_strategy(), 0..4))
            .prop_map(|(s, ops)| Action::Write(s, Request::Multi(ops))),
        1 => (1..4u64).prop_map(Action::OpenSession),
        1 => (1..4u64).prop_map(Action::CloseSession),
        1 => Just(Action::Reap),
    ]
}

/// Runs actions through a leader, pipelining: up to `depth` txns are prepared before the oldest
/// is applied, so prepare sees pending changes. Returns the committed log.
pub fn run_actions(actions: &[Action], depth: usize) -> (Leader, Vec<Txn>) {
    let mut leader = Leader::new(generated_config());
    let mut pending: std::collections::VecDeque<Txn> = std::collections::VecDeque::new();
    let auth = AuthIds::new();
    for action in actions {
        let txns = match action {
            Action::Write(s, req) => vec![leader.prepare(SessionId(*s), &auth, req)],
            Action::OpenSession(s) => {
                let zxid = leader.next_zxid;
                leader.next_zxid = zxid.next();
                let ctx = PrepContext {
                    session: SessionId(*s),
                    cxid: 0,
                    zxid,
                    time_ms: leader.clock_ms,
                    auth: &auth,
                    session_status: SessionStatus::Active,
                };
                vec![leader.prep.prepare_create_session(&ctx, 30_000)]
            }
            Action::CloseSession(s) => vec![leader.prepare(SessionId(*s), &auth, &Request::CloseSession)],
            Action::Reap => {
                let candidates = leader.tree.reap_candidates(leader.clock_ms);
                candidates
                    .iter()
                    .map(|path| {
                        leader.prepare(
                            SessionId::NONE,
                            &auth,
                            &Request::DeleteContainer { path: path.clone() },
                        )
                    })
                    .collect()
            }
        };
        pending.extend(txns);
        while pending.len() > depth {
            let txn = pending.pop_front().expect("non-empty");
            leader.commit(&txn);
        }
    }
    while let Some(txn) = pending.pop_front() {
        leader.commit(&txn);
    }
    let log = leader.log.clone();
    (leader, log)
}
