//! zab-sim: the deterministic discrete-event simulator of zabsim.
pub mod disk;
pub mod net;
pub mod queue;
pub mod rng;
pub mod time;
