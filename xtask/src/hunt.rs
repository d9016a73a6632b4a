//! `cargo xtask hunt [--seeds N] [--starts K]`: hunt every mutation `zabsim hunt --list` names from
//! K different starting seeds (release build, each hunt stops at its first detection and gives up
//! after N seeds) and write docs/bug-catalog.md: per mutation its JIRA, what it breaks, how many
//! hunts found it, the median and max seeds to the first detection, the wall time and the checkers
//! that fired.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Starting seeds lie this far apart, so the hunts never share a seed.
const START_SPACING: u64 = 1_000_000;

struct Row {
    name: String,
    jira: String,
    entry: String,
    defect: String,
    breaks: String,
    /// Seeds to detection of each hunt (`None`: not detected within the cap).
    found: Vec<Option<u64>>,
    wall_s: f64,
    checkers: Vec<String>,
}

pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let mut seeds = 1_000u64;
    let mut starts = 5u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = |v: Option<&String>| -> Result<u64, String> {
            v.and_then(|v| v.parse().ok()).ok_or_else(|| format!("{a} needs a number"))
        };
        match a.as_str() {
            "--seeds" => seeds = value(it.next())?,
            "--starts" => starts = value(it.next())?,
            other => {
                return Err(format!("hunt: unknown argument {other:?} (expected --seeds N, --starts K)"))
            }
        }
    }
    if seeds == 0 || starts == 0 {
        return Err("hunt: --seeds and --starts must be at least 1".to_string());
    }
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).to_string();
    let list = zabsim(root, &["hunt", "--list"])?;
    let mut rows = Vec::new();
    for line in list.lines().filter(|l| !l.trim().is_empty()) {
        let mut row = parse_list_line(line)?;
        for k in 0..starts {
            let start = (k * START_SPACING).to_string();
            let cap = seeds.to_string();
            let out = zabsim(
                root,
                &[
                    "hunt",
                    "--json",
                    "--mutation",
                    &row.name,
                    "--start-seed",
                    &start,
                    "--seeds",
                    &cap,
                    "--jobs",
                    &jobs,
                ],
            )?;
            let r: Value = serde_json::from_str(out.trim())
                .map_err(|e| format!("zabsim hunt printed no JSON ({e}): {out}"))?;
            row.wall_s += r["wall_s"].as_f64().unwrap_or(0.0);
            let first = &r["first_failure"];
            if first.is_null() {
                row.found.push(None);
            } else {
                row.found.push(r["seeds_run"].as_u64());
                let checker = first["checker"].as_str().unwrap_or("?").to_string();
                if !row.checkers.contains(&checker) {
                    row.checkers.push(checker);
                }
            }
            eprintln!("{} from seed {start}: {}", row.name, summary(row.found.last().copied().flatten()));
        }
        rows.push(row);
    }
    let path = root.join("docs/bug-catalog.md");
    let mut doc = render(&rows, seeds, starts, &crate::bench::machine());
    if let Some(notes) = std::fs::read_to_string(&path).ok().as_deref().and_then(notes_block) {
        doc.push('\n');
        doc.push_str(notes);
        doc.push('\n');
    }
    std::fs::write(&path, &doc).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    print!("{doc}");
    Ok(())
}

/// The hand-written block between `<!-- notes -->` and `<!-- /notes -->` (markers included), which
/// a re-run keeps.
fn notes_block(doc: &str) -> Option<&str> {
    let start = doc.find("<!-- notes -->")?;
    let end = doc[start..].find("<!-- /notes -->")? + start + "<!-- /notes -->".len();
    Some(&doc[start..end])
}

/// Runs the release `zabsim` with `args`; its stdout. (A hunt's exit code is the class of what it
/// found, so only a failure to start or bad input is an error here.)
fn zabsim(root: &Path, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["run", "--release", "--quiet", "-p", "zabsim", "--"];
    all.extend_from_slice(args);
    let out = Command::new("cargo")
        .args(&all)
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if out.status.code() == Some(64) || out.status.code().is_none() || out.status.code() == Some(101) {
        return Err(format!(
            "`cargo {}` failed ({}):\n{}",
            all.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// One line of `zabsim hunt --list`: `NAME JIRA entry N  defect: what it breaks`.
fn parse_list_line(line: &str) -> Result<Row, String> {
    let bad = || format!("unexpected `zabsim hunt --list` line: {line:?}");
    let mut words = line.split_whitespace();
    let name = words.next().ok_or_else(bad)?.to_string();
    let jira = words.next().ok_or_else(bad)?.to_string();
    if words.next() != Some("entry") {
        return Err(bad());
    }
    let entry = words.next().ok_or_else(bad)?.to_string();
    // Whatever follows the entry number, however the columns were padded.
    let after_entry = line.split_once(" entry ").map(|(_, r)| r.trim_start()).ok_or_else(bad)?;
    let rest = after_entry.strip_prefix(entry.as_str()).map(str::trim).ok_or_else(bad)?;
    let (defect, breaks) = rest.split_once(": ").ok_or_else(bad)?;
    Ok(Row {
        name,
        jira,
        entry,
        defect: defect.to_string(),
        breaks: breaks.to_string(),
        found: Vec::new(),
        wall_s: 0.0,
        checkers: Vec::new(),
    })
}

fn summary(found: Option<u64>) -> String {
    found.map_or("not detected".to_string(), |n| format!("detected after {n} seed(s)"))
}

/// The median of the seeds to detection, counting an undetected hunt as beyond the cap.
fn median(found: &[Option<u64>], cap: u64) -> Option<u64> {
    let mut v: Vec<u64> = found.iter().map(|f| f.unwrap_or(cap + 1)).collect();
    v.sort_unstable();
    let m = *v.get(v.len() / 2)?;
    (m <= cap).then_some(m)
}

fn render(rows: &[Row], cap: u64, starts: u64, machine: &str) -> String {
    let mut s = String::from(
        "# Bug catalog: how fast the simulator finds each historical defect\n\n\
         Written by `cargo xtask hunt`. Each mutation (a `zab_core::Mutation`, reference §5) is switched on \
         in every server and hunted with random `swarm` seeds from several starting seeds; a hunt stops at \
         the first seed whose run fails a checker and gives up after the cap. \"Seeds\" counts the seeds \
         run up to and including the detecting one. Replay any detection with `zabsim hunt --mutation M \
         --start-seed S` (it prints the `zabsim run` command of the detecting seed).\n\n",
    );
    s.push_str(&format!(
        "Hunts per mutation: {starts} (starting seeds 0, {START_SPACING}, ...), cap {cap} seeds. \
         Machine: {machine}. Command: `cargo xtask hunt`.\n\n"
    ));
    s.push_str(
        "| Mutation | JIRA | Entry | Defect | What it breaks | Found | Median seeds | Max seeds | Wall time \
         | Checker |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let detected = r.found.iter().filter(|f| f.is_some()).count();
        let med = median(&r.found, cap).map_or(format!("> {cap}"), |m| m.to_string());
        let max = if detected == r.found.len() {
            r.found.iter().flatten().max().map_or("-".to_string(), |m| m.to_string())
        } else {
            format!("> {cap}")
        };
        let checkers = if r.checkers.is_empty() { "-".to_string() } else { r.checkers.join(", ") };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {detected}/{} | {med} | {max} | {:.1} s | {checkers} |\n",
            r.name,
            r.jira,
            r.entry,
            r.defect,
            r.breaks,
            r.found.len(),
            r.wall_s
        ));
    }
    let all = rows.iter().filter(|r| r.found.iter().all(|f| f.is_some())).count();
    let under = rows.iter().filter(|r| median(&r.found, cap).is_some_and(|m| m <= 100)).count();
    s.push_str(&format!(
        "\n{all} of {} mutations detected by every hunt within {cap} seeds; {under} with a median of at \
         most 100 seeds.\n",
        rows.len()
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_line_splits_into_name_jira_entry_defect_and_effect() {
        let r = parse_list_line(
            "ZK-1264a   ZOOKEEPER-1264   entry  3  apply commits unlogged: txns lost on restart",
        )
        .unwrap();
        assert_eq!((r.name.as_str(), r.jira.as_str(), r.entry.as_str()), ("ZK-1264a", "ZOOKEEPER-1264", "3"));
        assert_eq!(
            (r.defect.as_str(), r.breaks.as_str()),
            ("apply commits unlogged", "txns lost on restart")
        );
        assert!(parse_list_line("garbage").is_err());
        let r = parse_list_line("ZK-261     ZOOKEEPER-261    entry 12  vote at zero: loss").unwrap();
        assert_eq!((r.entry.as_str(), r.defect.as_str()), ("12", "vote at zero"));
    }

    #[test]
    fn the_notes_block_survives_a_rewrite() {
        let doc = "table\n<!-- notes -->\nwhy ZK-1 hides\n<!-- /notes -->\ntail";
        assert_eq!(notes_block(doc), Some("<!-- notes -->\nwhy ZK-1 hides\n<!-- /notes -->"));
        assert_eq!(notes_block("no notes"), None);
    }

    #[test]
    fn the_median_counts_misses_as_beyond_the_cap() {
        assert_eq!(median(&[Some(5), Some(1), Some(9)], 1000), Some(5));
        assert_eq!(median(&[Some(5), None, None], 1000), None);
        assert_eq!(median(&[Some(5), Some(7), None, None, Some(2)], 1000), Some(7));
    }
}
