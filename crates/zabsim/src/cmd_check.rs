//! `zabsim check FILE...`: is each recorded history linearizable?
//!
//! Reads Jepsen etcd logs (`.log`), Porcupine kv logs (`.txt`) and Knossos EDN histories
//! (`.edn`) with the conventions that reproduce their published verdicts, checks each against
//! its model, and prints one verdict per file (a counterexample when not linearizable). The
//! model follows from the format and the path (`multi-register`, `mutex` in an EDN path) unless
//! `--model` says otherwise. Exit code: 0 all linearizable, 1 some not, 2 some unknown (budget
//! ran out), 64 bad input (unreadable file, syntax error, wrong model for the file).

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
