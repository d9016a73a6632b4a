//! Replays every step of `shared/realzk/probe.py` (the script in `probe_script/`) against the data
//! tree and compares the normalised result lines with what the real ZooKeeper 3.8.0 answered
//! (`shared/realzk/expected/probe-3.8.0.jsonl`).
//!
//! The harness plays a standalone server: every write goes through `Preparer::prepare` with the
//! next zxid (failed writes and session txns consume one too), is applied with
//! `DataTree::apply`, and its watch triggers go through a `WatchManager` whose watchers are the
//! probe's four connections. Reads go through `DataTree::read` and
//! `WatchManager::register_for_read`. Time passes only when the script sleeps (and by one
//! millisecond per txn); every second of it the harness runs a container reaper pass, as the real
//! server does with `znode.container.checkIntervalMs=1000`.
//!
//! A few steps depend on the server around the tree; they are still replayed and compared, and
//! `SERVER_LEVEL_STEPS` says what part the tree contributes.

mod probe_script;

use probe_script::{Failure, ProbeServer, WireItem};
use serde_json::json;
use zab_tree::{
    add_auth, check_acl, AuthIds, DataTree, ErrorCode, Perms, PrepContext, Preparer, Request, Response,
    SessionId, SessionStatus, TreeConfig, WatchManager, Zxid,
};

/// Steps whose outcome involves the server around the tree, with what the tree contributes.
const SERVER_LEVEL_STEPS: &[(&str, &str)] = &[
    (
        "containers_exist_after_reaper",
        "the reaper is the server's; every second of the script's time the harness runs a pass of \
         DataTree::reap_candidates + Preparer::prepare_delete_container",
    ),
    ("s2_close_session", "closing is a server decision; the tree part is prepare_close_session + apply"),
    (
        "sync",
        "sync is ordered by the leader; the tree only has to leave the state alone (it echoes the path)",
    ),
    (
        "set_too_large_1MiB",
        "the server closes the connection (ConnectionLoss); the tree part is \
         Request::exceeds_size_limit refusing it before prepare, so no zxid is consumed",
    ),
    ("get_children_order", "raw order is Java HashSet order; only the sorted list is compared"),
];

/// How often the harness's container reaper runs (the probe's zoo.cfg sets 1000 ms).
const REAPER_INTERVAL_MS: i64 = 1_000;

/// One probe connection.
struct Conn {
    label: &'static str,
    session: SessionId,
    auth: AuthIds,
}

/// A standalone "server" made of the tree crate's parts.
struct Server {
    config: TreeConfig,
    tree: DataTree,
    prep: Preparer,
    watches: WatchManager<usize>,
    conns: Vec<Conn>,
    next_zxid: Zxid,
    clock_ms: i64,
    next_reap_ms: i64,
    next_session: u64,
    /// Watch notifications and reply markers, in wire order.
    wire: Vec<WireItem>,
}

impl Server {
    fn new() -> Server {
        let config = TreeConfig::default();
        Server {
            tree: DataTree::new(config.clone()),
            config,
            prep: Preparer::new(),
            watches: WatchManager::new(),
            conns: Vec::new(),
            next_zxid: Zxid::new(1, 1),
            clock_ms: 1_700_000_000_000,
            next_reap_ms: 1_700_000_000_000 + REAPER_INTERVAL_MS,
            next_session: 0x0100_0000_0000_0000,
            wire: Vec::new(),
        }
    }

    fn next_txn_slot(&mut self) -> (Zxid, i64) {
        let zxid = self.next_zxid;
        self.next_zxid = zxid.next();
        self.clock_ms += 1;
        (zxid, self.clock_ms)
    }

    fn open(&mut self, label: &'static str) -> usize {
        let session = SessionId(self.next_session);
        self.next_session += 1;
        let conn = self.conns.len();
        self.conns.push(Conn { label, session, auth: AuthIds::from_ip("127.0.0.1") });
        let (zxid, time_ms) = self.next_txn_slot();
        let auth = self.conns[conn].auth.clone();
        let ctx = PrepContext {
            session,
            cxid: 0,
            zxid,
            time_ms,
            auth: &auth,
            session_status: SessionStatus::Active,
        };
        let txn = self.prep.prepare_create_session(&ctx, 10_000);
        self.commit(&txn).expect("createSession applies");
        conn
    }

    fn commit(&mut self, txn: &zab_tree::Txn) -> Result<Response, ErrorCode> {
        let applied = self.tree.apply(txn);
        assert!(!applied.digest_mismatch, "digest mismatch after {txn:?}");
        self.prep.applied(txn.zxid);
        self.tree.check_invariants();
        let conns = &self.conns;
        let events =
            self.watches.trigger(&applied.triggers, |w, acl| check_acl(acl, &conns[w].auth, Perms::READ));
        for (w, event) in events {
            self.wire.push(WireItem::Event { session: self.conns[w].label, event });
        }
        applied.result
    }

    fn write(&mut self, conn: usize, req: Request) -> Result<Response, ErrorCode> {
        if req.exceeds_size_limit() {
            return Err(ErrorCode::ConnectionLoss);
        }
        let (zxid, time_ms) = self.next_txn_slot();
        let auth = self.conns[conn].auth.clone();
        let ctx = PrepContext {
            session: self.conns[conn].session,
            cxid: 0,
            zxid,
            time_ms,
            auth: &auth,
            session_status: SessionStatus::Active,
        };
        let txn = self.prep.prepare(&self.tree, &ctx, &req);
        // The log stores bytes: go through the codec as a replica would.
        let txn = zab_tree::Txn::decode(&txn.encode()).expect("a txn decodes from its own encoding");
        self.commit(&txn)
    }

    fn read(&mut self, conn: usize, req: Request) -> Result<Response, ErrorCode> {
        let result = self.tree.read(&req, self.conns[conn].session, &self.conns[conn].auth);
        self.watches.register_for_read(conn, &req, &result);
        result
    }

    fn close_session(&mut self, conn: usize) {
        let (zxid, time_ms) = self.next_txn_slot();
        let auth = self.conns[conn].auth.clone();
        let ctx = PrepContext {
            session: self.conns[conn].session,
            cxid: 0,
            zxid,
            time_ms,
            auth: &auth,
            session_status: SessionStatus::Active,
        };
        let txn = self.prep.prepare_close_session(&self.tree, &ctx);
        self.watches.remove_watcher(conn);
        self.commit(&txn).expect("closeSession applies");
    }

    fn reaper_pass(&mut self) {
        for path in self.tree.reap_candidates(self.clock_ms) {
            let (zxid, time_ms) = self.next_txn_slot();
            let auth = AuthIds::new();
            let ctx = PrepContext {
                session: SessionId::NONE,
                cxid: 0,
                zxid,
                time_ms,
                auth: &auth,
                session_status: SessionStatus::Active,
            };
            let txn = self.prep.prepare_delete_container(&self.tree, &ctx, &path);
            let _ = self.commit(&txn);
        }
    }
}

impl ProbeServer for Server {
    fn connect(&mut self, label: &'static str) -> (usize, SessionId) {
        let conn = self.open(label);
        (conn, self.conns[conn].session)
    }

    fn call(&mut self, conn: usize, req: Request) -> Result<Response, Failure> {
        let watcher = conn;
        match req {
            Request::Sync { path } => Ok(Response::Sync { path }),
            Request::AddWatch { path, mode } => {
                self.watches.add_watch(&path, mode, watcher);
                Ok(Response::Empty)
            }
            Request::RemoveWatches { path, watcher_type } => self
                .watches
                .remove_watches(&path, watcher_type, watcher)
                .map(|()| Response::Empty)
                .map_err(Failure::Server),
            req if req.is_write() => self.write(conn, req).map_err(Failure::Server),
            req => self.read(conn, req).map_err(Failure::Server),
        }
    }

    fn call_raw(&mut self, conn: usize, req: Request, _step: &str) -> Result<Response, Failure> {
        self.call(conn, req)
    }

    fn add_auth(&mut self, conn: usize, scheme: &str, credentials: &str) -> Result<(), Failure> {
        let ids = add_auth(&self.config, scheme, credentials.as_bytes()).map_err(Failure::Server)?;
        for id in ids {
            self.conns[conn].auth.add(id);
        }
        Ok(())
    }

    fn close(&mut self, conn: usize) -> Result<(), Failure> {
        self.close_session(conn);
        Ok(())
    }

    fn sleep(&mut self, ms: u64) {
        self.clock_ms += i64::try_from(ms).expect("a short sleep");
        while self.next_reap_ms <= self.clock_ms {
            self.reaper_pass();
            self.next_reap_ms += REAPER_INTERVAL_MS;
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock_ms).expect("the clock starts in 2023")
    }

    /// Everything happens at once here: there is nothing in flight to wait for.
    fn wait_for(&mut self, _limit_ms: u64, _done: &dyn Fn(&[WireItem]) -> bool) {}

    fn wire(&mut self) -> &mut Vec<WireItem> {
        &mut self.wire
    }
}

#[test]
fn every_probe_step_matches_real_zookeeper_3_8_0() {
    let (lines, _) = probe_script::run_probe(Server::new());
    probe_script::assert_matches_real_zookeeper("the data tree", &lines);
}

#[test]
fn server_level_steps_are_part_of_the_replay() {
    let names = probe_script::expected_step_names();
    for (step, reason) in SERVER_LEVEL_STEPS {
        assert!(names.iter().any(|n| n == step), "{step} ({reason}) is not a probe step");
    }
}

#[test]
fn the_oversized_request_is_refused_before_it_can_consume_a_zxid() {
    let req =
        Request::SetData { path: "/probe/w".into(), data: Some(vec![b'x'; 1024 * 1024 + 1]), version: -1 };
    assert!(req.exceeds_size_limit());
    let (lines, _) = probe_script::run_probe(Server::new());
    let after = lines.iter().find(|l| l["name"] == "after_too_large").expect("step present");
    let before = lines.iter().find(|l| l["name"] == "final_stat_root").expect("step present");
    assert_eq!(after["result"]["stat"]["mzxid"], json!(63));
    assert_eq!(before["result"]["stat"]["pzxid"], json!(94));
}
