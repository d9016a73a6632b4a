//! zab-core: a ZooKeeper server replica that does no I/O of its own.
//!
//! A [`Replica`] is one server of an ensemble (or a standalone server). It behaves like Apache
//! ZooKeeper 3.8/3.9: fast leader election, discovery, DIFF/TRUNC/SNAP synchronization,
//! broadcast with quorum commit, observers, sessions, and a persistent log and snapshots. It never
//! reads a clock, opens a socket, touches a file or spawns a thread: its host (the simulator, or
//! a network server) feeds it [`Input`]s and performs the [`Action`]s it appends to an [`Out`].
//!
//! # Driving contract
//!
//! 1. **Create** a replica with [`Replica::recover`]`(config, disk, seed)`. `disk` is whatever the
//!    server's durable files hold (a [`DiskImage`]); recovery refuses disks it cannot trust.
//!    Then call [`Replica::start`]`(now, out)`: standalone servers start serving, others begin an
//!    election.
//! 2. **Step**: for each input, call [`Replica::step`]`(now, input, out)` with the server's local
//!    clock reading `now` (non-decreasing per server; it may be skewed relative to other servers).
//!    Then perform every action in `out.actions`, **in order**, and clear the buffer:
//!    - [`Action::Send`]: put the packet on the quorum connection to `to` (FIFO; drop it if there
//!      is no live connection). [`Action::SendElection`]: deliver the notification to `to` on the
//!      election channel, best effort.
//!    - [`Action::Connect`]: open a quorum connection; answer with `Input::Connected{peer}` at both
//!      ends, or `Input::ConnectFailed` here. [`Action::Disconnect`]: close it; the peer gets
//!      `Input::Disconnected`. A reset (network fault) gives `Disconnected` to both ends and loses
//!      what was in flight.
//!    - [`Action::Persist`]: apply the [`DiskOp`]s to the server's disk in order; once all are
//!      durable, feed `Input::Persisted{io}` (or `Input::PersistFailed`). Completions must come
//!      in the order the requests were issued. A crash loses (or tears) what was not yet durable.
//!      A failed request halts the replica (a real server exits at its first failed write), so
//!      the requests it issued after the failed one must never reach the disk.
//!    - [`Action::ClientConnected`], [`Action::Reply`], [`Action::Notify`],
//!      [`Action::CloseClient`]: deliver to the client connection, in order. A watch event is
//!      always appended before the reply of the request that caused it.
//!    - [`Action::Event`]: a fact for traces and checkers; nothing to do.
//! 3. **Time**: after performing the actions, ask [`Replica::next_deadline`]; when the local clock
//!    reaches it, step with `Input::Timeout`. Timers fire in a fixed order (election, tick, phase
//!    limit, session expiry, retry).
//! 4. **Crash**: drop the value. **Restart**: `recover` from what the disk reads back.
//!
//! Durability is an input: a follower ACKs a proposal, and ACKs NEWLEADER, only after the matching
//! `Persisted`; the leader counts itself only after its own log is durable; epoch files are written
//! as temp file + fsync + rename and the next protocol step waits for that write. Every "ACK
//! before fsync" bug in ZooKeeper's history is therefore an interleaving a simulator reaches by
//! crashing between two events.
//!
//! Peer input is data: an unexpected packet makes the replica drop the connection or leave its
//! role and report a `CoreEvent::Error`; it never panics. A broken internal invariant panics with
//! the node, role, epoch and zxid ([`Replica::check_invariants`] runs after every step in debug
//! builds).

/// `mutated!(owner, Variant)`: whether the defect `Mutation::Variant` is switched on for `owner`
/// (anything with a `mutation_on` method). Without the `mutations` feature it is the constant
/// `false`, so the branch it guards is compiled out and no state is consulted.
#[cfg(feature = "mutations")]
macro_rules! mutated {
    ($owner:expr, $variant:ident) => {
        $owner.mutation_on($crate::mutation::Mutation::$variant)
    };
}
#[cfg(not(feature = "mutations"))]
macro_rules! mutated {
    ($owner:expr, $variant:ident) => {
        false
    };
}

pub mod config;
mod db;
pub mod election;
pub mod harness;
pub mod ids;
pub mod io;
mod leader;
mod learner;
pub mod marks;
pub mod messages;
#[cfg(feature = "mutations")]
pub mod mutation;
pub mod persist;
mod replica;
mod serve;

pub use config::ValidConfig;
pub use ids::{Epoch, ServerId};
pub use io::{
    Action, ConnId, CoreEvent, DiskError, EpochFile, Input, Instant, IoId, Out, Phase, Role, Status, SyncMode,
};
pub use leader::WALL_CLOCK_ORIGIN_MS;
#[cfg(feature = "mutations")]
pub use mutation::Mutation;
pub use persist::{DiskImage, DiskOp};
pub use replica::{RecoverError, Replica};
