//! What the scenario-driven tests share: listing the TOML files of a directory of the repository
//! and loading each the way `zabsim run --scenario` does. Only this crate may touch the file
//! system, so the scenario tests of the simulator live here.

use std::path::{Path, PathBuf};

use zab_sim::plan::RunPlan;

/// A directory of the repository, given relative to its root.
pub fn repo_dir(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

/// The seed a scenario without a pinned one runs with: `ZABSIM_SEED`, default 1.
pub fn env_seed() -> u64 {
    std::env::var("ZABSIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1)
}

/// Every `.toml` file directly in `dir`, sorted, so a new file is tested without touching a test.
pub fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Parses a scenario file; a zoo.cfg it names is read relative to the working directory, as the
/// CLI does. A bad file fails the test with the parser's message (file, line and column).
pub fn load(path: &Path) -> RunPlan {
    let text = std::fs::read_to_string(path).expect("readable scenario");
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| e.to_string());
    zab_sim::scenario::parse_scenario(&text, &path.display().to_string(), &read)
        .unwrap_or_else(|e| panic!("{e}"))
}
