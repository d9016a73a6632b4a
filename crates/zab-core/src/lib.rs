//! zab-core: a ZooKeeper server replica that does no I/O of its own.

pub mod config;
pub mod election;
pub mod ids;
pub mod marks;
pub mod persist;

pub use ids::{Epoch, ServerId};
