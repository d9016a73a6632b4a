//! zab-trace: the records of a zabsim run, in ZAB's vocabulary, and their NDJSON form.
//!
//! A trace file is NDJSON: the first line is a [`Header`] (format name and version, seed, profile,
//! the resolved run plan, the commit that produced it); every further line is one [`Record`]: an
//! index `i` (0, 1, 2, ... with no gaps), the simulated time `t` in nanoseconds, and one [`Event`].
//!
//! The events are everything the checkers need, so `zab-check` reads traces without knowing the
//! simulator or the server core:
//!
//! - **Replica events** use ZAB's vocabulary and are emitted by the server core through the
//!   simulator: role/phase changes ([`Event::Role`]), epoch files written ([`Event::EpochPersisted`]),
//!   a leader established in an epoch ([`Event::LeaderEstablished`]), the sync mode chosen for a
//!   learner ([`Event::SyncChosen`]), log appends, truncations and snapshot installs
//!   ([`Event::Logged`], [`Event::Truncated`], [`Event::SnapInstalled`]), durability
//!   ([`Event::Durable`]), ACKs ([`Event::AckSent`]), commit decisions with the ACK set
//!   ([`Event::Committed`]), application of committed txns ([`Event::Applied`]), session closes, and
//!   periodic per-replica digests ([`Event::Digest`]).
//! - **Environment events** are the simulator's own actions: message deliveries, connection resets,
//!   partitions, crashes, restarts, pauses, clock jumps and disk faults.
//! - **Client events** are invocations and completions of ZooKeeper operations and delivered watch
//!   events; together they form the history that the linearizability checkers read.
//!
//! Reading is strict: a malformed line is an error naming the file, the line and what was expected.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use zab_tree::proto::{Request, Response, WatchEvent};
use zab_tree::ErrorCode;

/// The value of [`Header::format`]; a file whose header says otherwise is not a zabsim trace.
pub const FORMAT_NAME: &str = "zabsim-trace";
/// Bumped whenever a record's meaning or shape changes; readers refuse other versions.
pub const FORMAT_VERSION: u32 = 1;

/// A server id as it appears in traces (the `N` of `server.N`).
pub type NodeId = u64;
/// A simulated client (one workload session slot).
pub type ClientId = u32;

/// The first line of a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] for files this crate writes.
    pub version: u32,
    /// The run's root seed.
    pub seed: u64,
    /// The profile the plan was drawn from (`swarm`, `lite`, `perf`, `scenario`).
    pub profile: String,
    /// The source commit of the binary that wrote the trace (`unknown` outside git).
    pub commit: String,
    /// The fully resolved run plan, so replay needs nothing but this file.
    pub plan: serde_json::Value,
}

impl Header {
    /// A header for this format version.
    pub fn new(seed: u64, profile: &str, commit: &str, plan: serde_json::Value) -> Header {
        Header {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
            seed,
            profile: profile.to_string(),
            commit: commit.to_string(),
            plan,
        }
    }
}

/// One trace line after the header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the trace, from 0, without gaps.
    pub i: u64,
    /// Simulated time in nanoseconds since the start of the run.
    pub t: u64,
    /// What happened.
    #[serde(flatten)]
    pub ev: Event,
}

/// A server's role, as the `Mode:` line of `srvr` names it (plus `looking` and `down`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Looking,
    Following,
    Leading,
    Observing,
    Standalone,
    Down,
}

/// The ZAB phase of a server (reference §1.2 `ZabState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Election,
    Discovery,
    Synchronization,
    Broadcast,
}

/// How a leader brings a learner up to date (reference §1.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    Diff,
    Trunc,
    TruncDiff,
    Snap,
}

/// Which epoch file was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EpochFile {
    Accepted,
    Current,
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloseReason {
    Closed,
    Expired,
}

/// How a client operation ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The server answered without error.
    Ok { response: Response },
    /// The server answered with an error code: the operation did not take effect, except that a
    /// failed write still consumed a zxid.
    Err { code: ErrorCode },
    /// The connection was lost before an answer: the operation may or may not have taken effect.
    ConnectionLoss,
    /// The session is gone: the operation did not take effect.
    SessionExpired,
}

/// Everything that can happen in a run. Field `node` is the server the event happened at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev")]
pub enum Event {
    // ----- replica events (the server core, in ZAB's vocabulary) -----
    /// A server changed role or phase. Zxids are raw 64-bit values (epoch << 32 | counter); `None`
    /// for a database that cannot be trusted yet.
    Role {
        node: NodeId,
        role: Role,
        phase: Phase,
        accepted_epoch: u32,
        current_epoch: u32,
        last_logged: Option<u64>,
        committed: u64,
    },
    /// Fast leader election ended at `node` with a decision for `leader` in round `round`.
    ElectionDecided {
        node: NodeId,
        leader: NodeId,
        round: u64,
    },
    /// An epoch file became durable at `node`.
    EpochPersisted {
        node: NodeId,
        file: EpochFile,
        epoch: u32,
    },
    /// A leader sent LEADERINFO for `epoch` to `peer` (after persisting its acceptedEpoch).
    LeaderInfoSent {
        node: NodeId,
        peer: NodeId,
        epoch: u32,
    },
    /// A leader received a quorum of NEWLEADER ACKs: it is established in `epoch` and serves.
    LeaderEstablished {
        node: NodeId,
        epoch: u32,
        acks: Vec<NodeId>,
    },
    /// A leader chose how to sync `peer` whose last zxid is `peer_zxid`; it will stream txns up to
    /// `leader_zxid` (and truncate the peer to `trunc_to` for TRUNC modes).
    SyncChosen {
        node: NodeId,
        peer: NodeId,
        mode: SyncMode,
        peer_zxid: u64,
        leader_zxid: u64,
        trunc_to: Option<u64>,
    },
    /// A learner acknowledged NEWLEADER for `epoch` (only after its synced txns were durable).
    NewLeaderAcked {
        node: NodeId,
        epoch: u32,
    },
    /// A txn was appended to `node`'s log (not yet durable). `hash` identifies the txn's content.
    Logged {
        node: NodeId,
        zxid: u64,
        hash: u64,
    },
    /// `node` truncated its log: every logged txn above `to` is gone.
    Truncated {
        node: NodeId,
        to: u64,
    },
    /// `node` replaced its state with a snapshot at `zxid` received from the leader.
    SnapInstalled {
        node: NodeId,
        zxid: u64,
    },
    /// Everything `node` logged up to `upto` is durable.
    Durable {
        node: NodeId,
        upto: u64,
    },
    /// `node` sent ACK(`zxid`) to its leader.
    AckSent {
        node: NodeId,
        zxid: u64,
    },
    /// The leader `node` decided to commit `zxid` with ACKs from `acks` (itself included).
    Committed {
        node: NodeId,
        zxid: u64,
        acks: Vec<NodeId>,
    },
    /// `node` applied the committed txn `zxid` to its data tree.
    Applied {
        node: NodeId,
        zxid: u64,
        hash: u64,
    },
    /// A session ended; its ephemerals must be gone once `zxid` is applied.
    SessionClosed {
        node: NodeId,
        session: u64,
        zxid: u64,
        reason: CloseReason,
    },
    /// A server hit something a real server would log at ERROR (a peer sent garbage, a commit for
    /// an unknown txn, a failed disk write) and dealt with it as `message` says.
    ServerError {
        node: NodeId,
        message: String,
    },
    /// Periodic or final summary of one replica's state.
    Digest {
        node: NodeId,
        zxid: u64,
        digest: u64,
        ephemerals: Vec<(u64, String)>,
    },

    // ----- environment events (the simulator) -----
    /// A message was delivered. `msg` is a short summary such as `PROPOSAL 0x100000003`.
    Deliver {
        from: String,
        to: String,
        msg: String,
    },
    /// A connection was reset; in-flight data between the two ends is lost.
    Reset {
        a: String,
        b: String,
    },
    /// The network was split into groups that cannot talk to each other (one-way if `oneway`).
    Partition {
        groups: Vec<Vec<NodeId>>,
        oneway: bool,
    },
    /// Every partition and clog was removed.
    Heal,
    /// The process at `node` crashed: memory and pending disk writes are lost.
    Crash {
        node: NodeId,
    },
    /// The process at `node` restarted from its disk.
    Restart {
        node: NodeId,
        recovered: Option<u64>,
    },
    /// The process at `node` stopped running (it keeps its state) or resumed.
    Pause {
        node: NodeId,
    },
    Resume {
        node: NodeId,
    },
    /// `node`'s wall clock jumped by `by_ns` (may be negative).
    ClockJump {
        node: NodeId,
        by_ns: i64,
    },
    /// A disk fault happened at `node`.
    DiskFault {
        node: NodeId,
        fault: String,
    },
    /// The run moved to a new phase (`safety`, `liveness`).
    RunPhase {
        name: String,
    },

    // ----- client events (the history) -----
    /// A client invoked an operation on `server` under `session`.
    Invoke {
        client: ClientId,
        session: u64,
        xid: i32,
        server: NodeId,
        op: Request,
    },
    /// An invocation completed. `zxid` is the reply header's zxid when there was a reply.
    Complete {
        client: ClientId,
        session: u64,
        xid: i32,
        zxid: Option<u64>,
        result: Outcome,
    },
    /// A watch notification was delivered to a client.
    Watch {
        client: ClientId,
        session: u64,
        event: WatchEvent,
        zxid: Option<u64>,
    },

    // ----- verdicts -----
    /// A checker found a violation.
    Violation {
        checker: String,
        message: String,
    },
}

/// A whole trace in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub header: Header,
    pub records: Vec<Record>,
}

/// A trace line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// The file name given to the reader.
    pub file: String,
    /// 1-based line number (0 when the error is not about a line, e.g. an I/O error).
    pub line: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for TraceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl std::error::Error for TraceError {}

/// Writes a trace as NDJSON: the header on the first line, then one record per line.
pub struct TraceWriter<W: Write> {
    out: W,
    next_index: u64,
}

impl<W: Write> TraceWriter<W> {
    /// Writes the header line.
    pub fn new(mut out: W, header: &Header) -> std::io::Result<TraceWriter<W>> {
        serde_json::to_writer(&mut out, header)?;
        out.write_all(b"\n")?;
        Ok(TraceWriter { out, next_index: 0 })
    }

    /// Appends one event at simulated time `t_ns`, numbering it; returns its index.
    pub fn write(&mut self, t_ns: u64, ev: &Event) -> std::io::Result<u64> {
        let i = self.next_index;
        write_record(&mut self.out, i, t_ns, ev)?;
        self.next_index += 1;
        Ok(i)
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Serializes one record line (with its trailing newline).
pub fn write_record<W: Write>(out: &mut W, i: u64, t_ns: u64, ev: &Event) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct RecordRef<'a> {
        i: u64,
        t: u64,
        #[serde(flatten)]
        ev: &'a Event,
    }
    serde_json::to_writer(&mut *out, &RecordRef { i, t: t_ns, ev })?;
    out.write_all(b"\n")
}

/// Parses a whole trace from text. `file` names the source in errors.
pub fn parse_trace(text: &str, file: &str) -> Result<Trace, TraceError> {
    read_trace(text.as_bytes(), file)
}

/// Reads a whole trace from a reader. `file` names the source in errors.
pub fn read_trace<R: BufRead>(input: R, file: &str) -> Result<Trace, TraceError> {
    let mut reader = TraceReader::new(input, file)?;
    let mut records = Vec::new();
    while let Some(r) = reader.next_record()? {
        records.push(r);
    }
    Ok(Trace { header: reader.header, records })
}

/// Streams the records of a trace one at a time (traces can be large).
pub struct TraceReader<R: BufRead> {
    input: R,
    file: String,
    line: usize,
    buf: String,
    next_index: u64,
    /// The header, read when the reader was created.
    pub header: Header,
}

impl<R: BufRead> TraceReader<R> {
    /// Reads and validates the header line.
    pub fn new(mut input: R, file: &str) -> Result<TraceReader<R>, TraceError> {
        let mut buf = String::new();
        let err = |line: usize, message: String| TraceError { file: file.to_string(), line, message };
        let n = input.read_line(&mut buf).map_err(|e| err(0, format!("cannot read: {e}")))?;
        if n == 0 {
            return Err(err(1, "empty file: expected a zabsim trace header line".to_string()));
        }
        let header: Header = serde_json::from_str(buf.trim_end()).map_err(|e| {
            err(1, format!("expected a header {{\"format\":\"{FORMAT_NAME}\",\"version\":..}}: {e}"))
        })?;
        if header.format != FORMAT_NAME {
            return Err(err(1, format!("format is {:?}, expected {FORMAT_NAME:?}", header.format)));
        }
        if header.version != FORMAT_VERSION {
            return Err(err(
                1,
                format!("format version {} is not supported (expected {FORMAT_VERSION})", header.version),
            ));
        }
        buf.clear();
        Ok(TraceReader { input, file: file.to_string(), line: 1, buf, next_index: 0, header })
    }

    /// The next record, `None` at the end. Blank lines are skipped; indices must be consecutive.
    pub fn next_record(&mut self) -> Result<Option<Record>, TraceError> {
        loop {
            self.buf.clear();
            let n =
                self.input.read_line(&mut self.buf).map_err(|e| self.error(format!("cannot read: {e}")))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let text = self.buf.trim();
            if text.is_empty() {
                continue;
            }
            let record: Record = serde_json::from_str(text)
                .map_err(|e| self.error(format!("expected a record {{\"i\":..,\"t\":..,\"ev\":..}}: {e}")))?;
            if record.i != self.next_index {
                let expected = self.next_index;
                return Err(
                    self.error(format!("record index {} out of order, expected {expected}", record.i))
                );
            }
            self.next_index += 1;
            return Ok(Some(record));
        }
    }

    fn error(&self, message: String) -> TraceError {
        TraceError { file: self.file.clone(), line: self.line, message }
    }
}
