//! `cargo xtask tidy`: the checks clippy cannot do.
//!
//! 1. Crate dependency rules (DESIGN.md §1): each crate under crates/ may depend only on the
//!    zabsim crates listed for it in `ALLOWED_DEPS`.
//! 2. Every crate opts into the workspace lints (`[lints] workspace = true`).
//! 3. Simulated crates (all under crates/ but the `zabsim` binary) use no OS clock, threads,
//!    files, sockets, environment, global RNG or hash-ordered collections in `src/`.
//! 4. No `dbg!`, `todo!`, `unimplemented!` or `FIXME` anywhere; lines at most `MAX_LINE` chars.

use std::path::{Path, PathBuf};

const MAX_LINE: usize = 120;

/// (crate, zabsim crates it may depend on in `[dependencies]`).
const ALLOWED_DEPS: &[(&str, &[&str])] = &[
    ("zab-tree", &[]),
    ("zab-trace", &["zab-tree"]),
    ("zab-check", &["zab-trace", "zab-tree"]),
    ("zab-core", &["zab-tree"]),
    ("zab-client", &["zab-tree"]),
    ("zab-sim", &["zab-tree", "zab-trace", "zab-check", "zab-core", "zab-client"]),
    ("zabsim", &["zab-tree", "zab-trace", "zab-check", "zab-core", "zab-client", "zab-sim"]),
];

/// Text that must not appear in the `src/` of a simulated crate, with the reason.
const BANNED_IN_SIMULATED: &[(&str, &str)] = &[
    ("HashMap", "hash iteration order; use BTreeMap"),
    ("HashSet", "hash iteration order; use BTreeSet"),
    ("std::time", "time is an argument"),
    ("Instant::now", "time is an argument"),
    ("SystemTime", "time is an argument"),
    ("thread_rng", "randomness flows from the seed"),
    ("rand::random", "randomness flows from the seed"),
    ("OsRng", "randomness flows from the seed"),
    ("std::thread", "simulated code is single-threaded"),
    ("std::fs", "simulated code does no file I/O; disk is bytes"),
    ("std::net", "simulated code does no network I/O"),
    ("std::env", "simulated code reads no environment"),
    ("std::process", "simulated code does not exit or spawn"),
];

const BANNED_EVERYWHERE: &[(&str, &str)] = &[
    ("dbg!(", "leftover debugging"),
    ("todo!(", "unfinished code"),
    ("unimplemented!(", "unfinished code"),
    ("FIXME", "unfinished code"),
];

pub fn run(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    let crates_dir = root.join("crates");
    let mut crates: Vec<PathBuf> = std::fs::read_dir(&crates_dir)
        .map_err(|e| format!("cannot read {}: {e}", crates_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    crates.sort();
    for dir in &crates {
        check_crate(dir, &mut problems);
    }
    check_manifest_lints(&root.join("xtask"), &mut problems);
    for dir in crates.iter().chain(std::iter::once(&root.join("xtask"))) {
        for file in rust_files(dir) {
            check_file(root, &file, &mut problems);
        }
    }
    if problems.is_empty() {
        eprintln!("tidy: {} crates clean", crates.len());
        Ok(())
    } else {
        for p in &problems {
            eprintln!("{p}");
        }
        Err(format!("tidy found {} problem(s)", problems.len()))
    }
}

fn check_crate(dir: &Path, problems: &mut Vec<String>) {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
    let manifest = dir.join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        problems.push(format!("{}: unreadable", manifest.display()));
        return;
    };
    let value: toml::Value = match text.parse() {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("{}: {e}", manifest.display()));
            return;
        }
    };
    let Some((_, allowed)) = ALLOWED_DEPS.iter().find(|(c, _)| *c == name) else {
        problems.push(format!("{}: crate `{name}` has no entry in tidy's ALLOWED_DEPS", manifest.display()));
        return;
    };
    if let Some(deps) = value.get("dependencies").and_then(|d| d.as_table()) {
        for dep in deps.keys() {
            let ours = dep == "zabsim" || dep.starts_with("zab-");
            if ours && !allowed.contains(&dep.as_str()) {
                problems.push(format!(
                    "{}: `{name}` must not depend on `{dep}` (allowed: {allowed:?}; DESIGN.md §1)",
                    manifest.display()
                ));
            }
        }
    }
    check_manifest_lints(dir, problems);
    if name != "zabsim" {
        for file in rust_files(&dir.join("src")) {
            check_simulated_file(&file, problems);
        }
    }
}

fn check_manifest_lints(dir: &Path, problems: &mut Vec<String>) {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap_or_default();
    let value: toml::Value = text.parse().unwrap_or(toml::Value::Table(Default::default()));
    let inherits =
        value.get("lints").and_then(|l| l.get("workspace")).and_then(|w| w.as_bool()).unwrap_or(false);
    if !inherits {
        problems.push(format!("{}: missing `[lints] workspace = true`", manifest.display()));
    }
}

fn check_simulated_file(file: &Path, problems: &mut Vec<String>) {
    let Ok(text) = std::fs::read_to_string(file) else { return };
    for (i, line) in text.lines().enumerate() {
        let code = strip_comment(line);
        for (needle, why) in BANNED_IN_SIMULATED {
            if code.contains(needle) {
                problems.push(format!("{}:{}: `{needle}` in simulated code ({why})", file.display(), i + 1));
            }
        }
    }
}

fn check_file(root: &Path, file: &Path, problems: &mut Vec<String>) {
    let Ok(text) = std::fs::read_to_string(file) else { return };
    let shown = file.strip_prefix(root).unwrap_or(file).display().to_string();
    let is_tidy = shown.ends_with("xtask/src/tidy.rs");
    for (i, line) in text.lines().enumerate() {
        if line.chars().count() > MAX_LINE {
            problems.push(format!("{shown}:{}: line longer than {MAX_LINE} characters", i + 1));
        }
        if is_tidy {
            continue;
        }
        for (needle, why) in BANNED_EVERYWHERE {
            if line.contains(needle) {
                problems.push(format!("{shown}:{}: `{needle}` ({why})", i + 1));
            }
        }
    }
}

/// The code part of a line: everything before a `//` that is not inside a string literal.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "target") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
