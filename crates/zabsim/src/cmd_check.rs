//! `zabsim check FILE...`: is each recorded history linearizable?
//!
//! Reads Jepsen etcd logs (`.log`), Porcupine kv logs (`.txt`) and Knossos EDN histories
//! (`.edn`) with the conventions that reproduce their published verdicts, checks each against
//! its model, and prints one verdict per file (a counterexample when not linearizable). The
//! model follows from the format and the path (`multi-register`, `mutex` in an EDN path) unless
//! `--model` says otherwise.
//!
//! A zabsim trace (NDJSON whose first line is a `zabsim-trace` header) gets the cross-replica
//! invariants, the black-box search of its writes and the zxid-witness check of its client
//! history. Voters for the quorum rule are the servers that never reported the observing role.
//!
//! Exit code: 0 all linearizable (and traces pass), 1 some not (or a trace violates something),
//! 2 some unknown (budget ran out), 64 bad input (unreadable file, syntax error, wrong model for
//! the file, a trace with writes the ZooKeeper model does not support).

// Printing verdicts is what this command is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::json;
use zab_check::formats::{
    parse_jepsen_etcd, parse_knossos_cas_register, parse_knossos_multi_register, parse_knossos_mutex,
    parse_porcupine_kv,
};
use zab_check::models::{Kv, Mutex, Register, RegisterOp, Value};
use zab_check::{check_with_budget, Budget, CheckReport, Counterexample, History, Model, Unknown, Verdict};

#[derive(Args)]
pub struct CheckArgs {
    /// History files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The model to check against (default: inferred from the file's format and path).
    #[arg(long)]
    pub model: Option<ModelName>,
    /// Give up on a file after this many seconds (verdict: unknown).
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// Give up on a file when the search tables would exceed this many MiB (verdict: unknown).
    #[arg(long, default_value_t = 1024)]
    pub max_memory_mib: usize,
    /// One JSON object per file instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The models `--model` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelName {
    /// Read/write register (no cas); nil initially for etcd logs, 0 for EDN.
    Register,
    /// Read/write/cas register; nil initially for etcd logs, 0 for EDN.
    CasRegister,
    /// String map get/put/append, checked per key.
    Kv,
    /// Lock: acquire/release.
    Mutex,
    /// Registers read and written by transactions, all starting at 0.
    MultiRegister,
}

pub fn run(args: &CheckArgs) -> u8 {
    let mut any_not = false;
    let mut any_unknown = false;
    let mut any_bad = false;
    for file in &args.files {
        let name = file.display().to_string();
        let loaded = std::fs::read_to_string(file)
            .map_err(|e| format!("{name}: cannot read: {e}"))
            .and_then(|text| load(&name, &text, args.model));
        if let Ok(text) = std::fs::read_to_string(file) {
            if is_trace(&name, &text) {
                match check_trace(&name, &text, args.json) {
                    TraceVerdict::Pass => {}
                    TraceVerdict::Violation => any_not = true,
                    TraceVerdict::BadInput => any_bad = true,
                }
                continue;
            }
        }
        let outcome = match loaded {
            Err(message) => {
                any_bad = true;
                print_bad_input(args.json, &name, &message);
                continue;
            }
            Ok(loaded) => loaded,
        };
        let started = Instant::now();
        let timeout = Duration::from_secs_f64(args.timeout.max(0.0));
        let mut stop = || started.elapsed() >= timeout;
        let mut budget = Budget {
            max_steps: None,
            max_memory_bytes: Some(args.max_memory_mib.saturating_mul(1 << 20)),
            should_stop: Some(&mut stop),
        };
        let report = outcome.check(&mut budget);
        let elapsed = started.elapsed();
        match &report.verdict {
            Verdict::Linearizable => {}
            Verdict::NotLinearizable(_) => any_not = true,
            Verdict::Unknown(_) => any_unknown = true,
        }
        if args.json {
            println!("{}", outcome.json(&name, &report, elapsed));
        } else {
            print!("{}", outcome.text(&name, &report, elapsed));
        }
    }
    if any_bad {
        crate::EXIT_BAD_INPUT
    } else if any_not {
        crate::EXIT_SAFETY
    } else if any_unknown {
        crate::EXIT_LIVENESS
    } else {
        crate::EXIT_PASS
    }
}

/// A parsed history with the model it is checked against.
pub enum Loaded {
    Register(Register, History<RegisterOp>),
    Kv(Kv, History<zab_check::models::KvOp>),
    Mutex(Mutex, History<zab_check::models::MutexOp>),
    MultiRegister(zab_check::models::MultiRegister, History<zab_check::models::MultiRegisterOp>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Jepsen,
    PorcupineKv,
    KnossosEdn,
}

fn format_of(name: &str, text: &str) -> Format {
    if name.ends_with(".log") {
        Format::Jepsen
    } else if name.ends_with(".txt") {
        Format::PorcupineKv
    } else if name.ends_with(".edn") {
        Format::KnossosEdn
    } else if text.contains("jepsen.util") {
        Format::Jepsen
    } else if text.contains(":key") {
        Format::PorcupineKv
    } else {
        Format::KnossosEdn
    }
}

/// Parses `text` (named `name` in errors) and pairs it with its model.
pub fn load(name: &str, text: &str, model: Option<ModelName>) -> Result<Loaded, String> {
    let format = format_of(name, text);
    let model = model.unwrap_or(match format {
        Format::Jepsen => ModelName::CasRegister,
        Format::PorcupineKv => ModelName::Kv,
        Format::KnossosEdn if name.contains("multi-register") => ModelName::MultiRegister,
        Format::KnossosEdn if name.contains("mutex") => ModelName::Mutex,
        Format::KnossosEdn => ModelName::CasRegister,
    });
    let err = |e: zab_check::formats::ParseError| e.to_string();
    let loaded = match (model, format) {
        (ModelName::Register | ModelName::CasRegister, Format::Jepsen) => {
            Loaded::Register(Register::new(Value::Nil), parse_jepsen_etcd(text, name).map_err(err)?)
        }
        (ModelName::Register | ModelName::CasRegister, Format::KnossosEdn) => Loaded::Register(
            Register::new(Value::Int(0)),
            parse_knossos_cas_register(text, name).map_err(err)?,
        ),
        (ModelName::Kv, _) => Loaded::Kv(Kv::default(), parse_porcupine_kv(text, name).map_err(err)?),
        (ModelName::Mutex, Format::KnossosEdn) => {
            Loaded::Mutex(Mutex, parse_knossos_mutex(text, name).map_err(err)?)
        }
        (ModelName::MultiRegister, Format::KnossosEdn) => {
            let h = parse_knossos_multi_register(text, name).map_err(err)?;
            Loaded::MultiRegister(h.model(0), h.history)
        }
        (model, _) => {
            return Err(format!(
                "{name}: the {model:?} model cannot read this file's format (use an .edn history)"
            ))
        }
    };
    if let (ModelName::Register, Loaded::Register(_, h)) = (model, &loaded) {
        if let Some(op) = h.ops.iter().find(|o| matches!(o.op, RegisterOp::Cas { .. })) {
            return Err(format!(
                "{name}: position {}: a cas in a history checked with the register model (use cas-register)",
                op.call_at
            ));
        }
    }
    Ok(loaded)
}

impl Loaded {
    /// Operations handed to the checker.
    pub fn len(&self) -> usize {
        match self {
            Loaded::Register(_, h) => h.ops.len(),
            Loaded::Kv(_, h) => h.ops.len(),
            Loaded::Mutex(_, h) => h.ops.len(),
            Loaded::MultiRegister(_, h) => h.ops.len(),
        }
    }

    pub fn check(&self, budget: &mut Budget<'_>) -> CheckReport {
        match self {
            Loaded::Register(m, h) => check_with_budget(m, h, budget),
            Loaded::Kv(m, h) => check_with_budget(m, h, budget),
            Loaded::Mutex(m, h) => check_with_budget(m, h, budget),
            Loaded::MultiRegister(m, h) => check_with_budget(m, h, budget),
        }
    }

    /// `#index process P: op [call .. return]` for operation `i`.
    fn describe(&self, i: usize) -> String {
        fn one<M: Model>(h: &History<M::Op>, i: usize) -> String
        where
            M::Op: std::fmt::Display,
        {
            let o = &h.ops[i];
            let ret = o.return_at.map_or("open".to_string(), |r| r.to_string());
            format!("#{i} process {}: {} [{}..{}]", o.process, o.op, o.call_at, ret)
        }
        match self {
            Loaded::Register(_, h) => one::<Register>(h, i),
            Loaded::Kv(_, h) => one::<Kv>(h, i),
            Loaded::Mutex(_, h) => one::<Mutex>(h, i),
            Loaded::MultiRegister(_, h) => one::<zab_check::models::MultiRegister>(h, i),
        }
    }

    fn text(&self, name: &str, report: &CheckReport, elapsed: Duration) -> String {
        let stats = format!(
            "{} ops, {} part(s), {} steps, {} configurations, {:.2} ms",
            self.len(),
            report.parts,
            report.steps,
            report.configurations,
            elapsed.as_secs_f64() * 1e3
        );
        match &report.verdict {
            Verdict::Linearizable => format!("{name}: linearizable ({stats})\n"),
            Verdict::Unknown(why) => format!("{name}: unknown: {} ({stats})\n", unknown_reason(*why)),
            Verdict::NotLinearizable(c) => {
                let mut out = format!("{name}: NOT linearizable ({stats})\n");
                out += &format!("  cannot linearize: {}\n", self.describe(c.op));
                if let Some(p) = c.previous_ok {
                    out += &format!("  previous ok:      {}\n", self.describe(p));
                }
                out += &format!("  longest linearizable prefix ({} ops):\n", c.prefix.len());
                const SHOWN: usize = 12;
                if c.prefix.len() > SHOWN {
                    out += &format!("    ... {} earlier ops\n", c.prefix.len() - SHOWN);
                }
                for &i in c.prefix.iter().skip(c.prefix.len().saturating_sub(SHOWN)) {
                    out += &format!("    {}\n", self.describe(i));
                }
                out += "  pending there, none of which can go next:\n";
                for &i in &c.pending {
                    out += &format!("    {}\n", self.describe(i));
                }
                out
            }
        }
    }

    fn json(&self, name: &str, report: &CheckReport, elapsed: Duration) -> serde_json::Value {
        let mut value = json!({
            "file": name,
            "ops": self.len(),
            "parts": report.parts,
            "steps": report.steps,
            "configurations": report.configurations,
            "peak_memory_bytes": report.peak_memory_bytes,
            "elapsed_ms": elapsed.as_secs_f64() * 1e3,
        });
        match &report.verdict {
            Verdict::Linearizable => value["verdict"] = json!("linearizable"),
            Verdict::Unknown(why) => {
                value["verdict"] = json!("unknown");
                value["reason"] = json!(unknown_reason(*why));
            }
            Verdict::NotLinearizable(c) => {
                value["verdict"] = json!("not-linearizable");
                value["counterexample"] = self.counterexample_json(c);
            }
        }
        value
    }

    fn counterexample_json(&self, c: &Counterexample) -> serde_json::Value {
        let list = |ops: &[usize]| ops.iter().map(|&i| self.describe(i)).collect::<Vec<_>>();
        json!({
            "op": self.describe(c.op),
            "previous_ok": c.previous_ok.map(|i| self.describe(i)),
            "prefix": list(&c.prefix),
            "pending": list(&c.pending),
        })
    }
}

fn is_trace(name: &str, text: &str) -> bool {
    name.ends_with(".ndjson") || text.lines().next().is_some_and(|l| l.contains("\"zabsim-trace\""))
}

enum TraceVerdict {
    Pass,
    Violation,
    BadInput,
}

/// Invariants, black-box write linearizability and the zxid witness for one zabsim trace.
fn check_trace(name: &str, text: &str, json: bool) -> TraceVerdict {
    use zab_check::zab_trace::{parse_trace, Event, Role};
    use zab_check::zookeeper;
    let trace = match parse_trace(text, name) {
        Ok(t) => t,
        Err(e) => {
            print_bad_input(json, name, &e.to_string());
            return TraceVerdict::BadInput;
        }
    };
    let records = &trace.records;
    let mut servers = std::collections::BTreeSet::new();
    let mut observers = std::collections::BTreeSet::new();
    for r in records {
        if let Event::Role { node, role, .. } = r.ev {
            servers.insert(node);
            if role == Role::Observing {
                observers.insert(node);
            }
        }
    }
    let voters = servers.difference(&observers).copied().collect();
    let violations = zab_check::invariants::check_all(records, &voters);
    let calls = match zookeeper::calls(records) {
        Ok(c) => c,
        Err(e) => {
            print_bad_input(json, name, &format!("{name}: {e}"));
            return TraceVerdict::BadInput;
        }
    };
    // Exactly the end-of-run check of the simulator, on the tree settings the calls show.
    let check = zab_sim::history::check_calls(&calls, &zookeeper::tree_config_of(&calls));
    let (search_text, witness_text) = (&check.search, &check.witness);
    let zk_violation = check.violation.as_ref();
    let failed = !violations.is_empty() || zk_violation.is_some();
    if json {
        let list: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        println!(
            "{}",
            json!({"file": name, "records": records.len(), "invariant_violations": list,
                   "calls": calls.len(), "black_box": search_text, "zxid_witness": witness_text,
                   "zk_violation": zk_violation.map(|v| v.to_string()),
                   "verdict": if failed { "violation" } else { "pass" }})
        );
    } else {
        println!(
            "{name}: {} records, {} client calls; black-box search {search_text}; zxid witness {witness_text}",
            records.len(),
            calls.len()
        );
        if let Some(v) = &zk_violation {
            println!("  {v}");
        }
        if violations.is_empty() {
            println!("  invariants: all hold (voters {voters:?})");
        }
        for v in &violations {
            println!("  invariant broken: {v}");
        }
    }
    if failed {
        TraceVerdict::Violation
    } else {
        TraceVerdict::Pass
    }
}

fn unknown_reason(why: Unknown) -> &'static str {
    match why {
        Unknown::StepLimit => "step limit reached",
        Unknown::MemoryLimit => "memory limit reached",
        Unknown::Stopped => "timed out",
    }
}

fn print_bad_input(json: bool, name: &str, message: &str) {
    if json {
        println!("{}", json!({"file": name, "verdict": "bad-input", "error": message}));
    } else {
        eprintln!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use zab_check::zab_trace::{EpochFile, Phase, Role};
    use zab_check::zab_trace::{Event, Header, Outcome, TraceWriter};

    use super::*;

    const ETCD: &str =
        "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 2]\nINFO  jepsen.util - 1\t:ok\t:cas\t[1 2]\n";

    #[test]
    fn the_model_follows_the_format_and_the_path_unless_given() {
        assert!(matches!(load("x.log", ETCD, None), Ok(Loaded::Register(..))));
        let mutex = "[{:process 0 :type :invoke :f :acquire}]";
        assert!(matches!(load("knossos/mutex/bad/etcd.edn", mutex, None), Ok(Loaded::Mutex(..))));
        let txn = "[{:process 0 :type :invoke :f :txn :value [[:read :x nil]]}]";
        assert!(matches!(load("multi-register.edn", txn, None), Ok(Loaded::MultiRegister(..))));
        assert!(matches!(load("a.edn", mutex, Some(ModelName::Mutex)), Ok(Loaded::Mutex(..))));
    }

    #[test]
    fn a_cas_in_a_plain_register_history_and_a_wrong_format_are_bad_input() {
        let e = load("x.log", ETCD, Some(ModelName::Register)).err().expect("rejected");
        assert!(e.contains("cas-register"), "{e}");
        let e = load("x.log", ETCD, Some(ModelName::Mutex)).err().expect("rejected");
        assert!(e.contains("cannot read"), "{e}");
        let e = load("x.log", "INFO jepsen.util - 1 :ok :read 1\n", None).err().expect("rejected");
        assert!(e.starts_with("x.log:1:"), "{e}");
    }

    fn trace_text(events: &[Event]) -> String {
        let header = Header::new(7, "scenario", "test", serde_json::json!({}));
        let mut w = TraceWriter::new(Vec::new(), &header).expect("in memory");
        for (t, ev) in events.iter().enumerate() {
            w.write(t as u64, ev).expect("in memory");
        }
        String::from_utf8(w.finish().expect("in memory")).expect("utf-8")
    }

    fn role(node: u64, role: Role) -> Event {
        Event::Role {
            node,
            role,
            phase: Phase::Broadcast,
            accepted_epoch: 1,
            current_epoch: 1,
            last_logged: None,
            committed: 0,
        }
    }

    #[test]
    fn a_trace_is_recognised_and_its_observer_acks_do_not_make_a_quorum() {
        let commit = |acks| Event::Committed { node: 1, zxid: 0x1_0000_0001, acks };
        let mut events = vec![role(1, Role::Leading), role(2, Role::Following), role(3, Role::Following)];
        events.push(role(4, Role::Observing));
        events.push(Event::EpochPersisted { node: 1, file: EpochFile::Current, epoch: 1 });
        let good = trace_text(&[events.clone(), vec![commit(vec![1, 2])]].concat());
        assert!(is_trace("run.trace", &good));
        assert!(matches!(check_trace("run.trace", &good, true), TraceVerdict::Pass));
        let bad = trace_text(&[events, vec![commit(vec![1, 4])]].concat());
        assert!(matches!(check_trace("run.trace", &bad, true), TraceVerdict::Violation));
    }

    #[test]
    fn a_trace_where_two_clients_both_create_one_node_is_a_violation() {
        let events = vec![
            Event::Invoke { client: 0, session: 9, xid: 1, server: 1, op: create_a() },
            Event::Complete { client: 0, session: 9, xid: 1, zxid: Some(0x1_0000_0001), result: ok_create() },
            Event::Invoke { client: 1, session: 10, xid: 1, server: 2, op: create_a() },
            Event::Complete {
                client: 1,
                session: 10,
                xid: 1,
                zxid: Some(0x1_0000_0002),
                result: ok_create(),
            },
        ];
        let text = trace_text(&events);
        assert!(matches!(check_trace("t.ndjson", &text, false), TraceVerdict::Violation));
        assert!(matches!(
            check_trace("t.ndjson", "{\"format\":\"zabsim-trace\"", false),
            TraceVerdict::BadInput
        ));
    }

    fn create_a() -> zab_tree::proto::Request {
        let kind = zab_tree::proto::CreateKind::Create;
        zab_tree::proto::Request::Create { path: "/a".into(), data: None, acl: vec![], flags: 0, kind }
    }

    fn ok_create() -> Outcome {
        Outcome::Ok { response: zab_tree::proto::Response::Create { path: "/a".into() } }
    }
}
