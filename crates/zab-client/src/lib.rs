//! # zab-client: the ZooKeeper session client, sans-IO
//!
//! One [`Client`] is one ZooKeeper session as the Java client (`ClientCnxn`) runs it: it connects
//! to a server from a connect string, sends requests with increasing xids, matches replies in FIFO
//! order, pings, moves to another server when the connection fails while presenting its session id
//! and the last zxid it saw, turns lost connections into [`ClientError::ConnectionLoss`] and learns
//! that its session expired when a server says so. It performs no I/O, reads no clock and owns its
//! randomness: inputs go in, [`ClientAction`]s come out, and time is an argument.
//!
//! ## Driving contract
//!
//! 1. Build the client with [`Client::new`]. Its [`Client::next_deadline`] is [`Instant::ZERO`]: the
//!    first `step(now, ClientInput::Timeout, out)` starts connecting.
//! 2. Whenever `now` reaches [`Client::next_deadline`], call `step(now, ClientInput::Timeout, out)`.
//!    Calling it early or twice is harmless. `now` never goes backwards.
//! 3. Feed every transport and server event to [`Client::step`], naming the server the connection
//!    goes to. Application calls are [`Client::submit`] (returns the request's [`Xid`], the handle
//!    its `Completed` action carries), [`Client::close`], [`Client::add_auth`] and
//!    [`Client::move_to`].
//! 4. After each call, perform the actions appended to the [`ClientOut`], in order:
//!    - [`ClientAction::Connect`]: open a connection to that server (the host maps the
//!      [`ServerAddress`] at that index of the connect string to an endpoint). Answer with
//!      `TransportConnected` or `TransportFailed`.
//!    - [`ClientAction::SendConnect`] / [`ClientAction::Send`]: write on the open connection, in
//!      order. The server answers with `ConnectResponse`, `Reply` and `Notification` inputs, in the
//!      order it sent them.
//!    - [`ClientAction::Close`]: close that connection and drop whatever is still in flight on it;
//!      deliver nothing more from it. This matters: a `Connect` to the same server may follow at
//!      once, and inputs name only the server, so a late input of the old connection would be
//!      taken for one of the new. (When the host itself reports `TransportClosed` or
//!      `TransportFailed`, the client does not ask for a `Close`.)
//!    - [`ClientAction::Completed`], [`ClientAction::Watch`], [`ClientAction::State`]: hand to the
//!      application, in order. Requests the client accepted complete in submission order; one it
//!      refuses (bad path, session over) completes within the `submit` call.
//!    - [`ClientAction::Anomaly`]: a peer broke the protocol; the client already dealt with it
//!      (dropped the input or the connection). Record it.
//!
//! The client keeps at most one connection at a time. Inputs for any other connection are ignored
//! and reported as [`Anomaly::StaleInput`].
//!
//! ## Fidelity notes (ZooKeeper 3.8/3.9 `ClientCnxn`, reference §3.9–§3.11)
//!
//! - The server list is shuffled once with a `ChaCha8Rng` seeded from [`ClientConfig::seed`] and
//!   visited round robin; after every failure the client waits a random delay below
//!   [`ClientConfig::reconnect_delay_ms_max`], plus [`ClientConfig::spin_delay_ms`] once it has tried
//!   every server since its last successful connection.
//! - Timeouts come from the negotiated session timeout (the requested one before the first
//!   connection): read timeout = 2/3 of it, ping after read timeout / 2 without sending (at most
//!   [`ClientConfig::ping_interval_ms_max`]), connect timeout per host = timeout / number of hosts,
//!   covering both the transport connect and the handshake.
//! - A lost connection completes every request not yet answered, sent or still queued, with
//!   `ConnectionLoss`, as `ClientCnxn.cleanup` does. Requests submitted while disconnected wait for
//!   the next connection.
//! - A `ConnectResponse` with timeout 0 expires the session: final, every later call fails with
//!   `SessionExpired`. An `AuthFailed` auth reply is final too.
//! - After a handshake the client re-sends its auth data (xid -4), then setWatches (xid -8,
//!   relative zxid = last zxid seen; split into batches of at most about 128 KiB of paths), then
//!   the queued requests. setWatches replies are matched in FIFO order like requests; ping (xid -2)
//!   and auth replies are not.
//! - `last_zxid_seen` follows the zxid of every FIFO-matched reply and of every notification;
//!   like `ClientCnxn` the client ignores the zxid of ping and auth replies.
//! - Watches are registered locally when the reply that sets them arrives: getData and
//!   getChildren on success, exists on success (data watch) or NoNode (exist watch), addWatch on
//!   success. removeWatches removes the local registrations on success and delivers the
//!   `*WatchRemoved` events; when the client holds no such watch the result is `NoWatcher`.
//! - A failed multi arrives with err Ok and per-op results; the call fails with the first result
//!   whose code is not Ok ([`ClientError::MultiFailed`]), keeping all results.
//!
//! ## Deliberate deviations
//!
//! - Requests wait for the `ConnectResponse` instead of being pipelined behind the
//!   `ConnectRequest`; no read-only mode, no SASL, no per-watcher objects (the application is the
//!   one watcher), removeWatches has no `local` flag and checkWatches only checks.
//! - Requests submitted after `close()` fail at once with [`ClientError::SessionClosed`] rather
//!   than with ConnectionLoss, so a checker knows they never left the client. Conversely, requests
//!   already sent when an AuthFailed reply ends the session fail with ConnectionLoss, not
//!   AuthFailed: the auth reply can overtake the replies of earlier writes, which may still be
//!   applied. Every non-ConnectionLoss error the client makes up itself means "never applied".
//! - State events ([`ClientAction::State`]) are emitted on changes only: one `Disconnected` when a
//!   connected session loses its server, not one per failed attempt.

mod chroot;
mod client;
mod connect_string;
mod hosts;
mod shape;
mod watches;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use client::{
    Anomaly, Client, ClientAction, ClientConfig, ClientConfigError, ClientError, ClientInput, ClientOut,
    ClientStatus, InputKind, MoveError, SessionState,
};
pub use connect_string::{ConnectString, ConnectStringError, ServerAddress, DEFAULT_PORT};
pub use watches::{Watches, SET_WATCHES_BATCH_BYTES_MAX};

/// A point on the client's clock, in nanoseconds since an arbitrary origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Instant(pub u64);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(0);

    /// The instant `ms` milliseconds after the origin.
    pub const fn from_ms(ms: u64) -> Instant {
        Instant(ms.saturating_mul(1_000_000))
    }

    /// Milliseconds since the origin, rounded down.
    pub const fn as_ms(self) -> u64 {
        self.0 / 1_000_000
    }

    /// This instant plus `ms` milliseconds.
    pub const fn plus_ms(self, ms: u64) -> Instant {
        Instant(self.0.saturating_add(ms.saturating_mul(1_000_000)))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1_000_000_000, (self.0 / 1_000_000) % 1000)
    }
}

/// A server of the connect string, by its position in the string as written (not in the shuffled
/// order the client tries them in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServerIndex(pub usize);

impl fmt::Display for ServerIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server#{}", self.0)
    }
}

/// A request id on a connection. Application requests get 1, 2, 3, ... in submission order; the
/// negative values are reserved for the connection's own traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Xid(pub i32);

impl Xid {
    /// Watch notifications.
    pub const NOTIFICATION: Xid = Xid(-1);
    /// Pings and their replies.
    pub const PING: Xid = Xid(-2);
    /// Auth packets and their replies.
    pub const AUTH: Xid = Xid(-4);
    /// setWatches after a reconnect.
    pub const SET_WATCHES: Xid = Xid(-8);
    /// The first application xid.
    pub const FIRST: Xid = Xid(1);
}

impl fmt::Display for Xid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "xid {}", self.0)
    }
}
