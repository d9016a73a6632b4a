//! zoo.cfg + myid parsing: what is accepted, what each key means, and the exact errors.

use std::collections::BTreeSet;

use zab_core::config::{
    ClientAddress, ConfigErrors, ConfigIssue, FourLetterWords, LearnerType, Loaded, QuorumAddress,
    SourceText, ValidConfig,
};
use zab_core::ServerId;

const SEED: &str = include_str!("fixtures/seed_000_observers.cfg");
const SEED_COMPLETE: &str = include_str!("fixtures/seed_000_observers_complete.cfg");

/// A three-voter quorum config; tests append the keys they are about.
const BASE: &str = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/data\n\
                    server.1=zk1:2888:3888\nserver.2=zk2:2888:3888\nserver.3=zk3:2888:3888\n";

fn load(cfg: &str, myid: Option<&str>) -> Result<Loaded, ConfigErrors> {
    ValidConfig::parse(
        SourceText { name: "zoo.cfg", text: cfg },
        myid.map(|text| SourceText { name: "myid", text }),
    )
}

fn ok(cfg: &str, myid: &str) -> Loaded {
    match load(cfg, Some(myid)) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("expected a valid config, got:\n{errors}"),
    }
}

fn errors(cfg: &str, myid: Option<&str>) -> Vec<String> {
    match load(cfg, myid) {
        Ok(loaded) => panic!("expected errors, got a valid config: {:?}", loaded.config),
        Err(errors) => errors.0.iter().map(ConfigIssue::to_string).collect(),
    }
}

fn warnings(loaded: &Loaded) -> Vec<String> {
    loaded.warnings.iter().map(ConfigIssue::to_string).collect()
}

fn ids(raw: &[u64]) -> Vec<ServerId> {
    raw.iter().copied().map(ServerId).collect()
}

#[test]
fn seed_config_lines_parse_and_only_the_timing_keys_quorum_mode_requires_are_reported_missing() {
    // The seed's lines: "dataDir =..." with a blank before '=', a non-ASCII comment, observers.
    // Real ZooKeeper refuses to start quorum mode without initLimit and syncLimit, and so do we.
    assert_eq!(
        errors(SEED, Some("1\n")),
        vec![
            "zoo.cfg: initLimit: required in quorum mode: expected a positive number of ticks",
            "zoo.cfg: syncLimit: required in quorum mode: expected a positive number of ticks",
        ]
    );
}

#[test]
fn seed_config_with_timing_resolves_three_voters_and_two_observers() {
    let loaded = ok(SEED_COMPLETE, "4\n");
    let config = &loaded.config;
    assert_eq!(config.voters(), ids(&[1, 2, 3]));
    assert_eq!(config.observers(), ids(&[4, 5]));
    assert_eq!(config.quorum_size(), 2);
    assert_eq!(config.my_id(), ServerId(4));
    assert_eq!(config.my_role(), LearnerType::Observer);
    assert!(!config.is_standalone());
    assert_eq!(config.settings().data_dir, "/usr/local/zookeeper/data");
    assert_eq!(config.data_log_dir(), "/usr/local/zookeeper/logs");
    assert_eq!(
        config.servers()[&ServerId(4)].addresses,
        vec![QuorumAddress { host: "192.168.6.139".into(), quorum_port: 2888, election_port: 3888 }]
    );
    // Servers 3, 4 and 5 share one host and port pair: legal text, but they cannot all bind it.
    assert_eq!(
        warnings(&loaded),
        vec![
            "zoo.cfg:13: server.4: 192.168.6.139:2888 is also used by server.3",
            "zoo.cfg:13: server.4: 192.168.6.139:3888 is also used by server.3",
            "zoo.cfg:14: server.5: 192.168.6.139:2888 is also used by server.3",
            "zoo.cfg:14: server.5: 192.168.6.139:3888 is also used by server.3",
        ]
    );
}

#[test]
fn a_malformed_server_line_names_file_line_key_expected_form_and_value() {
    let cfg = format!("{BASE}server.4=zk4:2888\n");
    assert_eq!(
        errors(&cfg, Some("1")),
        vec![
            "zoo.cfg:8: server.4: expected host:quorumPort:electionPort[:participant|:observer]\
             [;[clientHost:]clientPort], got \"zk4:2888\" (expected a host, two ports and an optional role)"
        ]
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let cfg = "tickTime=soon\ninitLimit=0\nsyncLimit=5\ndataDir=/d\nserver.1=a:1:1\nserver.x=b:1:2\n\
               server.2=c:2888:3888:voter\nelectionAlg=1\nforceSync=maybe\n";
    assert_eq!(
        errors(cfg, Some("2")),
        vec![
            "zoo.cfg:1: tickTime: expected a positive number of milliseconds, got \"soon\"",
            "zoo.cfg:2: initLimit: expected a positive number of ticks, got \"0\"",
            "zoo.cfg:5: server.1: expected host:quorumPort:electionPort[:participant|:observer]\
             [;[clientHost:]clientPort], got \"a:1:1\" (quorum and election ports must differ)",
            "zoo.cfg:6: server.x: expected server.N with N a non-negative integer server id",
            "zoo.cfg:7: server.2: expected host:quorumPort:electionPort[:participant|:observer]\
             [;[clientHost:]clientPort], got \"c:2888:3888:voter\" (bad role \"voter\")",
            "zoo.cfg:8: electionAlg: expected 3 (fast leader election, the only algorithm left since 3.6), \
             got \"1\"",
            "zoo.cfg:9: forceSync: expected yes or no, got \"maybe\"",
        ]
    );
}

#[test]
fn server_lines_accept_roles_client_addresses_and_ipv6_hosts() {
    let cfg = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\n\
               server.1=zk1:2888:3888:participant;2181\n\
               server.2=zk2:2888:3888:OBSERVER;10.0.0.2:2182\n\
               server.3=[fe80::1]:2888:3888;[::1]:2183\n\
               server.4 = zk4:2888:3888 ; 2184 \n";
    let config = ok(cfg, "1").config;
    let servers = config.servers();
    assert_eq!(servers[&ServerId(1)].role, LearnerType::Participant);
    assert_eq!(servers[&ServerId(1)].client, Some(ClientAddress { host: None, port: 2181 }));
    assert_eq!(servers[&ServerId(2)].role, LearnerType::Observer);
    assert_eq!(
        servers[&ServerId(2)].client,
        Some(ClientAddress { host: Some("10.0.0.2".into()), port: 2182 })
    );
    assert_eq!(servers[&ServerId(3)].addresses[0].host, "fe80::1");
    assert_eq!(servers[&ServerId(3)].client, Some(ClientAddress { host: Some("::1".into()), port: 2183 }));
    assert_eq!(servers[&ServerId(4)].client, Some(ClientAddress { host: None, port: 2184 }));
    assert_eq!(config.voters(), ids(&[1, 3, 4]));
    assert_eq!(config.client_port(), Some(2181), "the server line gives this server's client port");
}

#[test]
fn several_addresses_need_multi_address_enabled() {
    let line = "server.4=a1:2888:3888|a2:2889:3889\n";
    assert_eq!(
        errors(&format!("{BASE}{line}"), Some("1")),
        vec!["zoo.cfg:8: server.4: several addresses separated by '|' need multiAddress.enabled=true"]
    );
    let config = ok(&format!("{BASE}{line}multiAddress.enabled=true\n"), "4").config;
    let hosts: Vec<&str> = config.servers()[&ServerId(4)].addresses.iter().map(|a| a.host.as_str()).collect();
    assert_eq!(hosts, vec!["a1", "a2"]);
}

#[test]
fn one_server_id_spelled_twice_is_an_error() {
    assert_eq!(
        errors(&format!("{BASE}server.01=zk9:2888:3888\n"), Some("1")),
        vec!["zoo.cfg:8: server.01: server 1 is already defined on line 5"]
    );
}

#[test]
fn the_server_list_wins_over_peer_type_with_a_warning() {
    let loaded = ok(&format!("{BASE}peerType=observer\n"), "2");
    assert_eq!(loaded.config.my_role(), LearnerType::Participant);
    assert_eq!(loaded.config.settings().peer_type, Some(LearnerType::Observer));
    assert_eq!(
        warnings(&loaded),
        vec!["zoo.cfg:8: peerType: says observer but server.2 is a participant; the server list wins"]
    );
}

#[test]
fn hierarchical_quorums_and_dynamic_config_files_are_reported_as_not_supported() {
    let cfg = format!("{BASE}group.1=1:2:3\nweight.1=1\ndynamicConfigFile=/etc/zoo.dyn\n");
    let found = errors(&cfg, Some("1"));
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().all(|e| e.contains("not supported")), "{found:#?}");
    assert!(found[0].starts_with("zoo.cfg:8: group.1: not supported"), "{found:#?}");
}

#[test]
fn myid_is_required_in_quorum_mode_must_name_a_server_and_must_be_a_number() {
    assert_eq!(
        errors(BASE, None),
        vec!["myid: required in quorum mode: the id of this server, one of the server.N lines"]
    );
    assert_eq!(
        errors(BASE, Some("7\n")),
        vec!["myid:1: 7 does not match any server.N line (servers: 1, 2, 3)"]
    );
    assert_eq!(
        errors(BASE, Some("one\n")),
        vec!["myid:1: expected the server id as a decimal integer, got \"one\""]
    );
    assert_eq!(ok(BASE, "  3  \nignored\n").config.my_id(), ServerId(3));
}

#[test]
fn standalone_mode_needs_no_myid_nor_quorum_timing() {
    let config = load("dataDir=/d\nclientPort=2181\n", None).expect("no server lines: standalone").config;
    assert!(config.is_standalone());
    assert_eq!(config.voters(), ids(&[0]));
    assert_eq!(config.quorum_size(), 1);
    assert_eq!(config.settings().tick_time_ms, 3000, "the code default, not the sample file's 2000");

    let single = load("dataDir=/d\nserver.1=zk1:2888:3888\nserver.2=zk2:2888:3888:observer\n", None)
        .expect("one participant runs standalone");
    assert!(single.config.is_standalone());
    assert_eq!(single.config.voters(), ids(&[1]));
    assert_eq!(single.config.observers(), ids(&[]));
}

#[test]
fn a_single_participant_with_standalone_disabled_runs_a_quorum_of_one() {
    let cfg = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\nstandaloneEnabled=false\n\
               server.1=zk1:2888:3888\nserver.2=zk2:2888:3888:observer\n";
    let config = ok(cfg, "2").config;
    assert!(!config.is_standalone());
    assert_eq!(config.voters(), ids(&[1]));
    assert_eq!(config.observers(), ids(&[2]));
    assert_eq!(config.quorum_size(), 1);
    assert_eq!(config.my_role(), LearnerType::Observer);
}

#[test]
fn an_ensemble_of_only_observers_is_refused() {
    let cfg = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\n\
               server.1=zk1:2888:3888:observer\nserver.2=zk2:2888:3888:observer\n";
    assert_eq!(
        errors(cfg, Some("1")),
        vec!["zoo.cfg: server.N: at least one participant is required in quorum mode; every server is an observer"]
    );
}

#[test]
fn data_dir_is_required_and_data_log_dir_defaults_to_it() {
    let without = BASE.replace("dataDir=/data\n", "");
    assert_eq!(
        errors(&without, Some("1")),
        vec!["zoo.cfg: dataDir: required: the directory for snapshots, epoch files and myid"]
    );
    assert_eq!(ok(BASE, "1").config.data_log_dir(), "/data");
}

#[test]
fn timeouts_are_ticks_times_tick_time_and_session_bounds_default_to_2_and_20_ticks() {
    let config = ok(&format!("{BASE}connectToLearnerMasterLimit=3\n"), "1").config;
    assert_eq!(config.tick_time_ms(), 2000);
    assert_eq!(config.init_timeout_ms(), 20_000);
    assert_eq!(config.sync_timeout_ms(), 10_000);
    assert_eq!(config.connect_to_learner_master_timeout_ms(), 6_000);
    assert_eq!(config.max_time_to_wait_for_epoch_ms(), 20_000);
    assert_eq!(config.min_session_timeout_ms(), 4_000);
    assert_eq!(config.max_session_timeout_ms(), 40_000);
    assert_eq!(config.cnx_timeout_ms(), 5_000);

    let plain = ok(BASE, "1").config;
    assert_eq!(plain.connect_to_learner_master_timeout_ms(), 20_000, "defaults to initLimit");

    let explicit =
        ok(&format!("{BASE}minSessionTimeout=1000\nmaxSessionTimeout=-1\nmaxTimeToWaitForEpoch=777\n"), "1")
            .config;
    assert_eq!(explicit.min_session_timeout_ms(), 1_000);
    assert_eq!(explicit.max_session_timeout_ms(), 40_000, "-1 means the default");
    assert_eq!(explicit.max_time_to_wait_for_epoch_ms(), 777);
}

#[test]
fn a_minimum_session_timeout_above_the_maximum_is_an_error() {
    assert_eq!(
        errors(&format!("{BASE}minSessionTimeout=50000\n"), Some("1")),
        vec!["zoo.cfg: minSessionTimeout: must not be larger than maxSessionTimeout (50000 ms > 40000 ms)"]
    );
}

#[test]
fn values_below_a_minimum_are_raised_to_it_with_a_warning() {
    let loaded = ok(&format!("{BASE}autopurge.snapRetainCount=1\nsnapCount=1\ncommitLogCount=20\n"), "1");
    let settings = loaded.config.settings();
    assert_eq!(settings.autopurge_snap_retain_count, 3);
    assert_eq!(settings.snap_count, 2);
    assert_eq!(settings.commit_log_count, 20, "small commit logs are allowed so runs exercise SNAP");
    assert_eq!(
        warnings(&loaded),
        vec![
            "zoo.cfg:8: autopurge.snapRetainCount: 1 is below the minimum; using 3",
            "zoo.cfg:9: snapCount: 1 is below the minimum; using 2",
            "zoo.cfg:10: commitLogCount: 20 is below 500, which real ZooKeeper enforces",
        ]
    );
}

#[test]
fn four_letter_words_default_to_srvr_star_allows_all_and_unknown_words_are_dropped_with_a_warning() {
    let default = ok(BASE, "1").config;
    assert_eq!(
        default.settings().four_letter_words,
        FourLetterWords::Listed(BTreeSet::from(["srvr".into()]))
    );
    assert!(default.settings().four_letter_words.allows("srvr"));
    assert!(!default.settings().four_letter_words.allows("ruok"));

    let all = ok(&format!("{BASE}4lw.commands.whitelist=*\n"), "1").config;
    assert!(all.settings().four_letter_words.allows("mntr"));
    assert!(!all.settings().four_letter_words.allows("nope"));

    let listed = ok(&format!("{BASE}4lw.commands.whitelist=ruok, stat ,bogus\n"), "1");
    assert_eq!(
        listed.config.settings().four_letter_words,
        FourLetterWords::Listed(BTreeSet::from(["ruok".into(), "stat".into()]))
    );
    assert_eq!(
        warnings(&listed),
        vec![
            "zoo.cfg:8: 4lw.commands.whitelist: \"bogus\" is not a four-letter word ZooKeeper knows; ignored"
        ]
    );
}

#[test]
fn db_autocreate_defaults_to_false_so_an_empty_disk_does_not_vote() {
    assert!(!ok(BASE, "1").config.settings().db_autocreate);
    assert!(ok(&format!("{BASE}db.autocreate=true\n"), "1").config.settings().db_autocreate);
}

#[test]
fn unknown_keys_are_kept_with_a_warning_and_known_unmodelled_keys_get_a_milder_one() {
    let loaded = ok(&format!("{BASE}tickTiem=100\nsslQuorum=false\nmetricsProvider.httpPort=7000\n"), "1");
    let extra = loaded.config.extra_keys();
    assert_eq!(extra.get("tickTiem").map(String::as_str), Some("100"));
    assert_eq!(extra.get("sslQuorum").map(String::as_str), Some("false"));
    assert_eq!(
        warnings(&loaded),
        vec![
            "zoo.cfg:8: tickTiem: unknown key; kept (real ZooKeeper sets it as system property zookeeper.tickTiem)",
            "zoo.cfg:9: sslQuorum: accepted but has no effect in zabsim",
            "zoo.cfg:10: metricsProvider.httpPort: accepted but has no effect in zabsim",
        ]
    );
}

#[test]
fn a_repeated_key_keeps_its_last_value_and_says_so() {
    let loaded = ok(&format!("{BASE}tickTime=500\n"), "1");
    assert_eq!(loaded.config.tick_time_ms(), 500);
    assert_eq!(warnings(&loaded), vec!["zoo.cfg:8: tickTime: repeated; line 8 overrides line 1"]);
}

#[test]
fn a_client_port_that_contradicts_the_server_line_is_an_error() {
    let cfg = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\nclientPort=2181\n\
               server.1=zk1:2888:3888;2182\nserver.2=zk2:2888:3888\nserver.3=zk3:2888:3888\n";
    assert_eq!(
        errors(cfg, Some("1")),
        vec!["zoo.cfg:5: clientPort: 2181 conflicts with the client port 2182 in server.1"]
    );
    assert_eq!(ok(cfg, "2").config.client_port(), Some(2181));
}

#[test]
fn booleans_and_yes_no_keys_are_typed() {
    let cfg = format!(
        "{BASE}syncEnabled=FALSE\nleaderServes=no\nreconfigEnabled=true\nextendedTypesEnabled=true\n\
         localSessionsEnabled=true\ndigest.enabled=false\nforceSync=no\nadmin.enableServer=false\n"
    );
    let settings = ok(&cfg, "1").config.settings().clone();
    assert!(!settings.sync_enabled);
    assert!(!settings.leader_serves);
    assert!(settings.reconfig_enabled);
    assert!(settings.extended_types_enabled);
    assert!(settings.local_sessions_enabled);
    assert!(!settings.digest_enabled);
    assert!(!settings.force_sync);
    assert!(!settings.admin.enable_server);
    assert_eq!(
        errors(&format!("{BASE}syncEnabled=yes\n"), Some("1")),
        vec!["zoo.cfg:8: syncEnabled: expected true or false, got \"yes\""]
    );
}

#[test]
fn quorum_counts_only_voters() {
    let config = ValidConfig::ensemble(5, 2, ServerId(1));
    assert_eq!(config.quorum_size(), 3);
    let with_observers: BTreeSet<ServerId> = ids(&[1, 2, 6, 7]).into_iter().collect();
    assert!(!config.is_quorum(&with_observers), "observers never complete a quorum");
    let majority: BTreeSet<ServerId> = ids(&[1, 2, 5]).into_iter().collect();
    assert!(config.is_quorum(&majority));
}

#[test]
fn ensemble_builder_gives_the_sample_timing_and_renders_a_file_that_parses_back() {
    let config = ValidConfig::ensemble(3, 1, ServerId(4)).with_ticks(100, 4, 2);
    assert_eq!(config.voters(), ids(&[1, 2, 3]));
    assert_eq!(config.observers(), ids(&[4]));
    assert_eq!(config.my_role(), LearnerType::Observer);
    assert_eq!(config.init_timeout_ms(), 400);
    assert_eq!(config.sync_timeout_ms(), 200);
    let text = config.render();
    assert_eq!(
        text,
        "tickTime=100\ninitLimit=4\nsyncLimit=2\ndataDir=/data/zk4\nclientPort=2181\n\
         server.1=zk1:2888:3888\nserver.2=zk2:2888:3888\nserver.3=zk3:2888:3888\nserver.4=zk4:2888:3888:observer\n"
    );
    assert_eq!(ok(&text, &config.render_myid()).config, config);
}

#[test]
fn with_settings_validates_like_a_file_would() {
    let config = ValidConfig::ensemble(3, 0, ServerId(1));
    let changed = config.clone().with_settings(|s| s.commit_log_count = 10).expect("valid");
    assert_eq!(changed.settings().commit_log_count, 10);
    let refused = config.with_settings(|s| s.min_session_timeout_ms = Some(1_000_000));
    assert!(refused.is_err());
}

#[test]
fn ensemble_of_one_voter_is_standalone() {
    let config = ValidConfig::ensemble(1, 0, ServerId(1));
    assert!(config.is_standalone());
    assert_eq!(config.voters(), ids(&[1]));
    assert_eq!(config.quorum_size(), 1);
}
