//! Scenario files: TOML in, [`RunPlan`] out.
//!
//! The schema is the plan itself (see `docs/scenarios.md`): serde with `deny_unknown_fields`, so a
//! misspelt key or an unknown value is an error that names the file, the line and column, and the
//! allowed keys or values. A `zoo_cfg` path is read through the caller's `read` function (this
//! crate never touches the file system) relative to the scenario's directory.

use crate::plan::RunPlan;

/// A scenario that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Parses a scenario. `file` names it in errors; `read(path)` returns the text of a file that the
/// scenario refers to (a `zoo_cfg`), with `path` already joined to the scenario's directory.
pub fn parse_scenario(
    text: &str,
    file: &str,
    read: &dyn Fn(&str) -> Result<String, String>,
) -> Result<RunPlan, ScenarioError> {
    let mut plan: RunPlan = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        ScenarioError { file: file.to_string(), line, column, message: e.message().trim_end().to_string() }
    })?;
    if plan.description.is_empty() {
        plan.description = leading_comment(text);
    }
    let whole = |message: String| ScenarioError { file: file.to_string(), line: 0, column: 0, message };
    if let Some(path) = plan.cluster.zoo_cfg.clone() {
        let joined = match file.rfind('/') {
            Some(i) if !path.starts_with('/') => format!("{}/{path}", &file[..i]),
            _ => path.clone(),
        };
        let cfg = read(&joined).map_err(|e| whole(format!("cluster.zoo_cfg = {path:?}: {e}")))?;
        plan.cluster.zoo_cfg_text = Some(cfg);
    }
    plan.validate().map_err(whole)?;
    Ok(plan)
}

/// Writes a plan as a scenario file (used to turn a failing random run into a scenario).
pub fn to_scenario_toml(plan: &RunPlan) -> String {
    toml::to_string_pretty(plan).expect("a run plan always serializes")
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// The first comment block of the file, as one line.
fn leading_comment(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Fault, Target};
    use crate::time::NS_PER_MS;

    fn no_files(_: &str) -> Result<String, String> {
        Err("no files in this test".to_string())
    }

    fn parse(text: &str) -> Result<RunPlan, ScenarioError> {
        parse_scenario(text, "scenarios/t.toml", &no_files)
    }

    const LEADER_PARTITION: &str = r#"
# Leader isolated while writes are in flight.
[cluster]
voters = 3
observers = 1
tick_time = "2s"
init_limit = 10
sync_limit = 5

[workload]
clients = 8
duration = "30s"
mix = { create = 2, set_data = 4, get_data = 3, delete = 1, multi = 1, sync = 1 }
keys = 16

[[fault]]
at = "5s"
kind = "partition"
groups = [["leader"], ["rest"]]

[[fault]]
at = "20s"
kind = "heal"

[checks]
linearizable_writes = true

[expect]
outcome = "pass"
"#;

    #[test]
    fn the_design_sketch_parses_into_a_plan() {
        let plan = parse(LEADER_PARTITION).unwrap();
        assert_eq!(plan.cluster.voters, 3);
        assert_eq!(plan.cluster.tick_time_ns, 2_000 * NS_PER_MS);
        assert_eq!(plan.workload.mix.exists, 0, "weights not named are 0");
        assert_eq!(plan.faults.len(), 2);
        assert_eq!(plan.faults[0].at_ns, 5_000 * NS_PER_MS);
        assert_eq!(
            plan.faults[0].fault,
            Fault::Partition { groups: vec![vec![Target::Leader], vec![Target::Rest]], oneway: false }
        );
        assert_eq!(plan.description, "Leader isolated while writes are in flight.");
    }

    #[test]
    fn a_plan_round_trips_through_scenario_toml_and_json() {
        let plan = parse(LEADER_PARTITION).unwrap();
        let again = parse(&to_scenario_toml(&plan)).unwrap();
        assert_eq!(again, plan);
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(serde_json::from_value::<RunPlan>(json).unwrap(), plan);
    }

    #[test]
    fn the_sync_rule_is_local_unless_a_plan_asks_for_a_quorum_round() {
        use crate::plan::SyncRule;
        assert_eq!(parse("[cluster]\nvoters = 3\n").unwrap().cluster.sync, SyncRule::Local);
        let quorum = parse("[cluster]\nsync = \"quorum\"\n").unwrap();
        assert_eq!(quorum.cluster.sync, SyncRule::Quorum);
        assert_eq!(parse(&to_scenario_toml(&quorum)).unwrap(), quorum);
        let e = parse("[cluster]\nvoters = 3\nsync = \"eventually\"\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("local") && e.message.contains("quorum"), "{e}");
        let configs = crate::sim::server_configs(&quorum).unwrap();
        assert!(configs.iter().all(|c| c.settings().quorum_sync));
        let local = parse("[cluster]\nvoters = 3\n").unwrap();
        assert!(crate::sim::server_configs(&local).unwrap().iter().all(|c| !c.settings().quorum_sync));
    }

    #[test]
    fn an_unknown_key_names_the_line_and_the_allowed_keys() {
        let e = parse("[cluster]\nvoters = 3\nvoterz = 4\n").unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (3, "scenarios/t.toml"));
        assert!(e.message.contains("voterz") && e.message.contains("observers"), "{e}");
    }

    #[test]
    fn an_unknown_fault_kind_lists_the_kinds() {
        let e = parse("[cluster]\n[[fault]]\nat = \"1s\"\nkind = \"explode\"\n").unwrap_err();
        assert!(e.line >= 2, "{e}");
        assert!(e.message.contains("explode") && e.message.contains("partition"), "{e}");
    }

    #[test]
    fn an_unknown_field_inside_a_fault_is_refused() {
        let e = parse("[cluster]\n[[fault]]\nat = \"1s\"\nkind = \"crash\"\ntargets = [1]\nforce = true\n")
            .unwrap_err();
        assert!(e.message.contains("force"), "{e}");
    }

    #[test]
    fn an_unknown_target_lists_the_target_names() {
        let e =
            parse("[cluster]\n[[fault]]\nat = \"1s\"\nkind = \"crash\"\ntargets = [\"boss\"]\n").unwrap_err();
        assert!(e.to_string().contains("boss"), "{e}");
    }

    #[test]
    fn a_duration_without_unit_is_refused_with_the_units() {
        let e = parse("[cluster]\ntick_time = 2000\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("[cluster]\ntick_time = \"2000\"\n").unwrap_err();
        assert!(e.message.contains("ns, us, ms, s, m"), "{e}");
    }

    #[test]
    fn a_target_that_is_not_a_server_is_refused() {
        let e = parse("[cluster]\nvoters = 3\n[[fault]]\nat = \"1s\"\nkind = \"crash\"\ntargets = [7]\n")
            .unwrap_err();
        assert!(e.message.contains("server 7 does not exist"), "{e}");
    }

    #[test]
    fn damaging_a_majority_of_disks_needs_the_unbounded_budget() {
        let text =
            "[cluster]\nvoters = 3\n[[fault]]\nat = \"1s\"\nkind = \"wipe_and_rejoin\"\ntargets = [1, 2]\n";
        assert!(parse(text).unwrap_err().message.contains("tolerated budget"));
        let unbounded = text.replace("[[fault]]", "[knobs]\ndisk_budget = \"unbounded\"\n[[fault]]");
        assert!(parse(&unbounded).is_ok());
    }

    #[test]
    fn a_zoo_cfg_path_is_read_relative_to_the_scenario() {
        let read = |p: &str| {
            if p == "scenarios/z.cfg" {
                Ok("tickTime=2000\n".to_string())
            } else {
                Err(p.to_string())
            }
        };
        let plan = parse_scenario("[cluster]\nzoo_cfg = \"z.cfg\"\n", "scenarios/t.toml", &read).unwrap();
        assert_eq!(plan.cluster.zoo_cfg_text.as_deref(), Some("tickTime=2000\n"));
        let e = parse_scenario("[cluster]\nzoo_cfg = \"y.cfg\"\n", "scenarios/t.toml", &read).unwrap_err();
        assert!(e.message.contains("y.cfg"), "{e}");
    }

    #[test]
    fn a_missing_cluster_table_is_an_error() {
        assert!(parse("").unwrap_err().message.contains("cluster"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn mutated_scenarios_never_panic(cut in 0usize..600, insert in "[\\[\\]=\"a-z0-9 \n#.,{}]{0,12}") {
            let mut text = LEADER_PARTITION.to_string();
            let at = text.char_indices().map(|(i, _)| i).nth(cut % text.chars().count()).unwrap_or(0);
            text.insert_str(at, &insert);
            let _ = parse(&text);
        }
    }
}
