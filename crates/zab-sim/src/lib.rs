//! zab-sim: the deterministic discrete-event simulator of zabsim.
pub mod check;
pub mod disk;
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
