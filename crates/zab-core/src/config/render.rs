//! [`ValidConfig`] back to `zoo.cfg` text. Settings equal to their default are left out, so a
//! rendered file says only what differs; the order is fixed so renders can be compared as text.

use std::fmt::Write as _;

use super::properties::{escape_key, escape_value};
use super::{FourLetterWords, LearnerType, QuorumAddress, ServerSpec, Settings, ValidConfig};

pub(crate) fn render(config: &ValidConfig) -> String {
    let s = &config.settings;
    let d = Settings::with_data_dir(&s.data_dir);
    let mut out = String::new();
    let mut line = |key: &str, value: String| {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{}={}", escape_key(key), escape_value(&value));
    };
    line("tickTime", s.tick_time_ms.to_string());
    if s.init_limit_ticks > 0 {
        line("initLimit", s.init_limit_ticks.to_string());
    }
    if s.sync_limit_ticks > 0 {
        line("syncLimit", s.sync_limit_ticks.to_string());
    }
    optional(&mut line, "connectToLearnerMasterLimit", s.connect_to_learner_master_limit_ticks);
    line("dataDir", s.data_dir.clone());
    optional(&mut line, "dataLogDir", s.data_log_dir.clone());
    optional(&mut line, "clientPort", s.client_port);
    optional(&mut line, "clientPortAddress", s.client_port_address.clone());
    optional(&mut line, "secureClientPort", s.secure_client_port);
    optional(&mut line, "observerMasterPort", s.observer_master_port);
    optional(&mut line, "peerType", s.peer_type);
    optional(&mut line, "minSessionTimeout", s.min_session_timeout_ms);
    optional(&mut line, "maxSessionTimeout", s.max_session_timeout_ms);
    changed(&mut line, "maxClientCnxns", s.max_client_cnxns, d.max_client_cnxns);
    changed(&mut line, "globalOutstandingLimit", s.global_outstanding_limit, d.global_outstanding_limit);
    changed(&mut line, "snapCount", s.snap_count, d.snap_count);
    changed(&mut line, "snapSizeLimitInKb", s.snap_size_limit_kb, d.snap_size_limit_kb);
    changed(&mut line, "txnLogSizeLimitInKb", s.txn_log_size_limit_kb, d.txn_log_size_limit_kb);
    changed(&mut line, "commitLogCount", s.commit_log_count, d.commit_log_count);
    if s.snapshot_size_factor != d.snapshot_size_factor {
        // Rust prints the shortest text that parses back to the same f64.
        line("snapshotSizeFactor", format!("{:?}", s.snapshot_size_factor));
    }
    changed(&mut line, "preAllocSize", s.pre_alloc_size_kb, d.pre_alloc_size_kb);
    if s.force_sync != d.force_sync {
        line("forceSync", yes_no(s.force_sync));
    }
    changed(
        &mut line,
        "fsync.warningthresholdms",
        s.fsync_warning_threshold_ms,
        d.fsync_warning_threshold_ms,
    );
    changed(
        &mut line,
        "autopurge.snapRetainCount",
        s.autopurge_snap_retain_count,
        d.autopurge_snap_retain_count,
    );
    changed(
        &mut line,
        "autopurge.purgeInterval",
        s.autopurge_purge_interval_hours,
        d.autopurge_purge_interval_hours,
    );
    changed(&mut line, "syncEnabled", s.sync_enabled, d.sync_enabled);
    if s.leader_serves != d.leader_serves {
        line("leaderServes", yes_no(s.leader_serves));
    }
    changed(&mut line, "standaloneEnabled", s.standalone_enabled, d.standalone_enabled);
    changed(&mut line, "reconfigEnabled", s.reconfig_enabled, d.reconfig_enabled);
    changed(&mut line, "multiAddress.enabled", s.multi_address_enabled, d.multi_address_enabled);
    changed(&mut line, "quorumListenOnAllIPs", s.quorum_listen_on_all_ips, d.quorum_listen_on_all_ips);
    changed(&mut line, "extendedTypesEnabled", s.extended_types_enabled, d.extended_types_enabled);
    changed(&mut line, "localSessionsEnabled", s.local_sessions_enabled, d.local_sessions_enabled);
    changed(
        &mut line,
        "localSessionsUpgradingEnabled",
        s.local_sessions_upgrading_enabled,
        d.local_sessions_upgrading_enabled,
    );
    changed(&mut line, "cnxTimeout", s.cnx_timeout_ms, d.cnx_timeout_ms);
    optional(&mut line, "leader.maxTimeToWaitForEpoch", s.max_time_to_wait_for_epoch_ms);
    if s.four_letter_words != d.four_letter_words {
        let words = match &s.four_letter_words {
            FourLetterWords::All => "*".to_string(),
            FourLetterWords::Listed(words) => words.iter().cloned().collect::<Vec<_>>().join(","),
        };
        line("4lw.commands.whitelist", words);
    }
    changed(&mut line, "admin.enableServer", s.admin.enable_server, d.admin.enable_server);
    if s.admin.server_address != d.admin.server_address {
        line("admin.serverAddress", s.admin.server_address.clone());
    }
    changed(&mut line, "admin.serverPort", s.admin.server_port, d.admin.server_port);
    if s.admin.command_url != d.admin.command_url {
        line("admin.commandURL", s.admin.command_url.clone());
    }
    changed(&mut line, "admin.idleTimeout", s.admin.idle_timeout_ms, d.admin.idle_timeout_ms);
    changed(&mut line, "digest.enabled", s.digest_enabled, d.digest_enabled);
    changed(&mut line, "db.autocreate", s.db_autocreate, d.db_autocreate);
    for (key, value) in &config.extra_keys {
        line(key, value.clone());
    }
    for spec in config.servers.values() {
        line(&format!("server.{}", spec.id), server_value(spec));
    }
    out
}

fn optional<T: std::fmt::Display>(line: &mut impl FnMut(&str, String), key: &str, value: Option<T>) {
    if let Some(value) = value {
        line(key, value.to_string());
    }
}

fn changed<T: PartialEq + std::fmt::Display>(
    line: &mut impl FnMut(&str, String),
    key: &str,
    value: T,
    default: T,
) {
    if value != default {
        line(key, value.to_string());
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

fn host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn quorum_address(address: &QuorumAddress) -> String {
    format!("{}:{}:{}", host(&address.host), address.quorum_port, address.election_port)
}

fn server_value(spec: &ServerSpec) -> String {
    let role = match spec.role {
        LearnerType::Participant => "",
        LearnerType::Observer => ":observer",
    };
    let addresses: Vec<String> =
        spec.addresses.iter().map(|a| format!("{}{role}", quorum_address(a))).collect();
    let mut value = addresses.join("|");
    if let Some(client) = &spec.client {
        match &client.host {
            Some(client_host) => {
                let _ = write!(value, ";{}:{}", host(client_host), client.port);
            }
            None => {
                let _ = write!(value, ";{}", client.port);
            }
        }
    }
    value
}
