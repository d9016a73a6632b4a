//! The realzk probe (`shared/realzk/probe.py`) as one script, run against every server the project
//! compares with the real ZooKeeper 3.8.0 (`shared/realzk/expected/probe-3.8.0.jsonl`).
//!
//! Two servers run it: the data tree of this crate playing a standalone server
//! (`tests/probe_conformance.rs`) and zab-core's servers reached through zab-client
//! (`crates/zab-core/tests/probe_server.rs`, which includes this file by path). Each implements
//! [`ProbeServer`]; the steps, the kazoo-shaped calls and probe.py's normalisation (zxids relative
//! to the czxid of /probe, `ctime_eq_mtime`, session owners as s1..s4, children sorted,
//! notifications with reply markers in arrival order) live here once, so both servers are held to
//! the very same lines.

// Each test that includes this file uses its own part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use zab_tree::proto::CreateKind;
use zab_tree::{
    Acl, AddWatchMode, ErrorCode, Id, MultiResult, Perms, Request, Response, SessionId, Stat, WatchEvent,
    WatcherType, Zxid, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE,
};

/// The real server's answers, one JSON line per step.
pub const EXPECTED: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/realzk/expected/probe-3.8.0.jsonl");

/// The probe's root node.
pub const R: &str = "/probe";

/// Why a call did not succeed.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// The server answered with this error.
    Server(ErrorCode),
    /// A multi failed; kazoo's transaction returns the per-op results instead of raising.
    MultiFailed(Vec<MultiResult>),
    /// The client gave up or refused the call: the printed error fields, as they are.
    Client(Map<String, Value>),
}

/// One item of the recorded wire, in arrival order.
#[derive(Clone, Debug, PartialEq)]
pub enum WireItem {
    /// A notification the server sent to a session.
    Event { session: &'static str, event: WatchEvent },
    /// The probe's own marker: the call `step` of `session` returned here.
    Reply { session: &'static str, step: String },
}

/// A server under test, as the probe's four sessions see it.
pub trait ProbeServer {
    /// Opens the session probe.py calls `label`; returns its handle and session id.
    fn connect(&mut self, label: &'static str) -> (usize, SessionId);
    /// One request on session `s`, answered.
    fn call(&mut self, s: usize, req: Request) -> Result<Response, Failure>;
    /// probe.py's `raw()`: the request goes on the wire as built, bypassing the client's own
    /// checks. `step` names the step, for servers that record which steps needed it.
    fn call_raw(&mut self, s: usize, req: Request, step: &str) -> Result<Response, Failure>;
    /// kazoo's `add_auth`.
    fn add_auth(&mut self, s: usize, scheme: &str, credentials: &str) -> Result<(), Failure>;
    /// Closes session `s`.
    fn close(&mut self, s: usize) -> Result<(), Failure>;
    /// Lets `ms` of time pass (the server's own timers, such as the container reaper, run).
    fn sleep(&mut self, ms: u64);
    /// The server's clock.
    fn now_ms(&self) -> u64;
    /// Gives the server up to `limit_ms` for `done(wire)` to hold (messages still in flight).
    fn wait_for(&mut self, limit_ms: u64, done: &dyn Fn(&[WireItem]) -> bool);
    /// The recorded wire.
    fn wire(&mut self) -> &mut Vec<WireItem>;
}

/// A call's printed outcome: the `result` value, or the error fields.
pub type Printed = Result<Value, Map<String, Value>>;

/// kazoo's exception class names.
pub fn kazoo_name(code: ErrorCode) -> &'static str {
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
        ErrorCode::SessionExpired => "SessionExpiredError",
        _ => "ZookeeperError",
    }
}

/// The printed fields of a server error.
pub fn error_fields(code: ErrorCode) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("err".into(), json!(kazoo_name(code)));
    m.insert("code".into(), json!(code.code()));
    m
}

fn failure_fields(f: Failure) -> Map<String, Value> {
    match f {
        Failure::Server(code) => error_fields(code),
        Failure::MultiFailed(_) => error_fields(ErrorCode::RuntimeInconsistency),
        Failure::Client(fields) => fields,
    }
}

/// The probe: the server, probe.py's normalisation state, and the printed lines.
pub struct Probe<S> {
    /// The server under test.
    pub s: S,
    /// The czxid of /probe.
    base: Option<Zxid>,
    labels: BTreeMap<SessionId, &'static str>,
    step: u64,
    lines: Vec<Value>,
}

impl<S: ProbeServer> Probe<S> {
    fn connect(&mut self, label: &'static str) -> usize {
        let (handle, session) = self.s.connect(label);
        self.labels.insert(session, label);
        handle
    }

    /// The probe's name for a session (s1..s4), if it is one of the probe's.
    pub fn label(&self, session: SessionId) -> Option<&'static str> {
        self.labels.get(&session).copied()
    }

    // ------------------------------------------------------------ normalisation

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
        match self.labels.get(&owner) {
            Some(label) => json!(label),
            None if owner == SessionId::CONTAINER_OWNER => json!("container"),
            None if owner.0 >> 56 == 0xFF => json!("ttl"),
            None => json!(format!("other:{owner}")),
        }
    }

    fn stat_fields(&self, st: &Stat) -> Value {
        json!({
            "czxid": self.z(st.czxid), "mzxid": self.z(st.mzxid), "pzxid": self.z(st.pzxid),
            "ctime_eq_mtime": st.ctime_ms == st.mtime_ms,
            "version": st.version, "cversion": st.cversion, "aversion": st.aversion,
            "ephemeralOwner": self.owner(st.ephemeral_owner),
            "dataLength": st.data_length, "numChildren": st.num_children,
        })
    }

    fn stat(&self, st: &Stat) -> Value {
        json!({ "stat": self.stat_fields(st) })
    }

    fn multi_result(&self, r: &MultiResult) -> Value {
        match r {
            MultiResult::Create { path, stat: None } => json!(path),
            MultiResult::Create { path, stat: Some(stat) } => json!([path, self.stat(stat)]),
            MultiResult::SetData { stat } => self.stat(stat),
            MultiResult::Delete | MultiResult::Check => json!(true),
            MultiResult::Error { code } => Value::Object(error_fields(*code)),
        }
    }

    fn create_shape(&self, r: Response) -> Value {
        match r {
            Response::Create { path } => json!(path),
            Response::Create2 { path, stat } => json!([path, self.stat(&stat)]),
            other => panic!("create answered {other:?}"),
        }
    }

    fn stat_shape(&self, r: Response) -> Value {
        match r {
            Response::Stat(stat) => self.stat(&stat),
            other => panic!("expected a stat, got {other:?}"),
        }
    }

    // ------------------------------------------------------------ calls, kazoo-shaped

    /// One request on session `s`; the reply body goes through `shape`.
    fn request(&mut self, s: usize, req: Request, shape: impl FnOnce(&Self, Response) -> Value) -> Printed {
        match self.s.call(s, req) {
            Ok(response) => Ok(shape(self, response)),
            Err(e) => Err(failure_fields(e)),
        }
    }

    fn raw_create(&mut self, s: usize, req: Request, step: &str) -> Printed {
        match self.s.call_raw(s, req, step) {
            Ok(response) => Ok(self.create_shape(response)),
            Err(e) => Err(failure_fields(e)),
        }
    }

    fn create(
        &mut self,
        s: usize,
        path: &str,
        data: Option<&[u8]>,
        flags: i32,
        include_data: bool,
    ) -> Printed {
        self.create_acl(s, path, data, OPEN_ACL_UNSAFE.clone(), flags, include_data)
    }

    fn create_acl(
        &mut self,
        s: usize,
        path: &str,
        data: Option<&[u8]>,
        acl: Vec<Acl>,
        flags: i32,
        include_data: bool,
    ) -> Printed {
        let kind = if include_data { CreateKind::Create2 } else { CreateKind::Create };
        let req = Request::Create { path: path.into(), data: data.map(<[u8]>::to_vec), acl, flags, kind };
        self.request(s, req, Self::create_shape)
    }

    fn get(&mut self, s: usize, path: &str, watch: bool) -> Printed {
        self.request(s, Request::GetData { path: path.into(), watch }, |pr, r| match r {
            Response::GetData { data, stat } => {
                let data = data.map(|d| match String::from_utf8(d) {
                    Ok(text) => json!(text),
                    Err(e) => json!({"hex": hex(e.as_bytes())}),
                });
                json!([data, pr.stat(&stat)])
            }
            other => panic!("getData answered {other:?}"),
        })
    }

    fn set(&mut self, s: usize, path: &str, data: &[u8], version: i32) -> Printed {
        let req = Request::SetData { path: path.into(), data: Some(data.to_vec()), version };
        self.request(s, req, Self::stat_shape)
    }

    fn delete(&mut self, s: usize, path: &str, version: i32) -> Printed {
        self.request(s, Request::Delete { path: path.into(), version }, |_, _| json!(true))
    }

    /// kazoo's `exists`: NoNode is a null stat.
    fn exists(&mut self, s: usize, path: &str, watch: bool) -> Printed {
        match self.s.call(s, Request::Exists { path: path.into(), watch }) {
            Ok(r) => Ok(self.stat_shape(r)),
            Err(Failure::Server(ErrorCode::NoNode)) => Ok(Value::Null),
            Err(e) => Err(failure_fields(e)),
        }
    }

    fn children(&mut self, s: usize, path: &str, watch: bool) -> Result<Vec<String>, Map<String, Value>> {
        match self.s.call(s, Request::GetChildren { path: path.into(), watch }) {
            Ok(Response::GetChildren { children }) => Ok(children),
            Ok(other) => panic!("getChildren answered {other:?}"),
            Err(e) => Err(failure_fields(e)),
        }
    }

    fn sorted_children(&mut self, s: usize, path: &str) -> Printed {
        let mut c = self.children(s, path, false)?;
        c.sort();
        Ok(json!(c))
    }

    fn get_acls(&mut self, s: usize, path: &str) -> Printed {
        self.request(s, Request::GetAcl { path: path.into() }, |pr, r| match r {
            Response::GetAcl { acl, stat } => {
                let acl: Vec<Value> = acl
                    .iter()
                    .map(|a| json!({"perms": a.perms.0, "scheme": a.id.scheme, "id": a.id.id}))
                    .collect();
                json!([acl, pr.stat(&stat)])
            }
            other => panic!("getACL answered {other:?}"),
        })
    }

    fn set_acls(&mut self, s: usize, path: &str, acl: Vec<Acl>, version: i32) -> Printed {
        self.request(s, Request::SetAcl { path: path.into(), acl, version }, Self::stat_shape)
    }

    /// kazoo's `transaction().commit()`: a failed multi returns the per-op errors, not an error.
    fn multi(&mut self, s: usize, ops: Vec<Request>) -> Printed {
        let results = match self.s.call(s, Request::Multi(ops)) {
            Ok(Response::Multi(results)) | Err(Failure::MultiFailed(results)) => results,
            Ok(other) => panic!("multi answered {other:?}"),
            Err(e) => return Err(failure_fields(e)),
        };
        Ok(Value::Array(results.iter().map(|r| self.multi_result(r)).collect()))
    }

    fn sync(&mut self, s: usize, path: &str) -> Printed {
        self.request(s, Request::Sync { path: path.into() }, |_, r| match r {
            Response::Sync { path } => json!(path),
            other => panic!("sync answered {other:?}"),
        })
    }

    fn add_auth(&mut self, s: usize, scheme: &str, credentials: &str) -> Printed {
        self.s.add_auth(s, scheme, credentials).map(|()| json!(true)).map_err(failure_fields)
    }

    /// probe.py's `flush`: a sync("/") round trip on each session, then 50 ms.
    fn flush(&mut self, sessions: &[usize]) {
        for &s in sessions {
            // Like probe.py, a failed flush is ignored.
            let _ = self.sync(s, "/");
        }
        self.s.sleep(50);
    }

    /// probe.py's `take_wire`.
    fn take_wire(&mut self) -> Vec<Value> {
        std::mem::take(self.s.wire())
            .into_iter()
            .map(|item| match item {
                WireItem::Event { session, event } => json!({
                    "type": format!("{:?}", event.event_type),
                    "state": format!("{:?}", event.state),
                    "path": event.path,
                    "session": session,
                }),
                WireItem::Reply { session, step } => json!({"session": session, "reply": step}),
            })
            .collect()
    }

    // ------------------------------------------------------------ printed lines

    fn emit(&mut self, name: &str, fields: Map<String, Value>) {
        self.step += 1;
        let mut line = Map::new();
        line.insert("step".into(), json!(self.step));
        line.insert("name".into(), json!(name));
        line.extend(fields);
        self.lines.push(Value::Object(line));
    }

    fn mark_reply(&mut self, session: &'static str, name: &str) {
        self.s.wire().push(WireItem::Reply { session, step: name.to_string() });
    }

    /// probe.py's `P.op`: run the call, mark its reply on the wire, print the outcome.
    fn op(&mut self, name: &str, session: &'static str, f: impl FnOnce(&mut Self) -> Printed) {
        let printed = f(self);
        self.mark_reply(session, name);
        let mut fields = Map::new();
        match printed {
            Ok(result) => {
                fields.insert("ok".into(), json!(true));
                fields.insert("result".into(), result);
            }
            Err(error) => {
                fields.insert("ok".into(), json!(false));
                fields.extend(error);
            }
        }
        self.emit(name, fields);
    }

    /// An op whose probe.py `post` hook prints extra keys and `"result": null`.
    fn op_post(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Self) -> Result<Map<String, Value>, Map<String, Value>>,
    ) {
        let printed = f(self);
        self.mark_reply("s1", name);
        let mut fields = Map::new();
        match printed {
            Ok(extra) => {
                fields.insert("ok".into(), json!(true));
                fields.insert("result".into(), Value::Null);
                fields.extend(extra);
            }
            Err(error) => {
                fields.insert("ok".into(), json!(false));
                fields.extend(error);
            }
        }
        self.emit(name, fields);
    }

    fn events(&mut self, name: &str, events: Vec<Value>) {
        let mut fields = Map::new();
        fields.insert("events".into(), Value::Array(events));
        self.emit(name, fields);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn p(name: &str) -> String {
    format!("{R}{name}")
}

fn create_req(path: &str, data: &[u8], flags: i32, kind: CreateKind) -> Request {
    Request::Create {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: OPEN_ACL_UNSAFE.clone(),
        flags,
        kind,
    }
}

fn raw_create(path: &str, acl: Vec<Acl>, flags: i32, kind: CreateKind) -> Request {
    Request::Create { path: path.into(), data: Some(Vec::new()), acl, flags, kind }
}

// ------------------------------------------------------------------ the script

/// Runs probe.py's script against `server`; returns the printed lines (without `meta`) and the
/// finished probe (for what the server recorded on the way).
pub fn run_probe<S: ProbeServer>(server: S) -> (Vec<Value>, Probe<S>) {
    let mut pr = Probe { s: server, base: None, labels: BTreeMap::new(), step: 0, lines: Vec::new() };
    let s1 = pr.connect("s1");
    let s2 = pr.connect("s2");
    // (probe.py asks `srvr` here on a separate connection; it only feeds the meta line.)
    // Clean slate, as probe.py does (on a fresh server neither node exists).
    assert_eq!(pr.exists(s1, R, false), Ok(Value::Null), "a fresh server has no {R}");
    assert_eq!(pr.exists(s1, "/zookeeper/probe-x", false), Ok(Value::Null));
    pr.flush(&[s1, s2]);
    pr.take_wire();
    pr.step = 1; // the meta line

    // ------------------------------------------------------------ creates
    pr.op("create_root_persistent", "s1", |pr| {
        let response = pr.s.call(s1, create_req(R, b"root", 0, CreateKind::Create2));
        if let Ok(Response::Create2 { stat, .. }) = &response {
            // probe.py prints every zxid relative to this one.
            pr.base = Some(stat.czxid);
        }
        response.map(|r| pr.create_shape(r)).map_err(failure_fields)
    });
    pr.op("create_persistent_include_data", "s1", |pr| pr.create(s1, &p("/a"), Some(b"v0"), 0, true));
    pr.op("create_existing_NodeExists", "s1", |pr| pr.create(s1, &p("/a"), Some(b"again"), 0, false));
    pr.op("create_parent_missing_NoNode", "s1", |pr| {
        pr.create(s1, &p("/missing/child"), Some(b""), 0, false)
    });
    pr.op("create_null_data", "s1", |pr| pr.create(s1, &p("/nulldata"), None, 0, true));
    pr.op("get_null_data", "s1", |pr| pr.get(s1, &p("/nulldata"), false));
    pr.op("create_empty_data", "s1", |pr| pr.create(s1, &p("/emptydata"), Some(b""), 0, true));
    pr.op("get_empty_data", "s1", |pr| pr.get(s1, &p("/emptydata"), false));

    pr.op("create_seq_parent", "s1", |pr| pr.create(s1, &p("/seq"), Some(b""), 0, false));
    pr.op("create_sequential_1", "s1", |pr| pr.create(s1, &p("/seq/s-"), Some(b""), 2, false));
    pr.op("create_sequential_2", "s1", |pr| pr.create(s1, &p("/seq/s-"), Some(b""), 2, false));
    pr.op("create_sequential_other_prefix", "s1", |pr| pr.create(s1, &p("/seq/t-"), Some(b""), 2, false));
    pr.op("delete_sequential_first", "s1", |pr| pr.delete(s1, &p("/seq/s-0000000000"), -1));
    pr.op("create_sequential_after_delete", "s1", |pr| pr.create(s1, &p("/seq/s-"), Some(b""), 2, true));
    pr.op("create_sequential_trailing_slash", "s1", |pr| pr.create(s1, &p("/seq/"), Some(b""), 2, false));
    pr.op_post("get_children_seq_with_stat", |pr| {
        match pr.s.call(s1, Request::GetChildren2 { path: p("/seq"), watch: false }) {
            Ok(Response::GetChildren2 { mut children, stat }) => {
                children.sort();
                let mut m = Map::new();
                m.insert("sorted".into(), json!(children));
                m.insert("stat".into(), pr.stat_fields(&stat));
                Ok(m)
            }
            Ok(other) => panic!("getChildren2 answered {other:?}"),
            Err(e) => Err(failure_fields(e)),
        }
    });

    // ephemeral
    pr.op("create_ephemeral", "s1", |pr| pr.create(s1, &p("/e1"), Some(b"eph"), 1, true));
    pr.op("create_child_of_ephemeral_NoChildrenForEphemerals", "s1", |pr| {
        pr.create(s1, &p("/e1/c"), Some(b""), 0, false)
    });
    pr.op("create_ephemeral_sequential", "s1", |pr| pr.create(s1, &p("/es-"), Some(b""), 3, true));
    // probe.py sorts the first list; the second is empty.
    let ephemerals = |_: &Probe<S>, r: Response| match r {
        Response::Ephemerals(mut paths) => {
            paths.sort();
            json!(paths)
        }
        other => panic!("getEphemerals answered {other:?}"),
    };
    pr.op("get_ephemerals_prefix", "s1", |pr| {
        pr.request(s1, Request::GetEphemerals { prefix: R.into() }, ephemerals)
    });
    pr.op("get_ephemerals_s2_none", "s2", |pr| {
        pr.request(s2, Request::GetEphemerals { prefix: "/".into() }, ephemerals)
    });

    // container and TTL (hand-built createContainer, create2 and createTTL)
    let open = OPEN_ACL_UNSAFE.clone();
    let containers: [(&str, &str, i32, CreateKind); 4] = [
        ("create_container_opcode19", "/cont", 4, CreateKind::Container),
        ("create_container_opcode19_never_has_children", "/cont_empty", 4, CreateKind::Container),
        ("create_opcode19_with_flags0", "/cont_flags0", 0, CreateKind::Container),
        ("create_Create2_opcode15_with_container_flag", "/cont2", 4, CreateKind::Create2),
    ];
    for (name, path, flags, kind) in containers {
        pr.op(name, "s1", |pr| pr.raw_create(s1, raw_create(&p(path), open.clone(), flags, kind), name));
    }
    pr.op("create_child_in_container", "s1", |pr| pr.create(s1, &p("/cont/x"), Some(b""), 0, false));
    pr.op("create_child_in_cont2", "s1", |pr| pr.create(s1, &p("/cont2/x"), Some(b""), 0, false));
    pr.op("delete_child_in_container", "s1", |pr| pr.delete(s1, &p("/cont/x"), -1));
    pr.op("delete_child_in_cont2", "s1", |pr| pr.delete(s1, &p("/cont2/x"), -1));
    pr.op("exists_container_stat", "s1", |pr| pr.exists(s1, &p("/cont_empty"), false));
    pr.op("containers_exist_after_reaper", "s1", |pr| {
        // probe.py: poll every 250 ms for up to 8 s until /probe/cont is gone, then 2.5 s more.
        let end_ms = pr.s.now_ms() + 8_000;
        let mut deleted = false;
        while pr.s.now_ms() < end_ms {
            if pr.exists(s1, &p("/cont"), false)? == Value::Null {
                deleted = true;
                break;
            }
            pr.s.sleep(250);
        }
        if deleted {
            pr.s.sleep(2_500);
        }
        let mut m = Map::new();
        for n in ["cont", "cont_empty", "cont_flags0", "cont2"] {
            m.insert(n.into(), json!(pr.exists(s1, &p(&format!("/{n}")), false)? != Value::Null));
        }
        Ok(Value::Object(m))
    });
    pr.op("create_ttl_persistent_60s", "s1", |pr| {
        let req = raw_create(&p("/ttl"), open.clone(), 5, CreateKind::Ttl(60_000));
        pr.raw_create(s1, req, "create_ttl_persistent_60s")
    });
    pr.op("create_ttl_zero", "s1", |pr| {
        pr.raw_create(s1, raw_create(&p("/ttl0"), open.clone(), 5, CreateKind::Ttl(0)), "create_ttl_zero")
    });

    // server-side path validation (hand-built creates bypass the client's checks)
    let bad: [(&str, String, Vec<Acl>, i32); 11] = [
        ("create_trailing_slash_missing_parent", p("/bad/"), open.clone(), 0),
        ("create_trailing_slash_existing_parent", p("/seq/"), open.clone(), 0),
        ("create_double_slash", p("//bad"), open.clone(), 0),
        ("create_relative_BadArguments", "probe-rel".into(), open.clone(), 0),
        ("create_dot_component", p("/."), open.clone(), 0),
        ("create_dotdot_component", p("/.."), open.clone(), 0),
        ("create_nul_char", p("/a\u{0}b"), open.clone(), 0),
        ("create_empty_acl_missing_parent", p("/nope/x"), Vec::new(), 0),
        ("create_under_zookeeper", "/zookeeper/probe-x".into(), open.clone(), 0),
        ("create_root_NodeExists", "/".into(), open.clone(), 0),
        ("create_invalid_flags", p("/flags9"), open.clone(), 9),
    ];
    for (name, path, acl, flags) in bad {
        pr.op(name, "s1", |pr| pr.raw_create(s1, raw_create(&path, acl, flags, CreateKind::Create), name));
    }

    // ------------------------------------------------------ get/set/delete/versions
    pr.op("get_data", "s1", |pr| pr.get(s1, &p("/a"), false));
    pr.op("set_version_match", "s1", |pr| pr.set(s1, &p("/a"), b"v1", 0));
    pr.op("set_version_conflict_BadVersion", "s1", |pr| pr.set(s1, &p("/a"), b"v2", 0));
    pr.op("set_any_version", "s1", |pr| pr.set(s1, &p("/a"), b"v2", -1));
    pr.op("set_same_data_bumps_version", "s1", |pr| pr.set(s1, &p("/a"), b"v2", -1));
    pr.op("set_missing_NoNode", "s1", |pr| pr.set(s1, &p("/nope"), b"x", -1));
    pr.op("get_missing_NoNode", "s1", |pr| pr.get(s1, &p("/nope"), false));
    pr.op("exists_missing_is_null", "s1", |pr| pr.exists(s1, &p("/nope"), false));
    pr.op("delete_version_conflict_BadVersion", "s1", |pr| pr.delete(s1, &p("/a"), 5));
    pr.op("delete_nonempty_NotEmpty", "s1", |pr| pr.delete(s1, &p("/seq"), -1));
    pr.op("delete_missing_NoNode", "s1", |pr| pr.delete(s1, &p("/nope"), -1));
    pr.op("delete_version_match", "s1", |pr| pr.delete(s1, &p("/a"), 3));
    pr.op("exists_root_probe_stat", "s1", |pr| pr.exists(s1, R, false));
    pr.op("get_all_children_number", "s1", |pr| {
        pr.request(s1, Request::GetAllChildrenNumber { path: R.into() }, |_, r| match r {
            Response::AllChildrenNumber(n) => json!(n),
            other => panic!("getAllChildrenNumber answered {other:?}"),
        })
    });
    pr.op("get_children_zookeeper", "s1", |pr| pr.sorted_children(s1, "/zookeeper"));

    // getChildren ordering
    pr.op("create_ord_parent", "s1", |pr| pr.create(s1, &p("/ord"), Some(b""), 0, false));
    for name in ["b", "a", "c", "aa", "B", "10", "9", "a-1"] {
        pr.create(s1, &p(&format!("/ord/{name}")), Some(b""), 0, false).expect("an /ord child is created");
    }
    pr.op_post("get_children_order", |pr| {
        let raw = pr.children(s1, &p("/ord"), false)?;
        let mut sorted = raw.clone();
        sorted.sort();
        let mut m = Map::new();
        m.insert("raw".into(), json!(raw));
        m.insert("sorted".into(), json!(sorted));
        Ok(m)
    });

    // ------------------------------------------------------------------ multi
    let set = |path: &str, data: &[u8]| Request::SetData {
        path: path.into(),
        data: Some(data.to_vec()),
        version: -1,
    };
    let check = |path: &str, version: i32| Request::Check { path: path.into(), version };
    let delete = |path: &str| Request::Delete { path: path.into(), version: -1 };
    let create = |path: &str, data: &[u8]| create_req(path, data, 0, CreateKind::Create);
    pr.op("multi_success", "s1", |pr| {
        pr.multi(
            s1,
            vec![
                create(&p("/m1"), b"m"),
                set(&p("/m1"), b"m2"),
                check(&p("/m1"), 1),
                create(&p("/m1/child"), b""),
                delete(&p("/m1/child")),
            ],
        )
    });
    pr.op("multi_result_state", "s1", |pr| pr.exists(s1, &p("/m1"), false));
    pr.op("multi_fail_halfway", "s1", |pr| {
        pr.multi(s1, vec![create(&p("/m2"), b""), set(&p("/nope"), b"x"), create(&p("/m3"), b"")])
    });
    pr.op("multi_fail_rolled_back_m2_absent", "s1", |pr| pr.exists(s1, &p("/m2"), false));
    pr.op("multi_check_version_fail", "s1", |pr| {
        pr.multi(s1, vec![check(&p("/m1"), 99), create(&p("/m4"), b"")])
    });
    pr.op("multi_last_op_fails_NodeExists", "s1", |pr| {
        pr.multi(s1, vec![create(&p("/m5"), b""), delete(&p("/m1")), create(&p("/m5"), b"")])
    });
    pr.op("multi_empty", "s1", |pr| pr.multi(s1, Vec::new()));
    pr.op("stat_after_multis", "s1", |pr| pr.exists(s1, R, false));

    // ------------------------------------------------------------------ watches
    pr.create(s1, &p("/w"), Some(b"0"), 0, false).expect("create /w");
    pr.flush(&[s1, s2]);
    pr.take_wire();
    pr.op("watch_get_data_register", "s1", |pr| pr.get(s1, &p("/w"), true));
    pr.op("watch_set_triggers", "s1", |pr| pr.set(s1, &p("/w"), b"1", -1));
    pr.op("watch_set_again_no_event", "s1", |pr| pr.set(s1, &p("/w"), b"2", -1));
    pr.flush(&[s1]);
    let wire = pr.take_wire();
    pr.events("events_data_watch_oneshot", wire);

    pr.op("watch_exists_missing_register", "s1", |pr| pr.exists(s1, &p("/w2"), true));
    pr.op("watch_create_triggers_NodeCreated", "s1", |pr| pr.create(s1, &p("/w2"), Some(b""), 0, false));
    pr.flush(&[s1]);
    let wire = pr.take_wire();
    pr.events("events_exists_watch", wire);

    pr.create(s1, &p("/wp"), Some(b""), 0, false).expect("create /wp");
    pr.create(s1, &p("/wp/c1"), Some(b""), 0, false).expect("create /wp/c1");
    pr.flush(&[s1]);
    pr.take_wire();
    pr.op("watch_children_register", "s1", |pr| Ok(json!(pr.children(s1, &p("/wp"), true)?)));
    pr.op("watch_child_data_register", "s1", |pr| pr.get(s1, &p("/wp/c1"), true));
    pr.op("watch_parent_data_register", "s1", |pr| pr.exists(s1, &p("/wp"), true));
    pr.op("watch_delete_child_triggers", "s1", |pr| pr.delete(s1, &p("/wp/c1"), -1));
    pr.op("watch_set_child_data_on_parent_not_children", "s1", |pr| pr.set(s1, &p("/wp"), b"x", -1));
    pr.flush(&[s1]);
    let wire = pr.take_wire();
    pr.events("events_delete_child", wire);

    pr.create(s1, &p("/wm1"), Some(b""), 0, false).expect("create /wm1");
    pr.create(s1, &p("/wm2"), Some(b""), 0, false).expect("create /wm2");
    pr.flush(&[s1]);
    pr.take_wire();
    pr.get(s1, &p("/wm1"), true).expect("get /wm1 with a watch");
    pr.get(s1, &p("/wm2"), true).expect("get /wm2 with a watch");
    pr.children(s1, R, true).expect("children of /probe with a watch");
    pr.op("watch_multi_triggers_in_op_order", "s1", |pr| {
        pr.multi(s1, vec![set(&p("/wm2"), b"a"), set(&p("/wm1"), b"b"), create(&p("/wmx"), b"")])
    });
    pr.flush(&[s1]);
    let wire = pr.take_wire();
    pr.events("events_multi", wire);

    // delete a node with both data and child watches -> one NodeDeleted on the wire
    pr.create(s1, &p("/wd"), Some(b""), 0, false).expect("create /wd");
    pr.flush(&[s1]);
    pr.take_wire();
    pr.get(s1, &p("/wd"), true).expect("get /wd with a watch");
    pr.children(s1, &p("/wd"), true).expect("children of /wd with a watch");
    pr.op("watch_delete_node_with_data_and_child_watch", "s1", |pr| pr.delete(s1, &p("/wd"), -1));
    pr.flush(&[s1]);
    let wire = pr.take_wire();
    pr.events("events_delete_data_and_child_watch", wire);

    // cross-session: s2's ephemeral, s1 watches it, s2 closes
    pr.op("s2_create_ephemeral", "s2", |pr| pr.create(s2, &p("/eph2"), Some(b""), 1, true));
    pr.op("s1_watch_s2_ephemeral", "s1", |pr| pr.exists(s1, &p("/eph2"), true));
    pr.children(s1, R, true).expect("children of /probe with a watch");
    pr.flush(&[s1, s2]);
    pr.take_wire();
    pr.op("s2_close_session", "s2", |pr| pr.s.close(s2).map(|()| Value::Null).map_err(failure_fields));
    pr.s.wait_for(5_000, &|wire| wire.iter().filter(|w| matches!(w, WireItem::Event { .. })).count() >= 2);
    pr.flush(&[s1]);
    let wire: Vec<Value> = pr.take_wire().into_iter().filter(|e| e.get("type").is_some()).collect();
    pr.events("events_session_close_deletes_ephemeral", wire);
    pr.op("ephemeral_gone_after_close", "s1", |pr| pr.exists(s1, &p("/eph2"), false));

    // persistent recursive watch (addWatch)
    pr.create(s1, &p("/pr"), Some(b""), 0, false).expect("create /pr");
    pr.flush(&[s1]);
    pr.take_wire();
    pr.op("add_watch_persistent_recursive", "s1", |pr| {
        let req = Request::AddWatch { path: p("/pr"), mode: AddWatchMode::PersistentRecursive };
        pr.request(s1, req, |_, _| json!(true))
    });
    pr.op("pr_create_child", "s1", |pr| pr.create(s1, &p("/pr/x"), Some(b""), 0, false));
    pr.op("pr_set_child", "s1", |pr| pr.set(s1, &p("/pr/x"), b"1", -1));
    pr.op("pr_create_grandchild", "s1", |pr| pr.create(s1, &p("/pr/x/y"), Some(b""), 0, false));
    pr.op("pr_delete_grandchild", "s1", |pr| pr.delete(s1, &p("/pr/x/y"), -1));
    pr.op("pr_set_child_again_still_fires", "s1", |pr| pr.set(s1, &p("/pr/x"), b"2", -1));
    pr.flush(&[s1]);
    let wire = pr.take_wire();
    pr.events("events_persistent_recursive", wire);
    let remove_watches = |watcher_type| Request::RemoveWatches { path: p("/pr"), watcher_type };
    pr.op("remove_watches_persistent_any", "s1", |pr| {
        pr.request(s1, remove_watches(WatcherType::Any), |_, _| json!(true))
    });
    pr.op("pr_after_remove_no_event", "s1", |pr| pr.set(s1, &p("/pr/x"), b"3", -1));
    pr.flush(&[s1]);
    let wire = pr.take_wire();
    pr.events("events_after_remove_watches", wire);
    pr.op("remove_watches_none_NoWatcher", "s1", |pr| {
        pr.request(s1, remove_watches(WatcherType::Data), |_, _| json!(true))
    });

    // ---------------------------------------------------------------- ACLs
    let s3 = pr.connect("s3");
    let alice = Acl { perms: Perms::ALL, id: Id::new("digest", &zab_tree::digest_id("alice", "secret")) };
    pr.op("add_auth_digest_alice", "s1", |pr| pr.add_auth(s1, "digest", "alice:secret"));
    pr.op("create_acl_digest_alice", "s1", |pr| {
        pr.create_acl(s1, &p("/acl"), Some(b"secret-data"), vec![alice.clone()], 0, true)
    });
    pr.op("get_acls", "s1", |pr| pr.get_acls(s1, &p("/acl")));
    pr.op("s3_get_data_NoAuth", "s3", |pr| pr.get(s3, &p("/acl"), false));
    pr.op("s3_exists_allowed", "s3", |pr| pr.exists(s3, &p("/acl"), false));
    pr.op("s3_get_children_NoAuth", "s3", |pr| Ok(json!(pr.children(s3, &p("/acl"), false)?)));
    pr.op("s3_set_NoAuth", "s3", |pr| pr.set(s3, &p("/acl"), b"x", -1));
    pr.op("s3_create_child_NoAuth", "s3", |pr| pr.create(s3, &p("/acl/c"), Some(b""), 0, false));
    pr.op("s3_get_acls", "s3", |pr| pr.get_acls(s3, &p("/acl")));
    pr.op("s3_add_auth_wrong_password", "s3", |pr| pr.add_auth(s3, "digest", "alice:wrong"));
    pr.op("s3_get_data_still_NoAuth", "s3", |pr| pr.get(s3, &p("/acl"), false));
    pr.op("s3_add_auth_right_password", "s3", |pr| pr.add_auth(s3, "digest", "alice:secret"));
    pr.op("s3_get_data_now_allowed", "s3", |pr| pr.get(s3, &p("/acl"), false));
    pr.op("set_acls_bad_version", "s1", |pr| pr.set_acls(s1, &p("/acl"), OPEN_ACL_UNSAFE.clone(), 7));
    pr.op("set_acls_ok_bumps_aversion", "s1", |pr| {
        let mut acl = vec![alice.clone()];
        acl.extend(READ_ACL_UNSAFE.iter().cloned());
        pr.set_acls(s1, &p("/acl"), acl, 0)
    });
    pr.op("create_read_only_world", "s1", |pr| {
        pr.create_acl(s1, &p("/ro"), Some(b"r"), READ_ACL_UNSAFE.clone(), 0, false)
    });
    pr.op("set_read_only_NoAuth", "s1", |pr| pr.set(s1, &p("/ro"), b"w", -1));
    pr.op("create_child_read_only_NoAuth", "s1", |pr| pr.create(s1, &p("/ro/c"), Some(b""), 0, false));
    pr.op("delete_read_only_node_allowed_parent_perm", "s1", |pr| pr.delete(s1, &p("/ro"), -1));
    pr.op("create_empty_acl_list", "s1", |pr| {
        let req = raw_create(&p("/noacl"), Vec::new(), 0, CreateKind::Create);
        pr.raw_create(s1, req, "create_empty_acl_list")
    });
    let auth_acl = vec![Acl::new(Perms::ALL, "auth", "")];
    pr.op("create_auth_scheme_acl", "s1", |pr| {
        pr.create_acl(s1, &p("/authacl"), Some(b""), auth_acl.clone(), 0, false)
    });
    pr.op("get_acls_auth_scheme_expanded", "s1", |pr| pr.get_acls(s1, &p("/authacl")));
    let s4 = pr.connect("s4");
    pr.op("s4_create_auth_scheme_no_auth_InvalidACL", "s4", |pr| {
        pr.create_acl(s4, &p("/authacl2"), Some(b""), auth_acl.clone(), 0, false)
    });
    pr.op("s4_create_bad_scheme_InvalidACL", "s4", |pr| {
        pr.create_acl(s4, &p("/badscheme"), Some(b""), vec![Acl::new(Perms::ALL, "nosuch", "x")], 0, false)
    });
    pr.op("s4_add_auth_unknown_scheme_AuthFailed", "s4", |pr| pr.add_auth(s4, "nosuchscheme", "x"));

    // ------------------------------------------------------------- misc + end
    pr.op("sync", "s1", |pr| pr.sync(s1, R));
    pr.op("final_children", "s1", |pr| pr.sorted_children(s1, R));
    pr.op("final_stat_root", "s1", |pr| pr.exists(s1, R, false));
    pr.op("set_too_large_1MiB", "s1", |pr| pr.set(s1, &p("/w"), &vec![b'x'; 1024 * 1024 + 1], -1));
    pr.op("after_too_large", "s1", |pr| pr.exists(s1, &p("/w"), false));
    let lines = std::mem::take(&mut pr.lines);
    (lines, pr)
}

// ------------------------------------------------------------------ comparison

/// The real server's lines, without the `meta` line.
pub fn expected_lines() -> Vec<Value> {
    let text = std::fs::read_to_string(EXPECTED).unwrap_or_else(|e| panic!("cannot read {EXPECTED}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .filter(|v| v["name"] != "meta")
        .collect()
}

/// The names of the real server's steps, in order.
pub fn expected_step_names() -> Vec<String> {
    expected_lines().iter().map(|v| v["name"].as_str().unwrap_or("").to_string()).collect()
}

/// Drops what cannot be compared: the server's raw (Java HashSet) order of children.
fn comparable(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("raw");
    }
    v
}

/// Every printed line must equal the real server's, and there must be as many.
pub fn assert_matches_real_zookeeper(what: &str, actual: &[Value]) {
    let expected = expected_lines();
    let mut mismatches = Vec::new();
    for (i, want) in expected.iter().enumerate() {
        let got = actual.get(i).cloned().unwrap_or(Value::Null);
        if comparable(got.clone()) != comparable(want.clone()) {
            mismatches.push(format!("step {}:\n  want {want}\n  got  {got}", want["step"]));
        }
    }
    assert!(mismatches.is_empty(), "{what}: {} step(s) differ:\n{}", mismatches.len(), mismatches.join("\n"));
    assert_eq!(actual.len(), expected.len(), "{what}: the probe printed a different number of lines");
}
