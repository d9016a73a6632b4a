//! zab-sim: the deterministic discrete-event simulator of zabsim.
pub mod disk;
pub mod net;
pub mod plan;
pub mod queue;
pub mod rng;
pub mod scenario;
pub mod time;
