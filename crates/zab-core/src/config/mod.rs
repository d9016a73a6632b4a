//! Server configuration: a `zoo.cfg` text plus a `myid` text, parsed and validated into a
//! [`ValidConfig`].
//!
//! The contract:
//! - [`ValidConfig::parse`] reads the two texts (the host reads the files; this module never does).
//!   It reads the keys that change behaviour (reference §6.1) as real ZooKeeper 3.8/3.9 does,
//!   apart from the differences listed below, and returns either a config plus warnings, or
//!   *every* error it found, each naming the file, the line, the key and the expected form. It
//!   never panics, whatever the text.
//! - Unknown keys are kept in [`ValidConfig::extra_keys`] (real ZooKeeper turns them into system
//!   properties) and reported as warnings, so a typo never goes unnoticed.
//! - [`ValidConfig::ensemble`] builds a config for tests and the simulator without any text, and
//!   [`ValidConfig::render`] writes a `zoo.cfg` that parses back to an equal config.
//! - The resolved view ([`ValidConfig::voters`], [`ValidConfig::quorum_size`],
//!   [`ValidConfig::my_role`], the `*_timeout_ms` accessors) is what the replica uses; it never
//!   re-derives these from raw settings.
//!
//! Differences from real ZooKeeper, on purpose:
//! - `db.autocreate` defaults to **false**: a server whose disk holds nothing starts *uninitialized*
//!   (it does not vote until a leader syncs it) unless its data dir has an `initialize` marker.
//!   A wiped disk that voted with zxid 0 could help elect a leader that lacks committed txns
//!   (reference §5 #2, ZOOKEEPER-261); the simulator wipes disks, so the safe default matters.
//! - Hierarchical quorums (`group.N`, `weight.N`) and `dynamicConfigFile` are not supported and
//!   are reported as errors rather than silently ignored.
//! - Booleans must be spelled `true`/`false` (or `yes`/`no` for the keys that use that form);
//!   Java would read any other word as false. Numbers are unsigned decimal digits (a sign is
//!   always a mistake for ids, ports and counts), except `-1` for the session timeouts and a
//!   negative size limit, which mean "default" and "off" as in Java.
//! - `commitLogCount` below 500 is accepted (with a warning) so small simulated runs can exercise
//!   SNAP synchronisation; real ZooKeeper raises it to 500.

mod parse;
mod properties;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::ids::ServerId;

/// One input text and the name to use for it in messages (usually the file's path).
#[derive(Clone, Copy, Debug)]
pub struct SourceText<'a> {
    /// Shown in messages, e.g. `zoo.cfg` or `/var/zk/data/myid`.
    pub name: &'a str,
    /// The whole content of the file.
    pub text: &'a str,
}

/// A problem found in a configuration text: an error (in [`ConfigErrors`]) or a warning (in
/// [`Loaded::warnings`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The source name, from [`SourceText::name`].
    pub file: String,
    /// 1-based line of the entry (the first line, for entries continued with `\`), when the issue
    /// is about one entry.
    pub line: Option<u32>,
    /// The key concerned, when there is one.
    pub key: Option<String>,
    /// What is wrong and, for malformed values, the expected form and the value found.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error found in a configuration: zoo.cfg issues in line order, then missing or
/// conflicting keys, then the myid file's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigIssue>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, issue) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A parsed configuration with the warnings found along the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// The validated configuration.
    pub config: ValidConfig,
    /// Things that are legal but probably not what the author meant (unknown keys, a
    /// `peerType` that the server list overrides, values raised to their minimum...).
    pub warnings: Vec<ConfigIssue>,
}

/// Whether a server votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LearnerType {
    /// A voting member: counts toward every quorum and can lead.
    Participant,
    /// A non-voting member: receives committed txns (INFORM), never votes or acks.
    Observer,
}

impl LearnerType {
    /// The word used in `server.N` lines and `peerType`.
    pub fn as_str(self) -> &'static str {
        match self {
            LearnerType::Participant => "participant",
            LearnerType::Observer => "observer",
        }
    }
}

impl fmt::Display for LearnerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One quorum address of a server: where peers connect for replication and for elections.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct QuorumAddress {
    /// Host name or IP address (IPv6 without the brackets).
    pub host: String,
    /// The replication port (2888 in the usual examples).
    pub quorum_port: u16,
    /// The leader election port (3888 in the usual examples); always differs from `quorum_port`.
    pub election_port: u16,
}

/// Where a server accepts clients, from the `;[clientHost:]clientPort` part of a `server.N` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAddress {
    /// None when only the port was given (listen on every interface).
    pub host: Option<String>,
    /// The client port.
    pub port: u16,
}

/// One `server.N` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// The `N`.
    pub id: ServerId,
    /// One address, or several (`|`-separated) with `multiAddress.enabled=true`.
    pub addresses: Vec<QuorumAddress>,
    /// Participant unless the line says `:observer`.
    pub role: LearnerType,
    /// The client address, when the line has a `;` part.
    pub client: Option<ClientAddress>,
}

/// The four-letter words a server answers on its client port (`4lw.commands.whitelist`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FourLetterWords {
    /// `*`: every command.
    All,
    /// Only these (lower-case, known commands).
    Listed(BTreeSet<String>),
}

impl FourLetterWords {
    /// Whether `command` (e.g. `"srvr"`) may be answered.
    pub fn allows(&self, command: &str) -> bool {
        match self {
            FourLetterWords::All => KNOWN_FOUR_LETTER_WORDS.contains(&command),
            FourLetterWords::Listed(words) => words.contains(command),
        }
    }
}

/// Every four-letter word real ZooKeeper 3.8/3.9 knows (reference §6.2).
pub const KNOWN_FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst", "srvr",
    "stat", "stmk", "wchc", "wchp", "wchs",
];

/// The embedded admin server (`admin.*` keys). zabsim runs no HTTP server; the values are kept
/// so `conf`-style reports and rendering stay faithful.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSettings {
    /// `admin.enableServer` (true).
    pub enable_server: bool,
    /// `admin.serverAddress` (0.0.0.0).
    pub server_address: String,
    /// `admin.serverPort` (8080).
    pub server_port: u16,
    /// `admin.commandURL` (/commands).
    pub command_url: String,
    /// `admin.idleTimeout` in ms (30000).
    pub idle_timeout_ms: u32,
}

/// Every scalar setting of `zoo.cfg` that zabsim models, typed, with real ZooKeeper's defaults
/// unless the module documentation says otherwise. Optional fields are `None` when the key is
/// absent and the effective value is derived from other keys (see the resolved accessors on
/// [`ValidConfig`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `tickTime` (3000 ms when absent, the code default; the sample zoo.cfg says 2000).
    pub tick_time_ms: u32,
    /// `initLimit`: ticks a follower may take to connect and sync. Required in quorum mode;
    /// 0 means absent (only possible in standalone mode).
    pub init_limit_ticks: u32,
    /// `syncLimit`: ticks a follower may lag before the leader drops it. Required in quorum
    /// mode; 0 means absent (only possible in standalone mode).
    pub sync_limit_ticks: u32,
    /// `connectToLearnerMasterLimit` in ticks; None = `initLimit`.
    pub connect_to_learner_master_limit_ticks: Option<u32>,
    /// `dataDir` (required): snapshots, epoch files, `myid`, `initialize`.
    pub data_dir: String,
    /// `dataLogDir`; None = `dataDir`.
    pub data_log_dir: Option<String>,
    /// `clientPort`.
    pub client_port: Option<u16>,
    /// `clientPortAddress`.
    pub client_port_address: Option<String>,
    /// `secureClientPort`.
    pub secure_client_port: Option<u16>,
    /// `peerType` as written; the server list decides the actual role.
    pub peer_type: Option<LearnerType>,
    /// `minSessionTimeout` in ms; None = 2 × tickTime.
    pub min_session_timeout_ms: Option<u32>,
    /// `maxSessionTimeout` in ms; None = 20 × tickTime.
    pub max_session_timeout_ms: Option<u32>,
    /// `maxClientCnxns` per client IP (60; 0 = unlimited).
    pub max_client_cnxns: u32,
    /// `globalOutstandingLimit` (1000).
    pub global_outstanding_limit: u32,
    /// `snapCount`: txns between snapshots (100000; at least 2).
    pub snap_count: u64,
    /// `snapSizeLimitInKb` (4 GiB; 0 = off).
    pub snap_size_limit_kb: u64,
    /// `txnLogSizeLimitInKb` (0 = off, the default).
    pub txn_log_size_limit_kb: u64,
    /// `commitLogCount`: committed txns kept in memory to serve DIFFs (500).
    pub commit_log_count: u32,
    /// `snapshotSizeFactor` (0.33): a leader sends SNAP instead of DIFF when the txns to send are
    /// larger than this fraction of the snapshot; negative turns the rule off.
    pub snapshot_size_factor: f64,
    /// `preAllocSize` in KiB (65536).
    pub pre_alloc_size_kb: u64,
    /// `forceSync` (yes): fsync the txn log on commit.
    pub force_sync: bool,
    /// `fsync.warningthresholdms` (1000).
    pub fsync_warning_threshold_ms: u64,
    /// `autopurge.snapRetainCount` (3; at least 3).
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval` in hours (0 = off).
    pub autopurge_purge_interval_hours: u32,
    /// `syncEnabled` (true): observers log to disk.
    pub sync_enabled: bool,
    /// `leaderServes` (yes): the leader accepts client connections.
    pub leader_serves: bool,
    /// `standaloneEnabled` (true): a single participant runs standalone.
    pub standalone_enabled: bool,
    /// `reconfigEnabled` (false).
    pub reconfig_enabled: bool,
    /// `multiAddress.enabled` (false): allows `|`-separated addresses in `server.N`.
    pub multi_address_enabled: bool,
    /// `quorumListenOnAllIPs` (false).
    pub quorum_listen_on_all_ips: bool,
    /// `observerMasterPort`: followers serve observers on this port when set.
    pub observer_master_port: Option<u16>,
    /// `extendedTypesEnabled` (false): TTL nodes.
    pub extended_types_enabled: bool,
    /// Not a zoo.cfg key: whether the leader answers `sync` only after a quorum has confirmed it
    /// still leads (ZooKeeper master, ZOOKEEPER-2136; the default here), or on its own once the
    /// proposals outstanding on arrival have committed (3.8/3.9, where a read after `sync` is
    /// not linearizable: reference §5 entry 19). The simulator sets it from the plan.
    pub quorum_sync: bool,
    /// `localSessionsEnabled` (false).
    pub local_sessions_enabled: bool,
    /// `localSessionsUpgradingEnabled` (false).
    pub local_sessions_upgrading_enabled: bool,
    /// `cnxTimeout` in ms (5000): election connection timeout.
    pub cnx_timeout_ms: u32,
    /// `leader.maxTimeToWaitForEpoch` (alias `maxTimeToWaitForEpoch`) in ms; None = initLimit ×
    /// tickTime.
    pub max_time_to_wait_for_epoch_ms: Option<u32>,
    /// `4lw.commands.whitelist` (only `srvr`).
    pub four_letter_words: FourLetterWords,
    /// `admin.*`.
    pub admin: AdminSettings,
    /// `digest.enabled` (true).
    pub digest_enabled: bool,
    /// `db.autocreate` (**false** in zabsim, see the module documentation).
    pub db_autocreate: bool,
}

impl Settings {
    /// The defaults of a config that sets only `dataDir`.
    pub fn with_data_dir(data_dir: &str) -> Settings {
        Settings {
            tick_time_ms: 3000,
            init_limit_ticks: 0,
            sync_limit_ticks: 0,
            connect_to_learner_master_limit_ticks: None,
            data_dir: data_dir.to_string(),
            data_log_dir: None,
            client_port: None,
            client_port_address: None,
            secure_client_port: None,
            peer_type: None,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            max_client_cnxns: 60,
            global_outstanding_limit: 1000,
            snap_count: 100_000,
            snap_size_limit_kb: 4 * 1024 * 1024,
            txn_log_size_limit_kb: 0,
            commit_log_count: 500,
            snapshot_size_factor: 0.33,
            pre_alloc_size_kb: 64 * 1024,
            force_sync: true,
            fsync_warning_threshold_ms: 1000,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            sync_enabled: true,
            leader_serves: true,
            standalone_enabled: true,
            reconfig_enabled: false,
            multi_address_enabled: false,
            quorum_listen_on_all_ips: false,
            observer_master_port: None,
            extended_types_enabled: false,
            quorum_sync: true,
            local_sessions_enabled: false,
            local_sessions_upgrading_enabled: false,
            cnx_timeout_ms: 5000,
            max_time_to_wait_for_epoch_ms: None,
            four_letter_words: FourLetterWords::Listed(BTreeSet::from(["srvr".to_string()])),
            admin: AdminSettings {
                enable_server: true,
                server_address: "0.0.0.0".to_string(),
                server_port: 8080,
                command_url: "/commands".to_string(),
                idle_timeout_ms: 30_000,
            },
            digest_enabled: true,
            db_autocreate: false,
        }
    }
}

/// A configuration that passed every check: the servers, this server's id, and typed settings.
///
/// Invariants (checked by [`ValidConfig::parse`], kept by every constructor):
/// in quorum mode `my_id` names a `server.N` line, there are at least one participant and
/// positive `initLimit`/`syncLimit`; every server's quorum and election ports differ.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidConfig {
    my_id: ServerId,
    standalone: bool,
    servers: BTreeMap<ServerId, ServerSpec>,
    settings: Settings,
    extra_keys: BTreeMap<String, String>,
}

impl ValidConfig {
    /// Parses and validates `zoo_cfg` and, when given, the `myid` file. The myid is required in
    /// quorum mode and ignored (beyond syntax) in standalone mode.
    pub fn parse(zoo_cfg: SourceText<'_>, myid: Option<SourceText<'_>>) -> Result<Loaded, ConfigErrors> {
        parse::parse(zoo_cfg, myid)
    }

    /// Parses the content of a `myid` file: a decimal server id on the first line.
    pub fn parse_myid(myid: SourceText<'_>) -> Result<ServerId, ConfigIssue> {
        parse::parse_myid(myid)
    }

    /// An ensemble of `voters` participants (ids 1..=voters) and `observers` observers (the ids
    /// after), as seen by `my_id`, with the sample zoo.cfg timing (tickTime 2000, initLimit 10,
    /// syncLimit 5), dataDir `/data/zk<id>` and client port 2181. Hosts are named `zk<id>`.
    /// A single voter runs standalone (standaloneEnabled is true by default).
    ///
    /// # Panics
    /// If `voters` is 0 or `my_id` is not one of the ensemble's ids: this builder is for code,
    /// not for input.
    pub fn ensemble(voters: u64, observers: u64, my_id: ServerId) -> ValidConfig {
        assert!(voters > 0, "an ensemble needs at least one voter");
        let last_id = voters.checked_add(observers).expect("ensemble size overflows u64");
        assert!((1..=last_id).contains(&my_id.0), "my_id {my_id} is not in the ensemble 1..={last_id}");
        let servers = (1..=last_id)
            .map(|id| {
                let role = if id <= voters { LearnerType::Participant } else { LearnerType::Observer };
                let address =
                    QuorumAddress { host: format!("zk{id}"), quorum_port: 2888, election_port: 3888 };
                (ServerId(id), ServerSpec { id: ServerId(id), addresses: vec![address], role, client: None })
            })
            .collect();
        let mut settings = Settings::with_data_dir(&format!("/data/zk{}", my_id.0));
        settings.tick_time_ms = 2000;
        settings.init_limit_ticks = 10;
        settings.sync_limit_ticks = 5;
        settings.client_port = Some(2181);
        let standalone = voters == 1 && settings.standalone_enabled;
        ValidConfig { my_id, standalone, servers, settings, extra_keys: BTreeMap::new() }
    }

    /// The same config with one more key it does not interpret itself, as a zoo.cfg line
    /// `key=value` would give (e.g. `zookeeper.testingonly.initialZxid`).
    pub fn with_extra_key(mut self, key: &str, value: &str) -> Self {
        self.extra_keys.insert(key.to_string(), value.to_string());
        self
    }

    /// The same config with other timing values.
    ///
    /// # Panics
    /// If any value is 0.
    pub fn with_ticks(mut self, tick_time_ms: u32, init_limit_ticks: u32, sync_limit_ticks: u32) -> Self {
        assert!(
            tick_time_ms > 0 && init_limit_ticks > 0 && sync_limit_ticks > 0,
            "timing values must be > 0"
        );
        self.settings.tick_time_ms = tick_time_ms;
        self.settings.init_limit_ticks = init_limit_ticks;
        self.settings.sync_limit_ticks = sync_limit_ticks;
        self
    }

    /// The same config with settings changed by `change`, validated exactly as a zoo.cfg with
    /// those settings would be (the result is what parsing the rendered text gives).
    pub fn with_settings(self, change: impl FnOnce(&mut Settings)) -> Result<Self, ConfigErrors> {
        let mut changed = self;
        change(&mut changed.settings);
        let text = changed.render();
        let myid = changed.render_myid();
        let loaded = ValidConfig::parse(
            SourceText { name: "zoo.cfg", text: &text },
            Some(SourceText { name: "myid", text: &myid }),
        )?;
        Ok(loaded.config)
    }

    /// The same configuration with [`Settings::quorum_sync`] set (not a zoo.cfg key, so it does not
    /// go through [`ValidConfig::with_settings`], which re-parses the rendered zoo.cfg).
    pub fn with_quorum_sync(mut self, on: bool) -> Self {
        self.settings.quorum_sync = on;
        self
    }

    /// A `zoo.cfg` text that parses (with [`ValidConfig::render_myid`]) back to a config equal to
    /// this one. Settings at their default value are left out.
    pub fn render(&self) -> String {
        render::render(self)
    }

    /// The content of this server's `myid` file.
    pub fn render_myid(&self) -> String {
        format!("{}\n", self.my_id.0)
    }

    /// This server's id.
    pub fn my_id(&self) -> ServerId {
        self.my_id
    }

    /// True when the server runs alone: no `server.N` lines, or a single participant with
    /// `standaloneEnabled=true`. A standalone server is its own quorum.
    pub fn is_standalone(&self) -> bool {
        self.standalone
    }

    /// Every `server.N` line, by id.
    pub fn servers(&self) -> &BTreeMap<ServerId, ServerSpec> {
        &self.servers
    }

    /// The voting members in id order. In standalone mode: this server alone.
    pub fn voters(&self) -> Vec<ServerId> {
        if self.standalone {
            return vec![self.my_id];
        }
        self.servers.values().filter(|s| s.role == LearnerType::Participant).map(|s| s.id).collect()
    }

    /// The observers in id order (none in standalone mode).
    pub fn observers(&self) -> Vec<ServerId> {
        if self.standalone {
            return Vec::new();
        }
        self.servers.values().filter(|s| s.role == LearnerType::Observer).map(|s| s.id).collect()
    }

    /// Whether `id` votes.
    pub fn is_voter(&self, id: ServerId) -> bool {
        if self.standalone {
            return id == self.my_id;
        }
        self.servers.get(&id).is_some_and(|s| s.role == LearnerType::Participant)
    }

    /// The smallest number of voters that forms a quorum: a strict majority.
    pub fn quorum_size(&self) -> usize {
        let voters = if self.standalone {
            1
        } else {
            self.servers.values().filter(|s| s.role == LearnerType::Participant).count()
        };
        voters / 2 + 1
    }

    /// Whether the voters among `ids` form a quorum. Non-voters in `ids` are ignored, as every
    /// quorum in ZAB counts voters only (reference §1.2). Allocates nothing: replicas call it
    /// for every acknowledgement.
    pub fn is_quorum(&self, ids: &BTreeSet<ServerId>) -> bool {
        ids.iter().filter(|&&id| self.is_voter(id)).count() >= self.quorum_size()
    }

    /// This server's role from the server list (participant in standalone mode).
    pub fn my_role(&self) -> LearnerType {
        if self.standalone {
            return LearnerType::Participant;
        }
        self.servers.get(&self.my_id).map_or(LearnerType::Participant, |s| s.role)
    }

    /// The typed settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Keys zabsim does not model, verbatim (key → trimmed value).
    pub fn extra_keys(&self) -> &BTreeMap<String, String> {
        &self.extra_keys
    }

    /// One tick.
    pub fn tick_time_ms(&self) -> u64 {
        u64::from(self.settings.tick_time_ms)
    }

    /// initLimit × tickTime: how long a learner may take to connect and sync.
    pub fn init_timeout_ms(&self) -> u64 {
        u64::from(self.settings.init_limit_ticks) * self.tick_time_ms()
    }

    /// syncLimit × tickTime: how long a learner may stay silent before the leader drops it (and
    /// a follower gives up on a silent leader).
    pub fn sync_timeout_ms(&self) -> u64 {
        u64::from(self.settings.sync_limit_ticks) * self.tick_time_ms()
    }

    /// connectToLearnerMasterLimit × tickTime (initLimit when absent).
    pub fn connect_to_learner_master_timeout_ms(&self) -> u64 {
        let ticks =
            self.settings.connect_to_learner_master_limit_ticks.unwrap_or(self.settings.init_limit_ticks);
        u64::from(ticks) * self.tick_time_ms()
    }

    /// How long a new leader waits for a quorum of epoch proposals (initLimit × tickTime when
    /// `maxTimeToWaitForEpoch` is absent).
    pub fn max_time_to_wait_for_epoch_ms(&self) -> u64 {
        self.settings.max_time_to_wait_for_epoch_ms.map_or_else(|| self.init_timeout_ms(), u64::from)
    }

    /// The smallest session timeout a client can get (2 × tickTime by default).
    pub fn min_session_timeout_ms(&self) -> u64 {
        self.settings.min_session_timeout_ms.map_or(2 * self.tick_time_ms(), u64::from)
    }

    /// The largest session timeout a client can get (20 × tickTime by default).
    pub fn max_session_timeout_ms(&self) -> u64 {
        self.settings.max_session_timeout_ms.map_or(20 * self.tick_time_ms(), u64::from)
    }

    /// The election connection timeout.
    pub fn cnx_timeout_ms(&self) -> u64 {
        u64::from(self.settings.cnx_timeout_ms)
    }

    /// This server's client port: from its `server.N` line when given there, else `clientPort`.
    pub fn client_port(&self) -> Option<u16> {
        self.servers
            .get(&self.my_id)
            .and_then(|s| s.client.as_ref())
            .map(|c| c.port)
            .or(self.settings.client_port)
    }

    /// Where txn logs go (`dataLogDir`, else `dataDir`).
    pub fn data_log_dir(&self) -> &str {
        self.settings.data_log_dir.as_deref().unwrap_or(&self.settings.data_dir)
    }
}
