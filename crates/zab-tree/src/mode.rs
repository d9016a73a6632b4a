//! Create modes (reference §3.2).

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// The mode a create asks for, from the request's flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateMode {
    /// Flag 0.
    Persistent,
    /// Flag 1: deleted when the owning session ends; cannot have children.
    Ephemeral,
    /// Flag 2.
    PersistentSequential,
    /// Flag 3.
    EphemeralSequential,
    /// Flag 4: only a container when sent with opcode createContainer.
    Container,
    /// Flag 5: needs opcode createTTL and extended types.
    PersistentWithTtl,
    /// Flag 6.
    PersistentSequentialWithTtl,
}

impl CreateMode {
    /// The mode for a flags value; anything outside 0..=6 is `BadArguments`.
    pub fn from_flags(flags: i32) -> Result<CreateMode, ErrorCode> {
        Ok(match flags {
            0 => CreateMode::Persistent,
            1 => CreateMode::Ephemeral,
            2 => CreateMode::PersistentSequential,
            3 => CreateMode::EphemeralSequential,
            4 => CreateMode::Container,
            5 => CreateMode::PersistentWithTtl,
            6 => CreateMode::PersistentSequentialWithTtl,
            _ => return Err(ErrorCode::BadArguments),
        })
    }

    /// The flags value.
    pub fn flags(self) -> i32 {
        match self {
            CreateMode::Persistent => 0,
            CreateMode::Ephemeral => 1,
            CreateMode::PersistentSequential => 2,
            CreateMode::EphemeralSequential => 3,
            CreateMode::Container => 4,
            CreateMode::PersistentWithTtl => 5,
            CreateMode::PersistentSequentialWithTtl => 6,
        }
    }

    /// Owned by the creating session.
    pub fn is_ephemeral(self) -> bool {
        matches!(self, CreateMode::Ephemeral | CreateMode::EphemeralSequential)
    }

    /// Gets a `%010d` suffix from the parent's child-create counter.
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// A TTL mode.
    pub fn is_ttl(self) -> bool {
        matches!(self, CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl)
    }

    /// The container flag.
    pub fn is_container(self) -> bool {
        self == CreateMode::Container
    }
}
