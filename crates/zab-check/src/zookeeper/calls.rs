//! The client calls of a run: invocations paired with their completions.

use std::collections::BTreeMap;
use std::fmt;

use zab_trace::{Event, Outcome, Record};
use zab_tree::proto::Request;

/// A history that cannot be checked: events that do not pair up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkHistoryError {
    /// Position (trace record index) of the offending event.
    pub record: u64,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ZkHistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}: {}", self.record, self.message)
    }
}

impl std::error::Error for ZkHistoryError {}

/// One client call.
#[derive(Clone, Debug, PartialEq)]
pub struct ZkCall {
    /// The client that issued it.
    pub client: u32,
    /// The session it ran under (the completion's session when the invocation was issued before
    /// the session was established).
    pub session: u64,
    /// What was asked.
    pub request: Request,
    /// Position of the invocation (record index, or any real-time-ordered counter).
    pub invoked_at: u64,
    /// Position of the completion, if any.
    pub completed_at: Option<u64>,
    /// The reply header's zxid, when there was a reply that carried one.
    pub zxid: Option<u64>,
    /// How it ended (`None`: never completed).
    pub outcome: Option<Outcome>,
}

/// Collects client calls as they happen, cheaply (one entry per invocation). This is how the
/// simulator keeps its client history when it keeps no trace.
#[derive(Clone, Debug, Default)]
pub struct CallRecorder {
    calls: Vec<ZkCall>,
    /// Outstanding calls by (client, xid). Xids are unique per client connection lifetime, and a
    /// completion may name a session the invocation could not know yet.
    pending: BTreeMap<(u32, i32), usize>,
}

impl CallRecorder {
    /// No calls yet.
    pub fn new() -> Self {
        CallRecorder::default()
    }

    /// `client` invoked `request` (xid `xid`, under `session`, 0 if not yet established) at `at`.
    pub fn invoke(
        &mut self,
        client: u32,
        session: u64,
        xid: i32,
        request: Request,
        at: u64,
    ) -> Result<(), ZkHistoryError> {
        if self.pending.insert((client, xid), self.calls.len()).is_some() {
            let message = format!("client {client} reuses xid {xid} while it is outstanding");
            return Err(ZkHistoryError { record: at, message });
        }
        self.calls.push(ZkCall {
            client,
            session,
            request,
            invoked_at: at,
            completed_at: None,
            zxid: None,
            outcome: None,
        });
        Ok(())
    }

    /// `client`'s call `xid` completed at `at`.
    pub fn complete(
        &mut self,
        client: u32,
        session: u64,
        xid: i32,
        zxid: Option<u64>,
        outcome: Outcome,
        at: u64,
    ) -> Result<(), ZkHistoryError> {
        let Some(index) = self.pending.remove(&(client, xid)) else {
            let message = format!("client {client} completes xid {xid}, which it never invoked");
            return Err(ZkHistoryError { record: at, message });
        };
        let call = &mut self.calls[index];
        if call.session == 0 {
            call.session = session;
        } else if session != 0 && session != call.session {
            let message = format!(
                "client {client} xid {xid} was invoked under session {:#x} and completed under {session:#x}",
                call.session
            );
            return Err(ZkHistoryError { record: at, message });
        }
        call.completed_at = Some(at);
        call.zxid = zxid;
        call.outcome = Some(outcome);
        Ok(())
    }

    /// Number of calls so far.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True before the first call.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The calls in invocation order; outstanding ones stay without outcome.
    pub fn finish(self) -> Vec<ZkCall> {
        self.calls
    }
}

/// The client calls of a trace, in invocation order, positioned by record index.
pub fn calls(records: &[Record]) -> Result<Vec<ZkCall>, ZkHistoryError> {
    let mut recorder = CallRecorder::new();
    for r in records {
        match &r.ev {
            Event::Invoke { client, session, xid, op, .. } => {
                recorder.invoke(*client, *session, *xid, op.clone(), r.i)?
            }
            Event::Complete { client, session, xid, zxid, result } => {
                recorder.complete(*client, *session, *xid, *zxid, result.clone(), r.i)?
            }
            _ => {}
        }
    }
    Ok(recorder.finish())
}
