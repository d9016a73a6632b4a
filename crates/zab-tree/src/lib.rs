//! # zab-tree: the ZooKeeper data model, pure
//!
//! Everything a ZooKeeper replica's state machine does, with no I/O, no clock and no
//! randomness: paths, znodes and their `Stat`, ACLs and authentication, create modes
//! (ephemeral, sequential, container, TTL), the leader's prepare step, transactions and their
//! encoding, multi, watches, sessions' ephemerals, the tree digest and snapshots. The server
//! core (`zab-core`), the client (`zab-client`) and the checkers build on this crate; the
//! behaviour it reproduces is Apache ZooKeeper 3.8/3.9 as described in the project's
//! reference (`shared/reference/zookeeper.md` §3–§4) and recorded from the real server in
//! `shared/realzk/expected/probe-3.8.0.jsonl` (`tests/probe_conformance.rs` replays it).
//!
//! ## Prepare → Txn → apply
//!
//! 1. A write [`Request`] arrives at the leader. The server checks its size
//!    ([`Request::exceeds_size_limit`]: a body of 1 MiB or more closes the connection), then
//!    calls [`Preparer::prepare`] with the current [`DataTree`], a [`PrepContext`] (session,
//!    cxid, the *next* zxid, leader time, the connection's [`AuthIds`], the session's status)
//!    and the request. The preparer validates against the tree plus its outstanding change
//!    records, so a create of `/a/b` right after a not-yet-applied create of `/a` succeeds and
//!    sequence numbers come from pending counters. It always returns a [`Txn`]: a failed
//!    request becomes an error txn that still consumes its zxid; a failed multi becomes a multi
//!    of per-op error results.
//! 2. The txn is encoded ([`Txn::encode`]), proposed, logged and committed by the ZAB layer.
//!    [`Txn::decode`] turns bytes back into a txn and never panics.
//! 3. Every replica applies committed txns in zxid order with [`DataTree::apply`]. It returns
//!    the client-visible result and the [`WatchTrigger`]s in firing order; the server that holds
//!    the client's connection feeds the triggers to its [`WatchManager::trigger`] and sends the
//!    notifications *before* the reply. The leader then calls [`Preparer::applied`].
//! 4. Reads are answered locally by [`DataTree::read`]; watches they ask for are registered with
//!    [`WatchManager::register_for_read`].
//!
//! ```
//! use zab_tree::{
//!     AuthIds, CreateKind, DataTree, EventType, PrepContext, Preparer, Request, Response, SessionId,
//!     SessionStatus, Txn, WatchManager, Zxid, OPEN_ACL_UNSAFE,
//! };
//!
//! let mut tree = DataTree::default();
//! let mut prep = Preparer::new();
//! let mut watches = WatchManager::<u32>::new(); // watcher = the server's connection id
//! watches.add_child_watch("/", 7);
//!
//! let auth = AuthIds::from_ip("127.0.0.1");
//! let ctx = PrepContext {
//!     session: SessionId(0x100),
//!     cxid: 1,
//!     zxid: Zxid::new(1, 1),
//!     time_ms: 1_700_000_000_000,
//!     auth: &auth,
//!     session_status: SessionStatus::Active,
//! };
//! let req = Request::Create {
//!     path: "/app".into(),
//!     data: Some(b"v1".to_vec()),
//!     acl: OPEN_ACL_UNSAFE.clone(),
//!     flags: 0,
//!     kind: CreateKind::Create,
//! };
//! assert!(!req.exceeds_size_limit());
//! let txn = prep.prepare(&tree, &ctx, &req);
//! let logged = txn.encode(); // proposed, persisted, committed ...
//! let applied = tree.apply(&Txn::decode(&logged).expect("own encoding"));
//! prep.applied(txn.zxid);
//!
//! assert_eq!(applied.result, Ok(Response::Create { path: "/app".into() }));
//! assert!(!applied.digest_mismatch);
//! let events = watches.trigger(&applied.triggers, |_conn, _acl| true);
//! assert_eq!(events.len(), 1);
//! assert_eq!((events[0].0, events[0].1.event_type), (7, EventType::NodeChildrenChanged));
//! ```
//!
//! Sessions: [`Preparer::prepare_create_session`] / [`Preparer::prepare_close_session`] make
//! the txns; the sessions table lives in the tree and changes only in `apply`, so every path
//! that applies txns (broadcast, sync, log replay) keeps it right.
//!
//! ## Fidelity notes
//!
//! - Zxids: failed writes, createSession, closeSession and the empty multi each consume one.
//! - `cversion`: nodes count child *creates* internally (this is the sequence counter) and
//!   report `2 × creates − numChildren`, i.e. creates plus deletes. A fresh tree's "/" therefore
//!   reports cversion -1 and "/zookeeper" -2, as the real server does.
//! - Create check order, delete/setData/setACL/check orders and which error wins follow the
//!   reference; `create2` with the container flag makes a plain persistent node; TTL modes are
//!   `Unimplemented` unless [`TreeConfig::extended_types`].
//! - `exists` needs no permission, as in 3.8.0 (probe#108); 3.8.4+/3.9.2+ require READ:
//!   set [`TreeConfig::exists_requires_read`]. Watch notifications are filtered by READ when
//!   they fire (the caller supplies the check), and a filtered one-shot watch is used up.
//! - Apply is idempotent for fuzzy-snapshot replay (§4.3). The digest is CRC-32 per node over
//!   path, data and the nine persisted stat fields, summed over the tree outside /zookeeper/.
//!   As in ZooKeeper, the leader's prepare step stamps every txn (but createSession, which
//!   touches no node) with the digest the tree will have after it — counting the txns it has
//!   prepared but not applied yet — and [`DataTree::apply`] reports a mismatch, not fatally.
//!
//! ## Deliberate deviations
//!
//! - getChildren returns children sorted (ZooKeeper's order is unspecified hash order).
//! - The txn and snapshot byte formats are this project's own (big-endian, jute-like, with a
//!   CRC-32C seal on snapshots), not ZooKeeper's files; ACLs are stored per node, not through
//!   ZooKeeper's ACL cache.
//! - Quotas, reconfig, multiRead, SASL/x509 and IPv6 `ip` ACLs are not modelled; only `world`,
//!   `auth`, `digest`, `ip` (IPv4) and `super` exist. An ACL entry of another scheme is
//!   `InvalidAcl`, an `auth` request for another scheme `AuthFailed`.
//! - removeWatches with types Persistent(4)/PersistentRecursive(5) is accepted (3.9 behaviour).
//! - closeSession lists only paths whose *pending* state is still the session's ephemeral; the
//!   server also lists a path that a pending multi deleted and re-created as another node, which
//!   would delete that node.
//!
//! ## Wire and log formats
//!
//! Request bodies follow ZooKeeper's jute layout ([`Request::encode_body`],
//! [`Request::decode_body`], [`Request::wire_len`]). Txns and snapshots use this crate's own
//! big-endian records; decoders return a [`DecodeError`] with the offset and what was expected.
//! The digest a [`Preparer`] stamps assumes the tree it is given has applied every txn committed
//! before the first one this preparer prepared (a new leader applies its history first).

mod acl;
mod error;
mod ids;
mod jute;
mod mode;
pub mod path;
mod prep;
pub mod proto;
mod snapshot;
mod stat;
mod tree;
mod txn;
mod watch;

use serde::{Deserialize, Serialize};

pub use acl::{
    add_auth, check_acl, digest_id, fixup_acl, mask_digests, Acl, AuthIds, Id, Perms, CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE, READ_ACL_UNSAFE,
};
pub use error::ErrorCode;
pub use ids::{OwnerKind, SessionId, Zxid};
pub use jute::DecodeError;
pub use mode::CreateMode;
pub use path::validate_path;
pub use prep::{PrepContext, Preparer, SessionStatus};
pub use proto::{
    session_password, AddWatchMode, ConnectRequest, ConnectResponse, CreateKind, EventType, KeeperState,
    MultiResult, OpCode, ReplyHeader, Request, Response, SetWatches, WatchEvent, WatcherType,
    MAX_REQUEST_BYTES,
};
pub use snapshot::FuzzySnapshot;
pub use stat::{NodeStat, Stat};
pub use tree::{Applied, DataTree, NodeRef};
pub use txn::{Txn, TxnBody};
pub use watch::{WatchManager, WatchTrigger};

/// Server settings that change data-model behaviour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeConfig {
    /// `zookeeper.extendedTypesEnabled`: allow TTL nodes (off by default, as in ZooKeeper).
    pub extended_types: bool,
    /// `zookeeper.DigestAuthenticationProvider.superDigest`: a digest id ("user:base64hash")
    /// whose holder becomes `super` and passes every ACL check.
    pub super_digest: Option<String>,
    /// exists needs READ on the node (3.8.4+/3.9.2+); off reproduces 3.8.0.
    pub exists_requires_read: bool,
}
