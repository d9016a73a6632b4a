//! Every run ends with ZooKeeper's guarantee checked over its client history, in every trace
//! mode; an altered reply in that history is a safety failure.

use zab_check::zookeeper::{calls, tree_config_of, ZkCall};
use zab_sim::history::check_calls;
use zab_sim::plan::{Fault, RunPlan, Target, TimedFault};
use zab_sim::sim::{run, Report, RunConfig, RunOutcome, TraceMode};
use zab_sim::swarm::{draw_plan, Profile};
use zab_sim::time::NS_PER_S;
use zab_trace::Outcome;
use zab_tree::proto::Response;
use zab_tree::Zxid;

/// A short run whose leader crashes mid-way, so some calls lose their connection.
fn plan() -> RunPlan {
    let mut p = draw_plan(Profile::Lite, 3);
    p.workload.duration_ns = 6 * NS_PER_S;
    p.faults = vec![
        TimedFault { at_ns: 2 * NS_PER_S, fault: Fault::Crash { targets: vec![Target::Leader] } },
        TimedFault { at_ns: 3 * NS_PER_S, fault: Fault::Restart { targets: vec![Target::Node(1)] } },
    ];
    p
}

fn run_with(trace: TraceMode) -> Report {
    let r = run(&RunConfig { seed: 11, plan: plan(), trace, status: false }).unwrap();
    assert_eq!(r.outcome, RunOutcome::Pass, "{:?}", r.violation);
    r
}

#[test]
fn every_trace_mode_checks_the_same_client_history_and_an_honest_run_passes() {
    let checks: Vec<_> = [TraceMode::Off, TraceMode::Hash, TraceMode::Keep]
        .into_iter()
        .map(|mode| run_with(mode).client_check.expect("the end-of-run check ran"))
        .collect();
    assert!(checks[0].calls > 50, "{:?}", checks[0]);
    assert!(checks.iter().all(|c| *c == checks[0]), "{checks:?}");
    assert_eq!(checks[0].violation, None);
    assert!(!checks[0].witness.starts_with("violation"), "{}", checks[0].witness);
}

fn honest_calls() -> Vec<ZkCall> {
    let r = run_with(TraceMode::Keep);
    let c = calls(&r.records).expect("the trace's client events pair up");
    assert_eq!(Some(c.len()), r.client_check.map(|check| check.calls));
    c
}

#[test]
fn an_altered_get_data_reply_is_flagged_and_the_untouched_history_passes() {
    let honest = honest_calls();
    let config = tree_config_of(&honest);
    assert_eq!(check_calls(&honest, &config).violation, None);
    let mut altered = honest.clone();
    let victim = altered
        .iter_mut()
        .find_map(|c| match &mut c.outcome {
            Some(Outcome::Ok { response: Response::GetData { data: Some(d), .. } }) => Some(d),
            _ => None,
        })
        .expect("the run read some data");
    victim.extend_from_slice(b"-altered");
    let v = check_calls(&altered, &config).violation.expect("the altered reply is flagged");
    assert!(["zk-result", "linearizability"].contains(&v.checker.as_str()), "{v}");
}

#[test]
fn a_reply_zxid_that_goes_back_within_a_session_is_a_session_order_violation() {
    let honest = honest_calls();
    let config = tree_config_of(&honest);
    let mut altered = honest.clone();
    // The first session with two replies: its second reply claims zxid 0x1 (older than anything).
    let mut seen = std::collections::BTreeSet::new();
    let victim = altered
        .iter_mut()
        .filter(|c| matches!(c.outcome, Some(Outcome::Ok { .. })) && c.zxid.is_some_and(|z| z > 1))
        .find(|c| !seen.insert(c.session))
        .expect("a session with two replies");
    victim.zxid = Some(Zxid(1).0);
    let v = check_calls(&altered, &config).violation.expect("the zxid going back is flagged");
    assert_eq!(v.checker, "session-order", "{v}");
}
