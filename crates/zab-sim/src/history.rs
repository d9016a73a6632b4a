//! The client history of a run, kept whatever the trace mode, and ZooKeeper's consistency
//! guarantee checked over it at the end of every run ([`zab_check::zookeeper`]): the zxid
//! witness always, the black-box search (within a step budget proportional to the history,
//! [`SEARCH_STEPS_PER_CALL`]) whenever the witness is not conclusively consistent.

use zab_check::zookeeper::{self, CallRecorder, WitnessVerdict, ZkCall, ZkHistoryError, ZkModel, ZkReport};
use zab_check::{Budget, Unknown, Verdict};
use zab_trace::Outcome;
use zab_tree::proto::Request;
use zab_tree::TreeConfig;

use crate::check::Violation;

/// Search steps the end-of-run black-box check may take per checked call, plus
/// [`SEARCH_STEPS_BASE`]; beyond, its verdict is unknown (not a failure: the witness still
/// judged every call). A consistent history usually takes about one step per call; a budget
/// proportional to the history keeps the check's cost a small factor of the run's.
pub const SEARCH_STEPS_PER_CALL: u64 = 2;

/// Search steps every end-of-run black-box check may take whatever the history's size.
pub const SEARCH_STEPS_BASE: u64 = 1_000;

/// Memory the end-of-run black-box check may hold.
pub const SEARCH_MEMORY_BYTES: usize = 256 << 20;

/// Client invocations and completions in the order they happened. Costs one request clone per
/// invocation and one outcome clone per completion.
#[derive(Debug, Default)]
pub struct ClientHistory {
    recorder: CallRecorder,
    /// Orders events in real time.
    next_at: u64,
    /// The first event that did not pair up.
    error: Option<ZkHistoryError>,
}

impl ClientHistory {
    /// An empty history.
    pub fn new() -> Self {
        ClientHistory::default()
    }

    /// `client` invoked `request` as `xid` under `session` (0 before the session exists).
    pub fn invoke(&mut self, client: u32, session: u64, xid: i32, request: &Request) {
        let at = self.tick();
        if let Err(e) = self.recorder.invoke(client, session, xid, request.clone(), at) {
            self.error.get_or_insert(e);
        }
    }

    /// `client`'s call `xid` completed.
    pub fn complete(&mut self, client: u32, session: u64, xid: i32, zxid: Option<u64>, outcome: &Outcome) {
        let at = self.tick();
        if let Err(e) = self.recorder.complete(client, session, xid, zxid, outcome.clone(), at) {
            self.error.get_or_insert(e);
        }
    }

    /// The calls, or the first event that did not pair up.
    pub fn finish(self) -> Result<Vec<ZkCall>, ZkHistoryError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.recorder.finish()),
        }
    }

    fn tick(&mut self) -> u64 {
        self.next_at += 1;
        self.next_at
    }
}

/// What the end-of-run check of the client history found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCheck {
    /// Client calls checked.
    pub calls: usize,
    /// The zxid witness's verdict, in words.
    pub witness: String,
    /// The black-box search's verdict, in words ("unknown (...)" when out of budget).
    pub search: String,
    /// The search ran out of budget: it neither confirmed nor refuted the history.
    pub search_unknown: bool,
    /// The broken guarantee, if any ("linearizability", "session-order", "zk-result", or
    /// "client-history" when events did not pair up).
    pub violation: Option<Violation>,
}

/// Checks a run's client history against ZooKeeper's guarantee on servers with `config`.
pub fn check_client_history(history: ClientHistory, config: &TreeConfig) -> ClientCheck {
    match history.finish() {
        Ok(calls) => check_calls(&calls, config),
        Err(e) => ClientCheck {
            calls: 0,
            witness: "not run".to_string(),
            search: "not run".to_string(),
            search_unknown: false,
            violation: Some(Violation { checker: "client-history".to_string(), message: e.to_string() }),
        },
    }
}

/// Checks client calls (from a run, or from a trace with [`zookeeper::calls`]).
pub fn check_calls(calls: &[ZkCall], config: &TreeConfig) -> ClientCheck {
    let mut budget = Budget {
        max_steps: Some(SEARCH_STEPS_BASE + SEARCH_STEPS_PER_CALL * calls.len() as u64),
        max_memory_bytes: Some(SEARCH_MEMORY_BYTES),
        should_stop: None,
    };
    // The search only where the witness cannot decide alone (or to confirm what it found): it
    // costs a tree copy per write, the witness does not, and they agree when the witness is
    // conclusive (zab-check's agreement property tests).
    let history = zookeeper::history(calls);
    let model = ZkModel::new(config.clone());
    let witness = zookeeper::check_zxid_witness(&model, &history);
    if witness == WitnessVerdict::Consistent {
        return ClientCheck {
            calls: calls.len(),
            witness: "consistent".to_string(),
            search: "not needed (the witness is conclusive)".to_string(),
            search_unknown: false,
            violation: None,
        };
    }
    let search = zookeeper::check_black_box(&model, &history, &mut budget);
    let report = ZkReport { witness, search, ops: history.ops.len() };
    let witness = match &report.witness {
        WitnessVerdict::Consistent => "consistent".to_string(),
        WitnessVerdict::Violation { kind, .. } => format!("violation ({kind})"),
        WitnessVerdict::Inconclusive(_) => {
            "inconclusive (a call of unknown outcome may explain a reply)".to_string()
        }
    };
    let search = match &report.search.verdict {
        Verdict::Linearizable => format!("consistent ({} steps)", report.search.steps),
        Verdict::NotLinearizable(_) => "violation".to_string(),
        Verdict::Unknown(why) => format!(
            "unknown ({} after {} steps; not a failure)",
            match why {
                Unknown::StepLimit => "step limit",
                Unknown::MemoryLimit => "memory limit",
                Unknown::Stopped => "stopped",
            },
            report.search.steps
        ),
    };
    let violation =
        report.violation(&history).map(|v| Violation { checker: v.checker.to_string(), message: v.message });
    ClientCheck { calls: calls.len(), witness, search, search_unknown: report.search_unknown(), violation }
}
