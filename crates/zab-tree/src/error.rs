//! ZooKeeper's error codes (`KeeperException.Code`, reference §3.7).

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $code:expr,)*) => {
        /// A ZooKeeper result code as it travels in reply headers, multi results and error txns.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            /// The numeric code on the wire.
            pub const fn code(self) -> i32 {
                match self { $(ErrorCode::$name => $code,)* }
            }

            /// The code's name as ZooKeeper spells it, e.g. "NoNode".
            pub const fn name(self) -> &'static str {
                match self { $(ErrorCode::$name => stringify!($name),)* }
            }

            /// The code with this numeric value, if any.
            pub fn from_code(code: i32) -> Option<ErrorCode> {
                match code { $($code => Some(ErrorCode::$name),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// Success; inside a failed multi it marks an op that was rolled back.
    Ok = 0,
    /// Range marker for system errors.
    SystemError = -1,
    /// A multi op after the failing one.
    RuntimeInconsistency = -2,
    /// Data inconsistency detected.
    DataInconsistency = -3,
    /// Client-side: the connection was lost; the outcome of in-flight requests is unknown.
    ConnectionLoss = -4,
    /// Bad serialization.
    MarshallingError = -5,
    /// The operation is not implemented or not enabled (e.g. TTL nodes without extended types).
    Unimplemented = -6,
    /// Operation timeout.
    OperationTimeout = -7,
    /// Invalid arguments: bad path, bad flags, bad TTL, special path.
    BadArguments = -8,
    /// Internal: the session is unknown.
    UnknownSession = -12,
    /// A reconfiguration would leave no quorum.
    NewConfigNoQuorum = -13,
    /// Another reconfiguration is in progress.
    ReconfigInProgress = -14,
    /// Range marker for API errors.
    ApiError = -100,
    /// The node (or its parent) does not exist.
    NoNode = -101,
    /// Not authorized.
    NoAuth = -102,
    /// The expected version does not match.
    BadVersion = -103,
    /// Ephemeral nodes cannot have children.
    NoChildrenForEphemerals = -108,
    /// The node already exists.
    NodeExists = -110,
    /// The node has children.
    NotEmpty = -111,
    /// The session expired.
    SessionExpired = -112,
    /// Invalid callback.
    InvalidCallback = -113,
    /// Invalid ACL.
    InvalidAcl = -114,
    /// Authentication failed (e.g. unknown scheme).
    AuthFailed = -115,
    /// The session moved to another server.
    SessionMoved = -118,
    /// A write was sent to a read-only server.
    NotReadOnly = -119,
    /// Ephemeral node on a local session.
    EphemeralOnLocalSession = -120,
    /// No such watcher.
    NoWatcher = -121,
    /// Request timeout.
    RequestTimeout = -122,
    /// Reconfiguration is disabled.
    ReconfigDisabled = -123,
    /// The session was closed and requires SASL authentication.
    SessionClosedRequireSaslAuth = -124,
    /// Quota exceeded.
    QuotaExceeded = -125,
    /// The operation was throttled.
    ThrottledOp = -127,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

impl std::error::Error for ErrorCode {}
