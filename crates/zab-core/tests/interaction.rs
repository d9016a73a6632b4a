//! Golden interaction transcripts for the replica.
//!
//! Each file under `tests/testdata/interaction/` starts with a `#` paragraph saying what it
//! shows, then a sequence of blocks:
//!
//! ```text
//! command arg key=value
//! ----
//! expected output line
//! expected output line
//!
//! ```
//!
//! A block's output ends at the first empty line. Commands drive a deterministic
//! [`Cluster`](zab_core::harness::Cluster); the output is what the cluster logged (protocol
//! messages other than pings, role transitions, epochs persisted, sync decisions, commits) or
//! what the command prints. Run with `REWRITE=1` to regenerate the expected output from the
//! current code — and then read the diff before committing it: a changed transcript is a changed
//! protocol behaviour.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use zab_core::config::SourceText;
use zab_core::harness::{ClientEvent, Cluster};
use zab_core::{ConnId, ServerId, ValidConfig};
use zab_tree::{CreateKind, ErrorCode, Request, Response, SessionId, Zxid, OPEN_ACL_UNSAFE};

#[test]
fn interaction_transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/interaction");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("testdata/interaction exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "expected at least 10 transcripts, found {}", files.len());
    let rewrite = std::env::var_os("REWRITE").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable transcript");
        // `# mark: NAME` lines name coverage marks the transcript must hit.
        let marks: Vec<&'static str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# mark: "))
            .map(|m| &*Box::leak(m.trim().to_string().into_boxed_str()))
            .collect();
        let actual = with_marks(&marks, &mut || run_file(&text, file));
        if actual != text {
            if rewrite {
                std::fs::write(file, &actual).expect("writable transcript");
            } else {
                failures.push(format!("{}:\n{}", file.display(), first_difference(&text, &actual)));
            }
        }
    }
    assert!(failures.is_empty(), "transcripts differ (REWRITE=1 regenerates):\n{}", failures.join("\n"));
}

/// Runs `f` and asserts it hit every mark in `marks`.
fn with_marks(marks: &[&'static str], f: &mut dyn FnMut() -> String) -> String {
    match marks.split_first() {
        None => f(),
        Some((first, rest)) => zab_core::marks::expect(first, || with_marks(rest, f)),
    }
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!("  line {}: expected `{e}`\n  line {}:   actual `{a}`", i + 1, i + 1);
        }
    }
    format!("  lengths differ: expected {} lines, got {}", expected.lines().count(), actual.lines().count())
}

/// Re-runs every command of a transcript and returns the transcript with fresh outputs.
fn run_file(text: &str, file: &Path) -> String {
    let mut env = Env::default();
    let mut out = String::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    // The leading comment paragraph and blank lines are copied as they are.
    while i < lines.len() && (lines[i].starts_with('#') || lines[i].trim().is_empty()) {
        out.push_str(lines[i]);
        out.push('\n');
        i += 1;
    }
    while i < lines.len() {
        if lines[i].trim().is_empty() || lines[i].starts_with('#') {
            out.push_str(lines[i]);
            out.push('\n');
            i += 1;
            continue;
        }
        let command = lines[i];
        i += 1;
        assert!(
            i < lines.len() && lines[i] == "----",
            "{}:{}: expected `----` after the command `{command}`",
            file.display(),
            i + 1
        );
        i += 1;
        while i < lines.len() && !lines[i].is_empty() {
            i += 1;
        }
        let output = env.run(command).unwrap_or_else(|e| panic!("{}: `{command}`: {e}", file.display()));
        out.push_str(command);
        out.push_str("\n----\n");
        for l in output.lines() {
            out.push_str(if l.is_empty() { "." } else { l });
            out.push('\n');
        }
        if output.is_empty() {
            out.push_str("ok\n");
        }
        out.push('\n');
        if i < lines.len() && lines[i].is_empty() {
            i += 1;
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[derive(Default)]
struct Env {
    cluster: Option<Cluster>,
    /// Client name → (connection, next xid).
    clients: BTreeMap<String, (ConnId, i32)>,
    /// Clients that ping their server every second while the cluster settles.
    keepalive: Vec<String>,
}

impl Env {
    fn c(&mut self) -> Result<&mut Cluster, String> {
        self.cluster.as_mut().ok_or_else(|| "no cluster yet: use `cluster voters=N`".to_string())
    }

    /// One command. Each arm documents its syntax with an example.
    fn run(&mut self, line: &str) -> Result<String, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (cmd, args) = words.split_first().ok_or("empty command")?;
        let kv: BTreeMap<&str, &str> = args.iter().filter_map(|a| a.split_once('=')).collect();
        let pos: Vec<&str> = args.iter().copied().filter(|a| !a.contains('=')).collect();
        match *cmd {
            // cluster voters=3 observers=1 commit-log=500 snap-count=100000 initial-counter=0xfffffff0
            "cluster" => {
                let voters: u64 = num(&kv, "voters", 3)?;
                let observers: u64 = num(&kv, "observers", 0)?;
                let commit_log: u64 = num(&kv, "commit-log", 500)?;
                let snap_count: u64 = num(&kv, "snap-count", 100_000)?;
                let initial = kv.get("initial-counter").map(|s| s.to_string());
                let c = Cluster::new(voters, observers, |cfg| {
                    let cfg = cfg
                        .with_settings(|s| {
                            s.commit_log_count = commit_log as u32;
                            s.snap_count = snap_count;
                        })
                        .expect("valid settings");
                    match &initial {
                        None => cfg,
                        Some(v) => with_extra_key(&cfg, "zookeeper.testingonly.initialZxid", v),
                    }
                });
                self.cluster = Some(c);
                Ok(format!("{voters} voters, {observers} observers"))
            }
            // start            (every node that is down)
            // start 2
            "start" => {
                let c = self.c()?;
                if pos.is_empty() {
                    c.start_all();
                } else {
                    for p in &pos {
                        c.start(id(p)?);
                    }
                }
                Ok(c.take_log().join("\n"))
            }
            // settle for=5000     (run every event for 5 simulated seconds; the default is 2000)
            "settle" => {
                let ms = num(&kv, "for", 2_000)?;
                let pingers: Vec<ConnId> =
                    self.keepalive.iter().filter_map(|n| self.clients.get(n).map(|(c, _)| *c)).collect();
                let c = self.c()?;
                let mut left = ms;
                while left > 0 {
                    let slice = left.min(1_000);
                    for conn in &pingers {
                        c.client_request(*conn, -2, Request::Ping);
                    }
                    c.run_for(slice);
                    left -= slice;
                }
                Ok(c.take_log().join("\n"))
            }
            // keepalive c2       (c2 pings its server every second during `settle`)
            "keepalive" => {
                self.keepalive.extend(pos.iter().map(|p| p.to_string()));
                Ok(String::new())
            }
            // until-serving limit=30000   (run until one leader serves and every live node serves)
            "until-serving" => {
                let ms = num(&kv, "limit", 30_000)?;
                let c = self.c()?;
                let ok = c.run_until(ms, |c| {
                    c.leader().is_some()
                        && c.nodes.values().all(|n| n.replica.as_ref().is_none_or(|r| r.status().serving))
                });
                let mut s = c.take_log().join("\n");
                if !ok {
                    s.push_str("\n(not all serving before the limit)");
                }
                Ok(s)
            }
            // status
            "status" => Ok(self.c()?.status_table()),
            // crash 3
            // crash 3 keep-ops=2   (the first two pending disk operations reach the disk first)
            "crash" => {
                let keep = kv.get("keep-ops").map(|_| num(&kv, "keep-ops", 0)).transpose()?;
                let c = self.c()?;
                for p in &pos {
                    match keep {
                        Some(n) => c.crash_keeping(id(p)?, n as usize),
                        None => c.crash(id(p)?),
                    }
                }
                Ok(c.take_log().join("\n"))
            }
            // partition 1 2 | 3
            "partition" => {
                let mut groups = vec![Vec::new()];
                for p in &pos {
                    if *p == "|" {
                        groups.push(Vec::new());
                    } else {
                        groups.last_mut().expect("non-empty").push(id(p)?);
                    }
                }
                let c = self.c()?;
                c.partition(&groups);
                Ok(c.take_log().join("\n"))
            }
            // heal
            "heal" => {
                let c = self.c()?;
                c.heal();
                Ok(c.take_log().join("\n"))
            }
            // hold-disk 2      (disk requests of node 2 stay pending until release-disk)
            "hold-disk" | "release-disk" => {
                let hold = *cmd == "hold-disk";
                let c = self.c()?;
                for p in &pos {
                    c.nodes.get_mut(&id(p)?).ok_or("no such node")?.hold_disk = hold;
                }
                Ok(String::new())
            }
            // pending-disk 2   (what node 2 has asked its disk to do and is not yet durable)
            "pending-disk" => {
                let c = self.c()?;
                let node = c.nodes.get(&id(pos.first().ok_or("node id")?)?).ok_or("no such node")?;
                let mut s = String::new();
                for (io, ops) in &node.pending_io {
                    let names: Vec<String> = ops.iter().map(describe_op).collect();
                    let _ = writeln!(s, "io {}: {}", io.seq, names.join(", "));
                }
                Ok(s)
            }
            // session c1 on=2   (open a session on server 2 and wait for it)
            "session" => {
                let name = pos.first().ok_or("client name")?.to_string();
                let server = id(kv.get("on").ok_or("on=SERVER")?)?;
                let c = self.c()?;
                let conn = c.client_connect(server, SessionId(0), Zxid(0));
                let ok = c.run_until(10_000, |c| {
                    c.clients[&conn]
                        .1
                        .iter()
                        .any(|e| matches!(e, ClientEvent::Connected { .. } | ClientEvent::Closed))
                });
                let ev = c.clients[&conn].1.clone();
                let mut s = c.take_log().join("\n");
                let _ =
                    write!(s, "\n{name}: {}", if ok { describe_client(&ev[0]) } else { "no answer".into() });
                self.clients.insert(name, (conn, 1));
                Ok(s)
            }
            // create c1 /a data ephemeral     get c1 /a     set c1 /a data     delete c1 /a
            "create" | "get" | "set" | "delete" | "exists" | "sync" => {
                let name = pos.first().ok_or("client name")?;
                let path = pos.get(1).ok_or("path")?.to_string();
                let data = pos.get(2).map(|d| d.as_bytes().to_vec()).unwrap_or_default();
                let request = match *cmd {
                    "create" => Request::Create {
                        path,
                        data: Some(data),
                        acl: OPEN_ACL_UNSAFE.to_vec(),
                        flags: if pos.contains(&"ephemeral") { 1 } else { 0 },
                        kind: CreateKind::Create,
                    },
                    "get" => Request::GetData { path, watch: false },
                    "exists" => Request::Exists { path, watch: false },
                    "set" => Request::SetData { path, data: Some(data), version: -1 },
                    "sync" => Request::Sync { path },
                    _ => Request::Delete { path, version: -1 },
                };
                self.call(name, request)
            }
            other => Err(format!("unknown command `{other}`")),
        }
    }

    fn call(&mut self, name: &str, request: Request) -> Result<String, String> {
        let (conn, xid) = *self.clients.get(name).ok_or_else(|| format!("no client {name}"))?;
        self.clients.insert(name.to_string(), (conn, xid + 1));
        let c = self.cluster.as_mut().ok_or("no cluster")?;
        let seen = c.clients[&conn].1.len();
        c.client_request(conn, xid, request);
        let done = |c: &Cluster| {
            c.clients[&conn].1[seen..].iter().any(|e| match e {
                ClientEvent::Reply { header, .. } => header.xid == xid,
                ClientEvent::Closed => true,
                _ => false,
            })
        };
        let ok = c.run_until(10_000, done);
        let events = c.clients[&conn].1[seen..].to_vec();
        let mut s = c.take_log().join("\n");
        for e in &events {
            let _ = write!(s, "\n{name}: {}", describe_client(e));
        }
        if !ok {
            s.push_str("\n(no reply within 10s)");
        }
        Ok(s.trim_start().to_string())
    }
}

fn describe_client(e: &ClientEvent) -> String {
    match e {
        ClientEvent::Connected { session, timeout_ms } => {
            if *timeout_ms == 0 {
                "session expired".to_string()
            } else {
                format!("connected session=0x{:x} timeout={timeout_ms}", session.0)
            }
        }
        ClientEvent::Reply { header, response } => {
            let body = match response {
                None => String::new(),
                Some(Response::GetData { data, stat }) => format!(
                    " data={:?} version={}",
                    String::from_utf8_lossy(data.as_deref().unwrap_or_default()),
                    stat.version
                ),
                Some(Response::Create { path }) => format!(" path={path}"),
                Some(Response::Stat(st)) => format!(" version={}", st.version),
                Some(other) => format!(" {other:?}"),
            };
            let err =
                if header.err == ErrorCode::Ok { "ok".to_string() } else { format!("{:?}", header.err) };
            format!("reply xid={} zxid={} {err}{body}", header.xid, header.zxid)
        }
        ClientEvent::Watch { event, zxid } => {
            format!("watch {:?} {} at {zxid}", event.event_type, event.path)
        }
        ClientEvent::Closed => "connection closed".to_string(),
    }
}

fn describe_op(op: &zab_core::DiskOp) -> String {
    use zab_core::DiskOp::*;
    match op {
        Append { file, bytes } => format!("append {file} ({} bytes)", bytes.len()),
        Truncate { file, len } => format!("truncate {file} to {len}"),
        WriteFile { file, bytes } => format!("write {file} ({} bytes)", bytes.len()),
        Rename { from, to } => format!("rename {from} -> {to}"),
        Delete { file } => format!("delete {file}"),
        Sync { file } => format!("sync {file}"),
    }
}

fn id(s: &str) -> Result<ServerId, String> {
    s.parse::<u64>().map(ServerId).map_err(|_| format!("expected a server id, got `{s}`"))
}

fn num(kv: &BTreeMap<&str, &str>, key: &str, default: u64) -> Result<u64, String> {
    match kv.get(key) {
        None => Ok(default),
        Some(v) => match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).map_err(|_| format!("{key}: expected a number")),
            None => v.parse().map_err(|_| format!("{key}: expected a number, got `{v}`")),
        },
    }
}

/// The same config with one more zoo.cfg line (keys the typed settings do not model).
fn with_extra_key(cfg: &ValidConfig, key: &str, value: &str) -> ValidConfig {
    let text = format!("{}\n{key}={value}\n", cfg.render());
    let myid = cfg.render_myid();
    ValidConfig::parse(
        SourceText { name: "zoo.cfg", text: &text },
        Some(SourceText { name: "myid", text: &myid }),
    )
    .expect("rendered config parses")
    .config
}
