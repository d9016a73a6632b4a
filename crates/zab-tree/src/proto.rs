//! The client protocol as Rust values (reference §3.3): opcodes, requests, responses, multi
//! results, watch events and the connect handshake. Request bodies know their jute-encoded
//! length so the server can refuse oversized requests exactly as ZooKeeper does.

use serde::{Deserialize, Serialize};

use crate::jute::{self, Counter, DecodeError, Reader, Sink};
use crate::{Acl, ErrorCode, SessionId, Stat, Zxid};

/// A request body of this many bytes or more is refused: the server closes the connection and
/// the client sees ConnectionLoss (`jute.maxbuffer`, reference §3.3, probe#132).
pub const MAX_REQUEST_BYTES: usize = 1_048_576;

macro_rules! numbered_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$doc:meta])* $variant:ident = $code:expr,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        $vis enum $name { $($(#[$doc])* $variant,)* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The numeric value on the wire.
            pub const fn code(self) -> i32 {
                match self { $($name::$variant => $code,)* }
            }

            /// The value with this numeric code, if any.
            pub fn from_code(code: i32) -> Option<$name> {
                match code { $($code => Some($name::$variant),)* _ => None }
            }
        }
    };
}

numbered_enum! {
    /// Request and txn types (`ZooDefs.OpCode`).
    pub enum OpCode {
        /// Watch notification (server → client).
        Notification = 0,
        /// create, reply without Stat.
        Create = 1,
        /// delete.
        Delete = 2,
        /// exists.
        Exists = 3,
        /// getData.
        GetData = 4,
        /// setData.
        SetData = 5,
        /// getACL.
        GetAcl = 6,
        /// setACL.
        SetAcl = 7,
        /// getChildren.
        GetChildren = 8,
        /// sync.
        Sync = 9,
        /// ping.
        Ping = 11,
        /// getChildren2 (children + Stat).
        GetChildren2 = 12,
        /// check (multi only).
        Check = 13,
        /// multi.
        Multi = 14,
        /// create2, reply with Stat.
        Create2 = 15,
        /// reconfig.
        Reconfig = 16,
        /// checkWatches.
        CheckWatches = 17,
        /// removeWatches.
        RemoveWatches = 18,
        /// createContainer.
        CreateContainer = 19,
        /// deleteContainer (issued by the leader's reaper).
        DeleteContainer = 20,
        /// createTTL.
        CreateTtl = 21,
        /// multiRead.
        MultiRead = 22,
        /// auth.
        Auth = 100,
        /// setWatches.
        SetWatches = 101,
        /// sasl.
        Sasl = 102,
        /// getEphemerals.
        GetEphemerals = 103,
        /// getAllChildrenNumber.
        GetAllChildrenNumber = 104,
        /// setWatches2 (with persistent watches).
        SetWatches2 = 105,
        /// addWatch.
        AddWatch = 106,
        /// whoAmI.
        WhoAmI = 107,
        /// createSession (txn).
        CreateSession = -10,
        /// closeSession.
        CloseSession = -11,
        /// error txn.
        Error = -1,
    }
}

numbered_enum! {
    /// Watch event types.
    pub enum EventType {
        /// State change only.
        None = -1,
        /// The node was created.
        NodeCreated = 1,
        /// The node was deleted.
        NodeDeleted = 2,
        /// The node's data changed.
        NodeDataChanged = 3,
        /// A child was created or deleted.
        NodeChildrenChanged = 4,
        /// A data watch was removed.
        DataWatchRemoved = 5,
        /// A child watch was removed.
        ChildWatchRemoved = 6,
        /// A persistent watch was removed.
        PersistentWatchRemoved = 7,
    }
}

numbered_enum! {
    /// Connection states carried in watch events.
    pub enum KeeperState {
        /// Unknown.
        Unknown = -1,
        /// Disconnected.
        Disconnected = 0,
        /// Not used any more.
        NoSyncConnected = 1,
        /// Connected.
        SyncConnected = 3,
        /// Authentication failed.
        AuthFailed = 4,
        /// Connected to a read-only server.
        ConnectedReadOnly = 5,
        /// SASL authenticated.
        SaslAuthenticated = 6,
        /// The session expired.
        Expired = -112,
        /// The client closed the session.
        Closed = 7,
    }
}

numbered_enum! {
    /// Which watches removeWatches/checkWatches address.
    pub enum WatcherType {
        /// Child watches.
        Children = 1,
        /// Data and exist watches.
        Data = 2,
        /// All of them.
        Any = 3,
        /// Persistent watches (3.9).
        Persistent = 4,
        /// Persistent recursive watches (3.9).
        PersistentRecursive = 5,
    }
}

numbered_enum! {
    /// addWatch modes.
    pub enum AddWatchMode {
        /// Fires for the node and its children's membership; never removed by firing.
        Persistent = 0,
        /// Fires for the node and every descendant; no NodeChildrenChanged.
        PersistentRecursive = 1,
    }
}

/// Which create opcode carried a create: it decides the reply shape and whether the node is a
/// container or TTL node (the flags alone do not: create2 with the container flag makes a plain
/// persistent node, reference §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateKind {
    /// Opcode 1: reply is the path.
    Create,
    /// Opcode 15: reply is the path and the Stat.
    Create2,
    /// Opcode 19: a container node.
    Container,
    /// Opcode 21: a TTL node with this TTL in ms.
    Ttl(i64),
}

/// The lists a reconnecting client re-registers (setWatches/setWatches2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetWatches {
    /// The last zxid the client saw.
    pub relative_zxid: Zxid,
    /// Data watches (getData).
    pub data: Vec<String>,
    /// Exist watches (exists).
    pub exist: Vec<String>,
    /// Child watches.
    pub child: Vec<String>,
    /// Persistent watches (setWatches2 only).
    pub persistent: Vec<String>,
    /// Persistent recursive watches (setWatches2 only).
    pub persistent_recursive: Vec<String>,
}

/// A client request body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// create / create2 / createContainer / createTTL.
    Create {
        /// Requested path (the sequence suffix is appended for sequential modes).
        path: String,
        /// Data; `None` is null data.
        data: Option<Vec<u8>>,
        /// Requested ACL (fixed up by the server).
        acl: Vec<Acl>,
        /// CreateMode flags 0..=6.
        flags: i32,
        /// Which opcode.
        kind: CreateKind,
    },
    /// delete.
    Delete {
        /// Path.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// exists.
    Exists {
        /// Path.
        path: String,
        /// Leave an exist watch (also when the node is missing).
        watch: bool,
    },
    /// getData.
    GetData {
        /// Path.
        path: String,
        /// Leave a data watch.
        watch: bool,
    },
    /// setData.
    SetData {
        /// Path.
        path: String,
        /// New data.
        data: Option<Vec<u8>>,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// getACL.
    GetAcl {
        /// Path.
        path: String,
    },
    /// setACL.
    SetAcl {
        /// Path.
        path: String,
        /// New ACL.
        acl: Vec<Acl>,
        /// Expected aversion, -1 for any.
        version: i32,
    },
    /// getChildren.
    GetChildren {
        /// Path.
        path: String,
        /// Leave a child watch.
        watch: bool,
    },
    /// getChildren2.
    GetChildren2 {
        /// Path.
        path: String,
        /// Leave a child watch.
        watch: bool,
    },
    /// getAllChildrenNumber.
    GetAllChildrenNumber {
        /// Path.
        path: String,
    },
    /// getEphemerals of the calling session.
    GetEphemerals {
        /// Path prefix ("" or "/" for all).
        prefix: String,
    },
    /// check (only inside multi).
    Check {
        /// Path.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// multi: creates, deletes, setData and checks, atomically.
    Multi(Vec<Request>),
    /// sync.
    Sync {
        /// Path (echoed back).
        path: String,
    },
    /// addWatch.
    AddWatch {
        /// Path.
        path: String,
        /// Mode.
        mode: AddWatchMode,
    },
    /// removeWatches.
    RemoveWatches {
        /// Path.
        path: String,
        /// Which watches.
        watcher_type: WatcherType,
    },
    /// checkWatches.
    CheckWatches {
        /// Path.
        path: String,
        /// Which watches.
        watcher_type: WatcherType,
    },
    /// setWatches (setWatches2 when persistent lists are non-empty).
    SetWatches(SetWatches),
    /// auth.
    Auth {
        /// Scheme, e.g. "digest".
        scheme: String,
        /// Credentials, e.g. b"user:password".
        auth: Vec<u8>,
    },
    /// deleteContainer: only the leader's reaper issues it.
    DeleteContainer {
        /// Path of the container or expired TTL node.
        path: String,
    },
    /// closeSession.
    CloseSession,
    /// ping.
    Ping,
}

impl Request {
    /// The opcode this request travels with.
    pub fn opcode(&self) -> OpCode {
        match self {
            Request::Create { kind, .. } => match kind {
                CreateKind::Create => OpCode::Create,
                CreateKind::Create2 => OpCode::Create2,
                CreateKind::Container => OpCode::CreateContainer,
                CreateKind::Ttl(_) => OpCode::CreateTtl,
            },
            Request::Delete { .. } => OpCode::Delete,
            Request::Exists { .. } => OpCode::Exists,
            Request::GetData { .. } => OpCode::GetData,
            Request::SetData { .. } => OpCode::SetData,
            Request::GetAcl { .. } => OpCode::GetAcl,
            Request::SetAcl { .. } => OpCode::SetAcl,
            Request::GetChildren { .. } => OpCode::GetChildren,
            Request::GetChildren2 { .. } => OpCode::GetChildren2,
            Request::GetAllChildrenNumber { .. } => OpCode::GetAllChildrenNumber,
            Request::GetEphemerals { .. } => OpCode::GetEphemerals,
            Request::Check { .. } => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::Sync { .. } => OpCode::Sync,
            Request::AddWatch { .. } => OpCode::AddWatch,
            Request::RemoveWatches { .. } => OpCode::RemoveWatches,
            Request::CheckWatches { .. } => OpCode::CheckWatches,
            Request::SetWatches(w) if w.persistent.is_empty() && w.persistent_recursive.is_empty() => {
                OpCode::SetWatches
            }
            Request::SetWatches(_) => OpCode::SetWatches2,
            Request::Auth { .. } => OpCode::Auth,
            Request::DeleteContainer { .. } => OpCode::DeleteContainer,
            Request::CloseSession => OpCode::CloseSession,
            Request::Ping => OpCode::Ping,
        }
    }

    /// True for requests that go through the leader and become a txn (success or error).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create { .. }
                | Request::Delete { .. }
                | Request::SetData { .. }
                | Request::SetAcl { .. }
                | Request::Check { .. }
                | Request::Multi(_)
                | Request::DeleteContainer { .. }
                | Request::CloseSession
        )
    }

    /// True for the reads the data tree answers locally ([`crate::DataTree::read`]).
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Request::Exists { .. }
                | Request::GetData { .. }
                | Request::GetAcl { .. }
                | Request::GetChildren { .. }
                | Request::GetChildren2 { .. }
                | Request::GetAllChildrenNumber { .. }
                | Request::GetEphemerals { .. }
        )
    }

    /// The byte length of the jute encoding of the body (without the 4-byte frame length and
    /// the 8-byte request header).
    pub fn wire_len(&self) -> usize {
        let mut counter = Counter::default();
        self.encode_into(&mut counter);
        counter.0
    }

    /// True if the server must refuse this request by closing the connection
    /// (`wire_len() >= MAX_REQUEST_BYTES`).
    pub fn exceeds_size_limit(&self) -> bool {
        self.wire_len() >= MAX_REQUEST_BYTES
    }

    /// The jute encoding of the body.
    pub fn encode_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }

    /// Decodes a request body that arrived with this opcode (the inverse of
    /// [`Request::encode_body`]). Never panics: bad bytes, trailing bytes and opcodes that are
    /// not requests this crate models (reconfig, sasl, whoAmI, multiRead, ...) are errors.
    pub fn decode_body(opcode: OpCode, body: &[u8]) -> Result<Request, DecodeError> {
        let mut r = Reader::new(body);
        let req = Request::read(&mut r, opcode, false)?;
        r.finish("request body")?;
        Ok(req)
    }

    fn read(r: &mut Reader<'_>, opcode: OpCode, in_multi: bool) -> Result<Request, DecodeError> {
        let create = |r: &mut Reader<'_>| -> Result<Request, DecodeError> {
            let path = r.string("create path")?;
            let data = r.buffer("create data")?;
            let acl = r.acl("create ACL")?;
            let flags = r.i32("create flags")?;
            let kind = match opcode {
                OpCode::Create => CreateKind::Create,
                OpCode::Create2 => CreateKind::Create2,
                OpCode::CreateContainer => CreateKind::Container,
                _ => CreateKind::Ttl(r.i64("TTL")?),
            };
            Ok(Request::Create { path, data, acl, flags, kind })
        };
        let watch_mode = |r: &mut Reader<'_>| -> Result<(String, WatcherType), DecodeError> {
            let path = r.string("path")?;
            let at = r.offset();
            let code = r.i32("watcher type")?;
            let t = WatcherType::from_code(code)
                .ok_or_else(|| r.error_at(at, format!("a watcher type 1..=5, found {code}")))?;
            Ok((path, t))
        };
        let multi_ops_only = matches!(
            opcode,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::SetData
                | OpCode::Check
        );
        if in_multi && !multi_ops_only {
            return Err(
                r.error(format!("a create, delete, setData or check inside a multi, found {opcode:?}"))
            );
        }
        Ok(match opcode {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => create(r)?,
            OpCode::Delete => Request::Delete { path: r.string("delete path")?, version: r.i32("version")? },
            OpCode::Check => Request::Check { path: r.string("check path")?, version: r.i32("version")? },
            OpCode::Exists => Request::Exists { path: r.string("path")?, watch: r.bool("watch flag")? },
            OpCode::GetData => Request::GetData { path: r.string("path")?, watch: r.bool("watch flag")? },
            OpCode::GetChildren => {
                Request::GetChildren { path: r.string("path")?, watch: r.bool("watch flag")? }
            }
            OpCode::GetChildren2 => {
                Request::GetChildren2 { path: r.string("path")?, watch: r.bool("watch flag")? }
            }
            OpCode::SetData => Request::SetData {
                path: r.string("setData path")?,
                data: r.buffer("setData data")?,
                version: r.i32("version")?,
            },
            OpCode::GetAcl => Request::GetAcl { path: r.string("path")? },
            OpCode::SetAcl => Request::SetAcl {
                path: r.string("setACL path")?,
                acl: r.acl("setACL ACL")?,
                version: r.i32("version")?,
            },
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber { path: r.string("path")? },
            OpCode::GetEphemerals => Request::GetEphemerals { prefix: r.string("prefix")? },
            OpCode::Sync => Request::Sync { path: r.string("path")? },
            OpCode::DeleteContainer => Request::DeleteContainer { path: r.string("path")? },
            OpCode::AddWatch => {
                let path = r.string("path")?;
                let at = r.offset();
                let code = r.i32("addWatch mode")?;
                let mode = AddWatchMode::from_code(code)
                    .ok_or_else(|| r.error_at(at, format!("an addWatch mode 0 or 1, found {code}")))?;
                Request::AddWatch { path, mode }
            }
            OpCode::RemoveWatches => {
                let (path, watcher_type) = watch_mode(r)?;
                Request::RemoveWatches { path, watcher_type }
            }
            OpCode::CheckWatches => {
                let (path, watcher_type) = watch_mode(r)?;
                Request::CheckWatches { path, watcher_type }
            }
            OpCode::SetWatches | OpCode::SetWatches2 => {
                let mut w = SetWatches {
                    relative_zxid: Zxid(r.i64("relative zxid")? as u64),
                    data: r.strings("data watches")?,
                    exist: r.strings("exist watches")?,
                    child: r.strings("child watches")?,
                    ..SetWatches::default()
                };
                if opcode == OpCode::SetWatches2 {
                    w.persistent = r.strings("persistent watches")?;
                    w.persistent_recursive = r.strings("persistent recursive watches")?;
                }
                Request::SetWatches(w)
            }
            OpCode::Auth => {
                r.i32("auth type")?;
                let scheme = r.string("auth scheme")?;
                let auth = r.buffer("auth data")?.unwrap_or_default();
                Request::Auth { scheme, auth }
            }
            OpCode::Multi => {
                let mut ops = Vec::new();
                loop {
                    let at = r.offset();
                    let code = r.i32("multi header type")?;
                    let done = r.bool("multi header done flag")?;
                    r.i32("multi header error")?;
                    if done {
                        break;
                    }
                    let op = OpCode::from_code(code)
                        .ok_or_else(|| r.error_at(at, format!("a multi op type, found {code}")))?;
                    ops.push(Request::read(r, op, true)?);
                }
                Request::Multi(ops)
            }
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Ping => Request::Ping,
            other => return Err(r.error(format!("a request this server models, found opcode {other:?}"))),
        })
    }

    fn encode_into(&self, out: &mut impl Sink) {
        use jute::*;
        match self {
            Request::Create { path, data, acl, flags, kind } => {
                put_str(out, path);
                put_buffer(out, data.as_deref());
                put_acl(out, acl);
                put_i32(out, *flags);
                if let CreateKind::Ttl(ttl) = kind {
                    put_i64(out, *ttl);
                }
            }
            Request::Delete { path, version } | Request::Check { path, version } => {
                put_str(out, path);
                put_i32(out, *version);
            }
            Request::Exists { path, watch }
            | Request::GetData { path, watch }
            | Request::GetChildren { path, watch }
            | Request::GetChildren2 { path, watch } => {
                put_str(out, path);
                put_bool(out, *watch);
            }
            Request::SetData { path, data, version } => {
                put_str(out, path);
                put_buffer(out, data.as_deref());
                put_i32(out, *version);
            }
            Request::SetAcl { path, acl, version } => {
                put_str(out, path);
                put_acl(out, acl);
                put_i32(out, *version);
            }
            Request::GetAcl { path }
            | Request::GetAllChildrenNumber { path }
            | Request::Sync { path }
            | Request::DeleteContainer { path }
            | Request::GetEphemerals { prefix: path } => put_str(out, path),
            Request::Multi(ops) => {
                for op in ops {
                    // MultiHeader{type, done, err} before each op, a done marker at the end.
                    put_i32(out, op.opcode().code());
                    put_bool(out, false);
                    put_i32(out, -1);
                    op.encode_into(out);
                }
                put_i32(out, -1);
                put_bool(out, true);
                put_i32(out, -1);
            }
            Request::AddWatch { path, mode } => {
                put_str(out, path);
                put_i32(out, mode.code());
            }
            Request::RemoveWatches { path, watcher_type } | Request::CheckWatches { path, watcher_type } => {
                put_str(out, path);
                put_i32(out, watcher_type.code());
            }
            Request::SetWatches(w) => {
                put_i64(out, w.relative_zxid.0 as i64);
                put_strings(out, &w.data);
                put_strings(out, &w.exist);
                put_strings(out, &w.child);
                if self.opcode() == OpCode::SetWatches2 {
                    put_strings(out, &w.persistent);
                    put_strings(out, &w.persistent_recursive);
                }
            }
            Request::Auth { scheme, auth } => {
                put_i32(out, 0);
                put_str(out, scheme);
                put_buffer(out, Some(auth));
            }
            Request::CloseSession | Request::Ping => {}
        }
    }
}

/// A successful reply body, one variant per reply shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// No body: delete, auth, addWatch, removeWatches, checkWatches, setWatches, closeSession,
    /// createSession, ping.
    Empty,
    /// create (opcode 1): the actual path (with a sequence suffix if any).
    Create {
        /// Actual path.
        path: String,
    },
    /// create2, createContainer, createTTL: the path and the new node's Stat.
    Create2 {
        /// Actual path.
        path: String,
        /// Stat of the new node.
        stat: Stat,
    },
    /// exists (node present), setData, setACL.
    Stat(Stat),
    /// getData.
    GetData {
        /// Data; `None` is null data.
        data: Option<Vec<u8>>,
        /// Stat.
        stat: Stat,
    },
    /// getACL.
    GetAcl {
        /// ACL (digest hashes masked without ADMIN).
        acl: Vec<Acl>,
        /// Stat.
        stat: Stat,
    },
    /// getChildren (order is unspecified in ZooKeeper; here it is sorted).
    GetChildren {
        /// Child names.
        children: Vec<String>,
    },
    /// getChildren2.
    GetChildren2 {
        /// Child names.
        children: Vec<String>,
        /// Stat of the parent.
        stat: Stat,
    },
    /// getAllChildrenNumber.
    AllChildrenNumber(i32),
    /// getEphemerals.
    Ephemerals(Vec<String>),
    /// sync: the path.
    Sync {
        /// Path.
        path: String,
    },
    /// multi: one result per op.
    Multi(Vec<MultiResult>),
}

/// The result of one op of a multi.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiResult {
    /// A create; `stat` for create2/container/TTL ops.
    Create {
        /// Actual path.
        path: String,
        /// Stat of the new node (create2-style ops only).
        stat: Option<Stat>,
    },
    /// A delete.
    Delete,
    /// A setData with the node's new Stat.
    SetData {
        /// New Stat.
        stat: Stat,
    },
    /// A check that passed.
    Check,
    /// A failed multi: `Ok` for ops before the failing one (rolled back), the failing op's
    /// code, `RuntimeInconsistency` after it.
    Error {
        /// The code.
        code: ErrorCode,
    },
}

/// The header of every reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyHeader {
    /// The request's xid (-1 for notifications, -2 ping, ...).
    pub xid: i32,
    /// The server's last processed zxid when the reply was sent.
    pub zxid: Zxid,
    /// Result code.
    pub err: ErrorCode,
}

/// A watch notification.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WatchEvent {
    /// What happened.
    pub event_type: EventType,
    /// Connection state (SyncConnected for node events).
    pub state: KeeperState,
    /// The node the event is about.
    pub path: String,
}

impl WatchEvent {
    /// A node event on a connected session.
    pub fn node(event_type: EventType, path: &str) -> WatchEvent {
        WatchEvent { event_type, state: KeeperState::SyncConnected, path: path.to_string() }
    }
}

/// The connect handshake a client sends first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectRequest {
    /// Protocol version (0).
    pub protocol_version: i32,
    /// The last zxid the client saw; a server behind it must refuse the client.
    pub last_zxid_seen: Zxid,
    /// Requested session timeout.
    pub timeout_ms: i32,
    /// 0 for a new session, else the session to resume.
    pub session_id: SessionId,
    /// The session password (zeros for a new session).
    pub passwd: [u8; 16],
    /// The client accepts a read-only server.
    pub read_only: bool,
}

/// The server's answer to a connect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectResponse {
    /// Protocol version (0).
    pub protocol_version: i32,
    /// Negotiated timeout; 0 means the session expired.
    pub timeout_ms: i32,
    /// The session id.
    pub session_id: SessionId,
    /// The session password.
    pub passwd: [u8; 16],
    /// The server is read-only.
    pub read_only: bool,
}

/// The password of a session, derived deterministically from its id so that every server can
/// check it without shared state (as ZooKeeper derives it from the id and a fixed secret).
pub fn session_password(session: SessionId) -> [u8; 16] {
    let mut state = session.0 ^ 0x5A5A_C3C3_0F0F_9696;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        let word = splitmix64(&mut state);
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
