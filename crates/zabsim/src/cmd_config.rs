//! `zabsim config check zoo.cfg --myid N | --myid-file PATH`: parse and validate a server
//! configuration the way a zabsim replica would, and print the resolved ensemble.
//!
//! Exit 0 with the ensemble (and any warnings) on stdout, or 64 with every error on stderr.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use zab_core::config::{Loaded, SourceText, ValidConfig};

#[derive(Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Validate a zoo.cfg (plus this server's myid) and print the resolved ensemble.
    Check(CheckArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// The zoo.cfg file.
    pub zoo_cfg: PathBuf,
    /// This server's id (the content of its myid file).
    #[arg(long, conflicts_with = "myid_file")]
    pub myid: Option<u64>,
    /// This server's myid file.
    #[arg(long)]
    pub myid_file: Option<PathBuf>,
}

pub fn run(args: &ConfigArgs) -> u8 {
    match &args.command {
        ConfigCommand::Check(check) => run_check(check),
    }
}

fn run_check(args: &CheckArgs) -> u8 {
    let cfg_name = args.zoo_cfg.display().to_string();
    let cfg_text = match read_text(&args.zoo_cfg) {
        Ok(text) => text,
        Err(message) => return fail(&[message]),
    };
    let myid = match (&args.myid, &args.myid_file) {
        (Some(id), _) => Some(("--myid".to_string(), id.to_string())),
        (None, Some(path)) => match read_text(path) {
            Ok(text) => Some((path.display().to_string(), text)),
            Err(message) => return fail(&[message]),
        },
        (None, None) => None,
    };
    let parsed = ValidConfig::parse(
        SourceText { name: &cfg_name, text: &cfg_text },
        myid.as_ref().map(|(name, text)| SourceText { name, text }),
    );
    match parsed {
        Ok(loaded) => {
            let report = report(&cfg_name, &loaded);
            // A closed stdout (e.g. piped into `head`) is not a config problem.
            let _ = std::io::stdout().lock().write_all(report.as_bytes());
            crate::EXIT_PASS
        }
        Err(errors) => fail(&errors.0.iter().map(ToString::to_string).collect::<Vec<_>>()),
    }
}

/// The human-readable summary of a valid configuration.
pub fn report(cfg_name: &str, loaded: &Loaded) -> String {
    let config = &loaded.config;
    let settings = config.settings();
    let list = |ids: Vec<zab_core::ServerId>| {
        if ids.is_empty() {
            "(none)".to_string()
        } else {
            ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        }
    };
    let mode = if config.is_standalone() { "standalone" } else { "quorum" };
    let mut lines = vec![
        format!("{cfg_name}: valid ({mode} mode)"),
        format!("this server: {} ({})", config.my_id(), config.my_role()),
        format!("voters: {}", list(config.voters())),
        format!("observers: {}", list(config.observers())),
        format!("quorum size: {} of {} voters", config.quorum_size(), config.voters().len()),
        format!("tickTime: {} ms", config.tick_time_ms()),
        format!("initLimit: {} ticks = {} ms", settings.init_limit_ticks, config.init_timeout_ms()),
        format!("syncLimit: {} ticks = {} ms", settings.sync_limit_ticks, config.sync_timeout_ms()),
        format!("connectToLearnerMasterLimit: {} ms", config.connect_to_learner_master_timeout_ms()),
        format!(
            "session timeout: {}..={} ms",
            config.min_session_timeout_ms(),
            config.max_session_timeout_ms()
        ),
        format!("client port: {}", config.client_port().map_or("(none)".to_string(), |p| p.to_string())),
        format!("dataDir: {}", settings.data_dir),
        format!("dataLogDir: {}", config.data_log_dir()),
        format!(
            "db.autocreate: {} (an empty disk {})",
            settings.db_autocreate,
            if settings.db_autocreate {
                "starts at zxid 0 and votes"
            } else {
                "needs an initialize marker to vote"
            }
        ),
    ];
    if loaded.warnings.is_empty() {
        lines.push("warnings: none".to_string());
    } else {
        lines.push(format!("warnings ({}):", loaded.warnings.len()));
        lines.extend(loaded.warnings.iter().map(|w| format!("  {w}")));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn read_text(path: &PathBuf) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: expected UTF-8 text, found an invalid byte at offset {}",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

fn fail(messages: &[String]) -> u8 {
    let mut stderr = std::io::stderr().lock();
    for message in messages {
        let _ = writeln!(stderr, "{message}");
    }
    let _ = writeln!(stderr, "config check failed: {} error(s)", messages.len());
    crate::EXIT_BAD_INPUT
}
