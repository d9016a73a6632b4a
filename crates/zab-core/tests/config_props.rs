//! Properties of the config parser: total on any text, render/parse round trips, quorum overlap.

use std::collections::BTreeSet;

use proptest::prelude::*;
use zab_core::config::{SourceText, ValidConfig};
use zab_core::ServerId;

fn parse(cfg: &str, myid: &str) -> Result<ValidConfig, String> {
    ValidConfig::parse(
        SourceText { name: "zoo.cfg", text: cfg },
        Some(SourceText { name: "myid", text: myid }),
    )
    .map(|loaded| loaded.config)
    .map_err(|errors| errors.to_string())
}

/// Text made of zoo.cfg-like fragments, so random inputs reach deep into the parser instead of
/// stopping at the first unknown byte.
fn cfg_like_text() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("server.".to_string()),
        Just("=".to_string()),
        Just(":".to_string()),
        Just(";".to_string()),
        Just("|".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\\".to_string()),
        Just("\\u".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just(" ".to_string()),
        Just("#".to_string()),
        Just("observer".to_string()),
        Just("tickTime".to_string()),
        Just("initLimit".to_string()),
        Just("syncLimit".to_string()),
        Just("dataDir".to_string()),
        Just("clientPort".to_string()),
        Just("minSessionTimeout".to_string()),
        Just("multiAddress.enabled=true".to_string()),
        Just("standaloneEnabled=false".to_string()),
        Just("4lw.commands.whitelist".to_string()),
        "[0-9]{1,6}",
        "[a-z]{1,4}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(fragment, 0..60).prop_map(|parts| parts.concat())
}

#[derive(Clone, Debug)]
struct ServerLine {
    host: String,
    quorum_port: u16,
    election_gap: u16,
    observer: bool,
    client: Option<(Option<String>, u16)>,
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        "fe80::[0-9a-f]{1,4}",
    ]
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn server_line() -> impl Strategy<Value = ServerLine> {
    (
        host(),
        1..60_000u16,
        1..5_000u16,
        any::<bool>(),
        prop::option::of((prop::option::of(host()), 1..u16::MAX)),
    )
        .prop_map(|(host, quorum_port, election_gap, observer, client)| ServerLine {
            host,
            quorum_port,
            election_gap,
            observer,
            client,
        })
}

/// Optional settings lines, each valid on its own.
fn settings_lines() -> impl Strategy<Value = Vec<String>> {
    let line = prop_oneof![
        (1..10_000u32).prop_map(|v| format!("tickTime={v}")),
        (1..100u32).prop_map(|v| format!("initLimit={v}")),
        (1..100u32).prop_map(|v| format!("syncLimit={v}")),
        (1..100u32).prop_map(|v| format!("connectToLearnerMasterLimit={v}")),
        (0..1000u32).prop_map(|v| format!("maxClientCnxns={v}")),
        (2..1_000_000u64).prop_map(|v| format!("snapCount={v}")),
        (1..5_000u32).prop_map(|v| format!("commitLogCount={v}")),
        (-1.0..2.0f64).prop_map(|v| format!("snapshotSizeFactor={v}")),
        (3..10u32).prop_map(|v| format!("autopurge.snapRetainCount={v}")),
        (0..48u32).prop_map(|v| format!("autopurge.purgeInterval={v}")),
        // At most 20 ms: never above the default maximum of 20 ticks, whatever tickTime is drawn.
        (1..=20u32).prop_map(|v| format!("minSessionTimeout={v}")),
        (200_000..300_000u32).prop_map(|v| format!("maxSessionTimeout={v}")),
        (1..60_000u32).prop_map(|v| format!("cnxTimeout={v}")),
        (1..60_000u32).prop_map(|v| format!("maxTimeToWaitForEpoch={v}")),
        any::<bool>().prop_map(|v| format!("forceSync={}", if v { "yes" } else { "no" })),
        any::<bool>().prop_map(|v| format!("leaderServes={}", if v { "yes" } else { "no" })),
        any::<bool>().prop_map(|v| format!("syncEnabled={v}")),
        any::<bool>().prop_map(|v| format!("db.autocreate={v}")),
        any::<bool>().prop_map(|v| format!("digest.enabled={v}")),
        any::<bool>().prop_map(|v| format!("localSessionsEnabled={v}")),
        prop::sample::subsequence(vec!["ruok", "srvr", "stat", "mntr", "conf"], 0..5)
            .prop_map(|words| format!("4lw.commands.whitelist={}", words.join(","))),
        Just("4lw.commands.whitelist=*".to_string()),
        "/[a-z]{1,8}( [a-z]{1,3})?".prop_map(|dir| format!("dataLogDir={dir}")),
        // Printable values without '\\' (escapes are the lexer's own tests): written raw, a
        // trailing backslash would continue the entry onto the next line.
        ("x\\.[a-zA-Z0-9]{1,10}", "[ -\\[\\]-~]{0,20}").prop_map(|(k, v)| format!("{k}={v}")),
        (1..u16::MAX).prop_map(|v| format!("admin.serverPort={v}")),
    ];
    prop::collection::vec(line, 0..12)
}

fn ensemble_text(servers: &[ServerLine], settings: &[String]) -> String {
    let mut text = String::from("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/zk data\n");
    for line in settings {
        text.push_str(line);
        text.push('\n');
    }
    for (index, s) in servers.iter().enumerate() {
        let election_port = s.quorum_port.saturating_add(s.election_gap);
        let role = if s.observer { ":observer" } else { "" };
        let client = match &s.client {
            None => String::new(),
            Some((None, port)) => format!(";{port}"),
            Some((Some(host), port)) => format!(";{}:{port}", bracketed(host)),
        };
        text.push_str(&format!(
            "server.{}={}:{}:{}{role}{client}\n",
            index + 1,
            bracketed(&s.host),
            s.quorum_port,
            election_port
        ));
    }
    text
}

proptest! {
    #[test]
    fn parsing_arbitrary_text_never_panics(cfg in any::<String>(), myid in any::<String>()) {
        let _ = parse(&cfg, &myid);
    }

    #[test]
    fn parsing_zoo_cfg_like_text_never_panics(cfg in cfg_like_text(), myid in "[0-9a-z ]{0,4}") {
        let _ = parse(&cfg, &myid);
    }

    #[test]
    fn a_parsed_config_renders_to_text_that_parses_back_equal(
        servers in prop::collection::vec(server_line(), 1..7),
        settings in settings_lines(),
        me in any::<prop::sample::Index>(),
    ) {
        // At least one participant, so quorum mode is valid.
        let mut servers = servers;
        servers[0].observer = false;
        let text = ensemble_text(&servers, &settings);
        let my_id = me.index(servers.len()) as u64 + 1;
        let first = parse(&text, &my_id.to_string());
        let config = match first {
            Ok(config) => config,
            Err(errors) => return Err(TestCaseError::fail(format!("generated config refused:\n{text}\n{errors}"))),
        };
        prop_assert_eq!(config.my_id(), ServerId(my_id));
        prop_assert_eq!(config.quorum_size(), config.voters().len() / 2 + 1);
        for id in config.servers().keys() {
            prop_assert_eq!(config.is_voter(*id), config.voters().contains(id));
        }
        let rendered = config.render();
        let again = parse(&rendered, &config.render_myid())
            .map_err(|e| TestCaseError::fail(format!("render refused:\n{rendered}\n{e}")))?;
        prop_assert_eq!(&again, &config, "rendered:\n{}", rendered);
        prop_assert_eq!(again.render(), rendered);
    }

    #[test]
    fn the_ensemble_builder_round_trips_through_render(
        voters in 1..9u64,
        observers in 0..4u64,
        me in any::<prop::sample::Index>(),
        tick_time_ms in 1..5_000u32,
        init_limit_ticks in 1..50u32,
        sync_limit_ticks in 1..50u32,
    ) {
        let my_id = ServerId(me.index((voters + observers) as usize) as u64 + 1);
        let config = ValidConfig::ensemble(voters, observers, my_id)
            .with_ticks(tick_time_ms, init_limit_ticks, sync_limit_ticks);
        let again = parse(&config.render(), &config.render_myid()).map_err(TestCaseError::fail)?;
        prop_assert_eq!(again, config);
    }

    #[test]
    fn any_two_quorums_share_a_voter(
        voters in 1..10u64,
        observers in 0..4u64,
        a in any::<u16>(),
        b in any::<u16>(),
    ) {
        let config = ValidConfig::ensemble(voters, observers, ServerId(1));
        let subset = |mask: u16| -> BTreeSet<ServerId> {
            (1..=voters + observers).filter(|id| mask & (1 << (id - 1)) != 0).map(ServerId).collect()
        };
        let (a, b) = (subset(a), subset(b));
        if config.is_quorum(&a) && config.is_quorum(&b) {
            prop_assert!(a.intersection(&b).any(|id| config.is_voter(*id)), "{a:?} and {b:?} share no voter");
        }
        let all_voters: BTreeSet<ServerId> = config.voters().into_iter().collect();
        prop_assert!(config.is_quorum(&all_voters));
    }
}
