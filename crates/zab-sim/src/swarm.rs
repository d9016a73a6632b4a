//! Profiles: run plans drawn from a seed.
//!
//! - `swarm`: each fault family is switched on or off per seed and its parameters drawn (swarm
//!   testing: a seed with only clock faults explores different corners than one with everything);
//! - `lite`: one crash and one partition, both healed;
//! - `perf`: no faults, a heavier closed-loop load.
//!
//! The draw uses its own ChaCha8 stream of the seed (stream 1; the run's [`crate::rng::SeedTree`]
//! uses stream 0), so the plan and the run's randomness never share draws. Swarm's protocol-point
//! crashes ([`Fault::CrashAt`]) come from stream 2, so adding them left every other draw of a seed
//! as it was. The election-loss and correlated-fault families come from stream 3, for the same
//! reason.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::plan::{
    Checks, Cluster, CrashPoint, DiskBudget, Expect, Fault, Knobs, LoadMode, OpMix, RunPlan, SyncRule,
    Target, TimedFault, Workload,
};
use crate::rng::{Latency, Ratio};
use crate::time::{format_duration_ns, NS_PER_MS, NS_PER_S};

/// A named way of drawing plans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Swarm,
    Lite,
    Perf,
}

impl Profile {
    pub const NAMES: &'static str = "swarm, lite, perf";

    pub fn parse(name: &str) -> Result<Profile, String> {
        match name {
            "swarm" => Ok(Profile::Swarm),
            "lite" => Ok(Profile::Lite),
            "perf" => Ok(Profile::Perf),
            other => Err(format!("unknown profile {other:?}: expected one of {}", Profile::NAMES)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Swarm => "swarm",
            Profile::Lite => "lite",
            Profile::Perf => "perf",
        }
    }
}

/// The fault families a swarm draw switches on or off.
pub const FAULT_FAMILIES: [&str; 9] = [
    "partition",
    "crash",
    "pause",
    "clock",
    "network-delay",
    "reset",
    "disk-slow",
    "disk-error",
    "disk-damage",
];

/// Draws from the seed's stream 4: the shape of the service around the ensemble.
/// - One seed in three runs a read-mostly workload: one or two writing clients, the rest only read
///   and sync, so some servers, the leader among them, often serve clients that propose nothing.
///   In three of four of those seeds every client is pinned to one server, so each side of a
///   partition keeps its own clients; and in two of three of those (with readers on every server
///   and a single writer pinned to server 1) the leader is cut off from the others while its
///   clock steps back 2 to 6 s, so its syncLimit check comes that much late: the window in which
///   a leader deposed without noticing still answers its own clients (reference §5, entry 19).
/// - One seed in four runs production-sized ticks (1 s or the default 2 s instead of 50–200 ms),
///   where a leader cut off from its quorum notices it up to a tick after its followers do.
fn add_service_shape(rng: &mut ChaCha8Rng, plan: &mut RunPlan) {
    let w = &mut plan.workload;
    if rng.gen_ratio(1, 3) && w.clients >= 2 {
        let writers = rng.gen_range(1..=2).min(w.clients - 1);
        w.readers = w.clients - writers;
        if rng.gen_ratio(3, 4) {
            w.pinned = w.clients;
            if rng.gen_ratio(2, 3) && plan.cluster.voters >= 3 {
                // Readers on every server, and one writer, so the cut-off leader usually has no
                // write outstanding while the other side commits.
                let servers = u32::try_from(plan.cluster.voters + plan.cluster.observers).unwrap_or(u32::MAX);
                // The writer (the last client) is pinned to server 1, the readers to all.
                w.clients = w.clients.max(2 * servers).div_ceil(servers) * servers + 1;
                w.pinned = w.clients;
                w.readers = w.clients - 1;
                let duration = w.duration_ns;
                let at = duration / 5 + rng.gen_range(0..=duration / 2);
                let back = rng.gen_range(2_000..=6_000) * NS_PER_MS;
                let leader = vec![Target::Leader];
                let groups = vec![leader.clone(), vec![Target::Rest]];
                plan.faults.push(TimedFault {
                    at_ns: at,
                    fault: Fault::ClockJump { targets: leader, by_ns: -(back as i64) },
                });
                plan.faults.push(TimedFault { at_ns: at, fault: Fault::Partition { groups, oneway: false } });
                plan.faults.push(TimedFault { at_ns: at + back + 2 * NS_PER_S, fault: Fault::Heal });
            }
        }
    }
    if rng.gen_ratio(1, 4) {
        plan.cluster.tick_time_ns = [1_000, 2_000][rng.gen_range(0..2)] * NS_PER_MS;
    }
}

/// Draws the plan of `seed` for `profile`.
pub fn draw_plan(profile: Profile, seed: u64) -> RunPlan {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1);
    match profile {
        Profile::Swarm => {
            let mut plan = swarm(&mut rng);
            let mut points = ChaCha8Rng::seed_from_u64(seed);
            points.set_stream(2);
            add_protocol_point_crashes(&mut points, &mut plan);
            let mut shapes = ChaCha8Rng::seed_from_u64(seed);
            shapes.set_stream(3);
            add_election_loss(&mut shapes, &mut plan);
            add_correlated_faults(&mut shapes, &mut plan);
            let mut service = ChaCha8Rng::seed_from_u64(seed);
            service.set_stream(4);
            add_service_shape(&mut service, &mut plan);
            plan
        }
        Profile::Lite => lite(&mut rng),
        Profile::Perf => perf(),
    }
}

/// The drawn knobs of a plan, one per line, for `--verbose`.
pub fn describe(plan: &RunPlan) -> Vec<String> {
    let c = &plan.cluster;
    let w = &plan.workload;
    let k = &plan.knobs;
    let mut lines = vec![
        format!(
            "cluster: {} voters, {} observers, tick {}, initLimit {}, syncLimit {}, snapCount {}",
            c.voters,
            c.observers,
            format_duration_ns(c.tick_time_ns),
            c.init_limit,
            c.sync_limit,
            c.snap_count.map_or("default".to_string(), |n| n.to_string())
        ),
        format!(
            "workload: {} clients {:?} loop, think {}, {} keys, {}, session timeout {}, move {}",
            w.clients,
            w.mode,
            format_duration_ns(w.think_ns),
            w.keys,
            format_duration_ns(w.duration_ns),
            format_duration_ns(w.session_timeout_ns),
            w.move_session
        ),
        format!(
            "knobs: net {:?}, disk {:?}, skew <= {}, drift <= {} ppm, torn writes {}, budget {:?}",
            k.net_latency,
            k.disk.latency,
            format_duration_ns(k.clock_skew_ns_max),
            k.clock_drift_ppm_max,
            k.torn_writes,
            k.disk_budget
        ),
    ];
    if let Some(counter) = c.initial_zxid_counter {
        lines.push(format!("initial zxid counter: {counter:#x}"));
    }
    if let Some(m) = &c.mutation {
        lines.push(format!("mutation: {m}"));
    }
    for f in &plan.faults {
        lines.push(format!("fault at {}: {:?}", format_duration_ns(f.at_ns), f.fault));
    }
    lines
}

fn base_cluster(rng: &mut ChaCha8Rng) -> Cluster {
    let voters = [3, 3, 3, 5, 1][rng.gen_range(0..5)];
    // A single voter runs standalone; observers need an ensemble of at least two voters' worth of
    // protocol, so a lone voter gets none.
    let observers = if voters == 1 { 0 } else { [0, 0, 1, 2][rng.gen_range(0..4)] };
    Cluster {
        voters,
        observers,
        tick_time_ns: [50, 100, 200][rng.gen_range(0..3)] * NS_PER_MS,
        init_limit: rng.gen_range(5..=10),
        sync_limit: rng.gen_range(2..=5),
        zoo_cfg: None,
        zoo_cfg_text: None,
        initial_zxid_counter: None,
        mutation: None,
        snap_count: None,
        sync: SyncRule::Quorum,
    }
}

fn swarm(rng: &mut ChaCha8Rng) -> RunPlan {
    let cluster = base_cluster(rng);
    let duration_ns = rng.gen_range(3..=10) * NS_PER_S;
    let on: Vec<bool> = FAULT_FAMILIES.iter().map(|_| rng.gen_bool(0.5)).collect();
    let enabled = |name: &str| on[FAULT_FAMILIES.iter().position(|f| *f == name).expect("known family")];
    let lat_max = rng.gen_range(1..=5) * NS_PER_MS;
    let knobs = Knobs {
        net_latency: Latency::LongTail {
            min_ns: 50_000,
            max_ns: lat_max,
            tail: Ratio::new(1, rng.gen_range(20..=200)),
            tail_factor_max: rng.gen_range(2..=50),
        },
        clock_skew_ns_max: if enabled("clock") { rng.gen_range(0..=2_000) * NS_PER_MS } else { 0 },
        clock_drift_ppm_max: if enabled("clock") { rng.gen_range(0..=5_000) } else { 0 },
        torn_writes: rng.gen_bool(0.8),
        disk_budget: DiskBudget::Tolerated,
        liveness_bound_ns: 60 * NS_PER_S,
        ..Knobs::default()
    };
    let mut faults = Vec::new();
    let at = |rng: &mut ChaCha8Rng| rng.gen_range(NS_PER_S / 2..duration_ns);
    let servers = cluster.voters + cluster.observers;
    let pick_target = |rng: &mut ChaCha8Rng| -> Target {
        match rng.gen_range(0..4) {
            0 => Target::Leader,
            1 => Target::Random,
            2 => Target::Minority,
            _ => Target::Node(rng.gen_range(1..=servers)),
        }
    };
    if enabled("partition") {
        for _ in 0..rng.gen_range(1..=3) {
            let start = at(rng);
            let heal = start + rng.gen_range(NS_PER_S / 2..=5 * NS_PER_S);
            let fault = match rng.gen_range(0..5) {
                0 => {
                    Fault::Partition { groups: vec![vec![Target::Leader], vec![Target::Rest]], oneway: false }
                }
                1 => Fault::Partition {
                    groups: vec![vec![Target::Minority], vec![Target::Rest]],
                    oneway: false,
                },
                2 => Fault::Partition {
                    groups: vec![vec![pick_target(rng)], vec![Target::Rest]],
                    oneway: true,
                },
                3 => Fault::Ring,
                _ => Fault::RandomPartition,
            };
            faults.push(TimedFault { at_ns: start, fault });
            faults.push(TimedFault { at_ns: heal, fault: Fault::Heal });
        }
    }
    if enabled("crash") {
        for _ in 0..rng.gen_range(1..=3) {
            let t = pick_target(rng);
            let start = at(rng);
            if rng.gen_bool(0.3) {
                let fault = Fault::CrashLoop {
                    target: t,
                    times: rng.gen_range(2..=4),
                    down_ns: rng.gen_range(50..=1_000) * NS_PER_MS,
                    up_ns: rng.gen_range(50..=1_000) * NS_PER_MS,
                };
                faults.push(TimedFault { at_ns: start, fault });
            } else {
                faults.push(TimedFault { at_ns: start, fault: Fault::Crash { targets: vec![t.clone()] } });
                let back = start + rng.gen_range(100..=3_000) * NS_PER_MS;
                faults.push(TimedFault { at_ns: back, fault: Fault::Restart { targets: vec![Target::All] } });
            }
        }
    }
    if enabled("pause") {
        let fault = Fault::Pause {
            targets: vec![pick_target(rng)],
            duration_ns: rng.gen_range(100..=6_000) * NS_PER_MS,
        };
        faults.push(TimedFault { at_ns: at(rng), fault });
    }
    if enabled("clock") {
        let by = rng.gen_range(-3_000i64..=3_000) * NS_PER_MS as i64;
        faults.push(TimedFault {
            at_ns: at(rng),
            fault: Fault::ClockJump { targets: vec![pick_target(rng)], by_ns: by },
        });
    }
    if enabled("network-delay") {
        let extra = Latency::Uniform { min_ns: 10 * NS_PER_MS, max_ns: rng.gen_range(20..=500) * NS_PER_MS };
        let fault = Fault::Delay {
            targets: vec![pick_target(rng)],
            duration_ns: rng.gen_range(1..=4) * NS_PER_S,
            latency: extra,
        };
        faults.push(TimedFault { at_ns: at(rng), fault });
    }
    if enabled("reset") {
        for _ in 0..rng.gen_range(1..=4) {
            faults
                .push(TimedFault { at_ns: at(rng), fault: Fault::Reset { targets: vec![pick_target(rng)] } });
        }
    }
    if enabled("disk-slow") {
        let t = pick_target(rng);
        let fault = if rng.gen_bool(0.5) {
            Fault::DiskStall { targets: vec![t], duration_ns: rng.gen_range(100..=3_000) * NS_PER_MS }
        } else {
            let latency = Latency::Uniform { min_ns: NS_PER_MS, max_ns: rng.gen_range(5..=200) * NS_PER_MS };
            Fault::DiskDelay { targets: vec![t], duration_ns: rng.gen_range(1..=5) * NS_PER_S, latency }
        };
        faults.push(TimedFault { at_ns: at(rng), fault });
    }
    if enabled("disk-error") {
        let t = pick_target(rng);
        let start = at(rng);
        let fault = if rng.gen_bool(0.5) {
            Fault::DiskErrors { targets: vec![t.clone()], chance: Ratio::new(1, rng.gen_range(2..=50)) }
        } else {
            Fault::DiskFull { targets: vec![t.clone()], free_bytes: rng.gen_range(0..=64 * 1024) }
        };
        faults.push(TimedFault { at_ns: start, fault });
        let end = start + rng.gen_range(NS_PER_S..=3 * NS_PER_S);
        faults.push(TimedFault { at_ns: end, fault: Fault::DiskRepair { targets: vec![t] } });
    }
    // Durable damage on at most a minority of voters (the tolerated budget), always the same
    // server so that two faults never hit two different disks.
    if enabled("disk-damage") && cluster.minority() > 0 {
        let victim = Target::Node(rng.gen_range(1..=cluster.voters));
        let fault = match rng.gen_range(0..3) {
            0 => Fault::CorruptAndRestart { targets: vec![victim] },
            1 => Fault::WipeAndRejoin { targets: vec![victim] },
            _ => Fault::Misdirect { targets: vec![victim], chance: Ratio::new(1, rng.gen_range(2..=20)) },
        };
        faults.push(TimedFault { at_ns: at(rng), fault });
    }
    let families: Vec<&str> = FAULT_FAMILIES.iter().zip(&on).filter(|(_, o)| **o).map(|(f, _)| *f).collect();
    let workload = Workload {
        clients: rng.gen_range(1..=8),
        duration_ns,
        mix: OpMix::standard(),
        keys: rng.gen_range(1..=16),
        mode: if rng.gen_bool(0.8) { LoadMode::Closed } else { LoadMode::Open },
        think_ns: rng.gen_range(1..=50) * NS_PER_MS,
        session_timeout_ns: rng.gen_range(2..=10) * NS_PER_S,
        move_session: Ratio::new(1, rng.gen_range(20..=500)),
        watch: Ratio::new(1, 4),
        readers: 0,
        pinned: 0,
    };
    // Drawn last, so the rest of a seed's plan is what it was before this knob existed: one seed in
    // five starts the first epoch's zxid counter close enough to 2^32 to run out during the run
    // (within 600 txns: most workloads write that many in the first seconds).
    let mut cluster = cluster;
    if rng.gen_ratio(1, 5) {
        cluster.initial_zxid_counter = Some(u32::MAX - rng.gen_range(20..=600));
    }
    RunPlan {
        seed: None,
        description: format!(
            "swarm draw; fault families on: {}",
            if families.is_empty() { "none".to_string() } else { families.join(", ") }
        ),
        cluster,
        knobs,
        workload,
        faults,
        checks: Checks::default(),
        expect: Expect::default(),
    }
}

/// Draws from the seed's stream 2: the snapshot frequency, and protocol-point crashes.
///
/// Half of the seeds arm one to three protocol-point crashes (the "crash-point" family): a
/// server crashes exactly when it acknowledges NEWLEADER, finishes an epoch-file write, installs a
/// SNAP, and so on. Timed crashes almost never land between two such events; these do. Armed from
/// time 0 so the first election's synchronization can be hit too.
fn add_protocol_point_crashes(rng: &mut ChaCha8Rng, plan: &mut RunPlan) {
    // A third of the seeds snapshot often, so snapshots, SNAP syncs and txn-log syncs happen.
    if rng.gen_ratio(1, 3) {
        plan.cluster.snap_count = Some(rng.gen_range(10..=200));
    }
    if plan.cluster.voters < 3 || !rng.gen_bool(0.5) {
        return;
    }
    let servers = plan.cluster.servers();
    for _ in 0..rng.gen_range(1..=3) {
        let at_ns = rng.gen_range(0..plan.workload.duration_ns);
        let targets = match rng.gen_range(0..4) {
            0 => vec![Target::Leader],
            1 => vec![Target::Followers],
            2 => vec![Target::All],
            _ => vec![Target::Node(rng.gen_range(1..=servers))],
        };
        let point = CrashPoint::ALL[rng.gen_range(0..CrashPoint::ALL.len())];
        let down_ns = rng.gen_range(50..=2_000) * NS_PER_MS;
        plan.faults.push(TimedFault { at_ns, fault: Fault::CrashAt { targets, point, down_ns } });
    }
    plan.description.push_str("; protocol-point crashes");
}

/// The shapes the correlated-fault family draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A minority lags behind a partition; then the leader is lost at the moment another server's
    /// disk is wiped, so the election that follows is decided among the laggards and the empty
    /// server.
    WipeWithLeaderLoss,
    /// A minority crashes and misses writes; one of it rejoins (and syncs); then the leader
    /// crashes, so the rejoined server may lead, and the rest of the minority rejoins last.
    StaggeredRejoin,
    /// A server rejoins and crashes again right after its synchronization.
    CrashAfterRejoin,
}

/// Draws from the seed's stream 3: election-notification loss (half of the seeds of three or more
/// voters). Each window loses or delays the notifications of some servers, and often the leader
/// is lost during it, so the next election's rounds split; a server restarted after the window
/// then has to join an ensemble whose members decided in different rounds.
fn add_election_loss(rng: &mut ChaCha8Rng, plan: &mut RunPlan) {
    if plan.cluster.voters < 3 || !rng.gen_bool(0.5) {
        return;
    }
    let servers = plan.cluster.servers();
    let duration = plan.workload.duration_ns;
    for _ in 0..rng.gen_range(1..=2) {
        let start = rng.gen_range(NS_PER_S / 2..duration);
        let window_ns = rng.gen_range(500..=5_000) * NS_PER_MS;
        let targets = match rng.gen_range(0..4) {
            0 => vec![Target::Leader],
            1 => vec![Target::Minority],
            2 => vec![Target::All],
            _ => vec![Target::Node(rng.gen_range(1..=servers))],
        };
        let fault = Fault::ElectionLoss {
            targets,
            chance: Ratio::new(1, rng.gen_range(1..=8)),
            duration_ns: window_ns,
            latency: Latency::Uniform { min_ns: NS_PER_MS, max_ns: rng.gen_range(20..=2_000) * NS_PER_MS },
        };
        plan.faults.push(TimedFault { at_ns: start, fault });
        if rng.gen_bool(0.5) {
            let lost = start + rng.gen_range(0..=window_ns / 2);
            plan.faults
                .push(TimedFault { at_ns: lost, fault: Fault::Crash { targets: vec![Target::Leader] } });
            let back = lost + rng.gen_range(200..=2_000) * NS_PER_MS;
            plan.faults
                .push(TimedFault { at_ns: back, fault: Fault::Restart { targets: vec![Target::All] } });
        }
        // A server restarted after the window joins the ensemble the window's election formed.
        let joiner = Target::Node(rng.gen_range(1..=servers));
        let bounce = start + window_ns + rng.gen_range(200..=2_000) * NS_PER_MS;
        plan.faults.push(TimedFault { at_ns: bounce, fault: Fault::Crash { targets: vec![joiner] } });
        let back = bounce + rng.gen_range(100..=1_500) * NS_PER_MS;
        plan.faults.push(TimedFault { at_ns: back, fault: Fault::Restart { targets: vec![Target::All] } });
    }
    plan.description.push_str("; election loss");
}

/// Draws from the seed's stream 3 (after [`add_election_loss`]): the correlated-fault family
/// (half of the seeds of three or more voters), one [`Shape`] whose faults line up in time the
/// way independent families almost never do. The wipe stays within the tolerated budget: it is
/// drawn only when no other fault damages a disk.
fn add_correlated_faults(rng: &mut ChaCha8Rng, plan: &mut RunPlan) {
    let c = &plan.cluster;
    if c.voters < 3 || !rng.gen_bool(0.5) {
        return;
    }
    let (voters, minority) = (c.voters, c.minority());
    let damaged = plan.faults.iter().any(|f| f.fault.damages_durable_data());
    let shape = match rng.gen_range(0..4) {
        0 | 1 if !damaged => Shape::WipeWithLeaderLoss,
        0..=2 => Shape::StaggeredRejoin,
        _ => Shape::CrashAfterRejoin,
    };
    let t = rng.gen_range(NS_PER_S / 2..plan.workload.duration_ns);
    // Each step of the shape comes a drawn number of milliseconds after the previous one.
    let mut last = t;
    let mut step = |rng: &mut ChaCha8Rng, min_ms: u64, max_ms: u64| {
        last += rng.gen_range(min_ms..=max_ms) * NS_PER_MS;
        last
    };
    let mut faults = Vec::new();
    let mut push = |at_ns: u64, fault: Fault| faults.push(TimedFault { at_ns, fault });
    match shape {
        Shape::WipeWithLeaderLoss => {
            let lagging = rng.gen_bool(2.0 / 3.0);
            if lagging {
                let groups = vec![vec![Target::Minority], vec![Target::Rest]];
                push(t, Fault::Partition { groups, oneway: false });
            }
            let lost = step(rng, 300, 3_000);
            // The low ids: the Minority target takes the highest, so the wiped server is
            // usually not one of the laggards.
            let victim = Target::Node(rng.gen_range(1..=voters - minority));
            push(lost, Fault::Crash { targets: vec![Target::Leader] });
            push(lost, Fault::WipeAndRejoin { targets: vec![victim] });
            if lagging {
                push(lost, Fault::Heal);
            }
            let back = step(rng, 500, 3_000);
            push(back, Fault::Restart { targets: vec![Target::All] });
        }
        Shape::StaggeredRejoin => {
            push(t, Fault::Crash { targets: vec![Target::Minority] });
            let first = Target::Node(rng.gen_range(voters - minority + 1..=voters));
            let rejoin = step(rng, 300, 2_000);
            push(rejoin, Fault::Restart { targets: vec![first] });
            let lost = step(rng, 300, 2_000);
            push(lost, Fault::Crash { targets: vec![Target::Leader] });
            let rest = step(rng, 300, 1_500);
            push(rest, Fault::Restart { targets: vec![Target::All] });
        }
        Shape::CrashAfterRejoin => {
            let victim = Target::Node(rng.gen_range(1..=voters));
            push(t, Fault::Crash { targets: vec![victim.clone()] });
            let rejoin = step(rng, 200, 2_000);
            push(rejoin, Fault::Restart { targets: vec![Target::All] });
            let again = step(rng, 30, 600);
            push(again, Fault::Crash { targets: vec![victim] });
            let back = step(rng, 100, 1_000);
            push(back, Fault::Restart { targets: vec![Target::All] });
        }
    }
    plan.faults.extend(faults);
    plan.description.push_str(&format!("; correlated faults ({shape:?})"));
}

fn lite(rng: &mut ChaCha8Rng) -> RunPlan {
    let cluster = Cluster { voters: 3, observers: rng.gen_range(0..=1), ..Cluster::default() };
    let duration_ns = 5 * NS_PER_S;
    let crash_at = rng.gen_range(NS_PER_S..2 * NS_PER_S);
    let part_at = rng.gen_range(3 * NS_PER_S..4 * NS_PER_S);
    RunPlan {
        seed: None,
        description: "lite: one crash of the leader, one partition of a minority, both healed".to_string(),
        cluster,
        knobs: Knobs::default(),
        workload: Workload { clients: 3, duration_ns, ..Workload::default() },
        faults: vec![
            TimedFault { at_ns: crash_at, fault: Fault::Crash { targets: vec![Target::Leader] } },
            TimedFault { at_ns: crash_at + NS_PER_S, fault: Fault::Restart { targets: vec![Target::All] } },
            TimedFault {
                at_ns: part_at,
                fault: Fault::Partition {
                    groups: vec![vec![Target::Minority], vec![Target::Rest]],
                    oneway: false,
                },
            },
            TimedFault { at_ns: part_at + NS_PER_S / 2, fault: Fault::Heal },
        ],
        checks: Checks::default(),
        expect: Expect::default(),
    }
}

fn perf() -> RunPlan {
    RunPlan {
        seed: None,
        description: "perf: 3 voters + 1 observer, 20 closed-loop clients, no faults".to_string(),
        cluster: Cluster { voters: 3, observers: 1, ..Cluster::default() },
        knobs: Knobs::default(),
        workload: Workload {
            clients: 20,
            duration_ns: 5 * NS_PER_S,
            mix: OpMix { set_data: 6, create: 1, get_data: 3, ..OpMix::default() },
            keys: 64,
            think_ns: NS_PER_MS,
            ..Workload::default()
        },
        faults: Vec::new(),
        checks: Checks::default(),
        expect: Expect::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draw_is_a_function_of_the_seed() {
        assert_eq!(draw_plan(Profile::Swarm, 5), draw_plan(Profile::Swarm, 5));
        assert_ne!(draw_plan(Profile::Swarm, 5), draw_plan(Profile::Swarm, 6));
    }

    #[test]
    fn every_drawn_plan_is_valid_and_within_the_tolerated_budget() {
        for seed in 0..300 {
            for p in [Profile::Swarm, Profile::Lite, Profile::Perf] {
                let plan = draw_plan(p, seed);
                plan.validate().unwrap_or_else(|e| panic!("{p:?} seed {seed}: {e}"));
            }
        }
    }

    #[test]
    fn swarm_switches_fault_families_on_and_off_across_seeds() {
        let plans: Vec<RunPlan> = (0..100).map(|s| draw_plan(Profile::Swarm, s)).collect();
        assert!(plans.iter().any(|p| p.faults.is_empty() || p.faults.len() < 3));
        for kind in
            ["partition", "crash", "pause", "clock_jump", "reset", "disk_errors", "disk_full", "crash_at"]
        {
            assert!(
                plans.iter().any(|p| p.faults.iter().any(|f| f.fault.kind() == kind)),
                "no seed drew a {kind} fault"
            );
        }
    }

    #[test]
    fn some_swarm_seeds_start_the_zxid_counter_near_exhaustion() {
        let counters: Vec<u32> =
            (0..200).filter_map(|s| draw_plan(Profile::Swarm, s).cluster.initial_zxid_counter).collect();
        assert!(counters.len() > 20 && counters.len() < 70, "{} of 200 seeds", counters.len());
        assert!(counters.iter().all(|c| *c >= u32::MAX - 600));
    }

    #[test]
    fn protocol_point_crashes_are_drawn_for_every_point_without_changing_the_other_draws() {
        let mut points = std::collections::BTreeSet::new();
        for seed in 0..300 {
            let plan = draw_plan(Profile::Swarm, seed);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(1);
            let base = swarm(&mut rng);
            let (armed, rest): (Vec<_>, Vec<_>) =
                plan.faults.iter().partition(|f| matches!(f.fault, Fault::CrashAt { .. }));
            // Stream 3's families are appended after the base draw.
            let rest: Vec<TimedFault> = rest.into_iter().take(base.faults.len()).cloned().collect();
            assert_eq!(rest, base.faults, "seed {seed}");
            for f in armed {
                if let Fault::CrashAt { point, .. } = f.fault {
                    points.insert(format!("{point:?}"));
                }
            }
        }
        assert_eq!(points.len(), CrashPoint::ALL.len(), "drawn points: {points:?}");
    }

    #[test]
    fn swarm_draws_election_loss_and_every_correlated_shape_for_three_or_more_voters() {
        let plans: Vec<RunPlan> = (0..300).map(|s| draw_plan(Profile::Swarm, s)).collect();
        for mark in ["election loss", "(WipeWithLeaderLoss)", "(StaggeredRejoin)", "(CrashAfterRejoin)"] {
            assert!(plans.iter().any(|p| p.description.contains(mark)), "no seed drew {mark}");
        }
        for p in &plans {
            let lossy = p.faults.iter().any(|f| f.fault.kind() == "election_loss");
            assert_eq!(lossy, p.description.contains("election loss"));
            if p.cluster.voters < 3 {
                assert!(!lossy && !p.description.contains("correlated"), "{}", p.description);
            }
        }
    }

    #[test]
    fn perf_has_no_faults_and_twenty_clients() {
        let p = draw_plan(Profile::Perf, 1);
        assert!(p.faults.is_empty());
        assert_eq!((p.workload.clients, p.cluster.voters, p.cluster.observers), (20, 3, 1));
    }

    #[test]
    fn a_drawn_plan_survives_the_trip_through_a_scenario_file() {
        let plan = draw_plan(Profile::Swarm, 11);
        let text = crate::scenario::to_scenario_toml(&plan);
        let back =
            crate::scenario::parse_scenario(&text, "drawn.toml", &|_| Err("none".to_string())).unwrap();
        assert_eq!(back, plan);
    }

    #[test]
    fn profile_names_parse_and_unknown_names_list_the_choices() {
        assert_eq!(Profile::parse("lite"), Ok(Profile::Lite));
        assert!(Profile::parse("heavy").unwrap_err().contains("swarm, lite, perf"));
    }

    #[test]
    fn describe_prints_the_cluster_workload_knobs_and_each_fault() {
        let plan = draw_plan(Profile::Lite, 3);
        let lines = describe(&plan);
        assert!(lines[0].starts_with("cluster: 3 voters"));
        assert_eq!(lines.len(), 3 + plan.faults.len());
    }
}
