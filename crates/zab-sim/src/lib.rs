//! zab-sim: the deterministic discrete-event simulator of zabsim.
//!
//! It runs real [`zab_core::Replica`]s and [`zab_client::Client`] sessions on one simulated
//! timeline and injects the failures ZooKeeper has to survive. A run is a pure function of a seed
//! and a [`plan::RunPlan`]: nothing reads the OS clock, spawns a thread, touches a file or iterates
//! a hash map, so the same seed gives the same trace, byte for byte.
//!
//! # Using it
//!
//! 1. Get a plan: parse a scenario file with [`scenario::parse_scenario`] or draw one from a
//!    profile with [`swarm::draw_plan`] (`swarm`, `lite`, `perf`).
//! 2. Call [`sim::run`] with the seed, the plan and a [`sim::TraceMode`]. The [`sim::Report`] says
//!    pass, safety violation or liveness failure (with the checker and a message), and holds the
//!    trace records, their hash, counters and each server's final state.
//! 3. To write a trace, put a `zab_trace::Header` with the seed and the plan (as JSON) in front of
//!    the records; [`replay::replay`] re-runs a trace and reports the first divergence.
//!
//! # The model
//!
//! - [`time`]: global simulated time ([`time::SimTime`]) and per-node clocks with skew, drift and
//!   jumps; a replica only ever sees its local reading, and local deadlines are converted back.
//! - [`queue`]: one event queue ordered by `(time, sequence)`; idle time is skipped.
//! - [`rng`]: one root seed → a ChaCha8 stream per subsystem, integer [`rng::Ratio`]s, long-tailed
//!   [`rng::Latency`] distributions.
//! - [`net`]: FIFO connections (quorum, client) with drawn latency; loss and reordering only across
//!   connections and resets; partitions, one-way blocks, clogs, delay spikes. Election
//!   notifications are best-effort datagrams.
//! - [`disk`]: durable bytes per file plus pending requests completed in issue order; crashes lose
//!   or tear pending writes at 512-byte sectors; EIO, ENOSPC, stalls, misdirected writes, read
//!   corruption, wipes.
//! - [`workload`]: the seeded operation mix the clients run.
//! - [`check`]: ZAB invariants checked after every event and at the end; the run loop adds
//!   `state-agreement` (servers at the same zxid hold the same tree digest) and named liveness checks.
//! - [`history`]: the client history, kept in every trace mode, checked at the end of every run
//!   against ZooKeeper's guarantee (linearizable writes, per-session ordered reads).

pub mod check;
pub mod disk;
pub mod history;
pub mod net;
pub mod plan;
pub mod queue;
pub mod replay;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod swarm;
pub mod time;
pub mod workload;
