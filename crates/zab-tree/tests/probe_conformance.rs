//! Replays every step of `shared/realzk/probe.py` against the data tree and compares the
//! normalised result lines with what the real ZooKeeper 3.8.0 answered
//! (`shared/realzk/expected/probe-3.8.0.jsonl`).
//!
//! The harness plays a standalone server: every write goes through `Preparer::prepare` with the
//! next zxid (failed writes and session txns consume one too), is applied with
//! `DataTree::apply`, and its watch triggers go through a `WatchManager` whose watchers are the
//! probe's four connections. Reads go through `DataTree::read` and
//! `WatchManager::register_for_read`. Normalisation is probe.py's: zxids relative to the czxid
//! of /probe, `ctime_eq_mtime`, session owners as s1..s4, children sorted, events with reply
//! markers in wire order.
//!
//! A few steps depend on the server around the tree; they are still replayed and compared, and
//! `SERVER_LEVEL_STEPS` says what part the tree contributes.

use serde_json::{json, Map, Value};
use zab_tree::proto::CreateKind;
use zab_tree::{
    add_auth, check_acl, Acl, AddWatchMode, AuthIds, DataTree, ErrorCode, Id, MultiResult, Perms,
    PrepContext, Preparer, Request, Response, SessionId, SessionStatus, Stat, TreeConfig, WatchManager,
    WatcherType, Zxid, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE,
};

const EXPECTED: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/realzk/expected/probe-3.8.0.jsonl");

/// Steps whose outcome involves the server around the tree, with what the tree contributes.
const SERVER_LEVEL_STEPS: &[(&str, &str)] = &[
    (
        "containers_exist_after_reaper",
        "the reaper's timing is the server's; the harness runs one reaper pass with \
         DataTree::reap_candidates + Preparer::prepare_delete_container, as the real one did",
    ),
    ("s2_close_session", "closing is a server decision; the tree part is prepare_close_session + apply"),
    ("sync", "sync is ordered by the leader; the tree only has to leave the state alone"),
    (
        "set_too_large_1MiB",
        "the server closes the connection (ConnectionLoss); the tree part is \
         Request::exceeds_size_limit refusing it before prepare, so no zxid is consumed",
    ),
    ("get_children_order", "raw order is Java HashSet order; only the sorted list is compared"),
];

const R: &str = "/probe";

fn main_acl() -> Vec<Acl> {
    OPEN_ACL_UNSAFE.clone()
}

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
    next_session: u64,
    /// Watch notifications and reply markers, in wire order.
    wire: Vec<Value>,
    base: Option<Zxid>,
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
            next_session: 0x0100_0000_0000_0000,
            wire: Vec::new(),
            base: None,
        }
    }

    fn next_txn_slot(&mut self) -> (Zxid, i64) {
        let zxid = self.next_zxid;
        self.next_zxid = zxid.next();
        self.clock_ms += 1;
        (zxid, self.clock_ms)
    }

    fn connect(&mut self, label: &'static str) -> usize {
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
            self.wire.push(json!({
                "type": format!("{:?}", event.event_type),
                "state": format!("{:?}", event.state),
                "path": event.path,
                "session": self.conns[w].label,
            }));
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

    fn close(&mut self, conn: usize) {
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

    fn auth(&mut self, conn: usize, scheme: &str, credentials: &str) -> Result<Value, ErrorCode> {
        let ids = add_auth(&self.config, scheme, credentials.as_bytes())?;
        for id in ids {
            self.conns[conn].auth.add(id);
        }
        Ok(json!(true))
    }

    // ---------------------------------------------------------- kazoo-shaped calls

    fn create(
        &mut self,
        conn: usize,
        path: &str,
        data: Option<&[u8]>,
        flags: i32,
        with_stat: bool,
    ) -> Result<Value, ErrorCode> {
        self.create_acl(conn, path, data, main_acl(), flags, with_stat)
    }

    fn create_acl(
        &mut self,
        conn: usize,
        path: &str,
        data: Option<&[u8]>,
        acl: Vec<Acl>,
        flags: i32,
        with_stat: bool,
    ) -> Result<Value, ErrorCode> {
        let kind = if with_stat { CreateKind::Create2 } else { CreateKind::Create };
        let req = Request::Create { path: path.into(), data: data.map(<[u8]>::to_vec), acl, flags, kind };
        self.raw_create(conn, req)
    }

    fn raw_create(&mut self, conn: usize, req: Request) -> Result<Value, ErrorCode> {
        match self.write(conn, req)? {
            Response::Create { path } => Ok(json!(path)),
            Response::Create2 { path, stat } => Ok(json!([path, self.stat(&stat)])),
            other => panic!("create answered {other:?}"),
        }
    }

    fn get(&mut self, conn: usize, path: &str, watch: bool) -> Result<Value, ErrorCode> {
        match self.read(conn, Request::GetData { path: path.into(), watch })? {
            Response::GetData { data, stat } => {
                let data = data.map(|d| String::from_utf8(d).expect("probe data is UTF-8"));
                Ok(json!([data, self.stat(&stat)]))
            }
            other => panic!("getData answered {other:?}"),
        }
    }

    fn set(&mut self, conn: usize, path: &str, data: &[u8], version: i32) -> Result<Value, ErrorCode> {
        match self.write(conn, Request::SetData { path: path.into(), data: Some(data.to_vec()), version })? {
            Response::Stat(stat) => Ok(self.stat(&stat)),
            other => panic!("setData answered {other:?}"),
        }
    }

    fn delete(&mut self, conn: usize, path: &str, version: i32) -> Result<Value, ErrorCode> {
        self.write(conn, Request::Delete { path: path.into(), version }).map(|_| json!(true))
    }

    fn exists(&mut self, conn: usize, path: &str, watch: bool) -> Result<Value, ErrorCode> {
        match self.read(conn, Request::Exists { path: path.into(), watch }) {
            Ok(Response::Stat(stat)) => Ok(self.stat(&stat)),
            // The client turns NoNode into a null Stat.
            Err(ErrorCode::NoNode) => Ok(Value::Null),
            Err(e) => Err(e),
            Ok(other) => panic!("exists answered {other:?}"),
        }
    }

    fn exists_bool(&mut self, path: &str) -> bool {
        self.tree.node(path).is_some()
    }

    fn children(&mut self, conn: usize, path: &str, watch: bool) -> Result<Vec<String>, ErrorCode> {
        match self.read(conn, Request::GetChildren { path: path.into(), watch })? {
            Response::GetChildren { children } => Ok(children),
            other => panic!("getChildren answered {other:?}"),
        }
    }

    fn children2(&mut self, conn: usize, path: &str) -> Result<(Vec<String>, Stat), ErrorCode> {
        match self.read(conn, Request::GetChildren2 { path: path.into(), watch: false })? {
            Response::GetChildren2 { children, stat } => Ok((children, stat)),
            other => panic!("getChildren2 answered {other:?}"),
        }
    }

    fn get_acls(&mut self, conn: usize, path: &str) -> Result<Value, ErrorCode> {
        match self.read(conn, Request::GetAcl { path: path.into() })? {
            Response::GetAcl { acl, stat } => {
                let acl: Vec<Value> = acl
                    .iter()
                    .map(|a| json!({"perms": a.perms.0, "scheme": a.id.scheme, "id": a.id.id}))
                    .collect();
                Ok(json!([acl, self.stat(&stat)]))
            }
            other => panic!("getACL answered {other:?}"),
        }
    }

    fn set_acls(&mut self, conn: usize, path: &str, acl: Vec<Acl>, version: i32) -> Result<Value, ErrorCode> {
        match self.write(conn, Request::SetAcl { path: path.into(), acl, version })? {
            Response::Stat(stat) => Ok(self.stat(&stat)),
            other => panic!("setACL answered {other:?}"),
        }
    }

    fn multi(&mut self, conn: usize, ops: Vec<Request>) -> Result<Value, ErrorCode> {
        match self.write(conn, Request::Multi(ops))? {
            Response::Multi(results) => Ok(Value::Array(
                results
                    .iter()
                    .map(|r| match r {
                        MultiResult::Create { path, stat: None } => json!(path),
                        MultiResult::Create { path, stat: Some(stat) } => json!([path, self.stat(stat)]),
                        MultiResult::SetData { stat } => self.stat(stat),
                        MultiResult::Delete | MultiResult::Check => json!(true),
                        MultiResult::Error { code } => error_json(*code),
                    })
                    .collect(),
            )),
            other => panic!("multi answered {other:?}"),
        }
    }

    // ---------------------------------------------------------- normalisation

    fn z(&self, zxid: Zxid) -> Value {
        match self.base {
            None => json!(zxid.0),
            Some(base) if zxid >= base => json!(zxid.0 - base.0),
            Some(_) => json!("<base"),
        }
    }

    fn owner(&self, owner: SessionId) -> Value {
        if owner == SessionId::NONE {
            return json!(0);
        }
        match self.conns.iter().find(|c| c.session == owner) {
            Some(c) => json!(c.label),
            None if owner == SessionId::CONTAINER_OWNER => json!("container"),
            None if owner.0 >> 56 == 0xFF => json!("ttl"),
            None => json!(format!("other:{owner}")),
        }
    }

    fn stat(&self, st: &Stat) -> Value {
        json!({"stat": {
            "czxid": self.z(st.czxid), "mzxid": self.z(st.mzxid), "pzxid": self.z(st.pzxid),
            "ctime_eq_mtime": st.ctime_ms == st.mtime_ms,
            "version": st.version, "cversion": st.cversion, "aversion": st.aversion,
            "ephemeralOwner": self.owner(st.ephemeral_owner),
            "dataLength": st.data_length, "numChildren": st.num_children,
        }})
    }

    fn take_wire(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.wire)
    }
}

/// kazoo's exception class names.
fn kazoo_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Ok => "RolledBackError",
        ErrorCode::RuntimeInconsistency => "RuntimeInconsistency",
        ErrorCode::ConnectionLoss => "ConnectionLoss",
        ErrorCode::Unimplemented => "UnimplementedError",
        ErrorCode::BadArguments => "BadArgumentsError",
        ErrorCode::NoNode => "NoNodeError",
        ErrorCode::NoAuth => "NoAuthError",
        ErrorCode::BadVersion => "BadVersionError",
        ErrorCode::NoChildrenForEphemerals => "NoChildrenForEphemeralsError",
        ErrorCode::NodeExists => "NodeExistsError",
        ErrorCode::NotEmpty => "NotEmptyError",
        ErrorCode::InvalidAcl => "InvalidACLError",
        ErrorCode::AuthFailed => "AuthFailedError",
        ErrorCode::NoWatcher => "NoWatcherError",
        other => panic!("the probe never sees {other}"),
    }
}

fn error_json(code: ErrorCode) -> Value {
    json!({"err": kazoo_name(code), "code": code.code()})
}

/// The probe's step counter and output lines.
struct Probe {
    s: Server,
    step: u64,
    lines: Vec<Value>,
}

impl Probe {
    fn emit(&mut self, name: &str, fields: Map<String, Value>) {
        self.step += 1;
        let mut line = Map::new();
        line.insert("step".into(), json!(self.step));
        line.insert("name".into(), json!(name));
        line.extend(fields);
        self.lines.push(Value::Object(line));
    }

    fn op(&mut self, name: &str, session: &str, f: impl FnOnce(&mut Server) -> Result<Value, ErrorCode>) {
        let result = f(&mut self.s);
        self.s.wire.push(json!({"session": session, "reply": name}));
        let mut fields = Map::new();
        match result {
            Ok(v) => {
                fields.insert("ok".into(), json!(true));
                fields.insert("result".into(), v);
            }
            Err(code) => {
                fields.insert("ok".into(), json!(false));
                if let Value::Object(m) = error_json(code) {
                    fields.extend(m);
                }
            }
        }
        self.emit(name, fields);
    }

    /// An op whose probe `post` hook prints extra keys and `"result": null`.
    fn op_post(&mut self, name: &str, f: impl FnOnce(&mut Server) -> Map<String, Value>) {
        let mut extra = f(&mut self.s);
        self.s.wire.push(json!({"session": "s1", "reply": name}));
        let mut fields = Map::new();
        fields.insert("ok".into(), json!(true));
        extra.insert("result".into(), Value::Null);
        fields.extend(extra);
        self.emit(name, fields);
    }

    fn events(&mut self, name: &str, events: Vec<Value>) {
        let mut fields = Map::new();
        fields.insert("events".into(), Value::Array(events));
        self.emit(name, fields);
    }
}

fn p(name: &str) -> String {
    format!("{R}{name}")
}

fn create_req(path: &str, flags: i32) -> Request {
    Request::Create {
        path: path.into(),
        data: Some(Vec::new()),
        acl: main_acl(),
        flags,
        kind: CreateKind::Create,
    }
}

fn raw_create(path: &str, acl: Vec<Acl>, flags: i32, kind: CreateKind) -> Request {
    Request::Create { path: path.into(), data: Some(Vec::new()), acl, flags, kind }
}

/// Runs probe.py's script and returns its output lines (without the meta line).
fn run_probe() -> Vec<Value> {
    let mut s = Server::new();
    let s1 = s.connect("s1");
    let s2 = s.connect("s2");
    let mut pr = Probe { s, step: 0, lines: Vec::new() };
    pr.step = 1; // the meta line

    // ------------------------------------------------------------ creates
    pr.op("create_root_persistent", "s1", |s| {
        let req = Request::Create {
            path: R.into(),
            data: Some(b"root".to_vec()),
            acl: main_acl(),
            flags: 0,
            kind: CreateKind::Create2,
        };
        let Response::Create2 { path, stat } = s.write(s1, req)? else {
            panic!("create2 answers path and stat")
        };
        // probe.py prints every zxid relative to this one.
        s.base = Some(stat.czxid);
        Ok(json!([path, s.stat(&stat)]))
    });
    pr.op("create_persistent_include_data", "s1", |s| s.create(s1, &p("/a"), Some(b"v0"), 0, true));
    pr.op("create_existing_NodeExists", "s1", |s| s.create(s1, &p("/a"), Some(b"again"), 0, false));
    pr.op("create_parent_missing_NoNode", "s1", |s| s.create(s1, &p("/missing/child"), Some(b""), 0, false));
    pr.op("create_null_data", "s1", |s| s.create(s1, &p("/nulldata"), None, 0, true));
    pr.op("get_null_data", "s1", |s| s.get(s1, &p("/nulldata"), false));
    pr.op("create_empty_data", "s1", |s| s.create(s1, &p("/emptydata"), Some(b""), 0, true));
    pr.op("get_empty_data", "s1", |s| s.get(s1, &p("/emptydata"), false));

    pr.op("create_seq_parent", "s1", |s| s.create(s1, &p("/seq"), Some(b""), 0, false));
    pr.op("create_sequential_1", "s1", |s| s.create(s1, &p("/seq/s-"), Some(b""), 2, false));
    pr.op("create_sequential_2", "s1", |s| s.create(s1, &p("/seq/s-"), Some(b""), 2, false));
    pr.op("create_sequential_other_prefix", "s1", |s| s.create(s1, &p("/seq/t-"), Some(b""), 2, false));
    pr.op("delete_sequential_first", "s1", |s| s.delete(s1, &p("/seq/s-0000000000"), -1));
    pr.op("create_sequential_after_delete", "s1", |s| s.create(s1, &p("/seq/s-"), Some(b""), 2, true));
    pr.op("create_sequential_trailing_slash", "s1", |s| s.create(s1, &p("/seq/"), Some(b""), 2, false));
    pr.op_post("get_children_seq_with_stat", |s| {
        let (mut children, stat) = s.children2(s1, &p("/seq")).expect("getChildren2");
        children.sort();
        let mut m = Map::new();
        m.insert("sorted".into(), json!(children));
        m.insert("stat".into(), s.stat(&stat)["stat"].clone());
        m
    });

    // ephemeral
    pr.op("create_ephemeral", "s1", |s| s.create(s1, &p("/e1"), Some(b"eph"), 1, true));
    pr.op("create_child_of_ephemeral_NoChildrenForEphemerals", "s1", |s| {
        s.create(s1, &p("/e1/c"), Some(b""), 0, false)
    });
    pr.op("create_ephemeral_sequential", "s1", |s| s.create(s1, &p("/es-"), Some(b""), 3, true));
    pr.op("get_ephemerals_prefix", "s1", |s| {
        match s.read(s1, Request::GetEphemerals { prefix: R.into() })? {
            Response::Ephemerals(mut paths) => {
                paths.sort();
                Ok(json!(paths))
            }
            other => panic!("getEphemerals answered {other:?}"),
        }
    });
    pr.op("get_ephemerals_s2_none", "s2", |s| {
        match s.read(s2, Request::GetEphemerals { prefix: "/".into() })? {
            Response::Ephemerals(paths) => Ok(json!(paths)),
            other => panic!("getEphemerals answered {other:?}"),
        }
    });

    // container and TTL
    let open = main_acl();
    pr.op("create_container_opcode19", "s1", |s| {
        s.raw_create(s1, raw_create(&p("/cont"), open.clone(), 4, CreateKind::Container))
    });
    pr.op("create_container_opcode19_never_has_children", "s1", |s| {
        s.raw_create(s1, raw_create(&p("/cont_empty"), open.clone(), 4, CreateKind::Container))
    });
    pr.op("create_opcode19_with_flags0", "s1", |s| {
        s.raw_create(s1, raw_create(&p("/cont_flags0"), open.clone(), 0, CreateKind::Container))
    });
    pr.op("create_Create2_opcode15_with_container_flag", "s1", |s| {
        s.raw_create(s1, raw_create(&p("/cont2"), open.clone(), 4, CreateKind::Create2))
    });
    pr.op("create_child_in_container", "s1", |s| s.create(s1, &p("/cont/x"), Some(b""), 0, false));
    pr.op("create_child_in_cont2", "s1", |s| s.create(s1, &p("/cont2/x"), Some(b""), 0, false));
    pr.op("delete_child_in_container", "s1", |s| s.delete(s1, &p("/cont/x"), -1));
    pr.op("delete_child_in_cont2", "s1", |s| s.delete(s1, &p("/cont2/x"), -1));
    pr.op("exists_container_stat", "s1", |s| s.exists(s1, &p("/cont_empty"), false));
    pr.op("containers_exist_after_reaper", "s1", |s| {
        s.reaper_pass();
        let mut m = Map::new();
        for n in ["cont", "cont_empty", "cont_flags0", "cont2"] {
            m.insert(n.into(), json!(s.exists_bool(&p(&format!("/{n}")))));
        }
        Ok(Value::Object(m))
    });
    pr.op("create_ttl_persistent_60s", "s1", |s| {
        s.raw_create(s1, raw_create(&p("/ttl"), open.clone(), 5, CreateKind::Ttl(60_000)))
    });
    pr.op("create_ttl_zero", "s1", |s| {
        s.raw_create(s1, raw_create(&p("/ttl0"), open.clone(), 5, CreateKind::Ttl(0)))
    });

    // server-side path validation
    let bad: [(&str, String, Vec<Acl>); 11] = [
        ("create_trailing_slash_missing_parent", p("/bad/"), open.clone()),
        ("create_trailing_slash_existing_parent", p("/seq/"), open.clone()),
        ("create_double_slash", p("//bad"), open.clone()),
        ("create_relative_BadArguments", "probe-rel".into(), open.clone()),
        ("create_dot_component", p("/."), open.clone()),
        ("create_dotdot_component", p("/.."), open.clone()),
        ("create_nul_char", p("/a\u{0}b"), open.clone()),
        ("create_empty_acl_missing_parent", p("/nope/x"), Vec::new()),
        ("create_under_zookeeper", "/zookeeper/probe-x".into(), open.clone()),
        ("create_root_NodeExists", "/".into(), open.clone()),
        ("create_invalid_flags", p("/flags9"), open.clone()),
    ];
    for (name, path, acl) in bad {
        let flags = if name == "create_invalid_flags" { 9 } else { 0 };
        pr.op(name, "s1", |s| s.raw_create(s1, raw_create(&path, acl, flags, CreateKind::Create)));
    }

    // ------------------------------------------------------ get/set/delete/versions
    pr.op("get_data", "s1", |s| s.get(s1, &p("/a"), false));
    pr.op("set_version_match", "s1", |s| s.set(s1, &p("/a"), b"v1", 0));
    pr.op("set_version_conflict_BadVersion", "s1", |s| s.set(s1, &p("/a"), b"v2", 0));
    pr.op("set_any_version", "s1", |s| s.set(s1, &p("/a"), b"v2", -1));
    pr.op("set_same_data_bumps_version", "s1", |s| s.set(s1, &p("/a"), b"v2", -1));
    pr.op("set_missing_NoNode", "s1", |s| s.set(s1, &p("/nope"), b"x", -1));
    pr.op("get_missing_NoNode", "s1", |s| s.get(s1, &p("/nope"), false));
    pr.op("exists_missing_is_null", "s1", |s| s.exists(s1, &p("/nope"), false));
    pr.op("delete_version_conflict_BadVersion", "s1", |s| s.delete(s1, &p("/a"), 5));
    pr.op("delete_nonempty_NotEmpty", "s1", |s| s.delete(s1, &p("/seq"), -1));
    pr.op("delete_missing_NoNode", "s1", |s| s.delete(s1, &p("/nope"), -1));
    pr.op("delete_version_match", "s1", |s| s.delete(s1, &p("/a"), 3));
    pr.op("exists_root_probe_stat", "s1", |s| s.exists(s1, R, false));
    pr.op("get_all_children_number", "s1", |s| {
        match s.read(s1, Request::GetAllChildrenNumber { path: R.into() })? {
            Response::AllChildrenNumber(n) => Ok(json!(n)),
            other => panic!("getAllChildrenNumber answered {other:?}"),
        }
    });
    pr.op("get_children_zookeeper", "s1", |s| {
        let mut c = s.children(s1, "/zookeeper", false)?;
        c.sort();
        Ok(json!(c))
    });

    // getChildren ordering
    pr.op("create_ord_parent", "s1", |s| s.create(s1, &p("/ord"), Some(b""), 0, false));
    for name in ["b", "a", "c", "aa", "B", "10", "9", "a-1"] {
        pr.s.create(s1, &p(&format!("/ord/{name}")), Some(b""), 0, false).expect("ord child");
    }
    pr.op_post("get_children_order", |s| {
        let mut children = s.children(s1, &p("/ord"), false).expect("getChildren");
        children.sort();
        let mut m = Map::new();
        m.insert("raw".into(), json!(children.clone()));
        m.insert("sorted".into(), json!(children));
        m
    });

    // ------------------------------------------------------------------ multi
    let set = |path: &str, data: &[u8], version: i32| Request::SetData {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    };
    let check = |path: &str, version: i32| Request::Check { path: path.into(), version };
    let delete = |path: &str| Request::Delete { path: path.into(), version: -1 };
    let create_data = |path: &str, data: &[u8]| Request::Create {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: main_acl(),
        flags: 0,
        kind: CreateKind::Create,
    };
    pr.op("multi_success", "s1", |s| {
        s.multi(
            s1,
            vec![
                create_data(&p("/m1"), b"m"),
                set(&p("/m1"), b"m2", -1),
                check(&p("/m1"), 1),
                create_req(&p("/m1/child"), 0),
                delete(&p("/m1/child")),
            ],
        )
    });
    pr.op("multi_result_state", "s1", |s| s.exists(s1, &p("/m1"), false));
    pr.op("multi_fail_halfway", "s1", |s| {
        s.multi(s1, vec![create_req(&p("/m2"), 0), set(&p("/nope"), b"x", -1), create_req(&p("/m3"), 0)])
    });
    pr.op("multi_fail_rolled_back_m2_absent", "s1", |s| s.exists(s1, &p("/m2"), false));
    pr.op("multi_check_version_fail", "s1", |s| {
        s.multi(s1, vec![check(&p("/m1"), 99), create_req(&p("/m4"), 0)])
    });
    pr.op("multi_last_op_fails_NodeExists", "s1", |s| {
        s.multi(s1, vec![create_req(&p("/m5"), 0), delete(&p("/m1")), create_req(&p("/m5"), 0)])
    });
    pr.op("multi_empty", "s1", |s| s.multi(s1, Vec::new()));
    pr.op("stat_after_multis", "s1", |s| s.exists(s1, R, false));

    // ------------------------------------------------------------------ watches
    pr.s.create(s1, &p("/w"), Some(b"0"), 0, false).expect("create /w");
    pr.s.take_wire();
    pr.op("watch_get_data_register", "s1", |s| s.get(s1, &p("/w"), true));
    pr.op("watch_set_triggers", "s1", |s| s.set(s1, &p("/w"), b"1", -1));
    pr.op("watch_set_again_no_event", "s1", |s| s.set(s1, &p("/w"), b"2", -1));
    let wire = pr.s.take_wire();
    pr.events("events_data_watch_oneshot", wire);

    pr.op("watch_exists_missing_register", "s1", |s| s.exists(s1, &p("/w2"), true));
    pr.op("watch_create_triggers_NodeCreated", "s1", |s| s.create(s1, &p("/w2"), Some(b""), 0, false));
    let wire = pr.s.take_wire();
    pr.events("events_exists_watch", wire);

    pr.s.create(s1, &p("/wp"), Some(b""), 0, false).expect("create /wp");
    pr.s.create(s1, &p("/wp/c1"), Some(b""), 0, false).expect("create /wp/c1");
    pr.s.take_wire();
    pr.op("watch_children_register", "s1", |s| Ok(json!(s.children(s1, &p("/wp"), true)?)));
    pr.op("watch_child_data_register", "s1", |s| s.get(s1, &p("/wp/c1"), true));
    pr.op("watch_parent_data_register", "s1", |s| s.exists(s1, &p("/wp"), true));
    pr.op("watch_delete_child_triggers", "s1", |s| s.delete(s1, &p("/wp/c1"), -1));
    pr.op("watch_set_child_data_on_parent_not_children", "s1", |s| s.set(s1, &p("/wp"), b"x", -1));
    let wire = pr.s.take_wire();
    pr.events("events_delete_child", wire);

    pr.s.create(s1, &p("/wm1"), Some(b""), 0, false).expect("create /wm1");
    pr.s.create(s1, &p("/wm2"), Some(b""), 0, false).expect("create /wm2");
    pr.s.take_wire();
    pr.s.get(s1, &p("/wm1"), true).expect("get /wm1");
    pr.s.get(s1, &p("/wm2"), true).expect("get /wm2");
    pr.s.children(s1, R, true).expect("children /probe");
    pr.op("watch_multi_triggers_in_op_order", "s1", |s| {
        s.multi(s1, vec![set(&p("/wm2"), b"a", -1), set(&p("/wm1"), b"b", -1), create_req(&p("/wmx"), 0)])
    });
    let wire = pr.s.take_wire();
    pr.events("events_multi", wire);

    pr.s.create(s1, &p("/wd"), Some(b""), 0, false).expect("create /wd");
    pr.s.take_wire();
    pr.s.get(s1, &p("/wd"), true).expect("get /wd");
    pr.s.children(s1, &p("/wd"), true).expect("children /wd");
    pr.op("watch_delete_node_with_data_and_child_watch", "s1", |s| s.delete(s1, &p("/wd"), -1));
    let wire = pr.s.take_wire();
    pr.events("events_delete_data_and_child_watch", wire);

    pr.op("s2_create_ephemeral", "s2", |s| s.create(s2, &p("/eph2"), Some(b""), 1, true));
    pr.op("s1_watch_s2_ephemeral", "s1", |s| s.exists(s1, &p("/eph2"), true));
    pr.s.children(s1, R, true).expect("children /probe");
    pr.s.take_wire();
    pr.op("s2_close_session", "s2", |s| {
        s.close(s2);
        Ok(Value::Null)
    });
    let wire: Vec<Value> = pr.s.take_wire().into_iter().filter(|e| e.get("type").is_some()).collect();
    pr.events("events_session_close_deletes_ephemeral", wire);
    pr.op("ephemeral_gone_after_close", "s1", |s| s.exists(s1, &p("/eph2"), false));

    // persistent recursive watch
    pr.s.create(s1, &p("/pr"), Some(b""), 0, false).expect("create /pr");
    pr.s.take_wire();
    pr.op("add_watch_persistent_recursive", "s1", |s| {
        s.watches.add_watch(&p("/pr"), AddWatchMode::PersistentRecursive, s1);
        Ok(json!(true))
    });
    pr.op("pr_create_child", "s1", |s| s.create(s1, &p("/pr/x"), Some(b""), 0, false));
    pr.op("pr_set_child", "s1", |s| s.set(s1, &p("/pr/x"), b"1", -1));
    pr.op("pr_create_grandchild", "s1", |s| s.create(s1, &p("/pr/x/y"), Some(b""), 0, false));
    pr.op("pr_delete_grandchild", "s1", |s| s.delete(s1, &p("/pr/x/y"), -1));
    pr.op("pr_set_child_again_still_fires", "s1", |s| s.set(s1, &p("/pr/x"), b"2", -1));
    let wire = pr.s.take_wire();
    pr.events("events_persistent_recursive", wire);
    pr.op("remove_watches_persistent_any", "s1", |s| {
        s.watches.remove_watches(&p("/pr"), WatcherType::Any, s1).map(|()| json!(true))
    });
    pr.op("pr_after_remove_no_event", "s1", |s| s.set(s1, &p("/pr/x"), b"3", -1));
    let wire = pr.s.take_wire();
    pr.events("events_after_remove_watches", wire);
    pr.op("remove_watches_none_NoWatcher", "s1", |s| {
        s.watches.remove_watches(&p("/pr"), WatcherType::Data, s1).map(|()| json!(true))
    });

    // ---------------------------------------------------------------- ACLs
    let s3 = pr.s.connect("s3");
    let alice = Acl { perms: Perms::ALL, id: Id::new("digest", &zab_tree::digest_id("alice", "secret")) };
    pr.op("add_auth_digest_alice", "s1", |s| s.auth(s1, "digest", "alice:secret"));
    pr.op("create_acl_digest_alice", "s1", |s| {
        s.create_acl(s1, &p("/acl"), Some(b"secret-data"), vec![alice.clone()], 0, true)
    });
    pr.op("get_acls", "s1", |s| s.get_acls(s1, &p("/acl")));
    pr.op("s3_get_data_NoAuth", "s3", |s| s.get(s3, &p("/acl"), false));
    pr.op("s3_exists_allowed", "s3", |s| s.exists(s3, &p("/acl"), false));
    pr.op("s3_get_children_NoAuth", "s3", |s| Ok(json!(s.children(s3, &p("/acl"), false)?)));
    pr.op("s3_set_NoAuth", "s3", |s| s.set(s3, &p("/acl"), b"x", -1));
    pr.op("s3_create_child_NoAuth", "s3", |s| s.create(s3, &p("/acl/c"), Some(b""), 0, false));
    pr.op("s3_get_acls", "s3", |s| s.get_acls(s3, &p("/acl")));
    pr.op("s3_add_auth_wrong_password", "s3", |s| s.auth(s3, "digest", "alice:wrong"));
    pr.op("s3_get_data_still_NoAuth", "s3", |s| s.get(s3, &p("/acl"), false));
    pr.op("s3_add_auth_right_password", "s3", |s| s.auth(s3, "digest", "alice:secret"));
    pr.op("s3_get_data_now_allowed", "s3", |s| s.get(s3, &p("/acl"), false));
    pr.op("set_acls_bad_version", "s1", |s| s.set_acls(s1, &p("/acl"), main_acl(), 7));
    pr.op("set_acls_ok_bumps_aversion", "s1", |s| {
        let mut acl = vec![alice.clone()];
        acl.extend(READ_ACL_UNSAFE.iter().cloned());
        s.set_acls(s1, &p("/acl"), acl, 0)
    });
    pr.op("create_read_only_world", "s1", |s| {
        s.create_acl(s1, &p("/ro"), Some(b"r"), READ_ACL_UNSAFE.clone(), 0, false)
    });
    pr.op("set_read_only_NoAuth", "s1", |s| s.set(s1, &p("/ro"), b"w", -1));
    pr.op("create_child_read_only_NoAuth", "s1", |s| s.create(s1, &p("/ro/c"), Some(b""), 0, false));
    pr.op("delete_read_only_node_allowed_parent_perm", "s1", |s| s.delete(s1, &p("/ro"), -1));
    pr.op("create_empty_acl_list", "s1", |s| {
        s.raw_create(s1, raw_create(&p("/noacl"), Vec::new(), 0, CreateKind::Create))
    });
    let auth_acl = vec![Acl::new(Perms::ALL, "auth", "")];
    pr.op("create_auth_scheme_acl", "s1", |s| {
        s.create_acl(s1, &p("/authacl"), Some(b""), auth_acl.clone(), 0, false)
    });
    pr.op("get_acls_auth_scheme_expanded", "s1", |s| s.get_acls(s1, &p("/authacl")));
    let s4 = pr.s.connect("s4");
    pr.op("s4_create_auth_scheme_no_auth_InvalidACL", "s4", |s| {
        s.create_acl(s4, &p("/authacl2"), Some(b""), auth_acl.clone(), 0, false)
    });
    pr.op("s4_create_bad_scheme_InvalidACL", "s4", |s| {
        s.create_acl(s4, &p("/badscheme"), Some(b""), vec![Acl::new(Perms::ALL, "nosuch", "x")], 0, false)
    });
    pr.op("s4_add_auth_unknown_scheme_AuthFailed", "s4", |s| s.auth(s4, "nosuchscheme", "x"));

    // ------------------------------------------------------------- misc + end
    // Server-level (see SERVER_LEVEL_STEPS): the reply echoes the path and no txn is involved.
    pr.op("sync", "s1", |_| Ok(json!(R)));
    pr.op("final_children", "s1", |s| {
        let mut c = s.children(s1, R, false)?;
        c.sort();
        Ok(json!(c))
    });
    pr.op("final_stat_root", "s1", |s| s.exists(s1, R, false));
    pr.op("set_too_large_1MiB", "s1", |s| s.set(s1, &p("/w"), &vec![b'x'; 1024 * 1024 + 1], -1));
    pr.op("after_too_large", "s1", |s| s.exists(s1, &p("/w"), false));
    pr.lines
}

fn expected_lines() -> Vec<Value> {
    let text = std::fs::read_to_string(EXPECTED).unwrap_or_else(|e| panic!("cannot read {EXPECTED}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .filter(|v| v["name"] != "meta")
        .collect()
}

/// Drops what cannot be compared: the server's raw HashSet order of children.
fn comparable(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("raw");
    }
    v
}

#[test]
fn every_probe_step_matches_real_zookeeper_3_8_0() {
    let expected = expected_lines();
    let actual = run_probe();
    let mut mismatches = Vec::new();
    for (i, want) in expected.iter().enumerate() {
        let got = actual.get(i).cloned().unwrap_or(Value::Null);
        if comparable(got.clone()) != comparable(want.clone()) {
            mismatches.push(format!("step {}:\n  want {want}\n  got  {got}", want["step"]));
        }
    }
    assert_eq!(actual.len(), expected.len(), "the replay produced a different number of lines");
    assert!(mismatches.is_empty(), "{} step(s) differ:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[test]
fn server_level_steps_are_part_of_the_replay() {
    let names: Vec<String> =
        expected_lines().iter().map(|v| v["name"].as_str().unwrap_or("").to_string()).collect();
    for (step, reason) in SERVER_LEVEL_STEPS {
        assert!(names.iter().any(|n| n == step), "{step} ({reason}) is not a probe step");
    }
}

#[test]
fn the_oversized_request_is_refused_before_it_can_consume_a_zxid() {
    let req = Request::SetData { path: p("/w"), data: Some(vec![b'x'; 1024 * 1024 + 1]), version: -1 };
    assert!(req.exceeds_size_limit());
    let lines = run_probe();
    let after = lines.iter().find(|l| l["name"] == "after_too_large").expect("step present");
    let before = lines.iter().find(|l| l["name"] == "final_stat_root").expect("step present");
    assert_eq!(after["result"]["stat"]["mzxid"], json!(63));
    assert_eq!(before["result"]["stat"]["pzxid"], json!(94));
}
