//! The whole realzk probe (`shared/realzk/probe.py`) against zab-core servers, through zab-client.
//!
//! Four sessions (s1..s4, as in probe.py) are `zab_client::Client`s whose transport and clock are
//! a deterministic driver (`probe/mod.rs`) around a harness [`Cluster`]. Every step of probe.py
//! runs as probe.py runs it, the unrecorded setup requests and `flush` syncs included, and prints
//! the line probe.py prints, normalised the same way (zxids relative to the czxid of /probe,
//! `ctime_eq_mtime`, session owners as s1..s4, children sorted, the notifications the server sent
//! with reply markers in arrival order). The lines must equal the real ZooKeeper 3.8.0's
//! (`shared/realzk/expected/probe-3.8.0.jsonl`, without the `meta` line), with the client on:
//! a standalone server, and the leader, a follower and the observer of a 3-voter + 1-observer
//! ensemble. As for the real servers, `znode.container.checkIntervalMs=1000` is set in zoo.cfg.
//!
//! probe.py sends some requests by hand, bypassing kazoo's own checks; see [`REWRITTEN_STEPS`]
//! for the ones that also bypass our client's checks, and how.

mod probe;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use zab_client::{ClientError, SessionState};
use zab_core::config::SourceText;
use zab_core::harness::Cluster;
use zab_core::{Role, ServerId, ValidConfig};
use zab_tree::{
    Acl, AddWatchMode, CreateKind, ErrorCode, Id, MultiResult, Perms, Request, Response, SessionId, Stat,
    WatcherType, Zxid, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE,
};

use probe::{Driver, NoAnswer, Outcome, WireItem};

const EXPECTED: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/realzk/expected/probe-3.8.0.jsonl");

/// Steps whose request the client refuses itself (an invalid path), so the driver hands the client
/// a stand-in with a valid path and puts the real request on the wire under the client's xid:
/// exactly what probe.py's `raw()` does through kazoo's connection, bypassing kazoo's path check.
const REWRITTEN_STEPS: &[&str] = &[
    "create_trailing_slash_missing_parent",
    "create_trailing_slash_existing_parent",
    "create_double_slash",
    "create_relative_BadArguments",
    "create_dot_component",
    "create_dotdot_component",
    "create_nul_char",
];

/// Steps of probe.py that this test cannot run, with the reason. None: every step runs.
const NOT_RUN: &[(&str, &str)] = &[];

/// The stand-in path the client sees for a rewritten request (never reaches a server).
const STAND_IN_PATH: &str = "/probe/stand-in";

const R: &str = "/probe";

fn p(name: &str) -> String {
    format!("{R}{name}")
}

/// Where the probe's clients connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Standalone,
    Leader,
    Follower,
    Observer,
}

/// A server config with the probe's zoo.cfg extra key, parsed as a zoo.cfg would be.
fn with_container_check_1s(cfg: ValidConfig) -> ValidConfig {
    let text = format!("{}znode.container.checkIntervalMs=1000\n", cfg.render());
    let myid = cfg.render_myid();
    ValidConfig::parse(
        SourceText { name: "zoo.cfg", text: &text },
        Some(SourceText { name: "myid", text: &myid }),
    )
    .expect("a rendered config plus one extra key parses")
    .config
}

/// A serving cluster and the server the probe's clients use.
fn serving_cluster(target: Target) -> (Cluster, ServerId) {
    let mut cluster = match target {
        Target::Standalone => Cluster::new(1, 0, with_container_check_1s),
        _ => Cluster::new(3, 1, with_container_check_1s),
    };
    cluster.start_all();
    assert!(cluster.run_until(60_000, Cluster::all_serving), "not serving:\n{}", cluster.status_table());
    let role_of = |c: &Cluster, id: ServerId| c.status(id).map(|s| s.role);
    let server = match target {
        Target::Standalone => ServerId(1),
        Target::Leader => cluster.leader().expect("one leader"),
        Target::Follower => *cluster
            .nodes
            .keys()
            .find(|id| role_of(&cluster, **id) == Some(Role::Following))
            .expect("a follower"),
        Target::Observer => ServerId(4),
    };
    let want = match target {
        Target::Standalone => Role::Standalone,
        Target::Leader => Role::Leading,
        Target::Follower => Role::Following,
        Target::Observer => Role::Observing,
    };
    assert_eq!(role_of(&cluster, server), Some(want), "{}", cluster.status_table());
    (cluster, server)
}

// ------------------------------------------------------------------ kazoo's view of results

/// A call's printed outcome: the `result` value, or the error fields.
type Printed = Result<Value, Map<String, Value>>;

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
        ErrorCode::SessionExpired => "SessionExpiredError",
        _ => "ZookeeperError",
    }
}

fn error_fields(code: ErrorCode) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("err".into(), json!(kazoo_name(code)));
    m.insert("code".into(), json!(code.code()));
    m
}

fn client_side(what: &str, msg: String) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("err".into(), json!(what));
    m.insert("client_side".into(), json!(true));
    m.insert("msg".into(), json!(msg));
    m
}

fn no_answer(e: NoAnswer) -> Map<String, Value> {
    client_side("Timeout", format!("no answer: {}", e.what))
}

/// The error fields of a failed call.
fn failure(e: ClientError) -> Map<String, Value> {
    match e {
        ClientError::Server(code) => error_fields(code),
        ClientError::ConnectionLoss => error_fields(ErrorCode::ConnectionLoss),
        ClientError::AuthFailed => error_fields(ErrorCode::AuthFailed),
        other => client_side("ClientError", other.to_string()),
    }
}

/// The probe: the driver, probe.py's normalisation state, and the printed lines.
struct Probe {
    d: Driver,
    /// The czxid of /probe.
    base: Option<Zxid>,
    labels: BTreeMap<SessionId, &'static str>,
    step: u64,
    lines: Vec<Value>,
    /// Steps that went through [`Driver::call_rewritten`].
    rewritten: Vec<String>,
    /// The step being run.
    current: String,
}

impl Probe {
    fn connect(&mut self, label: &'static str) -> usize {
        let seed = 0x5eed_0000 + self.d.sessions.len() as u64;
        let i = self
            .d
            .connect(label, seed)
            .unwrap_or_else(|e| panic!("{e:?}:\n{}", self.d.cluster.status_table()));
        self.labels.insert(self.d.session_id(i), label);
        i
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

    fn acl(acl: &[Acl]) -> Value {
        Value::Array(
            acl.iter().map(|a| json!({"perms": a.perms.0, "scheme": a.id.scheme, "id": a.id.id})).collect(),
        )
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

    // ------------------------------------------------------------ calls, kazoo-shaped

    /// One request on session `s`; the reply body goes through `shape`.
    fn request(&mut self, s: usize, req: Request, shape: impl FnOnce(&Probe, Response) -> Value) -> Printed {
        let outcome = self.d.call(s, req).map_err(no_answer)?;
        self.shaped(outcome, shape)
    }

    fn shaped(&self, outcome: Outcome, shape: impl FnOnce(&Probe, Response) -> Value) -> Printed {
        match outcome {
            Ok((response, _)) => Ok(shape(self, response)),
            Err(e) => Err(failure(e)),
        }
    }

    /// probe.py's `raw(client, Create(...))`: the request goes out as built. When the client would
    /// refuse its path, the client is handed a stand-in and the wire carries the real request.
    fn raw_create(&mut self, s: usize, req: Request) -> Printed {
        let Request::Create { path, .. } = &req else { panic!("raw_create takes a create") };
        if zab_tree::path::explain_invalid_path(path).is_none() {
            return self.request(s, req, create_shape);
        }
        let mut stand_in = req.clone();
        if let Request::Create { path, .. } = &mut stand_in {
            *path = STAND_IN_PATH.to_string();
        }
        self.rewritten.push(self.current.clone());
        let outcome = self.d.call_rewritten(s, stand_in, req).map_err(no_answer)?;
        self.shaped(outcome, create_shape)
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
        self.request(s, req, create_shape)
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
        self.request(s, req, stat_shape)
    }

    fn delete(&mut self, s: usize, path: &str, version: i32) -> Printed {
        self.request(s, Request::Delete { path: path.into(), version }, |_, _| json!(true))
    }

    /// kazoo's `exists`: NoNode is a null stat.
    fn exists(&mut self, s: usize, path: &str, watch: bool) -> Printed {
        match self.request(s, Request::Exists { path: path.into(), watch }, stat_shape) {
            Err(e) if e.get("code") == Some(&json!(ErrorCode::NoNode.code())) => Ok(Value::Null),
            other => other,
        }
    }

    fn children(&mut self, s: usize, path: &str, watch: bool) -> Result<Vec<String>, Map<String, Value>> {
        let outcome = self.d.call(s, Request::GetChildren { path: path.into(), watch }).map_err(no_answer)?;
        match outcome {
            Ok((Response::GetChildren { children }, _)) => Ok(children),
            Ok((other, _)) => panic!("getChildren answered {other:?}"),
            Err(e) => Err(failure(e)),
        }
    }

    fn get_acls(&mut self, s: usize, path: &str) -> Printed {
        self.request(s, Request::GetAcl { path: path.into() }, |pr, r| match r {
            Response::GetAcl { acl, stat } => json!([Probe::acl(&acl), pr.stat(&stat)]),
            other => panic!("getACL answered {other:?}"),
        })
    }

    fn set_acls(&mut self, s: usize, path: &str, acl: Vec<Acl>, version: i32) -> Printed {
        self.request(s, Request::SetAcl { path: path.into(), acl, version }, stat_shape)
    }

    /// kazoo's `transaction().commit()`: a failed multi returns the per-op errors, not an error.
    fn multi(&mut self, s: usize, ops: Vec<Request>) -> Printed {
        let outcome = self.d.call(s, Request::Multi(ops)).map_err(no_answer)?;
        let results = match outcome {
            Ok((Response::Multi(results), _)) => results,
            Ok((other, _)) => panic!("multi answered {other:?}"),
            Err(ClientError::MultiFailed { results, .. }) => results,
            Err(e) => return Err(failure(e)),
        };
        Ok(Value::Array(results.iter().map(|r| self.multi_result(r)).collect()))
    }

    fn sync(&mut self, s: usize, path: &str) -> Printed {
        self.request(s, Request::Sync { path: path.into() }, |_, r| match r {
            Response::Sync { path } => json!(path),
            other => panic!("sync answered {other:?}"),
        })
    }

    /// kazoo's `add_auth`: true, or the error the server answered the auth packet with.
    fn add_auth(&mut self, s: usize, scheme: &str, credentials: &str) -> Printed {
        let header = self.d.add_auth(s, scheme, credentials.as_bytes()).map_err(no_answer)?;
        if header.err == ErrorCode::Ok {
            Ok(json!(true))
        } else {
            Err(error_fields(header.err))
        }
    }

    /// probe.py's `flush`: a sync("/") round trip on each session, then 50 ms.
    fn flush(&mut self, sessions: &[usize]) {
        for &s in sessions {
            // Like probe.py, a failed flush is ignored.
            let _ = self.sync(s, "/");
        }
        self.d.sleep(50);
    }

    /// probe.py's `take_wire`.
    fn take_wire(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.d.wire)
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

    /// probe.py's `P.op`: run the call, mark its reply on the wire, print the outcome.
    fn op(&mut self, name: &str, session: &'static str, f: impl FnOnce(&mut Probe) -> Printed) {
        self.current = name.to_string();
        let printed = f(self);
        self.d.wire.push(WireItem::Reply { session, step: name.to_string() });
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
        f: impl FnOnce(&mut Probe) -> Result<Map<String, Value>, Map<String, Value>>,
    ) {
        self.current = name.to_string();
        let printed = f(self);
        self.d.wire.push(WireItem::Reply { session: "s1", step: name.to_string() });
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

fn create_shape(pr: &Probe, r: Response) -> Value {
    match r {
        Response::Create { path } => json!(path),
        Response::Create2 { path, stat } => json!([path, pr.stat(&stat)]),
        other => panic!("create answered {other:?}"),
    }
}

fn stat_shape(pr: &Probe, r: Response) -> Value {
    match r {
        Response::Stat(stat) => pr.stat(&stat),
        other => panic!("expected a stat, got {other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// Runs probe.py's script against `target`; returns the printed lines (without `meta`) and the
/// finished probe (for its driver's records).
fn run_probe(target: Target) -> (Vec<Value>, Probe) {
    let (cluster, server) = serving_cluster(target);
    let mut pr = Probe {
        d: Driver::new(cluster, server),
        base: None,
        labels: BTreeMap::new(),
        step: 0,
        lines: Vec::new(),
        rewritten: Vec::new(),
        current: String::new(),
    };
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
        let req = create_req(R, b"root", 0, CreateKind::Create2);
        let outcome = pr.d.call(s1, req).map_err(no_answer)?;
        if let Ok((Response::Create2 { stat, .. }, _)) = &outcome {
            // probe.py prints every zxid relative to this one.
            pr.base = Some(stat.czxid);
        }
        pr.shaped(outcome, create_shape)
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
        let outcome =
            pr.d.call(s1, Request::GetChildren2 { path: p("/seq"), watch: false }).map_err(no_answer)?;
        match outcome {
            Ok((Response::GetChildren2 { mut children, stat }, _)) => {
                children.sort();
                let mut m = Map::new();
                m.insert("sorted".into(), json!(children));
                m.insert("stat".into(), pr.stat_fields(&stat));
                Ok(m)
            }
            Ok((other, _)) => panic!("getChildren2 answered {other:?}"),
            Err(e) => Err(failure(e)),
        }
    });

    // ephemeral
    pr.op("create_ephemeral", "s1", |pr| pr.create(s1, &p("/e1"), Some(b"eph"), 1, true));
    pr.op("create_child_of_ephemeral_NoChildrenForEphemerals", "s1", |pr| {
        pr.create(s1, &p("/e1/c"), Some(b""), 0, false)
    });
    pr.op("create_ephemeral_sequential", "s1", |pr| pr.create(s1, &p("/es-"), Some(b""), 3, true));
    // probe.py sorts the first list; the second is empty.
    let ephemerals = |_: &Probe, r: Response| match r {
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
    pr.op("create_container_opcode19", "s1", |pr| {
        pr.raw_create(s1, raw_create(&p("/cont"), open.clone(), 4, CreateKind::Container))
    });
    pr.op("create_container_opcode19_never_has_children", "s1", |pr| {
        pr.raw_create(s1, raw_create(&p("/cont_empty"), open.clone(), 4, CreateKind::Container))
    });
    pr.op("create_opcode19_with_flags0", "s1", |pr| {
        pr.raw_create(s1, raw_create(&p("/cont_flags0"), open.clone(), 0, CreateKind::Container))
    });
    pr.op("create_Create2_opcode15_with_container_flag", "s1", |pr| {
        pr.raw_create(s1, raw_create(&p("/cont2"), open.clone(), 4, CreateKind::Create2))
    });
    pr.op("create_child_in_container", "s1", |pr| pr.create(s1, &p("/cont/x"), Some(b""), 0, false));
    pr.op("create_child_in_cont2", "s1", |pr| pr.create(s1, &p("/cont2/x"), Some(b""), 0, false));
    pr.op("delete_child_in_container", "s1", |pr| pr.delete(s1, &p("/cont/x"), -1));
    pr.op("delete_child_in_cont2", "s1", |pr| pr.delete(s1, &p("/cont2/x"), -1));
    pr.op("exists_container_stat", "s1", |pr| pr.exists(s1, &p("/cont_empty"), false));
    pr.op("containers_exist_after_reaper", "s1", |pr| {
        // probe.py: poll every 250 ms for up to 8 s until /probe/cont is gone, then 2.5 s more.
        let end_ms = pr.d.cluster.now.as_ms() + 8_000;
        let mut deleted = false;
        while pr.d.cluster.now.as_ms() < end_ms {
            if pr.exists(s1, &p("/cont"), false)? == Value::Null {
                deleted = true;
                break;
            }
            pr.d.sleep(250);
        }
        if deleted {
            pr.d.sleep(2_500);
        }
        let mut m = Map::new();
        for n in ["cont", "cont_empty", "cont_flags0", "cont2"] {
            m.insert(n.into(), json!(pr.exists(s1, &p(&format!("/{n}")), false)? != Value::Null));
        }
        Ok(Value::Object(m))
    });
    pr.op("create_ttl_persistent_60s", "s1", |pr| {
        pr.raw_create(s1, raw_create(&p("/ttl"), open.clone(), 5, CreateKind::Ttl(60_000)))
    });
    pr.op("create_ttl_zero", "s1", |pr| {
        pr.raw_create(s1, raw_create(&p("/ttl0"), open.clone(), 5, CreateKind::Ttl(0)))
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
        pr.op(name, "s1", |pr| pr.raw_create(s1, raw_create(&path, acl, flags, CreateKind::Create)));
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
    pr.op("get_children_zookeeper", "s1", |pr| {
        let mut c = pr.children(s1, "/zookeeper", false)?;
        c.sort();
        Ok(json!(c))
    });

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
    pr.op("s2_close_session", "s2", |pr| match pr.d.close(s2).map_err(no_answer)? {
        Ok(_) => Ok(Value::Null),
        Err(e) => Err(failure(e)),
    });
    pr.d.run_until(5_000, |d| d.wire.iter().filter(|w| matches!(w, WireItem::Event { .. })).count() >= 2);
    pr.flush(&[s1]);
    let wire: Vec<Value> = pr.take_wire().into_iter().filter(|e| e.get("type").is_some()).collect();
    pr.events("events_session_close_deletes_ephemeral", wire);
    pr.op("ephemeral_gone_after_close", "s1", |pr| pr.exists(s1, &p("/eph2"), false));

    // persistent recursive watch (addWatch)
    pr.create(s1, &p("/pr"), Some(b""), 0, false).expect("create /pr");
    pr.flush(&[s1]);
    pr.take_wire();
    pr.op("add_watch_persistent_recursive", "s1", |pr| {
        pr.request(
            s1,
            Request::AddWatch { path: p("/pr"), mode: AddWatchMode::PersistentRecursive },
            |_, _| json!(true),
        )
    });
    pr.op("pr_create_child", "s1", |pr| pr.create(s1, &p("/pr/x"), Some(b""), 0, false));
    pr.op("pr_set_child", "s1", |pr| pr.set(s1, &p("/pr/x"), b"1", -1));
    pr.op("pr_create_grandchild", "s1", |pr| pr.create(s1, &p("/pr/x/y"), Some(b""), 0, false));
    pr.op("pr_delete_grandchild", "s1", |pr| pr.delete(s1, &p("/pr/x/y"), -1));
    pr.op("pr_set_child_again_still_fires", "s1", |pr| pr.set(s1, &p("/pr/x"), b"2", -1));
    pr.flush(&[s1]);
    let wire = pr.take_wire();
    pr.events("events_persistent_recursive", wire);
    pr.op("remove_watches_persistent_any", "s1", |pr| {
        pr.request(s1, Request::RemoveWatches { path: p("/pr"), watcher_type: WatcherType::Any }, |_, _| {
            json!(true)
        })
    });
    pr.op("pr_after_remove_no_event", "s1", |pr| pr.set(s1, &p("/pr/x"), b"3", -1));
    pr.flush(&[s1]);
    let wire = pr.take_wire();
    pr.events("events_after_remove_watches", wire);
    pr.op("remove_watches_none_NoWatcher", "s1", |pr| {
        pr.request(s1, Request::RemoveWatches { path: p("/pr"), watcher_type: WatcherType::Data }, |_, _| {
            json!(true)
        })
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
        pr.raw_create(s1, raw_create(&p("/noacl"), Vec::new(), 0, CreateKind::Create))
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
    pr.op("final_children", "s1", |pr| {
        let mut c = pr.children(s1, R, false)?;
        c.sort();
        Ok(json!(c))
    });
    pr.op("final_stat_root", "s1", |pr| pr.exists(s1, R, false));
    pr.op("set_too_large_1MiB", "s1", |pr| pr.set(s1, &p("/w"), &vec![b'x'; 1024 * 1024 + 1], -1));
    pr.op("after_too_large", "s1", |pr| pr.exists(s1, &p("/w"), false));
    let lines = std::mem::take(&mut pr.lines);
    (lines, pr)
}

// ------------------------------------------------------------------ comparison

fn expected_lines() -> Vec<Value> {
    let text = std::fs::read_to_string(EXPECTED).unwrap_or_else(|e| panic!("cannot read {EXPECTED}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .filter(|v| v["name"] != "meta")
        .collect()
}

/// Drops what cannot be compared: the server's raw (Java HashSet) order of children.
fn comparable(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("raw");
    }
    v
}

/// Runs the probe against `target` and asserts every line equals the real server's.
fn probe_matches_real_zookeeper(target: Target) -> Probe {
    let expected = expected_lines();
    let (actual, probe) = run_probe(target);
    let mut mismatches = Vec::new();
    for (i, want) in expected.iter().enumerate() {
        let got = actual.get(i).cloned().unwrap_or(Value::Null);
        if comparable(got.clone()) != comparable(want.clone()) {
            mismatches.push(format!("step {}:\n  want {want}\n  got  {got}", want["step"]));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{target:?}: {} step(s) differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert_eq!(actual.len(), expected.len(), "{target:?}: the probe printed a different number of lines");
    for s in &probe.d.sessions {
        assert!(s.anomalies.is_empty(), "{target:?}: {} saw protocol breaches: {:?}", s.label, s.anomalies);
    }
    assert_eq!(session_outcomes(&probe), EXPECTED_SESSION_OUTCOMES, "{target:?}: how the sessions ended");
    probe
}

/// How each session ends, and how many connections it opened: s1 loses its connection to the
/// oversized request and resumes the same session on a second one; s2 closes; s4's unknown auth
/// scheme ends it.
const EXPECTED_SESSION_OUTCOMES: &[(&str, SessionState, u32, bool)] = &[
    ("s1", SessionState::SyncConnected, 2, true),
    ("s2", SessionState::Closed, 1, true),
    ("s3", SessionState::SyncConnected, 1, true),
    ("s4", SessionState::AuthFailed, 1, true),
];

/// (label, final state, handshakes, whether the session id is still the one it started with).
fn session_outcomes(probe: &Probe) -> Vec<(&'static str, SessionState, u32, bool)> {
    probe
        .d
        .sessions
        .iter()
        .map(|s| {
            let same_session = probe.labels.get(&s.client.session_id()) == Some(&s.label);
            (s.label, s.client.state(), s.handshakes, same_session)
        })
        .collect()
}

#[test]
fn a_standalone_server_answers_every_probe_step_like_zookeeper_3_8_0() {
    // The standalone server runs the container reaper itself (step containers_exist_after_reaper).
    zab_core::marks::expect("standalone: container reaper proposes deleteContainer", || {
        probe_matches_real_zookeeper(Target::Standalone)
    });
}

#[test]
fn the_ensemble_leader_answers_every_probe_step_like_zookeeper_3_8_0() {
    probe_matches_real_zookeeper(Target::Leader);
}

#[test]
fn an_ensemble_follower_answers_every_probe_step_like_zookeeper_3_8_0() {
    probe_matches_real_zookeeper(Target::Follower);
}

#[test]
fn the_ensemble_observer_answers_every_probe_step_like_zookeeper_3_8_0() {
    probe_matches_real_zookeeper(Target::Observer);
}

#[test]
fn every_probe_step_runs_and_only_the_invalid_path_creates_bypass_the_client() {
    let expected: Vec<String> =
        expected_lines().iter().map(|v| v["name"].as_str().unwrap_or("").to_string()).collect();
    let (actual, probe) = run_probe(Target::Standalone);
    let printed: Vec<String> = actual.iter().map(|v| v["name"].as_str().unwrap_or("").to_string()).collect();
    let not_run: Vec<&str> = expected.iter().filter(|n| !printed.contains(n)).map(String::as_str).collect();
    let listed: Vec<&str> = NOT_RUN.iter().map(|(name, _)| *name).collect();
    assert_eq!(not_run, listed, "steps not run");
    assert_eq!(probe.rewritten, REWRITTEN_STEPS, "steps whose request bypassed the client's checks");
}
