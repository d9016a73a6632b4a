//! Access control: permissions, ids, ACL checks, ACL fix-up and authentication (reference §3.8).

use std::fmt;
use std::sync::LazyLock;

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::{ErrorCode, TreeConfig};

/// A permission bitmask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Perms(pub u32);

impl Perms {
    /// Read data and list children.
    pub const READ: Perms = Perms(1);
    /// Set data.
    pub const WRITE: Perms = Perms(2);
    /// Create children.
    pub const CREATE: Perms = Perms(4);
    /// Delete children.
    pub const DELETE: Perms = Perms(8);
    /// Set the ACL (ZooKeeper's closest thing to ownership).
    pub const ADMIN: Perms = Perms(16);
    /// Everything.
    pub const ALL: Perms = Perms(31);
    /// Nothing.
    pub const NONE: Perms = Perms(0);

    /// True if any bit of `other` is set in `self`.
    pub const fn intersects(self, other: Perms) -> bool {
        self.0 & other.0 != 0
    }

    /// These permissions minus the bits of `other`.
    pub const fn without(self, other: Perms) -> Perms {
        Perms(self.0 & !other.0)
    }

    /// True if every bit of `other` is set in `self`.
    pub const fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Perms {
    type Output = Perms;
    fn bitor(self, rhs: Perms) -> Perms {
        Perms(self.0 | rhs.0)
    }
}

/// An identity under an authentication scheme, e.g. `digest:alice:<hash>` or `world:anyone`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Id {
    /// "world", "auth", "digest", "ip", "super", "x509", "sasl", ...
    pub scheme: String,
    /// The identity within the scheme.
    pub id: String,
}

impl Id {
    /// Builds an id.
    pub fn new(scheme: &str, id: &str) -> Id {
        Id { scheme: scheme.to_string(), id: id.to_string() }
    }

    /// `world:anyone`.
    pub fn anyone() -> Id {
        Id::new("world", "anyone")
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme, self.id)
    }
}

/// One ACL entry: the permissions granted to an id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Acl {
    /// What the id may do.
    pub perms: Perms,
    /// Who.
    pub id: Id,
}

impl Acl {
    /// Builds an entry.
    pub fn new(perms: Perms, scheme: &str, id: &str) -> Acl {
        Acl { perms, id: Id::new(scheme, id) }
    }
}

/// Everything for everyone (`ZooDefs.Ids.OPEN_ACL_UNSAFE`).
pub static OPEN_ACL_UNSAFE: LazyLock<Vec<Acl>> =
    LazyLock::new(|| vec![Acl { perms: Perms::ALL, id: Id::anyone() }]);

/// Read for everyone (`READ_ACL_UNSAFE`).
pub static READ_ACL_UNSAFE: LazyLock<Vec<Acl>> =
    LazyLock::new(|| vec![Acl { perms: Perms::READ, id: Id::anyone() }]);

/// Everything for whoever the creating connection authenticated as (`CREATOR_ALL_ACL`); fixed up
/// at create time into one entry per authenticated id.
pub static CREATOR_ALL_ACL: LazyLock<Vec<Acl>> = LazyLock::new(|| vec![Acl::new(Perms::ALL, "auth", "")]);

/// The id stored for a digest user: `user:` + base64(SHA-1(`user:password`)).
pub fn digest_id(user: &str, password: &str) -> String {
    digest_of_credentials(&format!("{user}:{password}"))
}

fn digest_of_credentials(credentials: &str) -> String {
    let user = credentials.split(':').next().unwrap_or("");
    let hash = Sha1::digest(credentials.as_bytes());
    format!("{user}:{}", base64::engine::general_purpose::STANDARD.encode(hash))
}

/// The ids a connection has authenticated as, in the order they were added. A connection starts
/// with its `ip:<address>` id (added by the server at connect time).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthIds {
    ids: Vec<Id>,
}

impl AuthIds {
    /// No ids at all.
    pub fn new() -> AuthIds {
        AuthIds::default()
    }

    /// A connection from this IPv4 address (`ip:<addr>`).
    pub fn from_ip(addr: &str) -> AuthIds {
        AuthIds { ids: vec![Id::new("ip", addr)] }
    }

    /// Adds an id unless it is already there.
    pub fn add(&mut self, id: Id) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }

    /// The ids, in the order they were added.
    pub fn ids(&self) -> &[Id] {
        &self.ids
    }

    /// True if one of the ids is a `super` id.
    pub fn is_super(&self) -> bool {
        self.ids.iter().any(|i| i.scheme == "super")
    }
}

/// Handles an `auth` request (opcode 100): returns the ids the connection gains, or
/// `AuthFailed` for a scheme without a provider. A wrong digest password still succeeds and
/// yields an id that matches nothing (reference §3.8, probe#113). If the digest matches the
/// configured super digest, `super:` is granted too. "ip" yields nothing new: the server adds
/// the connection's address at connect time.
pub fn add_auth(config: &TreeConfig, scheme: &str, auth: &[u8]) -> Result<Vec<Id>, ErrorCode> {
    match scheme {
        "digest" => {
            let credentials = String::from_utf8_lossy(auth);
            let digest = digest_of_credentials(&credentials);
            let mut ids = Vec::new();
            if config.super_digest.as_deref() == Some(digest.as_str()) {
                ids.push(Id::new("super", ""));
            }
            ids.push(Id::new("digest", &digest));
            Ok(ids)
        }
        "ip" => Ok(Vec::new()),
        _ => Err(ErrorCode::AuthFailed),
    }
}

/// Would an ACL list allow `perm` for a connection with these ids? An empty list allows
/// everything, a `super` id allows everything, otherwise some entry must grant one of the
/// requested bits to `world:anyone` or to an id that matches under the entry's scheme
/// (digest/x509/sasl: equality; ip: "addr/bits" prefix match).
pub fn check_acl(acl: &[Acl], ids: &AuthIds, perm: Perms) -> bool {
    if acl.is_empty() || ids.is_super() {
        return true;
    }
    acl.iter().filter(|entry| entry.perms.intersects(perm)).any(|entry| {
        (entry.id.scheme == "world" && entry.id.id == "anyone")
            || ids.ids().iter().any(|id| id.scheme == entry.id.scheme && id_matches(&entry.id, &id.id))
    })
}

fn id_matches(acl_id: &Id, connection_id: &str) -> bool {
    match acl_id.scheme.as_str() {
        "ip" => ip_matches(&acl_id.id, connection_id),
        _ => acl_id.id == connection_id,
    }
}

fn ip_matches(pattern: &str, addr: &str) -> bool {
    let (net, bits) = match pattern.split_once('/') {
        Some((net, bits)) => match bits.parse::<u32>() {
            Ok(bits) if bits <= 32 => (net, bits),
            _ => return false,
        },
        None => (pattern, 32),
    };
    match (parse_ipv4(net), parse_ipv4(addr)) {
        (Some(net), Some(addr)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            net & mask == addr & mask
        }
        _ => false,
    }
}

fn parse_ipv4(text: &str) -> Option<u32> {
    let mut value = 0u32;
    let mut parts = 0;
    for part in text.split('.') {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value = (value << 8) | part.parse::<u8>().ok()? as u32;
        parts += 1;
    }
    (parts == 4).then_some(value)
}

/// Validates and expands the ACL of a create or setACL (the server's fix-up): an empty list is
/// `InvalidAcl`; `world` must be `world:anyone`; `auth` entries are replaced by one entry per
/// id the connection authenticated with a real provider (digest), and with none that is
/// `InvalidAcl`; digest ids must be `user:hash`, ip ids `addr` or `addr/bits` (IPv4); any other
/// scheme is `InvalidAcl`. Duplicates are removed, first occurrence kept.
pub fn fixup_acl(acl: &[Acl], ids: &AuthIds) -> Result<Vec<Acl>, ErrorCode> {
    if acl.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out: Vec<Acl> = Vec::with_capacity(acl.len());
    let mut push = |entry: Acl| {
        if !out.contains(&entry) {
            out.push(entry);
        }
    };
    for entry in acl {
        match entry.id.scheme.as_str() {
            "world" if entry.id.id == "anyone" => push(entry.clone()),
            "auth" => {
                let mut expanded = false;
                for id in ids.ids().iter().filter(|id| id.scheme == "digest") {
                    push(Acl { perms: entry.perms, id: id.clone() });
                    expanded = true;
                }
                if !expanded {
                    return Err(ErrorCode::InvalidAcl);
                }
            }
            "digest" if java_split_len(&entry.id.id, ':') == 2 => push(entry.clone()),
            "ip" if is_valid_ip_pattern(&entry.id.id) => push(entry.clone()),
            _ => return Err(ErrorCode::InvalidAcl),
        }
    }
    Ok(out)
}

/// The length of Java's `String.split(sep)`: like `str::split` but trailing empty parts are
/// dropped (so "a:b:" has 2 parts and "a:" has 1), which is how the server validates digest ids.
fn java_split_len(text: &str, sep: char) -> usize {
    let parts: Vec<&str> = text.split(sep).collect();
    parts.iter().rposition(|p| !p.is_empty()).map_or(0, |last| last + 1)
}

fn is_valid_ip_pattern(pattern: &str) -> bool {
    match pattern.split_once('/') {
        Some((net, bits)) => parse_ipv4(net).is_some() && matches!(bits.parse::<u32>(), Ok(0..=32)),
        None => parse_ipv4(pattern).is_some(),
    }
}

/// The ACL as getACL shows it to a caller without ADMIN: digest ids keep the user name but the
/// hash is replaced by "x".
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|entry| {
            if entry.id.scheme == "digest" {
                let user = entry.id.id.split(':').next().unwrap_or("");
                Acl { perms: entry.perms, id: Id::new("digest", &format!("{user}:x")) }
            } else {
                entry.clone()
            }
        })
        .collect()
}
