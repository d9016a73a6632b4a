//! The run plan: everything that determines a run besides the seed.
//!
//! A scenario file (TOML, see `docs/scenarios.md`) and a swarm draw both produce a [`RunPlan`]. The
//! plan is serializable both ways: the scenario reader is serde over this very type (with
//! `deny_unknown_fields` everywhere and durations written with units), and a trace header stores
//! the resolved plan as JSON so that replay needs nothing but the trace.

use serde::{Deserialize, Serialize};

use crate::disk::DiskKnobs;
use crate::rng::{Latency, Ratio};
use crate::time::{NS_PER_MS, NS_PER_S};

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPlan {
    /// One line saying what the run is about (the scenario's first comment, or the profile).
    #[serde(default)]
    pub description: String,
    /// The seed the scenario is pinned to, for a plan whose failure depends on the seed (a
    /// regression saved by `zabsim hunt --save-scenario`). Runners use it unless told a seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub cluster: Cluster,
    #[serde(default)]
    pub knobs: Knobs,
    #[serde(default)]
    pub workload: Workload,
    /// Timed faults, in any order (they are sorted by `at`; equal times keep file order).
    #[serde(default, rename = "fault")]
    pub faults: Vec<TimedFault>,
    #[serde(default)]
    pub checks: Checks,
    #[serde(default)]
    pub expect: Expect,
}

/// The ensemble.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Voting servers (ids 1..=voters).
    #[serde(default = "default_voters")]
    pub voters: u64,
    /// Observers (ids after the voters).
    #[serde(default)]
    pub observers: u64,
    #[serde(default = "default_tick", rename = "tick_time", with = "crate::time::serde_ns")]
    pub tick_time_ns: u64,
    #[serde(default = "default_init_limit")]
    pub init_limit: u32,
    #[serde(default = "default_sync_limit")]
    pub sync_limit: u32,
    /// A zoo.cfg to take the ensemble from instead (path relative to the scenario file). The
    /// reader replaces it by the file's text in [`Cluster::zoo_cfg_text`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoo_cfg: Option<String>,
    /// The text of `zoo_cfg`, filled in by the scenario reader (or written by hand in a plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoo_cfg_text: Option<String>,
    /// Where the first epoch's zxid counter starts (ZooKeeper's
    /// `zookeeper.testingonly.initialZxid`), to reach counter exhaustion within a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_zxid_counter: Option<u32>,
    /// A historical defect switched on in every server, and again after each restart (a
    /// `zab_core::Mutation` name such as `ZK-3911`). Needs the `mutations` feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation: Option<String>,
    /// `snapCount` of every server (a snapshot every snapCount/2 to snapCount appends; with
    /// `zoo_cfg`, set it there instead); the server's default (100000) when absent. Small values
    /// make snapshots, and so SNAP syncs and txn-log syncs, happen within a short run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snap_count: Option<u64>,
    /// How the leader answers `sync`: `"local"` (ZooKeeper 3.8/3.9: on its own, so a leader cut
    /// off from its quorum but not yet aware still completes syncs) or `"quorum"` (ZooKeeper
    /// master: after a quorum confirms it still leads). Plans that name none are `"local"`, so
    /// traces recorded before the choice existed replay unchanged; the random profiles draw
    /// `"quorum"`, where a read after `sync` is linearizable as the history checker assumes.
    #[serde(default, skip_serializing_if = "SyncRule::is_local")]
    pub sync: SyncRule,
}

/// See [`Cluster::sync`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncRule {
    #[default]
    Local,
    Quorum,
}

impl SyncRule {
    pub fn is_local(&self) -> bool {
        *self == SyncRule::Local
    }
}

impl Default for Cluster {
    fn default() -> Cluster {
        Cluster {
            voters: default_voters(),
            observers: 0,
            tick_time_ns: default_tick(),
            init_limit: default_init_limit(),
            sync_limit: default_sync_limit(),
            zoo_cfg: None,
            zoo_cfg_text: None,
            initial_zxid_counter: None,
            mutation: None,
            snap_count: None,
            sync: SyncRule::Local,
        }
    }
}

impl Cluster {
    /// Every server id: voters first, then observers.
    pub fn server_ids(&self) -> Vec<u64> {
        (1..=self.voters + self.observers).collect()
    }

    pub fn servers(&self) -> u64 {
        self.voters + self.observers
    }

    /// The largest number of voters that may lose durable data under the tolerated budget.
    pub fn minority(&self) -> u64 {
        (self.voters - 1) / 2
    }

    /// The mutation `mutation` names, if any.
    #[cfg(feature = "mutations")]
    pub fn resolved_mutation(&self) -> Result<Option<zab_core::Mutation>, String> {
        match &self.mutation {
            None => Ok(None),
            Some(name) => zab_core::Mutation::parse(name).map(Some).ok_or_else(|| {
                format!(
                    "cluster.mutation = {name:?}: unknown mutation; expected one of {}",
                    zab_core::Mutation::names()
                )
            }),
        }
    }

    /// Without the `mutations` feature no mutation can be switched on.
    #[cfg(not(feature = "mutations"))]
    pub fn resolved_mutation(&self) -> Result<Option<std::convert::Infallible>, String> {
        match &self.mutation {
            None => Ok(None),
            Some(name) => Err(format!(
                "cluster.mutation = {name:?}: this build has no mutations (enable the `mutations` feature)"
            )),
        }
    }
}

/// Environment knobs: the network, disks and clocks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knobs {
    /// One-way latency of every message.
    #[serde(default = "default_net_latency")]
    pub net_latency: Latency,
    /// Every disk's latency and fault rates (per-node faults come from the schedule).
    #[serde(default = "default_disk")]
    pub disk: DiskKnobs,
    /// Largest initial clock skew; each node draws one in `[-max, max]`.
    #[serde(default, rename = "clock_skew_max", with = "crate::time::serde_ns")]
    pub clock_skew_ns_max: u64,
    /// Largest clock drift; each node draws one in `[-max, max]` ppm.
    #[serde(default)]
    pub clock_drift_ppm_max: u32,
    /// Whether a crash may tear the writes that were pending.
    #[serde(default = "yes")]
    pub torn_writes: bool,
    /// Which disk faults are allowed: `tolerated` (a quorum always keeps every committed txn;
    /// safety and liveness are checked) or `unbounded` (safety only).
    #[serde(default)]
    pub disk_budget: DiskBudget,
    /// How long the liveness phase may take to reach a healthy cluster.
    #[serde(default = "default_liveness", rename = "liveness_bound", with = "crate::time::serde_ns")]
    pub liveness_bound_ns: u64,
    /// Digest records every this long (0: only at the end).
    #[serde(default = "default_digest", rename = "digest_every", with = "crate::time::serde_ns")]
    pub digest_every_ns: u64,
}

impl Default for Knobs {
    fn default() -> Knobs {
        Knobs {
            net_latency: default_net_latency(),
            disk: default_disk(),
            clock_skew_ns_max: 0,
            clock_drift_ppm_max: 0,
            torn_writes: true,
            disk_budget: DiskBudget::Tolerated,
            liveness_bound_ns: default_liveness(),
            digest_every_ns: default_digest(),
        }
    }
}

/// See [`Knobs::disk_budget`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskBudget {
    #[default]
    Tolerated,
    Unbounded,
}

/// The client workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Client sessions (each connects to a server chosen round-robin).
    #[serde(default = "default_clients")]
    pub clients: u32,
    /// How long clients issue new requests (the safety phase).
    #[serde(default = "default_duration", rename = "duration", with = "crate::time::serde_ns")]
    pub duration_ns: u64,
    /// Relative weights of operations. When the table is given, weights it does not name are 0.
    #[serde(default = "OpMix::standard")]
    pub mix: OpMix,
    /// Distinct znodes under `/k` (few keys: contention).
    #[serde(default = "default_keys")]
    pub keys: u32,
    /// Closed loop (each client waits for its answer, then thinks) or open loop (a fixed rate).
    #[serde(default)]
    pub mode: LoadMode,
    /// Think time between a completion and the next request (closed loop), or the interval
    /// between requests of one client (open loop).
    #[serde(default = "default_think", rename = "think", with = "crate::time::serde_ns")]
    pub think_ns: u64,
    /// Requested session timeout.
    #[serde(default = "default_session_timeout", rename = "session_timeout", with = "crate::time::serde_ns")]
    pub session_timeout_ns: u64,
    /// Chance, per request, that the client moves its session to another server first.
    #[serde(default = "never")]
    pub move_session: Ratio,
    /// Chance that a read leaves a watch.
    #[serde(default = "default_watch")]
    pub watch: Ratio,
    /// How many of the clients (the first ones) only read and sync: they draw from the mix's
    /// getData, exists, getChildren and sync weights (getData when all four are 0). A read-mostly
    /// service leaves servers whose clients propose nothing, so a leader cut off from its quorum
    /// has no write outstanding and can still complete syncs and reads.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub readers: u32,
    /// How many of the clients (the first ones) name a single server in their connect string
    /// (client i the server i mod n + 1, as in a deployment where each application host talks to
    /// its local server): they reconnect only there, so each side of a partition keeps its own
    /// clients. A pinned client of a server the liveness phase leaves out (locked out, or
    /// refusing its disk) is not expected to finish.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pinned: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Default for Workload {
    fn default() -> Workload {
        Workload {
            clients: default_clients(),
            duration_ns: default_duration(),
            mix: OpMix::standard(),
            keys: default_keys(),
            mode: LoadMode::Closed,
            think_ns: default_think(),
            session_timeout_ns: default_session_timeout(),
            move_session: Ratio::NEVER,
            watch: default_watch(),
            readers: 0,
            pinned: 0,
        }
    }
}

/// See [`Workload::mode`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    #[default]
    Closed,
    Open,
}

/// Relative operation weights (0 turns an operation off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpMix {
    /// Creates in every mode (persistent, ephemeral, sequential, container, TTL).
    pub create: u32,
    /// setData, half with the expected version.
    pub set_data: u32,
    /// delete, half with the expected version.
    pub delete: u32,
    pub get_data: u32,
    pub exists: u32,
    pub get_children: u32,
    pub multi: u32,
    pub sync: u32,
}

impl OpMix {
    /// The mix used when a plan names none: writes and reads of every kind.
    pub fn standard() -> OpMix {
        OpMix {
            create: 2,
            set_data: 4,
            delete: 1,
            get_data: 3,
            exists: 1,
            get_children: 1,
            multi: 1,
            sync: 1,
        }
    }
}

impl OpMix {
    pub fn total(&self) -> u32 {
        self.create
            + self.set_data
            + self.delete
            + self.get_data
            + self.exists
            + self.get_children
            + self.multi
            + self.sync
    }
}

/// A fault at a time. (Unknown keys are refused by [`Fault`]'s variants, which see every key but
/// `at`.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedFault {
    #[serde(rename = "at", with = "crate::time::serde_ns")]
    pub at_ns: u64,
    #[serde(flatten)]
    pub fault: Fault,
}

/// Who a fault applies to; named sets resolve when the fault fires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TargetText", into = "TargetText")]
pub enum Target {
    /// One server by id.
    Node(u64),
    /// The server that currently leads (the one with the highest established epoch); nothing if
    /// there is none.
    Leader,
    /// Every voter except the leader.
    Followers,
    Observers,
    /// A minority of the voters, leader excluded when possible (the highest ids first).
    Minority,
    /// Every server not named by the other groups of the same fault.
    Rest,
    All,
    /// One server drawn from the fault stream.
    Random,
}

/// Target names accepted in scenario files.
pub const TARGET_NAMES: &str =
    "a server id, \"leader\", \"followers\", \"observers\", \"minority\", \"rest\", \
                                \"all\", \"random\"";

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TargetText {
    Id(u64),
    Name(String),
}

impl TryFrom<TargetText> for Target {
    type Error = String;
    fn try_from(t: TargetText) -> Result<Target, String> {
        Ok(match t {
            TargetText::Id(id) => Target::Node(id),
            TargetText::Name(n) => match n.as_str() {
                "leader" => Target::Leader,
                "followers" => Target::Followers,
                "observers" => Target::Observers,
                "minority" => Target::Minority,
                "rest" => Target::Rest,
                "all" => Target::All,
                "random" => Target::Random,
                other => return Err(format!("unknown target {other:?}: expected {TARGET_NAMES}")),
            },
        })
    }
}

impl From<Target> for TargetText {
    fn from(t: Target) -> TargetText {
        TargetText::Name(
            match t {
                Target::Node(id) => return TargetText::Id(id),
                Target::Leader => "leader",
                Target::Followers => "followers",
                Target::Observers => "observers",
                Target::Minority => "minority",
                Target::Rest => "rest",
                Target::All => "all",
                Target::Random => "random",
            }
            .to_string(),
        )
    }
}

/// One fault. In scenario files: `kind = "..."` plus the fields below.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Split the servers into groups that cannot talk across (`oneway`: only from earlier groups
    /// to later ones is blocked). Existing connections are held, not reset.
    Partition {
        groups: Vec<Vec<Target>>,
        #[serde(default)]
        oneway: bool,
    },
    /// `bridge` can talk to both `left` and `right`, which cannot talk to each other.
    Bridge {
        left: Vec<Target>,
        bridge: Target,
        right: Vec<Target>,
    },
    /// Each server talks only to its ring neighbours (by id order): a majority is reachable by
    /// everyone, but not the same majority.
    Ring,
    /// A random partition drawn from the fault stream.
    RandomPartition,
    /// Remove every partition and clog.
    Heal,
    /// Reset every quorum connection of the targets (in-flight data lost, both ends told).
    Reset {
        targets: Vec<Target>,
    },
    /// Hold all traffic of the targets until `unclog`.
    Clog {
        targets: Vec<Target>,
    },
    Unclog {
        targets: Vec<Target>,
    },
    /// Add `latency` to every message from the targets for `duration`.
    Delay {
        targets: Vec<Target>,
        #[serde(rename = "duration", with = "crate::time::serde_ns")]
        duration_ns: u64,
        latency: Latency,
    },
    /// For `duration`, each election notification sent by or to the targets is lost with
    /// `chance`, and the others take `latency` more to arrive. Notifications travel on their own
    /// connections, so this splits election rounds without touching the quorum connections.
    ElectionLoss {
        targets: Vec<Target>,
        chance: Ratio,
        #[serde(rename = "duration", with = "crate::time::serde_ns")]
        duration_ns: u64,
        latency: Latency,
    },
    /// Cut clients from their servers (all clients if `clients` is empty) until `heal`.
    CutClients {
        #[serde(default)]
        clients: Vec<u32>,
    },
    /// Kill the process: memory and pending writes are lost (torn if `torn_writes`).
    Crash {
        targets: Vec<Target>,
    },
    /// Restart crashed targets from their disks.
    Restart {
        targets: Vec<Target>,
    },
    /// Crash and restart `times` times, `down` then `up` each time.
    CrashLoop {
        target: Target,
        times: u32,
        #[serde(rename = "down", with = "crate::time::serde_ns")]
        down_ns: u64,
        #[serde(rename = "up", with = "crate::time::serde_ns")]
        up_ns: u64,
    },
    /// Stop the process without losing state; it resumes after `duration`.
    Pause {
        targets: Vec<Target>,
        #[serde(rename = "duration", with = "crate::time::serde_ns")]
        duration_ns: u64,
    },
    /// Jump the targets' clocks.
    ClockJump {
        targets: Vec<Target>,
        #[serde(rename = "by", with = "crate::time::serde_signed_ns")]
        by_ns: i64,
    },
    /// Change the targets' clock drift.
    ClockDrift {
        targets: Vec<Target>,
        ppm: i32,
    },
    /// Disk requests of the targets do not complete for `duration`.
    DiskStall {
        targets: Vec<Target>,
        #[serde(rename = "duration", with = "crate::time::serde_ns")]
        duration_ns: u64,
    },
    /// Extra disk latency for `duration`.
    DiskDelay {
        targets: Vec<Target>,
        #[serde(rename = "duration", with = "crate::time::serde_ns")]
        duration_ns: u64,
        latency: Latency,
    },
    /// From now on, disk requests of the targets fail with EIO with this chance.
    DiskErrors {
        targets: Vec<Target>,
        chance: Ratio,
    },
    /// The targets' disks can hold only `free_bytes` more than they hold now (ENOSPC).
    DiskFull {
        targets: Vec<Target>,
        free_bytes: u64,
    },
    /// Remove a disk-full or error condition.
    DiskRepair {
        targets: Vec<Target>,
    },
    /// From now on, appends of the targets are misdirected with this chance (corrupts data).
    Misdirect {
        targets: Vec<Target>,
        chance: Ratio,
    },
    /// Crash the targets; on restart they read back a corrupted byte.
    CorruptAndRestart {
        targets: Vec<Target>,
    },
    /// Crash the targets, erase their disks and restart them empty (they rejoin by SNAP).
    WipeAndRejoin {
        targets: Vec<Target>,
    },
    /// Arm a protocol-point crash: the first of the targets (resolved when the fault fires) to
    /// reach `point` afterwards is crashed right after the step that reached it (what that step
    /// sent is on the wire, its disk writes still pending are lost or torn), and restarted `down`
    /// later. Fires at most once; disarmed when the liveness phase starts.
    CrashAt {
        targets: Vec<Target>,
        point: CrashPoint,
        #[serde(rename = "down", with = "crate::time::serde_ns")]
        down_ns: u64,
    },
}

/// A protocol point a [`Fault::CrashAt`] waits for: the moment a server's step emits the
/// matching protocol event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    /// A learner sent its ACK of NEWLEADER.
    NewleaderAck,
    /// A server's currentEpoch file became durable.
    CurrentEpochWritten,
    /// A server is about to write currentEpoch (a learner once its NEWLEADER history is durable, a
    /// leader once an ACKEPOCH quorum is in): it crashes before any of that write, or anything its
    /// step would do after it, happens; what was durable before stays.
    CurrentEpochWrite,
    /// A server's acceptedEpoch file became durable.
    AcceptedEpochWritten,
    /// A leader queued a learner's sync stream (DIFF, TRUNC or SNAP, then NEWLEADER).
    SyncSent,
    /// A learner installed a SNAP in memory (before the NEWLEADER snapshot is written).
    SnapInstalled,
    /// A learner truncated its log for a TRUNC.
    Truncated,
    /// A leader established its epoch on a NEWLEADER-ACK quorum.
    Established,
    /// A follower sent the ACK of a proposal.
    ProposalAck,
    /// A leader committed a proposal.
    Commit,
}

impl CrashPoint {
    /// Every point, in the order the swarm draws from.
    pub const ALL: [CrashPoint; 10] = [
        CrashPoint::NewleaderAck,
        CrashPoint::CurrentEpochWritten,
        CrashPoint::AcceptedEpochWritten,
        CrashPoint::SyncSent,
        CrashPoint::SnapInstalled,
        CrashPoint::Truncated,
        CrashPoint::Established,
        CrashPoint::ProposalAck,
        CrashPoint::Commit,
        CrashPoint::CurrentEpochWrite,
    ];
}

impl Fault {
    /// The scenario-file name of this fault's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "partition",
            Fault::Bridge { .. } => "bridge",
            Fault::Ring => "ring",
            Fault::RandomPartition => "random_partition",
            Fault::Heal => "heal",
            Fault::Reset { .. } => "reset",
            Fault::Clog { .. } => "clog",
            Fault::Unclog { .. } => "unclog",
            Fault::Delay { .. } => "delay",
            Fault::ElectionLoss { .. } => "election_loss",
            Fault::CutClients { .. } => "cut_clients",
            Fault::Crash { .. } => "crash",
            Fault::Restart { .. } => "restart",
            Fault::CrashLoop { .. } => "crash_loop",
            Fault::Pause { .. } => "pause",
            Fault::ClockJump { .. } => "clock_jump",
            Fault::ClockDrift { .. } => "clock_drift",
            Fault::DiskStall { .. } => "disk_stall",
            Fault::DiskDelay { .. } => "disk_delay",
            Fault::DiskErrors { .. } => "disk_errors",
            Fault::DiskFull { .. } => "disk_full",
            Fault::DiskRepair { .. } => "disk_repair",
            Fault::Misdirect { .. } => "misdirect",
            Fault::CorruptAndRestart { .. } => "corrupt_and_restart",
            Fault::WipeAndRejoin { .. } => "wipe_and_rejoin",
            Fault::CrashAt { .. } => "crash_at",
        }
    }

    /// Whether the fault damages durable data (counts against the tolerated disk budget).
    pub fn damages_durable_data(&self) -> bool {
        matches!(
            self,
            Fault::Misdirect { .. } | Fault::CorruptAndRestart { .. } | Fault::WipeAndRejoin { .. }
        )
    }
}

/// Which checks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Checks {
    /// Writes (and reads after `sync`) are linearizable.
    pub linearizable_writes: bool,
    /// Each session sees its own operations in order and never goes back in zxid.
    pub session_order: bool,
    /// ZAB invariants after every event (one leader per epoch, prefix agreement, quorum commit,
    /// ACK after durability, zxid order, committed txns survive).
    pub invariants: bool,
    /// At the end, every live server has the same data digest.
    pub convergence: bool,
    /// The liveness phase must reach a healthy cluster within the bound.
    pub liveness: bool,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks {
            linearizable_writes: true,
            session_order: true,
            invariants: true,
            convergence: true,
            liveness: true,
        }
    }
}

/// What the run must end with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `pass`, `safety` or `liveness`.
    #[serde(default)]
    pub outcome: ExpectedOutcome,
    /// For scenarios that must keep finding a known bug: the violated check's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation: Option<String>,
}

/// See [`Expect::outcome`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedOutcome {
    #[default]
    Pass,
    Safety,
    Liveness,
}

impl Expect {
    /// Whether a run ended as expected: the outcome, and when a checker is named, that checker.
    pub fn is_met_by(&self, report: &crate::sim::Report) -> bool {
        let checker_ok = match &self.violation {
            Some(name) => report.violation.as_ref().is_some_and(|v| &v.checker == name),
            None => true,
        };
        ExpectedOutcome::from(report.outcome) == self.outcome && checker_ok
    }
}

impl From<crate::sim::RunOutcome> for ExpectedOutcome {
    fn from(outcome: crate::sim::RunOutcome) -> ExpectedOutcome {
        match outcome {
            crate::sim::RunOutcome::Pass => ExpectedOutcome::Pass,
            crate::sim::RunOutcome::Safety => ExpectedOutcome::Safety,
            crate::sim::RunOutcome::Liveness => ExpectedOutcome::Liveness,
        }
    }
}

impl RunPlan {
    /// Checks values serde cannot: counts, ranges, and that targets name existing servers.
    pub fn validate(&self) -> Result<(), String> {
        let c = &self.cluster;
        if c.voters == 0 || c.voters > 9 {
            return Err(format!("cluster.voters = {}: expected 1 to 9", c.voters));
        }
        if c.observers > 9 {
            return Err(format!("cluster.observers = {}: expected 0 to 9", c.observers));
        }
        if c.tick_time_ns < NS_PER_MS || c.tick_time_ns > 60 * NS_PER_S {
            return Err("cluster.tick_time: expected 1ms to 60s".to_string());
        }
        if c.init_limit == 0 || c.sync_limit == 0 {
            return Err("cluster.init_limit and cluster.sync_limit must be at least 1".to_string());
        }
        c.resolved_mutation()?;
        if c.snap_count.is_some_and(|n| n < 2) {
            return Err("cluster.snap_count: expected at least 2".to_string());
        }
        self.knobs.net_latency.validate().map_err(|e| format!("knobs.net_latency: {e}"))?;
        self.knobs.disk.latency.validate().map_err(|e| format!("knobs.disk.latency: {e}"))?;
        if self.knobs.clock_drift_ppm_max >= 100_000 {
            return Err("knobs.clock_drift_ppm_max: expected below 100000".to_string());
        }
        let w = &self.workload;
        if w.clients > 1_000 {
            return Err(format!("workload.clients = {}: expected at most 1000", w.clients));
        }
        if w.keys == 0 {
            return Err("workload.keys: expected at least 1".to_string());
        }
        if w.clients > 0 && w.mix.total() == 0 {
            return Err("workload.mix: every weight is 0".to_string());
        }
        if w.mode == LoadMode::Open && w.think_ns == 0 {
            return Err("workload.think: an open loop needs an interval above 0".to_string());
        }
        let servers = c.servers();
        let check_target = |t: &Target, i: usize| match t {
            Target::Node(id) if *id == 0 || *id > servers => {
                Err(format!("fault #{}: server {id} does not exist (servers are 1..={servers})", i + 1))
            }
            _ => Ok(()),
        };
        let mut damaged = 0u64;
        for (i, f) in self.faults.iter().enumerate() {
            for t in fault_targets(&f.fault) {
                check_target(t, i)?;
            }
            if f.fault.damages_durable_data() {
                damaged += fault_targets(&f.fault).len() as u64;
            }
            if let Fault::ElectionLoss { latency, .. } = &f.fault {
                latency.validate().map_err(|e| format!("fault #{}: election_loss latency: {e}", i + 1))?;
            }
            if let Fault::Partition { groups, .. } = &f.fault {
                if groups.len() < 2 {
                    return Err(format!("fault #{}: a partition needs at least two groups", i + 1));
                }
            }
        }
        if self.knobs.disk_budget == DiskBudget::Tolerated && damaged > c.minority() {
            return Err(format!(
                "faults damage durable data on {damaged} target(s), more than the tolerated budget of {} \
                 (a minority of {} voters); set knobs.disk_budget = \"unbounded\" to allow it",
                c.minority(),
                c.voters
            ));
        }
        Ok(())
    }

    /// Faults sorted by time, file order kept for equal times.
    pub fn schedule(&self) -> Vec<TimedFault> {
        let mut f = self.faults.clone();
        f.sort_by_key(|t| t.at_ns);
        f
    }
}

/// The targets a fault names (for validation and the disk budget).
pub fn fault_targets(f: &Fault) -> Vec<&Target> {
    match f {
        Fault::Partition { groups, .. } => groups.iter().flatten().collect(),
        Fault::Bridge { left, bridge, right } => {
            left.iter().chain(std::iter::once(bridge)).chain(right).collect()
        }
        Fault::CrashLoop { target, .. } => vec![target],
        Fault::Ring | Fault::RandomPartition | Fault::Heal | Fault::CutClients { .. } => Vec::new(),
        Fault::Reset { targets }
        | Fault::Clog { targets }
        | Fault::Unclog { targets }
        | Fault::Delay { targets, .. }
        | Fault::ElectionLoss { targets, .. }
        | Fault::Crash { targets }
        | Fault::Restart { targets }
        | Fault::Pause { targets, .. }
        | Fault::ClockJump { targets, .. }
        | Fault::ClockDrift { targets, .. }
        | Fault::DiskStall { targets, .. }
        | Fault::DiskDelay { targets, .. }
        | Fault::DiskErrors { targets, .. }
        | Fault::DiskFull { targets, .. }
        | Fault::DiskRepair { targets }
        | Fault::Misdirect { targets, .. }
        | Fault::CorruptAndRestart { targets }
        | Fault::WipeAndRejoin { targets }
        | Fault::CrashAt { targets, .. } => targets.iter().collect(),
    }
}

fn default_voters() -> u64 {
    3
}
fn default_tick() -> u64 {
    100 * NS_PER_MS
}
fn default_init_limit() -> u32 {
    10
}
fn default_sync_limit() -> u32 {
    5
}
fn default_net_latency() -> Latency {
    Latency::LongTail {
        min_ns: 100_000,
        max_ns: 2 * NS_PER_MS,
        tail: Ratio::new(1, 100),
        tail_factor_max: 20,
    }
}
fn default_disk() -> DiskKnobs {
    DiskKnobs::healthy(Latency::LongTail {
        min_ns: 50_000,
        max_ns: NS_PER_MS,
        tail: Ratio::new(1, 200),
        tail_factor_max: 50,
    })
}
fn yes() -> bool {
    true
}
fn never() -> Ratio {
    Ratio::NEVER
}
fn default_liveness() -> u64 {
    60 * NS_PER_S
}
fn default_digest() -> u64 {
    NS_PER_S
}
fn default_clients() -> u32 {
    4
}
fn default_duration() -> u64 {
    10 * NS_PER_S
}
fn default_keys() -> u32 {
    8
}
fn default_think() -> u64 {
    5 * NS_PER_MS
}
fn default_session_timeout() -> u64 {
    4 * NS_PER_S
}
fn default_watch() -> Ratio {
    Ratio::new(1, 4)
}
