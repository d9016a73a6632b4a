//! `cargo xtask bench [WHAT...]`: run `zabsim bench WHAT` (release build) and splice its markdown
//! section into docs/benchmarks.md between `<!-- bench:WHAT -->` markers, so each benchmark can be
//! re-run alone without losing the others.

use std::path::Path;
use std::process::Command;

const ALL: &[&str] = &["tree", "check", "sim"];

pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut what: Vec<&str> = args.iter().map(String::as_str).filter(|a| !a.starts_with("--")).collect();
    if what.is_empty() {
        what = ALL.to_vec();
    }
    let path = root.join("docs/benchmarks.md");
    let mut doc = std::fs::read_to_string(&path).unwrap_or_else(|_| HEADER.to_string());
    for w in what {
        let mut cmd_args = vec!["run", "--release", "--quiet", "-p", "zabsim", "--", "bench", w];
        if quick {
            cmd_args.push("--quick");
        }
        eprintln!("$ cargo {}", cmd_args.join(" "));
        let out = Command::new("cargo")
            .args(&cmd_args)
            .current_dir(root)
            .output()
            .map_err(|e| format!("cannot start cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "zabsim bench {w} failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let body = String::from_utf8_lossy(&out.stdout).to_string();
        let section = format!(
            "<!-- bench:{w} -->\n{body}\nMachine: {}. Command: `cargo xtask bench {w}`{}.\n<!-- /bench:{w} -->",
            machine(),
            if quick { " --quick" } else { "" }
        );
        doc = splice(&doc, w, &section);
        print!("{body}");
    }
    std::fs::write(&path, doc).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

const HEADER: &str = "# Benchmarks\n\nWritten by `cargo xtask bench`; each section names the machine \
and the command that produced it. Re-run a section with `cargo xtask bench NAME`.\n";

fn splice(doc: &str, what: &str, section: &str) -> String {
    let open = format!("<!-- bench:{what} -->");
    let close = format!("<!-- /bench:{what} -->");
    match (doc.find(&open), doc.find(&close)) {
        (Some(a), Some(b)) if b > a => format!("{}{}{}", &doc[..a], section, &doc[b + close.len()..]),
        _ => format!("{}\n{}\n", doc.trim_end(), section),
    }
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / (1024 * 1024))
        .unwrap_or(0);
    format!("{cpu}, {cores} cores, {mem_gib} GiB")
}
