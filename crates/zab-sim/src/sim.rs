//! The run loop: servers, clients, network, disks and faults on one simulated timeline.
//!
//! [`run`] takes a seed and a [`RunPlan`] and returns a [`Report`]. It is a pure function of the
//! two: every random choice comes from the [`SeedTree`] of the seed, every tie in time is broken
//! by the event queue's sequence numbers, and nothing reads the OS.
//!
//! A run has two phases. The **safety phase** lasts the workload's duration: clients issue
//! requests and the plan's faults fire at their times. The **liveness phase** then heals the
//! network, resumes paused servers, restarts crashed ones (wiping a disk the server refuses to
//! recover from after a fault damaged it, under the tolerated budget; refusing an undamaged disk
//! fails the run as `node-cannot-restart`) and requires, within the plan's bound, one
//! established leader followed by a quorum, every live server caught up, and every client request
//! answered. Invariants are checked after every event; acknowledged writes and convergence at the
//! end.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::Rng;
use zab_client::{
    Client, ClientAction, ClientConfig, ClientError, ClientInput, ClientOut, ConnectString, ServerIndex,
};
use zab_core::config::SourceText;
use zab_core::election::Notification;
use zab_core::messages::QuorumPacket;
use zab_core::{
    Action, ConnId, CoreEvent, DiskError, DiskImage, DiskOp, Input, IoId, Out, Phase, Replica, Role,
    ServerId, Status, ValidConfig,
};
use zab_trace::{Event, Outcome, Record};
use zab_tree::proto::{ConnectRequest, ConnectResponse, ReplyHeader, Request, Response, WatchEvent};
use zab_tree::Zxid;

use crate::check::{Invariants, Violation};
use crate::disk::{Completion, Disk, DiskFailure, FileOp, Poll};
use crate::history::{self, ClientCheck, ClientHistory};
use crate::net::{Addr, Channel, Dir, LinkId, Network, Wake};
use crate::plan::{CrashPoint, DiskBudget, Fault, LoadMode, RunPlan, Target};
use crate::queue::EventQueue;
use crate::rng::{Latency, Ratio, SeedTree};
use crate::time::{NodeClock, SimTime, NS_PER_MS, NS_PER_S};
use crate::workload;

/// How much of the trace a run keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceMode {
    /// Nothing (benchmarks).
    Off,
    /// Only the running hash of the serialized records (determinism checks).
    Hash,
    /// Every record.
    Keep,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    Pass,
    /// An invariant or end check failed.
    Safety,
    /// The liveness phase did not reach a healthy cluster in time.
    Liveness,
}

/// Counters for status and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub events: u64,
    pub messages: u64,
    pub client_ops: u64,
    pub client_writes_ok: u64,
    pub disk_requests: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub refused_recoveries: u64,
    pub client_anomalies: u64,
}

/// A server's state at the end of a run (what `srvr` would print).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeReport {
    pub id: u64,
    /// `leader`, `follower`, `observer`, `looking`, `standalone`, or `down`.
    pub mode: String,
    pub epoch: u32,
    pub last_committed: u64,
    pub digest: Option<u64>,
    /// Why recovery refused this server's disk, if it did.
    pub refused: Option<String>,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Report {
    pub outcome: RunOutcome,
    pub violation: Option<Violation>,
    /// Every record, when the trace mode was `Keep`.
    pub records: Vec<Record>,
    /// FNV-1a over the serialized records (0 when the trace mode was `Off`).
    pub trace_hash: u64,
    pub record_count: u64,
    pub sim_time: SimTime,
    pub stats: SimStats,
    pub nodes: Vec<NodeReport>,
    /// One line per role/phase transition (when asked for).
    pub status_lines: Vec<String>,
    /// The end-of-run check of the client history against ZooKeeper's guarantee (`None` when
    /// the run stopped at an earlier safety violation).
    pub client_check: Option<ClientCheck>,
}

/// What to run and how much to record.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub seed: u64,
    pub plan: RunPlan,
    pub trace: TraceMode,
    /// Collect one status line per transition.
    pub status: bool,
}

/// Runs one seed of a plan to the end.
pub fn run(cfg: &RunConfig) -> Result<Report, String> {
    let mut sim = Sim::new(cfg)?;
    sim.run_to_end();
    Ok(sim.into_report())
}

/// Builds each server's configuration from the plan (ensemble builder or zoo.cfg text), with
/// the plan's `sync` rule.
pub fn server_configs(plan: &RunPlan) -> Result<Vec<ValidConfig>, String> {
    let quorum = plan.cluster.sync == crate::plan::SyncRule::Quorum;
    Ok(base_server_configs(plan)?.into_iter().map(|config| config.with_quorum_sync(quorum)).collect())
}

fn base_server_configs(plan: &RunPlan) -> Result<Vec<ValidConfig>, String> {
    let c = &plan.cluster;
    if let Some(text) = &c.zoo_cfg_text {
        let ids = {
            let loaded = ValidConfig::parse(SourceText { name: "zoo.cfg", text }, None)
                .map_err(|e| format!("zoo.cfg: {e}"))?;
            loaded.config.servers().keys().map(|s| s.0).collect::<Vec<_>>()
        };
        let expected: Vec<u64> = (1..=ids.len() as u64).collect();
        if ids != expected {
            return Err(format!(
                "zoo.cfg: server ids must be 1..={} for the simulator, found {ids:?}",
                ids.len()
            ));
        }
        ids.iter()
            .map(|id| {
                let myid = id.to_string();
                ValidConfig::parse(
                    SourceText { name: "zoo.cfg", text },
                    Some(SourceText { name: "myid", text: &myid }),
                )
                .map(|l| l.config)
                .map_err(|e| format!("zoo.cfg: {e}"))
            })
            .collect()
    } else {
        let tick_ms =
            u32::try_from(c.tick_time_ns / NS_PER_MS).map_err(|_| "tick_time too large".to_string())?;
        let configs = (1..=c.servers()).map(|id| {
            let config = ValidConfig::ensemble(c.voters, c.observers, ServerId(id)).with_ticks(
                tick_ms,
                c.init_limit,
                c.sync_limit,
            );
            match c.initial_zxid_counter {
                Some(counter) => {
                    config.with_extra_key("zookeeper.testingonly.initialZxid", &format!("{counter:#x}"))
                }
                None => config,
            }
        });
        configs
            .map(|config| match c.snap_count {
                Some(n) => config
                    .with_settings(|s| s.snap_count = n)
                    .map_err(|e| format!("cluster.snap_count = {n}: {e:?}")),
                None => Ok(config),
            })
            .collect()
    }
}

// ------------------------------------------------------------------------------------------------

/// What travels on a connection.
#[derive(Debug)]
enum Msg {
    /// The acceptor's first message: the connection is up (delivered in FIFO order, so nothing
    /// the acceptor sends can overtake it).
    Accept,
    /// The sender closed the connection; anything it sent before arrives first.
    Close,
    Quorum(QuorumPacket),
    ConnectReq(ConnectRequest),
    Request {
        xid: i32,
        request: Request,
    },
    ConnectResp(ConnectResponse),
    Reply {
        header: ReplyHeader,
        response: Option<Response>,
    },
    Notify {
        event: WatchEvent,
        zxid: Zxid,
    },
}

impl Msg {
    fn summary(&self) -> String {
        match self {
            Msg::Accept => "ACCEPT".to_string(),
            Msg::Close => "CLOSE".to_string(),
            Msg::Quorum(p) => p.summary(),
            Msg::ConnectReq(r) => format!("CONNECT session {:#x}", r.session_id.0),
            Msg::Request { xid, request } => format!("REQUEST xid {xid} {}", request_name(request)),
            Msg::ConnectResp(r) => {
                format!("CONNECTED session {:#x} timeout {}", r.session_id.0, r.timeout_ms)
            }
            Msg::Reply { header, .. } => {
                format!("REPLY xid {} zxid {:#x} {:?}", header.xid, header.zxid.0, header.err)
            }
            Msg::Notify { event, zxid } => {
                format!("WATCH {:?} {} zxid {:#x}", event.event_type, event.path, zxid.0)
            }
        }
    }
}

enum Ev {
    NodeTimer {
        node: u64,
        inc: u64,
    },
    /// Boxed: an `Input` is large, and every event is moved several times inside the heap.
    NodeInput {
        node: u64,
        inc: u64,
        input: Box<Input>,
    },
    ConnectArrive {
        from: u64,
        to: u64,
        inc: u64,
    },
    NetWake(Dir),
    DiskWake {
        node: u64,
        inc: u64,
    },
    ClientTimer(u32),
    ClientOp(u32),
    ClientConnectArrive {
        client: u32,
        server: u64,
    },
    ClientFail {
        client: u32,
        server: u64,
    },
    Fault(usize),
    Resume {
        node: u64,
        inc: u64,
    },
    SupervisorRestart {
        node: u64,
        inc: u64,
    },
    CrashLoop {
        node: u64,
        left: u32,
        down_ns: u64,
        up_ns: u64,
        crash_now: bool,
    },
    Digest,
    EndSafety,
    LivenessCheck,
}

struct Node {
    id: u64,
    config: ValidConfig,
    replica: Option<Replica>,
    /// Incremented at every crash, so that events for a dead incarnation are ignored.
    inc: u64,
    clock: NodeClock,
    disk: Disk<IoId>,
    paused: bool,
    backlog: VecDeque<Input>,
    timer_at: Option<SimTime>,
    /// The current quorum connection with each peer.
    peers: BTreeMap<u64, LinkId>,
    /// Client connections: connection id (the link number) → (link, client).
    conns: BTreeMap<u64, (LinkId, u32)>,
    corrupt_next_read: bool,
    /// When the latest election notification from each peer reached this server.
    election_heard: BTreeMap<u64, SimTime>,
    refused: Option<String>,
    status: Option<Status>,
}

struct SimClient {
    id: u32,
    client: Client,
    /// The connection the client has, and to which server.
    link: Option<(LinkId, u64)>,
    n: u64,
    done: bool,
    /// The instant of the client's pending timer event (stale events are ignored).
    timer_at: Option<SimTime>,
    /// The one server a pinned client's connect string names.
    pinned: Option<u64>,
}

struct TraceSink {
    mode: TraceMode,
    records: Vec<Record>,
    hash: u64,
    count: u64,
    buf: Vec<u8>,
}

impl TraceSink {
    fn on(&self) -> bool {
        self.mode != TraceMode::Off
    }

    fn push(&mut self, t: SimTime, ev: Event) {
        let i = self.count;
        self.count += 1;
        if self.mode == TraceMode::Off {
            return;
        }
        self.buf.clear();
        zab_trace::write_record(&mut self.buf, i, t.0, &ev).expect("writing to a Vec cannot fail");
        self.hash = fnv1a(self.hash, &self.buf);
        if self.mode == TraceMode::Keep {
            self.records.push(Record { i, t: t.0, ev });
        }
    }
}

/// FNV-1a, 64 bit: a stable hash for trace digests (std's hasher is randomly keyed).
pub fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The FNV-1a starting value.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

#[derive(Clone, Copy, PartialEq, Eq)]
enum RunPhase {
    Safety,
    Liveness,
    Done,
}

struct Sim {
    plan: RunPlan,
    now: SimTime,
    queue: EventQueue<Ev>,
    seeds: SeedTree,
    net: Network<Msg>,
    nodes: Vec<Node>,
    clients: Vec<SimClient>,
    out: Out,
    cout: ClientOut,
    inv: Invariants,
    check_invariants: bool,
    /// Kept in every trace mode for the end-of-run consistency check.
    history: ClientHistory,
    client_check: Option<ClientCheck>,
    violation: Option<Violation>,
    /// The liveness checker that failed and why.
    liveness_failed: Option<Violation>,
    trace: TraceSink,
    stats: SimStats,
    status_lines: Option<Vec<String>>,
    phase: RunPhase,
    safety_end: SimTime,
    hard_end: SimTime,
    schedule: Vec<crate::plan::TimedFault>,
    cut_clients: BTreeSet<u32>,
    /// Servers whose election notifications are lost or delayed: id → (until, loss chance, extra
    /// latency). Lifted when it expires or the liveness phase starts.
    election_loss: BTreeMap<u64, (SimTime, Ratio, Latency)>,
    /// `state-agreement`: the tree digest some server held right after applying each zxid
    /// (zxid → (digest, server)).
    state_at: BTreeMap<u64, (u64, u64)>,
    /// Servers whose disk may have returned wrong bytes (misdirected writes, read corruption):
    /// their state is not compared.
    untrusted_disks: BTreeSet<u64>,
    /// Servers a fault damaged the durable data of (wiped, corrupted, misdirected writes): they may
    /// refuse their disk; any other server must restart from it (`node-cannot-restart`).
    damaged_disks: BTreeSet<u64>,
    /// The plan's mutation, switched on in every replica when it starts.
    #[cfg(feature = "mutations")]
    mutation: Option<zab_core::Mutation>,
    /// `session-id-unique`: the client each session id was first handed to (id → client).
    session_owner: BTreeMap<u64, u32>,
    /// Armed protocol-point crashes: (servers, point, downtime).
    armed: Vec<(Vec<u64>, CrashPoint, u64)>,
    /// A protocol-point crash due once the current step's actions are performed: (server, downtime).
    crash_after_step: Option<(u64, u64)>,
}

/// A server that cannot be reached answers a connect only after this long.
const CONNECT_TIMEOUT_NS: u64 = NS_PER_S;
/// How far back the starvation exemption looks at who a LOOKING server heard from: far longer
/// than one exchange of notifications, far shorter than the liveness phase.
const STARVATION_WINDOW_NS: u64 = NS_PER_S;
/// A server that halted (a real one would exit) is started again this long after.
const SUPERVISOR_RESTART_NS: u64 = NS_PER_S;
/// How often the liveness phase looks at the cluster.
const LIVENESS_POLL_NS: u64 = 50 * NS_PER_MS;

impl Sim {
    fn new(cfg: &RunConfig) -> Result<Sim, String> {
        let mut plan = cfg.plan.clone();
        plan.validate()?;
        let configs = server_configs(&plan)?;
        plan.cluster.voters = configs[0].voters().len() as u64;
        plan.cluster.observers = configs[0].observers().len() as u64;
        let mut seeds = SeedTree::new(cfg.seed, configs.len());
        let net = Network::new(plan.knobs.net_latency);
        let mut nodes = Vec::new();
        for (i, config) in configs.into_iter().enumerate() {
            let skew_max = i64::try_from(plan.knobs.clock_skew_ns_max).unwrap_or(i64::MAX);
            let skew = seeds.clock.gen_range(-skew_max..=skew_max);
            let d = i32::try_from(plan.knobs.clock_drift_ppm_max).unwrap_or(0);
            let drift = seeds.clock.gen_range(-d..=d);
            nodes.push(Node {
                id: i as u64 + 1,
                config,
                replica: None,
                inc: 0,
                clock: NodeClock::new(skew, drift),
                // A fresh server's disk holds only the `initialize` marker: it starts at zxid 0
                // and votes. (A wiped disk is empty: that server must rejoin from a leader.)
                disk: Disk::with_files(plan.knobs.disk, DiskImage::initialized().files),
                paused: false,
                backlog: VecDeque::new(),
                timer_at: None,
                peers: BTreeMap::new(),
                conns: BTreeMap::new(),
                corrupt_next_read: false,
                election_heard: BTreeMap::new(),
                refused: None,
                status: None,
            });
        }
        let hosts: Vec<String> = (1..=nodes.len()).map(|i| format!("zk{i}:2181")).collect();
        let connect = ConnectString::parse(&hosts.join(",")).map_err(|e| format!("connect string: {e:?}"))?;
        let timeout_ms =
            u32::try_from(plan.workload.session_timeout_ns / NS_PER_MS).unwrap_or(u32::MAX).max(1);
        let mut clients = Vec::new();
        for id in 0..plan.workload.clients {
            let seed = seeds.workload.gen();
            let pinned = (id < plan.workload.pinned).then(|| u64::from(id) % nodes.len() as u64 + 1);
            let connect = match pinned {
                Some(s) => ConnectString::parse(&format!("zk{s}:2181"))
                    .map_err(|e| format!("connect string: {e:?}"))?,
                None => connect.clone(),
            };
            let config = ClientConfig::new(connect, timeout_ms, seed);
            let client = Client::new(config).map_err(|e| format!("client {id}: {e}"))?;
            clients.push(SimClient { id, client, link: None, n: 0, done: false, timer_at: None, pinned });
        }
        let voters: Vec<u64> = (1..=plan.cluster.voters).collect();
        let safety_end = SimTime(plan.workload.duration_ns);
        let hard_end = safety_end.plus_ns(plan.knobs.liveness_bound_ns);
        let schedule = plan.schedule();
        let check_invariants = plan.checks.invariants;
        #[cfg(feature = "mutations")]
        let mutation = plan.cluster.resolved_mutation()?;
        Ok(Sim {
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            seeds,
            net,
            nodes,
            clients,
            out: Out::new(),
            cout: ClientOut::new(),
            inv: Invariants::new(voters),
            check_invariants,
            history: ClientHistory::new(),
            client_check: None,
            violation: None,
            liveness_failed: None,
            trace: TraceSink {
                mode: cfg.trace,
                records: Vec::new(),
                hash: FNV_OFFSET,
                count: 0,
                buf: Vec::new(),
            },
            stats: SimStats::default(),
            status_lines: cfg.status.then(Vec::new),
            phase: RunPhase::Safety,
            safety_end,
            hard_end,
            schedule,
            cut_clients: BTreeSet::new(),
            election_loss: BTreeMap::new(),
            state_at: BTreeMap::new(),
            untrusted_disks: BTreeSet::new(),
            damaged_disks: BTreeSet::new(),
            session_owner: BTreeMap::new(),
            #[cfg(feature = "mutations")]
            mutation,
            armed: Vec::new(),
            crash_after_step: None,
            plan,
        })
    }

    fn run_to_end(&mut self) {
        self.record(Event::RunPhase { name: "safety".to_string() });
        for id in 1..=self.nodes.len() as u64 {
            self.start_node(id);
        }
        for c in 0..self.clients.len() as u32 {
            // Stagger the clients' first steps a little so they do not move in lockstep.
            let at = SimTime(self.seeds.workload.gen_range(0..10 * NS_PER_MS));
            self.clients[c as usize].timer_at = Some(at);
            self.queue.push(at, Ev::ClientTimer(c));
            self.queue.push(at, Ev::ClientOp(c));
        }
        for i in 0..self.schedule.len() {
            self.queue.push(SimTime(self.schedule[i].at_ns), Ev::Fault(i));
        }
        if self.plan.knobs.digest_every_ns > 0 {
            self.queue.push(SimTime(self.plan.knobs.digest_every_ns), Ev::Digest);
        }
        self.queue.push(self.safety_end, Ev::EndSafety);
        while self.phase != RunPhase::Done {
            let Some((at, ev)) = self.queue.pop() else {
                // Nothing left to happen: the liveness phase cannot make progress.
                if self.phase == RunPhase::Liveness {
                    self.finish_liveness(false);
                } else {
                    self.phase = RunPhase::Done;
                }
                break;
            };
            debug_assert!(at >= self.now, "time went back from {} to {at}", self.now);
            self.now = at;
            self.stats.events += 1;
            self.handle(ev);
            if self.violation.is_some() {
                self.phase = RunPhase::Done;
            }
        }
        if self.violation.is_none() && self.liveness_failed.is_none() {
            self.end_checks();
        }
        if self.violation.is_none() {
            self.check_client_history();
        }
        for n in 1..=self.nodes.len() as u64 {
            self.record_digest(n);
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::NodeTimer { node, inc } => {
                let n = &mut self.nodes[node as usize - 1];
                if n.inc != inc || n.paused || n.timer_at != Some(self.now) {
                    return;
                }
                n.timer_at = None;
                self.step_node(node, Input::Timeout);
            }
            Ev::NodeInput { node, inc, input } => {
                let n = &mut self.nodes[node as usize - 1];
                if n.inc == inc {
                    if let (Input::Election { from, .. }, Some(_)) = (&*input, &n.replica) {
                        n.election_heard.insert(from.0, self.now);
                    }
                    self.deliver_node(node, *input);
                }
            }
            Ev::ConnectArrive { from, to, inc } => self.connect_arrive(from, to, inc),
            Ev::NetWake(dir) => match self.net.wake(self.now, dir) {
                Wake::Deliver { from, to, msg, next } => {
                    if let Some(t) = next {
                        self.queue.push(t, Ev::NetWake(dir));
                    }
                    self.stats.messages += 1;
                    self.deliver_msg(dir.link, from, to, msg);
                }
                Wake::Idle { next } => {
                    if let Some(t) = next {
                        self.queue.push(t, Ev::NetWake(dir));
                    }
                }
            },
            Ev::DiskWake { node, inc } => self.disk_wake(node, inc),
            Ev::ClientTimer(c) => self.client_timer(c),
            Ev::ClientOp(c) => self.client_op(c),
            Ev::ClientConnectArrive { client, server } => self.client_connect_arrive(client, server),
            Ev::ClientFail { client, server } => {
                if self.clients[client as usize].link.is_none() {
                    self.step_client(
                        client,
                        ClientInput::TransportFailed { server: self.client_index(client, server) },
                    );
                }
            }
            Ev::Fault(i) => {
                if self.phase == RunPhase::Safety {
                    let f = self.schedule[i].fault.clone();
                    self.apply_fault(&f);
                }
            }
            Ev::Resume { node, inc } => {
                if self.nodes[node as usize - 1].inc == inc {
                    self.resume(node);
                }
            }
            Ev::SupervisorRestart { node, inc } => {
                if self.nodes[node as usize - 1].inc == inc {
                    self.restart(node);
                }
            }
            Ev::CrashLoop { node, left, down_ns, up_ns, crash_now } => {
                if self.phase != RunPhase::Safety {
                    return;
                }
                if crash_now {
                    self.crash(node);
                    self.queue.push(
                        self.now.plus_ns(down_ns),
                        Ev::CrashLoop { node, left, down_ns, up_ns, crash_now: false },
                    );
                } else {
                    self.restart(node);
                    if left > 1 {
                        let ev = Ev::CrashLoop { node, left: left - 1, down_ns, up_ns, crash_now: true };
                        self.queue.push(self.now.plus_ns(up_ns), ev);
                    }
                }
            }
            Ev::Digest => {
                for n in 1..=self.nodes.len() as u64 {
                    self.record_digest(n);
                }
                self.queue.push(self.now.plus_ns(self.plan.knobs.digest_every_ns), Ev::Digest);
            }
            Ev::EndSafety => self.start_liveness(),
            Ev::LivenessCheck => {
                if self.phase != RunPhase::Liveness {
                    return;
                }
                if self.healthy() {
                    self.finish_liveness(true);
                } else if self.now >= self.hard_end {
                    self.finish_liveness(false);
                } else {
                    self.queue.push(self.now.plus_ns(LIVENESS_POLL_NS), Ev::LivenessCheck);
                }
            }
        }
    }

    // ----- servers -----

    fn start_node(&mut self, id: u64) {
        let i = id as usize - 1;
        let corrupt = std::mem::take(&mut self.nodes[i].corrupt_next_read);
        let (files, spot) = self.nodes[i].disk.read_back(corrupt, &mut self.seeds.disk);
        if let Some((file, at)) = spot {
            self.record(Event::DiskFault {
                node: id,
                fault: format!("read corruption in {file} at byte {at}"),
            });
        }
        let seed = if self.nodes[i].inc == 0 {
            self.seeds.replica_seeds[i]
        } else {
            self.seeds.replica_restart_seed()
        };
        let config = self.nodes[i].config.clone();
        self.nodes[i].clock.resume(self.now);
        match Replica::recover(config, DiskImage { files }, seed) {
            Ok(mut r) => {
                #[cfg(feature = "mutations")]
                if let Some(m) = self.mutation {
                    r.set_mutation(m, true);
                }
                let local = self.local_now(id);
                r.start(local, &mut self.out);
                self.nodes[i].replica = Some(r);
                self.nodes[i].refused = None;
                if self.nodes[i].inc > 0 {
                    self.stats.restarts += 1;
                    let recovered = self.nodes[i].replica.as_ref().map(|r| r.status().last_committed.0);
                    self.record(Event::Restart { node: id, recovered });
                }
                self.perform(id);
            }
            Err(e) => {
                self.stats.refused_recoveries += 1;
                self.record(Event::Restart { node: id, recovered: None });
                self.record(Event::DiskFault { node: id, fault: format!("recovery refused: {e}") });
                self.nodes[i].refused = Some(e.to_string());
                if self.plan.knobs.disk_budget == DiskBudget::Tolerated && !self.damaged_disks.contains(&id) {
                    // Crashes, torn unsynced writes and failed requests are what a server must
                    // survive: only a fault that damaged durable data excuses a refused disk.
                    self.fail(Violation {
                        checker: "node-cannot-restart".to_string(),
                        message: format!("server {id} refuses its own disk after a crash: {e}"),
                    });
                }
            }
        }
    }

    fn local_now(&mut self, id: u64) -> zab_core::Instant {
        zab_core::Instant(self.nodes[id as usize - 1].clock.local_ns(self.now))
    }

    /// Feeds an input to a server: dropped if it is down, queued if it is paused.
    fn deliver_node(&mut self, id: u64, input: Input) {
        let n = &mut self.nodes[id as usize - 1];
        if n.replica.is_none() {
            return;
        }
        if n.paused {
            n.backlog.push_back(input);
            return;
        }
        self.step_node(id, input);
    }

    fn step_node(&mut self, id: u64, input: Input) {
        let local = self.local_now(id);
        let Some(r) = self.nodes[id as usize - 1].replica.as_mut() else { return };
        r.step(local, input, &mut self.out);
        let halted = r.halted().is_some();
        self.perform(id);
        if halted {
            // A real server exits here (System.exit); its supervisor starts it again shortly.
            self.crash(id);
            let inc = self.nodes[id as usize - 1].inc;
            self.queue.push(self.now.plus_ns(SUPERVISOR_RESTART_NS), Ev::SupervisorRestart { node: id, inc });
        }
    }

    /// Performs the actions a server appended, in order, then re-arms its timer.
    fn perform(&mut self, id: u64) {
        let mut actions = std::mem::take(&mut self.out.actions);
        for a in actions.drain(..) {
            if matches!(&a, Action::Persist { ops, .. } if writes_current_epoch(ops))
                && self.reach_crash_point(id, CrashPoint::CurrentEpochWrite)
            {
                // The process dies as it starts the write: none of it, and nothing the step would
                // have done after it, happens.
                break;
            }
            self.perform_one(id, a);
        }
        self.out.actions = actions;
        self.arm_timer(id);
        self.check_state_agreement(id);
        if let Some((node, down_ns)) = self.crash_after_step.take() {
            self.crash(node);
            let inc = self.nodes[node as usize - 1].inc;
            self.queue.push(self.now.plus_ns(down_ns), Ev::SupervisorRestart { node, inc });
        }
    }

    /// Fires an armed protocol-point crash if server `id` just reached its point.
    fn check_crash_point(&mut self, id: u64, ev: &CoreEvent) {
        let point = match ev {
            CoreEvent::NewLeaderAcked { .. } => CrashPoint::NewleaderAck,
            CoreEvent::EpochPersisted { file: zab_core::EpochFile::Current, .. } => {
                CrashPoint::CurrentEpochWritten
            }
            CoreEvent::EpochPersisted { file: zab_core::EpochFile::Accepted, .. } => {
                CrashPoint::AcceptedEpochWritten
            }
            CoreEvent::SyncChosen { .. } => CrashPoint::SyncSent,
            CoreEvent::SnapInstalled { .. } => CrashPoint::SnapInstalled,
            CoreEvent::Truncated { .. } => CrashPoint::Truncated,
            CoreEvent::LeaderEstablished { .. } => CrashPoint::Established,
            CoreEvent::AckSent { zxid } if zxid.counter() != 0 => CrashPoint::ProposalAck,
            CoreEvent::Committed { .. } => CrashPoint::Commit,
            _ => return,
        };
        self.reach_crash_point(id, point);
    }

    /// Arms the crash after this step if a protocol-point crash waits for server `id` at `point`.
    /// Returns whether it did.
    fn reach_crash_point(&mut self, id: u64, point: CrashPoint) -> bool {
        if self.crash_after_step.is_some() {
            return false;
        }
        if let Some(i) = self.armed.iter().position(|(ids, p, _)| *p == point && ids.contains(&id)) {
            let (_, _, down_ns) = self.armed.remove(i);
            self.crash_after_step = Some((id, down_ns));
            return true;
        }
        false
    }

    /// `state-agreement`: zxids name txns uniquely (one leader per epoch), so every server whose
    /// tree has applied exactly the history up to zxid z holds the same tree. A server whose memory
    /// skipped a txn, kept one the others dropped, or replays a log that misses one, disagrees.
    fn check_state_agreement(&mut self, id: u64) {
        if !self.check_invariants || self.untrusted_disks.contains(&id) {
            return;
        }
        let Some(r) = self.nodes[id as usize - 1].replica.as_ref() else { return };
        let (zxid, digest) = (r.tree().last_processed_zxid().0, r.tree().digest());
        match self.state_at.get(&zxid) {
            Some(&(d, other)) if d != digest => self.fail(Violation {
                checker: "state-agreement".to_string(),
                message: format!(
                    "server {id} holds tree digest {digest:#x} after applying up to {zxid:#x}, server {other} \
                     held {d:#x}"
                ),
            }),
            Some(_) => {}
            None => {
                self.state_at.insert(zxid, (digest, id));
            }
        }
    }

    fn arm_timer(&mut self, id: u64) {
        let n = &mut self.nodes[id as usize - 1];
        let Some(deadline) = n.replica.as_ref().and_then(|r| r.next_deadline()) else {
            n.timer_at = None;
            return;
        };
        let at = n.clock.global_for_local(self.now, deadline.0);
        if n.timer_at != Some(at) {
            n.timer_at = Some(at);
            let inc = n.inc;
            self.queue.push(at, Ev::NodeTimer { node: id, inc });
        }
    }

    fn perform_one(&mut self, id: u64, a: Action) {
        let me = Addr::Server(id);
        match a {
            Action::Send { to, msg } => {
                let link = self.nodes[id as usize - 1].peers.get(&to.0).copied();
                match link {
                    Some(link) => self.send(link, me, Msg::Quorum(msg)),
                    None => self.net.stats.lost += 1,
                }
            }
            Action::SendElection { to, n } => self.send_election(id, to.0, n),
            Action::Connect { peer } => {
                let lat = self.plan.knobs.net_latency.sample(&mut self.seeds.network);
                let inc = self.nodes[id as usize - 1].inc;
                self.queue.push(self.now.plus_ns(lat), Ev::ConnectArrive { from: id, to: peer.0, inc });
            }
            Action::Disconnect { peer } => {
                if let Some(link) = self.nodes[id as usize - 1].peers.remove(&peer.0) {
                    self.send(link, me, Msg::Close);
                }
            }
            Action::Persist { io, ops } => {
                self.stats.disk_requests += 1;
                let ops = ops.into_iter().map(file_op).collect();
                let n = &mut self.nodes[id as usize - 1];
                if let Some(at) = n.disk.submit(self.now, io, ops, &mut self.seeds.disk) {
                    let inc = n.inc;
                    self.queue.push(at, Ev::DiskWake { node: id, inc });
                }
            }
            Action::ClientConnected { conn, response } => {
                self.send_client(id, conn, Msg::ConnectResp(response))
            }
            Action::Reply { conn, header, response } => {
                self.send_client(id, conn, Msg::Reply { header, response })
            }
            Action::Notify { conn, event, zxid } => self.send_client(id, conn, Msg::Notify { event, zxid }),
            Action::CloseClient { conn } => {
                if let Some((link, _)) = self.nodes[id as usize - 1].conns.remove(&conn.0) {
                    self.send(link, me, Msg::Close);
                }
            }
            Action::Event(ev) => self.core_event(id, ev),
        }
    }

    fn send(&mut self, link: LinkId, from: Addr, msg: Msg) {
        let reverse = self.net.ends(link).1 == from;
        if let Some(at) = self.net.send(self.now, link, from, msg, &mut self.seeds.network) {
            self.queue.push(at, Ev::NetWake(Dir { link, reverse }));
        }
    }

    fn send_client(&mut self, id: u64, conn: ConnId, msg: Msg) {
        if let Some(&(link, _)) = self.nodes[id as usize - 1].conns.get(&conn.0) {
            self.send(link, Addr::Server(id), msg);
        }
    }

    /// Election notifications are best effort: delivered after one latency if the peer is
    /// reachable now, dropped otherwise (the election retransmits).
    fn send_election(&mut self, from: u64, to: u64, n: Notification) {
        if to == 0
            || to as usize > self.nodes.len()
            || !self.net.can_reach(Addr::Server(from), Addr::Server(to))
        {
            return;
        }
        let mut lat = self.plan.knobs.net_latency.sample(&mut self.seeds.network);
        // The fault's draws come from the fault stream, so a run without the fault draws exactly
        // what it drew before the fault existed.
        for end in [from, to] {
            if let Some(&(until, chance, extra)) = self.election_loss.get(&end) {
                if self.now < until {
                    if chance.chance(&mut self.seeds.faults) {
                        return;
                    }
                    lat += extra.sample(&mut self.seeds.faults);
                }
            }
        }
        let inc = self.nodes[to as usize - 1].inc;
        let input = Input::Election { from: ServerId(from), n };
        self.queue.push(self.now.plus_ns(lat), Ev::NodeInput { node: to, inc, input: Box::new(input) });
    }

    fn connect_arrive(&mut self, from: u64, to: u64, inc: u64) {
        if self.nodes[from as usize - 1].inc != inc || self.nodes[from as usize - 1].replica.is_none() {
            return;
        }
        let reachable = to >= 1
            && to as usize <= self.nodes.len()
            && self.net.can_reach(Addr::Server(from), Addr::Server(to))
            && self.net.can_reach(Addr::Server(to), Addr::Server(from));
        let up = reachable && self.nodes[to as usize - 1].replica.is_some();
        if !up {
            // Refused at once by a live host whose server is down; silence across a partition.
            let delay = if reachable {
                self.plan.knobs.net_latency.sample(&mut self.seeds.network)
            } else {
                CONNECT_TIMEOUT_NS
            };
            let input = Input::ConnectFailed { peer: ServerId(to) };
            self.queue
                .push(self.now.plus_ns(delay), Ev::NodeInput { node: from, inc, input: Box::new(input) });
            return;
        }
        let (link, replaced) = self.net.open(Channel::Quorum, Addr::Server(from), Addr::Server(to));
        if let Some(old) = replaced {
            self.forget_link(old);
        }
        self.nodes[to as usize - 1].peers.insert(from, link);
        self.send(link, Addr::Server(to), Msg::Accept);
        self.deliver_node(to, Input::Connected { peer: ServerId(from) });
    }

    /// A link was reset: each end that still considers it current learns that it is gone.
    fn forget_link(&mut self, link: LinkId) {
        let (a, b, chan) = self.net.ends(link);
        for (me, other) in [(a, b), (b, a)] {
            match (me, other, chan) {
                (Addr::Server(m), Addr::Server(o), _) => {
                    let n = &mut self.nodes[m as usize - 1];
                    if n.peers.get(&o) == Some(&link) {
                        n.peers.remove(&o);
                        self.deliver_node(m, Input::Disconnected { peer: ServerId(o) });
                    }
                }
                (Addr::Server(m), Addr::Client(_), _) => {
                    if self.nodes[m as usize - 1].conns.remove(&link.0).is_some() {
                        self.deliver_node(m, Input::ClientClosed { conn: ConnId(link.0) });
                    }
                }
                (Addr::Client(c), Addr::Server(s), _) => {
                    if self.clients[c as usize].link == Some((link, s)) {
                        self.clients[c as usize].link = None;
                        self.step_client(c, ClientInput::TransportClosed { server: self.client_index(c, s) });
                    }
                }
                (Addr::Client(_), Addr::Client(_), _) => unreachable!("no client-to-client links"),
            }
        }
    }

    fn reset_link(&mut self, link: LinkId) {
        if self.net.reset(link).is_some() {
            if self.trace.on() {
                let (a, b, _) = self.net.ends(link);
                self.record(Event::Reset { a: a.to_string(), b: b.to_string() });
            }
            self.forget_link(link);
        }
    }

    fn deliver_msg(&mut self, link: LinkId, from: Addr, to: Addr, msg: Msg) {
        if self.trace.on() {
            self.record(Event::Deliver { from: from.to_string(), to: to.to_string(), msg: msg.summary() });
        }
        match (from, to) {
            (Addr::Server(p), Addr::Server(me)) => {
                let current = self.nodes[me as usize - 1].peers.get(&p) == Some(&link);
                match msg {
                    // The opener learns the connection is up.
                    Msg::Accept if self.nodes[me as usize - 1].replica.is_some() => {
                        let old = self.nodes[me as usize - 1].peers.insert(p, link);
                        if let Some(old) = old.filter(|o| *o != link) {
                            self.reset_link(old);
                        }
                        self.deliver_node(me, Input::Connected { peer: ServerId(p) });
                    }
                    Msg::Close => {
                        if current {
                            self.nodes[me as usize - 1].peers.remove(&p);
                            self.deliver_node(me, Input::Disconnected { peer: ServerId(p) });
                        }
                        self.net.reset(link);
                    }
                    Msg::Quorum(msg) if current => {
                        self.deliver_node(me, Input::Received { from: ServerId(p), msg })
                    }
                    _ => {}
                }
            }
            (Addr::Client(_), Addr::Server(me)) => {
                let conn = ConnId(link.0);
                if !self.nodes[me as usize - 1].conns.contains_key(&link.0) {
                    return;
                }
                match msg {
                    Msg::ConnectReq(request) => self.deliver_node(me, Input::ClientConnect { conn, request }),
                    Msg::Request { xid, request } => {
                        self.deliver_node(me, Input::Client { conn, xid, request })
                    }
                    Msg::Close => {
                        self.nodes[me as usize - 1].conns.remove(&link.0);
                        self.net.reset(link);
                        self.deliver_node(me, Input::ClientClosed { conn });
                    }
                    _ => {}
                }
            }
            (Addr::Server(s), Addr::Client(c)) => {
                if self.clients[c as usize].link != Some((link, s)) {
                    return;
                }
                let server = self.client_index(c, s);
                let input = match msg {
                    Msg::Accept => ClientInput::TransportConnected { server },
                    Msg::ConnectResp(response) => ClientInput::ConnectResponse { server, response },
                    Msg::Reply { header, response } => ClientInput::Reply { server, header, response },
                    Msg::Notify { event, zxid } => ClientInput::Notification { server, event, zxid },
                    Msg::Close => {
                        self.clients[c as usize].link = None;
                        self.net.reset(link);
                        ClientInput::TransportClosed { server }
                    }
                    _ => return,
                };
                self.step_client(c, input);
            }
            (Addr::Client(_), Addr::Client(_)) => unreachable!("no client-to-client links"),
        }
    }

    fn disk_wake(&mut self, id: u64, inc: u64) {
        let n = &mut self.nodes[id as usize - 1];
        if n.inc != inc {
            return;
        }
        match n.disk.poll(self.now, &mut self.seeds.disk) {
            Poll::Wait { next } => {
                if let Some(t) = next {
                    self.queue.push(t, Ev::DiskWake { node: id, inc });
                }
            }
            Poll::Done { completion, next } => {
                if let Some(t) = next {
                    self.queue.push(t, Ev::DiskWake { node: id, inc });
                }
                let Completion { token: io, result, misdirected } = completion;
                if misdirected {
                    self.record(Event::DiskFault { node: id, fault: "misdirected write".to_string() });
                }
                let input = match result {
                    Ok(()) => Input::Persisted { io },
                    Err(f) => {
                        let error = match f {
                            DiskFailure::Io => DiskError::Io,
                            DiskFailure::NoSpace => DiskError::NoSpace,
                        };
                        self.record(Event::DiskFault { node: id, fault: format!("{error:?} on write") });
                        Input::PersistFailed { io, error }
                    }
                };
                self.deliver_node(id, input);
            }
        }
    }

    fn core_event(&mut self, id: u64, ev: CoreEvent) {
        if !self.armed.is_empty() {
            self.check_crash_point(id, &ev);
        }
        let e = match ev {
            CoreEvent::Transition(s) => {
                if let Some(lines) = self.status_lines.as_mut() {
                    lines.push(status_line(self.now, &s));
                }
                let e = Event::Role {
                    node: id,
                    role: trace_role(s.role),
                    phase: trace_phase(s.phase),
                    accepted_epoch: s.accepted_epoch.0,
                    current_epoch: s.current_epoch.0,
                    last_logged: s.last_logged.map(|z| z.0),
                    committed: s.last_committed.0,
                };
                self.nodes[id as usize - 1].status = Some(s);
                e
            }
            CoreEvent::ElectionDecided { leader, round } => {
                Event::ElectionDecided { node: id, leader: leader.0, round }
            }
            CoreEvent::EpochPersisted { file, epoch } => Event::EpochPersisted {
                node: id,
                file: match file {
                    zab_core::EpochFile::Accepted => zab_trace::EpochFile::Accepted,
                    zab_core::EpochFile::Current => zab_trace::EpochFile::Current,
                },
                epoch: epoch.0,
            },
            CoreEvent::LeaderInfoSent { peer, epoch } => {
                Event::LeaderInfoSent { node: id, peer: peer.0, epoch: epoch.0 }
            }
            CoreEvent::LeaderEstablished { epoch, acks } => Event::LeaderEstablished {
                node: id,
                epoch: epoch.0,
                acks: acks.iter().map(|a| a.0).collect(),
            },
            CoreEvent::SyncChosen { peer, mode, peer_zxid, leader_zxid, trunc_to } => Event::SyncChosen {
                node: id,
                peer: peer.0,
                mode: match mode {
                    zab_core::SyncMode::Diff => zab_trace::SyncMode::Diff,
                    zab_core::SyncMode::Trunc => zab_trace::SyncMode::Trunc,
                    zab_core::SyncMode::TruncDiff => zab_trace::SyncMode::TruncDiff,
                    zab_core::SyncMode::Snap => zab_trace::SyncMode::Snap,
                },
                peer_zxid: peer_zxid.0,
                leader_zxid: leader_zxid.0,
                trunc_to: trunc_to.map(|z| z.0),
            },
            CoreEvent::NewLeaderAcked { epoch } => Event::NewLeaderAcked { node: id, epoch: epoch.0 },
            CoreEvent::Logged { zxid, hash } => Event::Logged { node: id, zxid: zxid.0, hash },
            CoreEvent::Truncated { to } => Event::Truncated { node: id, to: to.0 },
            CoreEvent::SnapInstalled { zxid } => Event::SnapInstalled { node: id, zxid: zxid.0 },
            CoreEvent::Durable { upto } => Event::Durable { node: id, upto: upto.0 },
            CoreEvent::AckSent { zxid } => Event::AckSent { node: id, zxid: zxid.0 },
            CoreEvent::Committed { zxid, acks } => {
                Event::Committed { node: id, zxid: zxid.0, acks: acks.iter().map(|a| a.0).collect() }
            }
            CoreEvent::Applied { zxid, hash } => Event::Applied { node: id, zxid: zxid.0, hash },
            CoreEvent::SessionClosed { session, zxid, expired } => Event::SessionClosed {
                node: id,
                session,
                zxid: zxid.0,
                reason: if expired {
                    zab_trace::CloseReason::Expired
                } else {
                    zab_trace::CloseReason::Closed
                },
            },
            CoreEvent::Error { message } => Event::ServerError { node: id, message },
        };
        self.record(e);
    }

    // ----- clients -----

    fn step_client(&mut self, c: u32, input: ClientInput) {
        let now = zab_client::Instant(self.now.0);
        let before = self.clients[c as usize].client.session_id().0;
        self.clients[c as usize].client.step(now, input, &mut self.cout);
        let after = self.clients[c as usize].client.session_id().0;
        if after != before && after != 0 {
            self.note_session(c, after);
        }
        self.perform_client(c);
    }

    /// A client was handed session `id`: no other client may ever hold the same id (a server
    /// derives ids from its id and its monotonic clock; two clients on one session see each
    /// other's replies and watches).
    fn note_session(&mut self, c: u32, id: u64) {
        let owner = *self.session_owner.entry(id).or_insert(c);
        if owner != c {
            self.fail(Violation {
                checker: "session-id-unique".to_string(),
                message: format!("client {c} was given session {id:#x}, already client {owner}'s"),
            });
        }
    }

    fn client_timer(&mut self, c: u32) {
        let cl = &mut self.clients[c as usize];
        // Only the latest scheduled wake-up counts; earlier ones were superseded.
        if cl.timer_at != Some(self.now) {
            return;
        }
        cl.timer_at = None;
        match cl.client.next_deadline() {
            Some(d) if d.0 <= self.now.0 => self.step_client(c, ClientInput::Timeout),
            _ => self.arm_client_timer(c),
        }
    }

    fn arm_client_timer(&mut self, c: u32) {
        let cl = &mut self.clients[c as usize];
        let Some(d) = cl.client.next_deadline() else {
            cl.timer_at = None;
            return;
        };
        let at = SimTime(d.0.max(self.now.0));
        if cl.timer_at != Some(at) {
            cl.timer_at = Some(at);
            self.queue.push(at, Ev::ClientTimer(c));
        }
    }

    fn client_op(&mut self, c: u32) {
        if self.phase != RunPhase::Safety || self.clients[c as usize].done {
            return;
        }
        let w = self.plan.workload.clone();
        if self.clients[c as usize].client.state().is_final() {
            self.clients[c as usize].done = true;
            return;
        }
        let servers = self.nodes.len();
        if w.move_session.chance(&mut self.seeds.workload) {
            let drawn = self.seeds.workload.gen_range(0..servers) as u64 + 1;
            let target = self.client_index(c, drawn);
            let now = zab_client::Instant(self.now.0);
            if self.clients[c as usize].client.move_to(now, target, &mut self.cout).is_ok() {
                self.perform_client(c);
            }
        }
        let n = self.clients[c as usize].n;
        self.clients[c as usize].n += 1;
        let request = workload::next_request(&w, c, n, &mut self.seeds.workload);
        if w.mode == LoadMode::Open {
            let think = w.think_ns;
            self.queue.push(self.now.plus_ns(think), Ev::ClientOp(c));
        }
        let now = zab_client::Instant(self.now.0);
        let cl = &mut self.clients[c as usize];
        let xid = cl.client.submit(now, request.clone(), &mut self.cout);
        let session = cl.client.session_id().0;
        let server = cl.link.map_or(0, |(_, s)| s);
        self.stats.client_ops += 1;
        self.history.invoke(c, session, xid.0, &request);
        self.record(Event::Invoke { client: c, session, xid: xid.0, server, op: request });
        self.perform_client(c);
    }

    /// Server `s`'s place in client `c`'s connect string (a pinned client's names only its own).
    fn client_index(&self, c: u32, s: u64) -> ServerIndex {
        match self.clients[c as usize].pinned {
            Some(_) => ServerIndex(0),
            None => ServerIndex(s as usize - 1),
        }
    }

    fn perform_client(&mut self, c: u32) {
        let mut actions = std::mem::take(&mut self.cout.actions);
        for a in actions.drain(..) {
            self.perform_client_one(c, a);
        }
        self.cout.actions = actions;
        self.arm_client_timer(c);
    }

    fn perform_client_one(&mut self, c: u32, a: ClientAction) {
        let me = Addr::Client(c);
        match a {
            ClientAction::Connect { server } => {
                // The connect string lists zk1..zkN in order, or a pinned client's one server.
                let s = self.clients[c as usize].pinned.unwrap_or(server.0 as u64 + 1);
                let lat = self.plan.knobs.net_latency.sample(&mut self.seeds.network);
                self.queue.push(self.now.plus_ns(lat), Ev::ClientConnectArrive { client: c, server: s });
            }
            ClientAction::SendConnect { request, .. } => {
                if let Some((link, _)) = self.clients[c as usize].link {
                    self.send(link, me, Msg::ConnectReq(request));
                }
            }
            ClientAction::Send { xid, request, .. } => {
                if let Some((link, _)) = self.clients[c as usize].link {
                    self.send(link, me, Msg::Request { xid: xid.0, request });
                }
            }
            ClientAction::Close { .. } => {
                if let Some((link, _)) = self.clients[c as usize].link.take() {
                    self.send(link, me, Msg::Close);
                }
            }
            ClientAction::Completed { xid, request, result } => {
                let session = self.clients[c as usize].client.session_id().0;
                let (zxid, outcome) = match result {
                    Ok((response, zxid)) => {
                        if workload::is_write(&request) {
                            self.stats.client_writes_ok += 1;
                        }
                        (Some(zxid.0), Outcome::Ok { response })
                    }
                    Err(e) => (None, client_outcome(&e)),
                };
                self.history.complete(c, session, xid.0, zxid, &outcome);
                self.record(Event::Complete { client: c, session, xid: xid.0, zxid, result: outcome });
                if self.plan.workload.mode == LoadMode::Closed && xid.0 > 0 {
                    let think = self.plan.workload.think_ns;
                    self.queue.push(self.now.plus_ns(think), Ev::ClientOp(c));
                }
            }
            ClientAction::Watch { event } => {
                let session = self.clients[c as usize].client.session_id().0;
                self.record(Event::Watch { client: c, session, event, zxid: None });
            }
            ClientAction::State(_) => {}
            ClientAction::Anomaly(_) => self.stats.client_anomalies += 1,
        }
    }

    fn client_connect_arrive(&mut self, c: u32, s: u64) {
        let reachable = !self.cut_clients.contains(&c)
            && self.net.can_reach(Addr::Client(c), Addr::Server(s))
            && self.net.can_reach(Addr::Server(s), Addr::Client(c));
        let up = reachable && self.nodes[s as usize - 1].replica.is_some();
        if !up {
            if reachable {
                let lat = self.plan.knobs.net_latency.sample(&mut self.seeds.network);
                self.queue.push(self.now.plus_ns(lat), Ev::ClientFail { client: c, server: s });
            }
            // Unreachable: the client's own connect timeout gives up.
            return;
        }
        let (link, _) = self.net.open(Channel::Client, Addr::Client(c), Addr::Server(s));
        if let Some((old, _)) = self.clients[c as usize].link.replace((link, s)) {
            self.reset_link(old);
        }
        self.nodes[s as usize - 1].conns.insert(link.0, (link, c));
        self.send(link, Addr::Server(s), Msg::Accept);
    }

    // ----- faults -----

    fn apply_fault(&mut self, f: &Fault) {
        match f {
            Fault::Partition { groups, oneway } => {
                let resolved = self.resolve_groups(groups);
                for (i, gi) in resolved.iter().enumerate() {
                    for (j, gj) in resolved.iter().enumerate() {
                        if i == j || (*oneway && j < i) {
                            continue;
                        }
                        for a in gi {
                            for b in gj {
                                self.net.block(Addr::Server(*a), Addr::Server(*b));
                            }
                        }
                    }
                }
                self.record(Event::Partition { groups: resolved, oneway: *oneway });
            }
            Fault::Bridge { left, bridge, right } => {
                let l = self.resolve(left);
                let r = self.resolve(right);
                let b = self.resolve(std::slice::from_ref(bridge));
                let l: Vec<u64> = l.into_iter().filter(|x| !b.contains(x)).collect();
                let r: Vec<u64> = r.into_iter().filter(|x| !b.contains(x) && !l.contains(x)).collect();
                for a in &l {
                    for z in &r {
                        self.net.block(Addr::Server(*a), Addr::Server(*z));
                        self.net.block(Addr::Server(*z), Addr::Server(*a));
                    }
                }
                self.record(Event::Partition { groups: vec![l, b, r], oneway: false });
            }
            Fault::Ring => {
                let n = self.nodes.len() as u64;
                for a in 1..=n {
                    for b in 1..=n {
                        let d = a.abs_diff(b);
                        if a != b && d != 1 && d != n - 1 {
                            self.net.block(Addr::Server(a), Addr::Server(b));
                        }
                    }
                }
                self.record(Event::Partition { groups: (1..=n).map(|a| vec![a]).collect(), oneway: false });
            }
            Fault::RandomPartition => {
                let ids: Vec<u64> = (1..=self.nodes.len() as u64).collect();
                let mut groups = vec![Vec::new(), Vec::new()];
                for id in ids {
                    groups[self.seeds.faults.gen_range(0..2)].push(id);
                }
                let groups = groups.into_iter().map(|g| g.into_iter().map(Target::Node).collect()).collect();
                self.apply_fault(&Fault::Partition { groups, oneway: false });
            }
            Fault::Heal => self.heal(),
            Fault::Reset { targets } => {
                for id in self.resolve(targets) {
                    for link in self.net.links_of(Addr::Server(id)) {
                        if self.net.ends(link).2 == Channel::Quorum {
                            self.reset_link(link);
                        }
                    }
                }
            }
            Fault::Clog { targets } => {
                for id in self.resolve(targets) {
                    self.net.clog(Addr::Server(id));
                    self.record(Event::DiskFault { node: id, fault: "network clogged".to_string() });
                }
            }
            Fault::Unclog { targets } => {
                for id in self.resolve(targets) {
                    self.net.unclog(Addr::Server(id));
                }
                self.release_held();
            }
            Fault::Delay { targets, duration_ns, latency } => {
                for id in self.resolve(targets) {
                    self.net.add_delay(Addr::Server(id), self.now.plus_ns(*duration_ns), *latency);
                }
            }
            Fault::ElectionLoss { targets, chance, duration_ns, latency } => {
                for id in self.resolve(targets) {
                    self.election_loss.insert(id, (self.now.plus_ns(*duration_ns), *chance, *latency));
                }
            }
            Fault::CutClients { clients } => {
                let all: Vec<u32> = if clients.is_empty() {
                    (0..self.clients.len() as u32).collect()
                } else {
                    clients.clone()
                };
                for c in all.into_iter().filter(|c| (*c as usize) < self.clients.len()) {
                    self.cut_clients.insert(c);
                    for s in 1..=self.nodes.len() as u64 {
                        self.net.block(Addr::Client(c), Addr::Server(s));
                        self.net.block(Addr::Server(s), Addr::Client(c));
                    }
                }
            }
            Fault::Crash { targets } => {
                for id in self.resolve(targets) {
                    self.crash(id);
                }
            }
            Fault::Restart { targets } => {
                for id in self.resolve(targets) {
                    self.restart(id);
                }
            }
            Fault::CrashLoop { target, times, down_ns, up_ns } => {
                for id in self.resolve(std::slice::from_ref(target)) {
                    if *times > 0 {
                        let ev = Ev::CrashLoop {
                            node: id,
                            left: *times,
                            down_ns: *down_ns,
                            up_ns: *up_ns,
                            crash_now: true,
                        };
                        self.queue.push(self.now, ev);
                    }
                }
            }
            Fault::Pause { targets, duration_ns } => {
                for id in self.resolve(targets) {
                    let n = &mut self.nodes[id as usize - 1];
                    if n.replica.is_some() && !n.paused {
                        n.paused = true;
                        let inc = n.inc;
                        self.record(Event::Pause { node: id });
                        self.queue.push(self.now.plus_ns(*duration_ns), Ev::Resume { node: id, inc });
                    }
                }
            }
            Fault::ClockJump { targets, by_ns } => {
                for id in self.resolve(targets) {
                    self.nodes[id as usize - 1].clock.jump(self.now, *by_ns);
                    self.record(Event::ClockJump { node: id, by_ns: *by_ns });
                    self.arm_timer(id);
                }
            }
            Fault::ClockDrift { targets, ppm } => {
                for id in self.resolve(targets) {
                    self.nodes[id as usize - 1].clock.set_drift(self.now, (*ppm).clamp(-99_999, 99_999));
                    self.arm_timer(id);
                }
            }
            Fault::DiskStall { targets, duration_ns } => {
                for id in self.resolve(targets) {
                    let n = &mut self.nodes[id as usize - 1];
                    if let Some(at) = n.disk.stall(self.now.plus_ns(*duration_ns)) {
                        let inc = n.inc;
                        self.queue.push(at, Ev::DiskWake { node: id, inc });
                    }
                    self.record(Event::DiskFault { node: id, fault: format!("stall {duration_ns}ns") });
                }
            }
            Fault::DiskDelay { targets, duration_ns, latency } => {
                for id in self.resolve(targets) {
                    self.nodes[id as usize - 1].disk.add_delay(self.now.plus_ns(*duration_ns), *latency);
                }
            }
            Fault::DiskErrors { targets, chance } => {
                for id in self.resolve(targets) {
                    self.nodes[id as usize - 1].disk.knobs.eio = *chance;
                    self.record(Event::DiskFault { node: id, fault: format!("EIO chance {chance}") });
                }
            }
            Fault::DiskFull { targets, free_bytes } => {
                for id in self.resolve(targets) {
                    let d = &mut self.nodes[id as usize - 1].disk;
                    d.knobs.capacity_bytes = Some(d.used_bytes() + free_bytes);
                    self.record(Event::DiskFault {
                        node: id,
                        fault: format!("ENOSPC after {free_bytes} bytes"),
                    });
                }
            }
            Fault::DiskRepair { targets } => {
                for id in self.resolve(targets) {
                    self.nodes[id as usize - 1].disk.knobs = self.plan.knobs.disk;
                }
            }
            Fault::Misdirect { targets, chance } => {
                for id in self.resolve(targets) {
                    self.untrusted_disks.insert(id);
                    self.damaged_disks.insert(id);
                    self.nodes[id as usize - 1].disk.knobs.misdirect = *chance;
                }
            }
            Fault::CorruptAndRestart { targets } => {
                for id in self.resolve(targets) {
                    self.untrusted_disks.insert(id);
                    self.damaged_disks.insert(id);
                    self.crash(id);
                    self.nodes[id as usize - 1].corrupt_next_read = true;
                    self.restart(id);
                }
            }
            Fault::WipeAndRejoin { targets } => {
                for id in self.resolve(targets) {
                    self.wipe_and_rejoin(id);
                }
            }
            Fault::CrashAt { targets, point, down_ns } => {
                let ids = self.resolve(targets);
                if !ids.is_empty() {
                    self.armed.push((ids, *point, *down_ns));
                }
            }
        }
    }

    fn heal(&mut self) {
        self.net.heal();
        self.cut_clients.clear();
        self.record(Event::Heal);
        self.release_held();
    }

    fn release_held(&mut self) {
        for (dir, at) in self.net.release_held(self.now, &mut self.seeds.network) {
            self.queue.push(at, Ev::NetWake(dir));
        }
    }

    fn crash(&mut self, id: u64) {
        let tear = self.plan.knobs.torn_writes;
        let n = &mut self.nodes[id as usize - 1];
        if n.replica.is_none() && n.refused.is_none() {
            return;
        }
        n.replica = None;
        n.refused = None;
        n.inc += 1;
        n.paused = false;
        n.backlog.clear();
        n.timer_at = None;
        n.peers.clear();
        n.conns.clear();
        n.election_heard.clear();
        n.disk.crash(tear, &mut self.seeds.disk);
        self.stats.crashes += 1;
        self.record(Event::Crash { node: id });
        for link in self.net.links_of(Addr::Server(id)) {
            self.reset_link(link);
        }
    }

    fn restart(&mut self, id: u64) {
        let n = &self.nodes[id as usize - 1];
        if n.replica.is_some() {
            return;
        }
        self.start_node(id);
    }

    fn wipe_and_rejoin(&mut self, id: u64) {
        self.damaged_disks.insert(id);
        self.crash(id);
        let n = &mut self.nodes[id as usize - 1];
        n.disk.wipe();
        if n.inc == 0 {
            n.inc = 1;
        }
        self.record(Event::DiskFault { node: id, fault: "wipe".to_string() });
        self.start_node(id);
    }

    fn resume(&mut self, id: u64) {
        let n = &mut self.nodes[id as usize - 1];
        if !n.paused {
            return;
        }
        n.paused = false;
        self.record(Event::Resume { node: id });
        while let Some(input) = self.nodes[id as usize - 1].backlog.pop_front() {
            self.step_node(id, input);
            if self.nodes[id as usize - 1].paused || self.nodes[id as usize - 1].replica.is_none() {
                break;
            }
        }
        // A timer that came due while paused fires now.
        self.nodes[id as usize - 1].timer_at = None;
        self.arm_timer(id);
    }

    /// The server that leads with the highest epoch, if any.
    fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter(|n| n.replica.is_some())
            .filter_map(|n| n.status.as_ref().map(|s| (n.id, s)))
            .filter(|(_, s)| matches!(s.role, Role::Leading | Role::Standalone))
            .max_by_key(|(id, s)| (s.current_epoch, *id))
            .map(|(id, _)| id)
    }

    fn resolve(&mut self, targets: &[Target]) -> Vec<u64> {
        let mut out = Vec::new();
        for t in targets {
            for id in self.resolve_one(t, &[]) {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        out
    }

    fn resolve_groups(&mut self, groups: &[Vec<Target>]) -> Vec<Vec<u64>> {
        let mut named: Vec<Vec<u64>> = groups
            .iter()
            .map(|g| {
                let mut ids = Vec::new();
                for t in g.iter().filter(|t| **t != Target::Rest) {
                    ids.extend(self.resolve_one(t, &[]));
                }
                ids.sort_unstable();
                ids.dedup();
                ids
            })
            .collect();
        let taken: Vec<u64> = named.iter().flatten().copied().collect();
        for (g, ids) in groups.iter().zip(named.iter_mut()) {
            if g.contains(&Target::Rest) {
                ids.extend(self.resolve_one(&Target::Rest, &taken));
                ids.sort_unstable();
                ids.dedup();
            }
        }
        named
    }

    fn resolve_one(&mut self, t: &Target, taken: &[u64]) -> Vec<u64> {
        let voters = self.plan.cluster.voters;
        let all = self.nodes.len() as u64;
        let leader = self.leader();
        match t {
            Target::Node(id) => vec![*id],
            Target::Leader => leader.into_iter().collect(),
            Target::Followers => (1..=voters).filter(|id| Some(*id) != leader).collect(),
            Target::Observers => (voters + 1..=all).collect(),
            Target::Minority => {
                let k = self.plan.cluster.minority() as usize;
                (1..=voters).rev().filter(|id| Some(*id) != leader).take(k).collect()
            }
            Target::Rest => (1..=all).filter(|id| !taken.contains(id)).collect(),
            Target::All => (1..=all).collect(),
            Target::Random => vec![self.seeds.faults.gen_range(1..=all)],
        }
    }

    // ----- phases and checks -----

    fn start_liveness(&mut self) {
        self.phase = RunPhase::Liveness;
        self.armed.clear();
        self.election_loss.clear();
        self.record(Event::RunPhase { name: "liveness".to_string() });
        self.heal();
        for id in 1..=self.nodes.len() as u64 {
            let i = id as usize - 1;
            self.nodes[i].disk.knobs = self.plan.knobs.disk;
            if self.nodes[i].paused {
                self.resume(id);
            }
            if self.nodes[i].replica.is_none() {
                self.start_node(id);
            }
            if self.nodes[i].replica.is_none() && self.plan.knobs.disk_budget == DiskBudget::Tolerated {
                // A server that refuses its disk is replaced by an empty one that rejoins.
                self.wipe_and_rejoin(id);
            }
        }
        self.queue.push(self.now, Ev::LivenessCheck);
    }

    fn finish_liveness(&mut self, healthy: bool) {
        self.phase = RunPhase::Done;
        if !healthy && self.plan.checks.liveness {
            self.liveness_failed = Some(self.unhealthy_reason());
        }
    }

    fn healthy(&self) -> bool {
        self.unhealthy_why().is_none()
    }

    fn unhealthy_reason(&self) -> Violation {
        self.unhealthy_why()
            .unwrap_or_else(|| Violation { checker: "liveness".to_string(), message: "healthy".to_string() })
    }

    /// Why the cluster is not healthy yet, as the liveness checker that names it:
    /// `liveness-no-leader` (no epoch established), `liveness-server-down`,
    /// `liveness-server-not-following` (a live server stays LOOKING or follows someone else while
    /// the leader is established), `liveness-server-behind`, `liveness-no-quorum`,
    /// `liveness-client-stuck`.
    fn unhealthy_why(&self) -> Option<Violation> {
        let fail = |checker: &str, message: String| Some(Violation { checker: checker.to_string(), message });
        let Some(leader) = self.leader() else { return fail("liveness-no-leader", "no leader".to_string()) };
        let ls = self.nodes[leader as usize - 1].replica.as_ref().map(|r| r.status())?;
        if ls.phase != Phase::Broadcast || !ls.serving {
            return fail("liveness-no-leader", format!("leader {leader} is in {:?}", ls.phase));
        }
        let mut quorum = 0;
        // Servers the liveness phase leaves out, and so the clients pinned to them.
        let mut excused = BTreeSet::new();
        for n in &self.nodes {
            let Some(r) = n.replica.as_ref() else {
                if n.refused.is_some() {
                    excused.insert(n.id);
                    continue;
                }
                return fail("liveness-server-down", format!("server {} is down", n.id));
            };
            let s = r.status();
            if self.left_out(n.id, &s, &ls) {
                excused.insert(n.id);
                continue;
            }
            if s.phase != Phase::Broadcast || s.leader != Some(ServerId(leader)) {
                return fail(
                    "liveness-server-not-following",
                    format!(
                        "server {} is {:?}/{:?} while leader {leader} is established",
                        n.id, s.role, s.phase
                    ),
                );
            }
            if s.last_committed != ls.last_committed {
                return fail(
                    "liveness-server-behind",
                    format!(
                        "server {} has applied {:#x}, leader {:#x}",
                        n.id, s.last_committed.0, ls.last_committed.0
                    ),
                );
            }
            if n.config.is_voter(ServerId(n.id)) {
                quorum += 1;
            }
        }
        if quorum * 2 <= self.plan.cluster.voters {
            return fail("liveness-no-quorum", "no quorum of voters in broadcast".to_string());
        }
        if let Some(c) = self.clients.iter().find(|c| {
            c.client.outstanding() > 0
                && !c.client.state().is_final()
                && !c.pinned.is_some_and(|s| excused.contains(&s))
        }) {
            return fail(
                "liveness-client-stuck",
                format!("client {} has {} outstanding requests", c.id, c.client.outstanding()),
            );
        }
        None
    }

    /// Whether the liveness phase and the convergence checks leave server `id` (status `s`) out
    /// while `leader` (status `ls`) is established: locked out by a higher acceptedEpoch, or
    /// kept LOOKING by such servers.
    fn left_out(&self, id: u64, s: &Status, ls: &Status) -> bool {
        locked_out_by_epoch(s, ls) || self.starved_by_locked_out(id, s, ls)
    }

    /// ZooKeeper's election restarts its notification timeout on every notification it receives,
    /// even one it then ignores, and only a timeout makes it send its vote again (reference §2.3,
    /// §2.4). A LOOKING server that keeps hearing from servers locked out by a higher
    /// acceptedEpoch and from no one else therefore never asks the established ensemble again:
    /// a locked-out voter stuck in a lower round (its database uninitialized, so it ignores
    /// LOOKING votes) answers every notification of a LOOKING observer in a higher round, which
    /// answers back, for as long as the lockout lasts. Reproduced faithfully and left out like
    /// the lockout itself; a server that heard from anyone else in the window is not.
    fn starved_by_locked_out(&self, id: u64, s: &Status, ls: &Status) -> bool {
        if s.role != Role::Looking {
            return false;
        }
        let since = SimTime(self.now.0.saturating_sub(STARVATION_WINDOW_NS));
        let mut heard =
            self.nodes[id as usize - 1].election_heard.iter().filter(|(_, at)| **at >= since).peekable();
        heard.peek().is_some()
            && heard.all(|(peer, _)| {
                self.nodes[*peer as usize - 1]
                    .replica
                    .as_ref()
                    .is_some_and(|r| locked_out_by_epoch(&r.status(), ls))
            })
    }

    fn end_checks(&mut self) {
        let mut upto = BTreeMap::new();
        let mut digests = BTreeMap::new();
        let leader_status =
            self.leader().and_then(|l| self.nodes[l as usize - 1].replica.as_ref()).map(|r| r.status());
        for n in &self.nodes {
            if let Some(r) = n.replica.as_ref() {
                let s = r.status();
                if leader_status.as_ref().is_some_and(|ls| self.left_out(n.id, &s, ls)) {
                    continue;
                }
                upto.insert(n.id, s.last_committed.0);
                digests.insert(n.id, (r.tree().last_processed_zxid().0, r.tree().digest()));
            }
        }
        if let Err(v) = self.inv.finish(&upto) {
            self.fail(v);
            return;
        }
        if self.plan.checks.convergence && self.liveness_failed.is_none() {
            // The session table is replicated state too: every live server compared for digests
            // (a server locked out by a higher acceptedEpoch, or starved by one, is not) must track
            // the same sessions
            // with the same timeouts.
            let mut tables = self
                .nodes
                .iter()
                .filter(|n| digests.contains_key(&n.id))
                .filter_map(|n| n.replica.as_ref().map(|r| (n.id, r.tree())));
            if let Some((first, t0)) = tables.next() {
                if let Some((other, t)) = tables.find(|(_, t)| t.sessions() != t0.sessions()) {
                    let only = |a: &zab_tree::DataTree, b: &zab_tree::DataTree| -> Vec<String> {
                        a.sessions()
                            .iter()
                            .filter(|(s, t)| b.sessions().get(s) != Some(t))
                            .map(|(s, _)| format!("{:#x}", s.0))
                            .collect()
                    };
                    self.fail(Violation {
                        checker: "convergence".to_string(),
                        message: format!(
                            "live servers disagree on the session table: only server {first} tracks {:?}, \
                             only server {other} tracks {:?}",
                            only(t0, t),
                            only(t, t0)
                        ),
                    });
                    return;
                }
            }
        }
        if self.plan.checks.convergence && self.liveness_failed.is_none() {
            let mut distinct: Vec<(u64, u64)> = digests.values().copied().collect();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() > 1 {
                self.fail(Violation {
                    checker: "convergence".to_string(),
                    message: format!("live servers disagree: (zxid, digest) by server {digests:?}"),
                });
            }
        }
    }

    /// ZooKeeper's guarantee over the client history (zab-check's zxid witness and black-box
    /// search), on the tree settings the servers run with.
    fn check_client_history(&mut self) {
        let config = self
            .nodes
            .iter()
            .find_map(|n| n.replica.as_ref().map(|r| r.tree().config().clone()))
            .unwrap_or_default();
        let check = history::check_client_history(std::mem::take(&mut self.history), &config);
        if let Some(v) = check.violation.clone() {
            self.fail(v);
        }
        self.client_check = Some(check);
    }

    fn fail(&mut self, v: Violation) {
        if self.violation.is_none() {
            self.trace
                .push(self.now, Event::Violation { checker: v.checker.clone(), message: v.message.clone() });
            self.violation = Some(v);
        }
    }

    fn record(&mut self, ev: Event) {
        if self.check_invariants {
            if let Err(v) = self.inv.observe(&ev) {
                self.trace.push(self.now, ev);
                self.fail(v);
                return;
            }
        }
        self.trace.push(self.now, ev);
    }

    fn record_digest(&mut self, id: u64) {
        if !self.trace.on() {
            return;
        }
        let Some(r) = self.nodes[id as usize - 1].replica.as_ref() else { return };
        let tree = r.tree();
        let ev = Event::Digest {
            node: id,
            zxid: tree.last_processed_zxid().0,
            digest: tree.digest(),
            ephemerals: Vec::new(),
        };
        self.record(ev);
    }

    fn into_report(self) -> Report {
        let outcome = if self.violation.is_some() {
            RunOutcome::Safety
        } else if self.liveness_failed.is_some() {
            RunOutcome::Liveness
        } else {
            RunOutcome::Pass
        };
        let violation = self.violation.or(self.liveness_failed);
        let nodes = self
            .nodes
            .iter()
            .map(|n| {
                let s = n.replica.as_ref().map(|r| r.status());
                NodeReport {
                    id: n.id,
                    mode: s.as_ref().map_or("down".to_string(), |s| s.role.mode().to_string()),
                    epoch: s.as_ref().map_or(0, |s| s.current_epoch.0),
                    last_committed: s.as_ref().map_or(0, |s| s.last_committed.0),
                    digest: n.replica.as_ref().map(|r| r.tree().digest()),
                    refused: n.refused.clone(),
                }
            })
            .collect();
        Report {
            outcome,
            violation,
            records: self.trace.records,
            trace_hash: if self.trace.mode == TraceMode::Off { 0 } else { self.trace.hash },
            record_count: self.trace.count,
            sim_time: self.now,
            stats: SimStats { messages: self.stats.messages, ..self.stats },
            nodes,
            status_lines: self.status_lines.unwrap_or_default(),
            client_check: self.client_check,
        }
    }
}

/// The status line printed for a transition: time, node, role, phase, epoch, last logged zxid,
/// committed zxid, pending disk writes.
pub fn status_line(t: SimTime, s: &Status) -> String {
    format!(
        "{t:>14} s{:<2} {:<10} {:<15} epoch {:>3}/{:<3} logged {:>12} committed {:#012x} disk {}",
        s.id.0,
        s.role.mode(),
        format!("{:?}", s.phase).to_lowercase(),
        s.accepted_epoch.0,
        s.current_epoch.0,
        s.last_logged.map_or("untrusted".to_string(), |z| format!("{:#012x}", z.0)),
        s.last_committed.0,
        s.pending_disk
    )
}

/// Whether a disk request writes the currentEpoch file (its atomic write ends with the rename).
fn writes_current_epoch(ops: &[DiskOp]) -> bool {
    ops.iter()
        .any(|op| matches!(op, DiskOp::Rename { to, .. } if to == zab_core::persist::CURRENT_EPOCH_FILE))
}

fn file_op(op: DiskOp) -> FileOp {
    match op {
        DiskOp::Append { file, bytes } => FileOp::Append { file, bytes },
        DiskOp::Truncate { file, len } => FileOp::Truncate { file, len },
        DiskOp::WriteFile { file, bytes } => FileOp::WriteFile { file, bytes },
        DiskOp::Rename { from, to } => FileOp::Rename { from, to },
        DiskOp::Delete { file } => FileOp::Delete { file },
        DiskOp::Sync { file } => FileOp::Sync { file },
    }
}

fn trace_role(r: Role) -> zab_trace::Role {
    match r {
        Role::Looking => zab_trace::Role::Looking,
        Role::Following => zab_trace::Role::Following,
        Role::Leading => zab_trace::Role::Leading,
        Role::Observing => zab_trace::Role::Observing,
        Role::Standalone => zab_trace::Role::Standalone,
    }
}

fn trace_phase(p: Phase) -> zab_trace::Phase {
    match p {
        Phase::Election => zab_trace::Phase::Election,
        Phase::Discovery => zab_trace::Phase::Discovery,
        Phase::Synchronization => zab_trace::Phase::Synchronization,
        Phase::Broadcast => zab_trace::Phase::Broadcast,
    }
}

fn client_outcome(e: &ClientError) -> Outcome {
    match e {
        ClientError::ConnectionLoss => Outcome::ConnectionLoss,
        ClientError::SessionExpired | ClientError::SessionClosed | ClientError::AuthFailed => {
            Outcome::SessionExpired
        }
        other => Outcome::Err { code: other.code() },
    }
}

fn request_name(r: &Request) -> &'static str {
    match r {
        Request::Create { .. } => "create",
        Request::Delete { .. } => "delete",
        Request::SetData { .. } => "setData",
        Request::GetData { .. } => "getData",
        Request::Exists { .. } => "exists",
        Request::GetChildren { .. } | Request::GetChildren2 { .. } => "getChildren",
        Request::Multi(_) => "multi",
        Request::Sync { .. } => "sync",
        _ => "other",
    }
}

/// ZooKeeper's own limitation, reproduced faithfully (reference §1.4.1): a server that accepted a
/// newer epoch from a leader attempt that never established refuses the established leader's
/// older epoch and goes back to LOOKING until the next election. The ensemble is available without
/// it, so the liveness phase and the convergence check leave it out rather than fail the run.
fn locked_out_by_epoch(server: &Status, leader: &Status) -> bool {
    server.phase != Phase::Broadcast && server.accepted_epoch > leader.current_epoch
}
