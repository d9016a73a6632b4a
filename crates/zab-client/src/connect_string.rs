//! Connect strings: `host:port,host:port/chroot`, as ZooKeeper clients take them.

use std::fmt;

use serde::{Deserialize, Serialize};
use zab_tree::path::explain_invalid_path;

/// The port a server entry without one gets, as in ZooKeeper's client.
pub const DEFAULT_PORT: u16 = 2181;

/// A parsed connect string: the servers in the order written, and an optional chroot that the
/// client prefixes to every path it sends and strips from every path it receives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectString {
    /// The servers, in the order the string lists them. A [`crate::ServerIndex`] indexes this list.
    pub servers: Vec<ServerAddress>,
    /// The chroot ("/app"), or `None` for the real root ("/" in the string means none).
    pub chroot: Option<String>,
}

/// One server entry. The host maps it to an endpoint; the simulator writes server ids as hosts
/// ("1:2181,2:2181").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServerAddress {
    /// Host name, IPv4 address, IPv6 address (without brackets) or server id.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// Why a connect string was refused. Positions count servers from 1, in the order written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectStringError {
    /// The string names no server at all.
    Empty,
    /// Two commas in a row, or a comma at either end.
    EmptyServer {
        /// Which entry.
        position: usize,
    },
    /// An entry without a host before its port.
    EmptyHost {
        /// Which entry.
        position: usize,
    },
    /// A host with characters a host name cannot have.
    BadHost {
        /// Which entry.
        position: usize,
        /// The host as written.
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A port that is not a number in 1..=65535.
    BadPort {
        /// Which entry.
        position: usize,
        /// The port as written.
        port: String,
    },
    /// The chroot is not a valid znode path.
    BadChroot {
        /// The chroot as written.
        chroot: String,
        /// Which path rule it breaks.
        reason: &'static str,
    },
}

impl ConnectString {
    /// Parses `host[:port][,host[:port]...][/chroot]`. Whitespace around hosts and ports is
    /// ignored; a missing port is [`DEFAULT_PORT`]; IPv6 addresses are written in brackets
    /// (`[::1]:2181`); a chroot of "/" means none, any other chroot must be a valid znode path.
    pub fn parse(text: &str) -> Result<ConnectString, ConnectStringError> {
        // As in ZooKeeper, the chroot starts at the first '/': no host or port contains one.
        let (hosts, chroot) = match text.find('/') {
            Some(at) => (&text[..at], Some(&text[at..])),
            None => (text, None),
        };
        let chroot = match chroot {
            None | Some("/") => None,
            Some(path) => match explain_invalid_path(path) {
                None => Some(path.to_string()),
                Some(reason) => {
                    return Err(ConnectStringError::BadChroot { chroot: path.to_string(), reason })
                }
            },
        };
        if hosts.trim().is_empty() {
            return Err(ConnectStringError::Empty);
        }
        let servers = hosts
            .split(',')
            .enumerate()
            .map(|(i, entry)| parse_server(i + 1, entry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ConnectString { servers, chroot })
    }
}

impl fmt::Display for ConnectString {
    /// The canonical form, which [`ConnectString::parse`] reads back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, server) in self.servers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{server}")?;
        }
        if let Some(chroot) = &self.chroot {
            f.write_str(chroot)?;
        }
        Ok(())
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for ConnectStringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectStringError::Empty => write!(f, "connect string names no server"),
            ConnectStringError::EmptyServer { position } => {
                write!(f, "server {position} of the connect string is empty (stray ',')")
            }
            ConnectStringError::EmptyHost { position } => {
                write!(f, "server {position} of the connect string has no host before its port")
            }
            ConnectStringError::BadHost { position, host, reason } => {
                write!(f, "server {position} of the connect string: host {host:?}: {reason}")
            }
            ConnectStringError::BadPort { position, port } => write!(
                f,
                "server {position} of the connect string: port {port:?} is not a number in 1..=65535"
            ),
            ConnectStringError::BadChroot { chroot, reason } => {
                write!(f, "chroot {chroot:?} of the connect string is not a valid path: {reason}")
            }
        }
    }
}

impl std::error::Error for ConnectStringError {}

fn parse_server(position: usize, entry: &str) -> Result<ServerAddress, ConnectStringError> {
    let entry = entry.trim();
    if entry.is_empty() {
        return Err(ConnectStringError::EmptyServer { position });
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return Err(ConnectStringError::BadHost {
                position,
                host: entry.to_string(),
                reason: "'[' without a closing ']'",
            });
        };
        let host = &rest[..close];
        let after = rest[close + 1..].trim_start();
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => {
                return Err(ConnectStringError::BadHost {
                    position,
                    host: entry.to_string(),
                    reason: "only ':port' may follow a bracketed address",
                })
            }
        };
        (host.trim(), port)
    } else {
        match entry.rsplit_once(':') {
            Some((host, port)) => (host.trim(), Some(port)),
            None => (entry, None),
        }
    };
    if host.is_empty() {
        return Err(ConnectStringError::EmptyHost { position });
    }
    let bracketed = entry.starts_with('[');
    if let Some(reason) = host_problem(host, bracketed) {
        return Err(ConnectStringError::BadHost { position, host: host.to_string(), reason });
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(text) => match text.trim().parse::<u16>() {
            Ok(port) if port > 0 && text.trim().bytes().all(|b| b.is_ascii_digit()) => port,
            _ => return Err(ConnectStringError::BadPort { position, port: text.to_string() }),
        },
    };
    Ok(ServerAddress { host: host.to_string(), port })
}

fn host_problem(host: &str, bracketed: bool) -> Option<&'static str> {
    if bracketed {
        if !host.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Some("a bracketed address holds only hex digits, ':' and '.'");
        }
        return None;
    }
    if host.contains(':') {
        return Some("IPv6 addresses must be written in brackets, e.g. [::1]:2181");
    }
    if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return Some("a host holds only letters, digits, '.', '-' and '_'");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str, port: u16) -> ServerAddress {
        ServerAddress { host: host.to_string(), port }
    }

    #[test]
    fn servers_keep_their_written_order_and_the_chroot_follows_the_first_slash() {
        let cs = ConnectString::parse("10.0.0.1:2181,10.0.0.2:2182/app/x").unwrap();
        assert_eq!(cs.servers, vec![addr("10.0.0.1", 2181), addr("10.0.0.2", 2182)]);
        assert_eq!(cs.chroot.as_deref(), Some("/app/x"));
    }

    #[test]
    fn simulator_style_server_ids_are_hosts() {
        let cs = ConnectString::parse("1:2181,2:2181,3:2181").unwrap();
        assert_eq!(cs.servers.iter().map(|s| s.host.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
        assert_eq!(cs.chroot, None);
    }

    #[test]
    fn a_missing_port_is_the_default_port_and_whitespace_is_ignored() {
        let cs = ConnectString::parse(" zk1 , zk2 : 2200 ").unwrap();
        assert_eq!(cs.servers, vec![addr("zk1", DEFAULT_PORT), addr("zk2", 2200)]);
    }

    #[test]
    fn a_chroot_of_slash_means_no_chroot() {
        assert_eq!(ConnectString::parse("a:1/").unwrap().chroot, None);
    }

    #[test]
    fn bracketed_ipv6_addresses_parse_and_print_back_in_brackets() {
        let cs = ConnectString::parse("[::1]:2181,[fe80::2]").unwrap();
        assert_eq!(cs.servers, vec![addr("::1", 2181), addr("fe80::2", DEFAULT_PORT)]);
        assert_eq!(cs.to_string(), "[::1]:2181,[fe80::2]:2181");
    }

    #[test]
    fn bad_strings_say_which_entry_and_what_is_wrong() {
        let err = |s: &str| ConnectString::parse(s).unwrap_err();
        assert_eq!(err(""), ConnectStringError::Empty);
        assert_eq!(err("/app"), ConnectStringError::Empty);
        assert_eq!(err("a:1,,b:2"), ConnectStringError::EmptyServer { position: 2 });
        assert_eq!(err("a:1,"), ConnectStringError::EmptyServer { position: 2 });
        assert_eq!(err(":2181"), ConnectStringError::EmptyHost { position: 1 });
        assert_eq!(err("a:1,b:x"), ConnectStringError::BadPort { position: 2, port: "x".to_string() });
        assert_eq!(err("a:0"), ConnectStringError::BadPort { position: 1, port: "0".to_string() });
        assert_eq!(err("a:65536"), ConnectStringError::BadPort { position: 1, port: "65536".to_string() });
        assert_eq!(err("a:+5"), ConnectStringError::BadPort { position: 1, port: "+5".to_string() });
        assert_eq!(err("a:"), ConnectStringError::BadPort { position: 1, port: String::new() });
        assert!(matches!(err("a:b:1"), ConnectStringError::BadHost { position: 1, .. }));
        assert!(matches!(err("[::1"), ConnectStringError::BadHost { position: 1, .. }));
        assert!(matches!(err("[::1]x"), ConnectStringError::BadHost { position: 1, .. }));
        assert!(matches!(err("a b:1"), ConnectStringError::BadHost { position: 1, .. }));
        assert_eq!(
            err("a:1/app/"),
            ConnectStringError::BadChroot {
                chroot: "/app/".to_string(),
                reason: "path must not end with '/'"
            }
        );
        assert_eq!(
            err("a:1,b:x").to_string(),
            "server 2 of the connect string: port \"x\" is not a number in 1..=65535"
        );
    }
}
