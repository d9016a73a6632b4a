//! Replay: re-run a trace's seed and plan and compare record by record.
//!
//! The trace header holds the seed and the resolved plan, so replay needs nothing else. The first
//! record that differs is reported with its index, both records, and the latest digest record each
//! side had written before it, which usually says which server's state diverged first.

use zab_trace::{Event, Record, Trace};

use crate::plan::RunPlan;
use crate::sim::{run, Report, RunConfig, TraceMode};

/// Where a replay first went a different way.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    pub index: u64,
    /// The record in the trace file (`None`: the file ended first).
    pub recorded: Option<Record>,
    /// The record of the new run (`None`: the new run ended first).
    pub replayed: Option<Record>,
    /// The latest digest before the divergence, on each side.
    pub recorded_digest: Option<Record>,
    pub replayed_digest: Option<Record>,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |r: &Option<Record>| {
            r.as_ref().map_or("(end of run)".to_string(), |r| serde_json::to_string(r).unwrap_or_default())
        };
        writeln!(f, "first divergence at record {}", self.index)?;
        writeln!(f, "  recorded: {}", show(&self.recorded))?;
        writeln!(f, "  replayed: {}", show(&self.replayed))?;
        writeln!(f, "  last digest recorded: {}", show(&self.recorded_digest))?;
        write!(f, "  last digest replayed: {}", show(&self.replayed_digest))
    }
}

/// The result of a replay.
#[derive(Debug)]
pub struct ReplayResult {
    pub report: Report,
    /// `None` when every record matched.
    pub divergence: Option<Divergence>,
}

/// The plan stored in a trace header.
pub fn plan_of(trace: &Trace) -> Result<RunPlan, String> {
    serde_json::from_value(trace.header.plan.clone())
        .map_err(|e| format!("the trace header's plan is not a run plan: {e}"))
}

/// Re-runs the trace's seed and plan and compares the records.
pub fn replay(trace: &Trace) -> Result<ReplayResult, String> {
    let plan = plan_of(trace)?;
    let report = run(&RunConfig { seed: trace.header.seed, plan, trace: TraceMode::Keep, status: false })?;
    let divergence = first_divergence(&trace.records, &report.records);
    Ok(ReplayResult { report, divergence })
}

/// The first index at which two record sequences differ.
pub fn first_divergence(recorded: &[Record], replayed: &[Record]) -> Option<Divergence> {
    let n = recorded.len().max(replayed.len());
    let i = (0..n).find(|&i| recorded.get(i) != replayed.get(i))?;
    let last_digest = |rs: &[Record]| {
        rs[..i.min(rs.len())].iter().rev().find(|r| matches!(r.ev, Event::Digest { .. })).cloned()
    };
    Some(Divergence {
        index: i as u64,
        recorded: recorded.get(i).cloned(),
        replayed: replayed.get(i).cloned(),
        recorded_digest: last_digest(recorded),
        replayed_digest: last_digest(replayed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u64, node: u64) -> Record {
        Record { i, t: i * 10, ev: Event::Crash { node } }
    }

    fn digest(i: u64) -> Record {
        Record { i, t: i * 10, ev: Event::Digest { node: 1, zxid: i, digest: 7, ephemerals: Vec::new() } }
    }

    #[test]
    fn identical_records_do_not_diverge() {
        let a = vec![rec(0, 1), rec(1, 2)];
        assert_eq!(first_divergence(&a, &a.clone()), None);
    }

    #[test]
    fn the_first_differing_record_is_reported_with_the_digest_before_it() {
        let a = vec![rec(0, 1), digest(1), rec(2, 2), rec(3, 3)];
        let b = vec![rec(0, 1), digest(1), rec(2, 9), rec(3, 3)];
        let d = first_divergence(&a, &b).unwrap();
        assert_eq!(d.index, 2);
        assert_eq!(d.recorded, Some(rec(2, 2)));
        assert_eq!(d.replayed, Some(rec(2, 9)));
        assert_eq!(d.recorded_digest, Some(digest(1)));
        assert!(d.to_string().contains("first divergence at record 2"));
    }

    #[test]
    fn a_shorter_run_diverges_where_it_ends() {
        let a = vec![rec(0, 1), rec(1, 2)];
        let d = first_divergence(&a, &a[..1]).unwrap();
        assert_eq!((d.index, d.replayed.is_none()), (1, true));
    }
}
