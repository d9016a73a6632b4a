//! From `zoo.cfg` entries to a [`ValidConfig`]: typed values, the server list, cross-key rules.

use std::collections::{BTreeMap, BTreeSet};

use super::properties::{self, Entry};
use super::{
    ClientAddress, ConfigErrors, ConfigIssue, FourLetterWords, LearnerType, Loaded, QuorumAddress,
    ServerSpec, Settings, SourceText, ValidConfig, KNOWN_FOUR_LETTER_WORDS,
};
use crate::ids::ServerId;

/// The expected form of a `server.N` value, quoted in every error about one.
pub(crate) const SERVER_FORM: &str =
    "host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]";

pub(crate) fn parse(zoo_cfg: SourceText<'_>, myid: Option<SourceText<'_>>) -> Result<Loaded, ConfigErrors> {
    let mut p = Parser {
        file: zoo_cfg.name.to_string(),
        errors: Vec::new(),
        warnings: Vec::new(),
        key_lines: BTreeMap::new(),
    };
    let (entries, lex_errors) = properties::lex(zoo_cfg.text);
    for error in lex_errors {
        p.errors.push(ConfigIssue {
            file: p.file.clone(),
            line: Some(error.line),
            key: None,
            message: error.message,
        });
    }
    let entries = p.last_entry_per_key(entries);
    p.key_lines = entries.iter().map(|(key, entry)| (key.clone(), entry.line)).collect();

    let mut settings = Settings::with_data_dir("");
    let mut servers = BTreeMap::new();
    let mut extra_keys = BTreeMap::new();
    let mut server_lines = BTreeMap::new();
    let mut server_entries = 0;
    let mut in_file_order: Vec<&Entry> = entries.values().collect();
    in_file_order.sort_by_key(|entry| entry.line);
    for entry in in_file_order {
        if let Some(id) = entry.key.strip_prefix("server.") {
            server_entries += 1;
            if let Some(spec) = p.server(entry, id) {
                if let Some(&first) = server_lines.get(&spec.id) {
                    // "server.1" and "server.01" are different keys but the same server.
                    p.error(entry, format!("server {} is already defined on line {first}", spec.id));
                    continue;
                }
                server_lines.insert(spec.id, entry.line);
                servers.insert(spec.id, spec);
            }
            continue;
        }
        if !p.setting(entry, &mut settings) {
            p.unmodelled(entry);
            extra_keys.insert(entry.key.clone(), entry.value.clone());
        }
    }

    if !entries.contains_key("dataDir") {
        p.missing("dataDir", "required: the directory for snapshots, epoch files and myid");
    }
    p.check_multi_address(&servers, &server_lines, settings.multi_address_enabled);
    p.check_session_timeouts(&settings);
    p.warn_shared_addresses(&servers, &server_lines);

    // With a broken server line the ensemble is unknown: skip the checks that depend on it
    // rather than report consequences of the error already reported.
    let server_list_complete = server_entries == servers.len();
    let participants = servers.values().filter(|s| s.role == LearnerType::Participant).count();
    let standalone =
        server_entries == 0 || (server_list_complete && participants == 1 && settings.standalone_enabled);
    let myid_value = myid.and_then(|m| match parse_myid(m) {
        Ok(id) => Some(id),
        Err(issue) => {
            p.errors.push(issue);
            None
        }
    });
    let my_id = if standalone {
        standalone_id(&servers, myid_value)
    } else {
        if server_list_complete && participants == 0 {
            p.missing(
                "server.N",
                "at least one participant is required in quorum mode; every server is an observer",
            );
        }
        for key in ["initLimit", "syncLimit"] {
            if !entries.contains_key(key) {
                p.missing(key, "required in quorum mode: expected a positive number of ticks");
            }
        }
        if server_list_complete {
            p.check_my_id(myid, myid_value, &servers, &settings)
        } else {
            myid_value.unwrap_or(ServerId(0))
        }
    };

    // zoo.cfg issues in line order, then those about missing or conflicting keys, then myid's.
    let file = p.file.clone();
    let order = |issue: &ConfigIssue| (issue.file != file, issue.line.is_none(), issue.line);
    p.errors.sort_by_key(order);
    p.warnings.sort_by_key(order);
    if !p.errors.is_empty() {
        return Err(ConfigErrors(p.errors));
    }
    let config = ValidConfig { my_id, standalone, servers, settings, extra_keys };
    Ok(Loaded { config, warnings: p.warnings })
}

pub(crate) fn parse_myid(myid: SourceText<'_>) -> Result<ServerId, ConfigIssue> {
    let first_line = myid.text.lines().next().unwrap_or("");
    let trimmed = properties::java_trim(first_line);
    parse_u64(trimmed).map(ServerId).ok_or_else(|| ConfigIssue {
        file: myid.name.to_string(),
        line: Some(1),
        key: None,
        message: format!("expected the server id as a decimal integer, got {trimmed:?}"),
    })
}

/// Keys real ZooKeeper reads that zabsim accepts but does not model (security, metrics, TLS,
/// buffer sizes). They are kept in `extra_keys` with a milder warning than unknown keys.
const ACCEPTED_UNMODELLED: &[&str] = &[
    "secureClientPortAddress",
    "clientPortListenBacklog",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorum.cnxn.threads.size",
    "multiAddress.reachabilityCheckTimeoutMs",
    "multiAddress.reachabilityCheckEnabled",
    "oraclePath",
    "jute.maxbuffer",
    "serverCnxnFactory",
    "audit.enable",
    "snapshot.compression.method",
    "electionPortBindRetry",
    "maxBatchSize",
    "flushDelay",
];

const ACCEPTED_UNMODELLED_PREFIXES: &[&str] =
    &["quorum.auth.", "metricsProvider.", "ssl.", "authProvider.", "admin."];

struct Parser {
    file: String,
    errors: Vec<ConfigIssue>,
    warnings: Vec<ConfigIssue>,
    /// Canonical key → the line of the entry that counts, for issues found after the entries.
    key_lines: BTreeMap<String, u32>,
}

impl Parser {
    fn issue(&self, entry: &Entry, message: String) -> ConfigIssue {
        ConfigIssue { file: self.file.clone(), line: Some(entry.line), key: Some(entry.key.clone()), message }
    }

    fn error(&mut self, entry: &Entry, message: String) {
        let issue = self.issue(entry, message);
        self.errors.push(issue);
    }

    fn warn(&mut self, entry: &Entry, message: String) {
        let issue = self.issue(entry, message);
        self.warnings.push(issue);
    }

    fn missing(&mut self, key: &str, message: &str) {
        self.errors.push(ConfigIssue {
            file: self.file.clone(),
            line: None,
            key: Some(key.to_string()),
            message: message.to_string(),
        });
    }

    fn expected(&mut self, entry: &Entry, form: &str) {
        self.error(entry, format!("expected {form}, got {:?}", entry.value));
    }

    /// Java properties keep the last value of a repeated key; say so, since the first one
    /// silently losing is a classic zoo.cfg mistake.
    fn last_entry_per_key(&mut self, entries: Vec<Entry>) -> BTreeMap<String, Entry> {
        let mut by_key: BTreeMap<String, Entry> = BTreeMap::new();
        for entry in entries {
            let canonical = canonical_key(&entry.key).to_string();
            if let Some(previous) = by_key.get(&canonical) {
                let message = format!("repeated; line {} overrides line {}", entry.line, previous.line);
                self.warn(&entry, message);
            }
            by_key.insert(canonical, entry);
        }
        by_key
    }

    /// Reads one modelled key into `settings`; false when the key is not one zabsim models.
    fn setting(&mut self, entry: &Entry, settings: &mut Settings) -> bool {
        let s = settings;
        match canonical_key(&entry.key) {
            "tickTime" => self.positive_u32(entry, "a positive number of milliseconds", &mut s.tick_time_ms),
            "initLimit" => self.positive_u32(entry, "a positive number of ticks", &mut s.init_limit_ticks),
            "syncLimit" => self.positive_u32(entry, "a positive number of ticks", &mut s.sync_limit_ticks),
            "connectToLearnerMasterLimit" => {
                s.connect_to_learner_master_limit_ticks =
                    self.optional_positive(entry, "a positive number of ticks")
            }
            "dataDir" => self.path(entry, &mut s.data_dir),
            "dataLogDir" => {
                let mut dir = String::new();
                self.path(entry, &mut dir);
                s.data_log_dir = Some(dir);
            }
            "clientPort" => s.client_port = self.port(entry),
            "clientPortAddress" => s.client_port_address = Some(entry.value.clone()),
            "secureClientPort" => s.secure_client_port = self.port(entry),
            "observerMasterPort" => s.observer_master_port = self.port(entry),
            "peerType" => match learner_type(&entry.value) {
                Some(role) => s.peer_type = Some(role),
                None => self.expected(entry, "observer or participant"),
            },
            "electionAlg" => {
                if entry.value != "3" {
                    self.expected(entry, "3 (fast leader election, the only algorithm left since 3.6)");
                }
            }
            "minSessionTimeout" => s.min_session_timeout_ms = self.session_timeout(entry),
            "maxSessionTimeout" => s.max_session_timeout_ms = self.session_timeout(entry),
            "maxClientCnxns" => {
                self.u32(entry, "a number of connections (0 = unlimited)", &mut s.max_client_cnxns)
            }
            "globalOutstandingLimit" => {
                self.positive_u32(entry, "a positive number of requests", &mut s.global_outstanding_limit)
            }
            "snapCount" => {
                if let Some(count) = self.u64(entry, "a number of txns") {
                    if count < 2 {
                        self.warn(entry, format!("{count} is below the minimum; using 2"));
                    }
                    s.snap_count = count.max(2);
                }
            }
            "snapSizeLimitInKb" => {
                s.snap_size_limit_kb = self.size_or_off(entry).unwrap_or(s.snap_size_limit_kb)
            }
            "txnLogSizeLimitInKb" => {
                s.txn_log_size_limit_kb = self.size_or_off(entry).unwrap_or(s.txn_log_size_limit_kb)
            }
            "commitLogCount" => {
                let mut count = s.commit_log_count;
                self.positive_u32(entry, "a positive number of txns", &mut count);
                if count < 500 {
                    self.warn(entry, format!("{count} is below 500, which real ZooKeeper enforces"));
                }
                s.commit_log_count = count;
            }
            "snapshotSizeFactor" => match entry.value.parse::<f64>() {
                Ok(factor) if factor.is_finite() => s.snapshot_size_factor = factor,
                _ => self.expected(entry, "a decimal number such as 0.33 (negative = off)"),
            },
            "preAllocSize" => {
                if let Some(kb) = self.u64(entry, "a size in KiB") {
                    s.pre_alloc_size_kb = kb;
                }
            }
            "forceSync" => self.yes_no(entry, &mut s.force_sync),
            "fsync.warningthresholdms" => {
                if let Some(ms) = self.u64(entry, "a number of milliseconds") {
                    s.fsync_warning_threshold_ms = ms;
                }
            }
            "autopurge.snapRetainCount" => {
                let mut count = s.autopurge_snap_retain_count;
                self.u32(entry, "a number of snapshots (at least 3)", &mut count);
                if count < 3 {
                    self.warn(entry, format!("{count} is below the minimum; using 3"));
                }
                s.autopurge_snap_retain_count = count.max(3);
            }
            "autopurge.purgeInterval" => {
                self.u32(entry, "a number of hours (0 = off)", &mut s.autopurge_purge_interval_hours)
            }
            "syncEnabled" => self.bool(entry, &mut s.sync_enabled),
            "leaderServes" => self.yes_no(entry, &mut s.leader_serves),
            "standaloneEnabled" => self.bool(entry, &mut s.standalone_enabled),
            "reconfigEnabled" => self.bool(entry, &mut s.reconfig_enabled),
            "multiAddress.enabled" => self.bool(entry, &mut s.multi_address_enabled),
            "quorumListenOnAllIPs" => self.bool(entry, &mut s.quorum_listen_on_all_ips),
            "extendedTypesEnabled" => self.bool(entry, &mut s.extended_types_enabled),
            "localSessionsEnabled" => self.bool(entry, &mut s.local_sessions_enabled),
            "localSessionsUpgradingEnabled" => self.bool(entry, &mut s.local_sessions_upgrading_enabled),
            "digest.enabled" => self.bool(entry, &mut s.digest_enabled),
            "db.autocreate" => self.bool(entry, &mut s.db_autocreate),
            "cnxTimeout" => {
                self.positive_u32(entry, "a positive number of milliseconds", &mut s.cnx_timeout_ms)
            }
            "leader.maxTimeToWaitForEpoch" => {
                s.max_time_to_wait_for_epoch_ms =
                    self.optional_positive(entry, "a positive number of milliseconds")
            }
            "4lw.commands.whitelist" => s.four_letter_words = self.four_letter_words(entry),
            "admin.enableServer" => self.bool(entry, &mut s.admin.enable_server),
            "admin.serverAddress" => s.admin.server_address = entry.value.clone(),
            "admin.serverPort" => {
                if let Some(port) = self.port(entry) {
                    s.admin.server_port = port;
                }
            }
            "admin.commandURL" => s.admin.command_url = entry.value.clone(),
            "admin.idleTimeout" => {
                self.positive_u32(entry, "a positive number of milliseconds", &mut s.admin.idle_timeout_ms)
            }
            "dynamicConfigFile" => self.error(
                entry,
                "not supported: zabsim reads no other files; put the server.N lines in zoo.cfg".to_string(),
            ),
            key if key.starts_with("group.") || key.starts_with("weight.") => self.error(
                entry,
                "not supported: hierarchical quorums (group.N/weight.N) are a non-goal; \
                 zabsim uses majority quorums"
                    .to_string(),
            ),
            _ => return false,
        }
        true
    }

    fn unmodelled(&mut self, entry: &Entry) {
        let key = entry.key.as_str();
        let known = ACCEPTED_UNMODELLED.contains(&key)
            || ACCEPTED_UNMODELLED_PREFIXES.iter().any(|prefix| key.starts_with(prefix));
        let message = if known {
            "accepted but has no effect in zabsim".to_string()
        } else {
            format!("unknown key; kept (real ZooKeeper sets it as system property zookeeper.{key})")
        };
        self.warn(entry, message);
    }

    fn server(&mut self, entry: &Entry, id_text: &str) -> Option<ServerSpec> {
        let Some(id) = parse_u64(id_text) else {
            self.error(entry, "expected server.N with N a non-negative integer server id".to_string());
            return None;
        };
        match parse_server_value(&entry.value) {
            Ok((addresses, role, client)) => Some(ServerSpec { id: ServerId(id), addresses, role, client }),
            Err(reason) => {
                self.error(entry, format!("expected {SERVER_FORM}, got {:?} ({reason})", entry.value));
                None
            }
        }
    }

    fn check_multi_address(
        &mut self,
        servers: &BTreeMap<ServerId, ServerSpec>,
        lines: &BTreeMap<ServerId, u32>,
        enabled: bool,
    ) {
        if enabled {
            return;
        }
        for spec in servers.values().filter(|s| s.addresses.len() > 1) {
            self.errors.push(ConfigIssue {
                file: self.file.clone(),
                line: lines.get(&spec.id).copied(),
                key: Some(format!("server.{}", spec.id)),
                message: "several addresses separated by '|' need multiAddress.enabled=true".to_string(),
            });
        }
    }

    /// Two servers on one address cannot both bind it. Real ZooKeeper only finds out when the
    /// second one starts, so this is a warning: the simulator gives every server its own host.
    fn warn_shared_addresses(
        &mut self,
        servers: &BTreeMap<ServerId, ServerSpec>,
        lines: &BTreeMap<ServerId, u32>,
    ) {
        let mut first_user: BTreeMap<(String, u16), ServerId> = BTreeMap::new();
        for spec in servers.values() {
            for address in &spec.addresses {
                for port in [address.quorum_port, address.election_port] {
                    let slot = (address.host.clone(), port);
                    match first_user.get(&slot) {
                        Some(&other) if other != spec.id => self.warnings.push(ConfigIssue {
                            file: self.file.clone(),
                            line: lines.get(&spec.id).copied(),
                            key: Some(format!("server.{}", spec.id)),
                            message: format!("{}:{port} is also used by server.{other}", address.host),
                        }),
                        Some(_) => {}
                        None => {
                            first_user.insert(slot, spec.id);
                        }
                    }
                }
            }
        }
    }

    fn check_session_timeouts(&mut self, s: &Settings) {
        let tick = u64::from(s.tick_time_ms);
        let min = s.min_session_timeout_ms.map_or(2 * tick, u64::from);
        let max = s.max_session_timeout_ms.map_or(20 * tick, u64::from);
        if min > max {
            self.missing(
                "minSessionTimeout",
                &format!("must not be larger than maxSessionTimeout ({min} ms > {max} ms)"),
            );
        }
    }

    fn check_my_id(
        &mut self,
        myid: Option<SourceText<'_>>,
        value: Option<ServerId>,
        servers: &BTreeMap<ServerId, ServerSpec>,
        settings: &Settings,
    ) -> ServerId {
        let Some(id) = value else {
            if myid.is_none() {
                self.errors.push(ConfigIssue {
                    file: "myid".to_string(),
                    line: None,
                    key: None,
                    message: "required in quorum mode: the id of this server, one of the server.N lines"
                        .to_string(),
                });
            }
            return ServerId(0);
        };
        let Some(spec) = servers.get(&id) else {
            let known: Vec<String> = servers.keys().map(|k| k.0.to_string()).collect();
            self.errors.push(ConfigIssue {
                file: myid.map_or("myid", |m| m.name).to_string(),
                line: Some(1),
                key: None,
                message: format!("{id} does not match any server.N line (servers: {})", known.join(", ")),
            });
            return id;
        };
        if let Some(peer_type) = settings.peer_type {
            if peer_type != spec.role {
                self.warnings.push(ConfigIssue {
                    file: self.file.clone(),
                    line: self.key_lines.get("peerType").copied(),
                    key: Some("peerType".to_string()),
                    message: format!(
                        "says {peer_type} but server.{id} is a {}; the server list wins",
                        spec.role
                    ),
                });
            }
        }
        if let (Some(line_client), Some(port)) = (&spec.client, settings.client_port) {
            if line_client.port != port {
                self.errors.push(ConfigIssue {
                    file: self.file.clone(),
                    line: self.key_lines.get("clientPort").copied(),
                    key: Some("clientPort".to_string()),
                    message: format!(
                        "{port} conflicts with the client port {} in server.{id}",
                        line_client.port
                    ),
                });
            }
        }
        id
    }

    fn u64(&mut self, entry: &Entry, form: &str) -> Option<u64> {
        let value = parse_u64(&entry.value);
        if value.is_none() {
            self.expected(entry, form);
        }
        value
    }

    fn u32(&mut self, entry: &Entry, form: &str, target: &mut u32) {
        match parse_u64(&entry.value).and_then(|v| u32::try_from(v).ok()) {
            Some(value) => *target = value,
            None => self.expected(entry, form),
        }
    }

    fn positive_u32(&mut self, entry: &Entry, form: &str, target: &mut u32) {
        match parse_u64(&entry.value).and_then(|v| u32::try_from(v).ok()).filter(|&v| v > 0) {
            Some(value) => *target = value,
            None => self.expected(entry, form),
        }
    }

    fn optional_positive(&mut self, entry: &Entry, form: &str) -> Option<u32> {
        let mut value = 0;
        self.positive_u32(entry, form, &mut value);
        (value > 0).then_some(value)
    }

    /// `-1` is Java's "use the default", which sample configs sometimes spell out.
    fn session_timeout(&mut self, entry: &Entry) -> Option<u32> {
        if entry.value == "-1" {
            return None;
        }
        self.optional_positive(entry, "a positive number of milliseconds (or -1 for the default)")
    }

    /// Sizes where zero or a negative number turns the limit off.
    fn size_or_off(&mut self, entry: &Entry) -> Option<u64> {
        let value = entry.value.as_str();
        if let Some(negative) = value.strip_prefix('-') {
            if parse_u64(negative).is_some() {
                return Some(0);
            }
        }
        self.u64(entry, "a size in KiB (0 or negative = off)")
    }

    fn port(&mut self, entry: &Entry) -> Option<u16> {
        let port = parse_port(&entry.value);
        if port.is_none() {
            self.expected(entry, "a port number 1-65535");
        }
        port
    }

    fn path(&mut self, entry: &Entry, target: &mut String) {
        if entry.value.is_empty() {
            self.expected(entry, "a directory path");
        } else {
            *target = entry.value.clone();
        }
    }

    fn bool(&mut self, entry: &Entry, target: &mut bool) {
        match entry.value.to_ascii_lowercase().as_str() {
            "true" => *target = true,
            "false" => *target = false,
            _ => self.expected(entry, "true or false"),
        }
    }

    fn yes_no(&mut self, entry: &Entry, target: &mut bool) {
        match entry.value.to_ascii_lowercase().as_str() {
            "yes" | "true" => *target = true,
            "no" | "false" => *target = false,
            _ => self.expected(entry, "yes or no"),
        }
    }

    fn four_letter_words(&mut self, entry: &Entry) -> FourLetterWords {
        let mut words = BTreeSet::new();
        for word in entry.value.split(',').map(properties::java_trim).filter(|w| !w.is_empty()) {
            if word == "*" {
                return FourLetterWords::All;
            }
            if KNOWN_FOUR_LETTER_WORDS.contains(&word) {
                words.insert(word.to_string());
            } else {
                self.warn(entry, format!("{word:?} is not a four-letter word ZooKeeper knows; ignored"));
            }
        }
        FourLetterWords::Listed(words)
    }
}

/// One spelling per setting, so a repeated key is detected whatever alias was used.
fn canonical_key(key: &str) -> &str {
    match key {
        "maxTimeToWaitForEpoch" => "leader.maxTimeToWaitForEpoch",
        other => other,
    }
}

fn standalone_id(servers: &BTreeMap<ServerId, ServerSpec>, myid: Option<ServerId>) -> ServerId {
    let participant = servers.values().find(|s| s.role == LearnerType::Participant).map(|s| s.id);
    myid.or(participant).unwrap_or(ServerId(0))
}

/// Digits only: Java would also take a sign, but a signed id, port or count is always a mistake.
fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_port(text: &str) -> Option<u16> {
    parse_u64(text).and_then(|p| u16::try_from(p).ok()).filter(|&p| p > 0)
}

fn learner_type(text: &str) -> Option<LearnerType> {
    match text.to_ascii_lowercase().as_str() {
        "participant" => Some(LearnerType::Participant),
        "observer" => Some(LearnerType::Observer),
        _ => None,
    }
}

type ServerValue = (Vec<QuorumAddress>, LearnerType, Option<ClientAddress>);

/// Parses `addr[|addr...][;[clientHost:]clientPort]`; the error is the reason, the caller adds
/// the expected form and the value.
fn parse_server_value(value: &str) -> Result<ServerValue, String> {
    let mut parts = value.split(';');
    let addresses_text = parts.next().unwrap_or("");
    let client_text = parts.next();
    if parts.next().is_some() {
        return Err("more than one ';'".to_string());
    }
    let mut addresses = Vec::new();
    let mut role: Option<LearnerType> = None;
    for address_text in addresses_text.split('|') {
        let (address, address_role) = parse_quorum_address(properties::java_trim(address_text))?;
        if let (Some(previous), Some(this)) = (role, address_role) {
            if previous != this {
                return Err("addresses disagree on the role".to_string());
            }
        }
        role = role.or(address_role);
        addresses.push(address);
    }
    let client = client_text.map(|text| parse_client_address(properties::java_trim(text))).transpose()?;
    Ok((addresses, role.unwrap_or(LearnerType::Participant), client))
}

fn parse_quorum_address(text: &str) -> Result<(QuorumAddress, Option<LearnerType>), String> {
    let (host, rest) = split_host(text)?;
    let fields: Vec<&str> = rest.split(':').collect();
    if fields.len() < 2 || fields.len() > 3 {
        return Err("expected a host, two ports and an optional role".to_string());
    }
    let quorum_port = parse_port(fields[0]).ok_or_else(|| format!("bad quorum port {:?}", fields[0]))?;
    let election_port = parse_port(fields[1]).ok_or_else(|| format!("bad election port {:?}", fields[1]))?;
    if quorum_port == election_port {
        return Err("quorum and election ports must differ".to_string());
    }
    let role = match fields.get(2) {
        None => None,
        Some(word) => Some(learner_type(word).ok_or_else(|| format!("bad role {word:?}"))?),
    };
    Ok((QuorumAddress { host, quorum_port, election_port }, role))
}

fn parse_client_address(text: &str) -> Result<ClientAddress, String> {
    match text.rsplit_once(':') {
        None => {
            let port = parse_port(text).ok_or_else(|| format!("bad client port {text:?}"))?;
            Ok(ClientAddress { host: None, port })
        }
        Some(_) => {
            let (host, rest) = split_host(text)?;
            let port = parse_port(rest).ok_or_else(|| format!("bad client port {rest:?}"))?;
            Ok(ClientAddress { host: Some(host), port })
        }
    }
}

/// Splits `host:rest`, where the host may be a bracketed IPv6 address.
fn split_host(text: &str) -> Result<(String, &str), String> {
    if let Some(bracketed) = text.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or("unclosed '[' in an IPv6 address")?;
        let rest = after.strip_prefix(':').ok_or("expected ':' after the IPv6 address")?;
        return Ok((checked_host(host)?.to_string(), rest));
    }
    let (host, rest) = text.split_once(':').ok_or("expected ':' after the host")?;
    Ok((checked_host(host)?.to_string(), rest))
}

fn checked_host(host: &str) -> Result<&str, String> {
    if host.is_empty() {
        return Err("empty host".to_string());
    }
    if host.chars().any(|c| c <= ' ' || c == '[' || c == ']') {
        return Err(format!("bad host {host:?}"));
    }
    Ok(host)
}
