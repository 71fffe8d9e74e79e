//! `todo-host` as Spin's trigger plugins, one per trigger type this host
//! adds to Spin's built-in `http` and `redis`: `pubsub`, `schedule` and
//! `sse`. For every other type in the app, `spin up` runs the installed
//! plugin `trigger-<type>` as a process of its own (Spin's
//! `src/commands/up.rs`); the plugin's executable is this binary named
//! after the plugin (or `todo-host trigger <type>`). It speaks Spin's
//! protocol (`crates/trigger/src/cli.rs`):
//! - `--launch-metadata-only`: the flags it accepts, as JSON on stderr,
//!   so that `spin up` passes it only those of the user's flags;
//! - `--help-args-only`: their help, for `spin up --help`;
//! - otherwise it runs: the locked app from `SPIN_LOCKED_URL`, Spin's
//!   SQLite file `<state dir>/sqlite_db.db` as the `sql` database (where
//!   the platform adapter, inside Spin's HTTP components, writes rows and
//!   the outbox), only the triggers of its type and their components, until
//!   SIGTERM (`spin up` sends it on Ctrl-C), then it exits 0.
//!
//! `package` writes each plugin's tarball and manifest for
//! `spin plugins install --file`.

pub mod package;

use crate::app::{self, Serve, Settings};
use crate::capabilities::sql;
use crate::locked::LockedApp;
use crate::runtime::store::GuestLimits;
use crate::runtime_config::{RuntimeConfig, SqlConfig};
use anyhow::{bail, Context};
use clap::{ArgMatches, Args, Command, FromArgMatches};
use serde::Serialize;
use std::{
    ffi::OsStr,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

/// Set by `spin up` for every trigger process (Spin's `spin_trigger::cli`).
pub const SPIN_LOCKED_URL: &str = "SPIN_LOCKED_URL";
pub const SPIN_WORKING_DIR: &str = "SPIN_WORKING_DIR";
pub const SPIN_LOCAL_APP_DIR: &str = "SPIN_LOCAL_APP_DIR";
/// Where Spin keeps SQLite database `default`, in its state directory.
pub const SQLITE_DB_FILE: &str = "sqlite_db.db";
/// This host's own files (compiled components, the stream log), beside Spin's.
const OWN_DIR: &str = "todo-host";

/// A trigger type this host adds to Spin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TriggerType {
    Pubsub,
    Schedule,
    Sse,
}

impl TriggerType {
    pub const ALL: [Self; 3] = [Self::Pubsub, Self::Schedule, Self::Sse];

    /// As in `[[trigger.<name>]]`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pubsub => "pubsub",
            Self::Schedule => "schedule",
            Self::Sse => "sse",
        }
    }

    /// The plugin `spin up` looks for.
    pub fn plugin(self) -> &'static str {
        match self {
            Self::Pubsub => "trigger-pubsub",
            Self::Schedule => "trigger-schedule",
            Self::Sse => "trigger-sse",
        }
    }

    /// The type a plugin executable is named for (argv[0]), if any.
    pub fn from_executable(argv0: &OsStr) -> Option<Self> {
        let stem = Path::new(argv0).file_stem()?.to_str()?;
        Self::ALL.into_iter().find(|t| t.plugin() == stem)
    }
}

/// Spin's trigger flags that a plugin here honours, and the handshake.
#[derive(Args, Debug)]
pub struct SpinArgs {
    /// The application state directory: Spin's SQLite file (sqlite_db.db)
    /// is there, this host's files in todo-host/ under it [default: .spin
    /// beside spin.toml].
    #[arg(long)]
    state_dir: Option<String>,
    /// Spin's runtime configuration file ([sqlite_database.default], and
    /// this host's sections).
    #[arg(long, env = "RUNTIME_CONFIG_FILE")]
    runtime_config_file: Option<PathBuf>,
    #[arg(long, hide = true)]
    launch_metadata_only: bool,
    #[arg(long, hide = true)]
    help_args_only: bool,
}

/// The stream's own listener (the `sse` plugin's flags): Spin serves the
/// app's HTTP on its address, so the stream needs one of its own.
#[derive(Args, Debug)]
pub struct SseArgs {
    /// Where the stream is served.
    #[arg(long, default_value = "127.0.0.1:3001")]
    sse_listen: SocketAddr,
    /// An origin whose pages may read the stream (the dashboard Spin
    /// serves, say http://127.0.0.1:3000); repeatable.
    #[arg(long = "sse-allow-origin", value_name = "ORIGIN")]
    sse_allow_origins: Vec<String>,
}

/// The plugin's command line: Spin's flags, and the stream's for `sse`.
pub fn command(kind: TriggerType) -> Command {
    let command =
        Command::new(kind.plugin()).about(format!("Runs the app's [[trigger.{}]] for `spin up`", kind.name()));
    let command = SpinArgs::augment_args(command);
    match kind {
        TriggerType::Sse => SseArgs::augment_args(command),
        _ => command,
    }
}

/// What `spin up` asked of the plugin.
pub enum Request {
    /// `--launch-metadata-only`: this JSON, on stderr.
    LaunchMetadata(String),
    /// `--help-args-only`.
    HelpArgs,
    Run(Invocation),
}

/// Reads the request in `matches` (of `command(kind)`).
pub fn request(kind: TriggerType, command: &Command, matches: &ArgMatches) -> anyhow::Result<Request> {
    let spin = SpinArgs::from_arg_matches(matches)?;
    if spin.launch_metadata_only {
        return Ok(Request::LaunchMetadata(launch_metadata(command)));
    }
    if spin.help_args_only {
        return Ok(Request::HelpArgs);
    }
    let sse = match kind {
        TriggerType::Sse => Some(SseArgs::from_arg_matches(matches)?),
        _ => None,
    };
    Ok(Request::Run(Invocation { kind, spin, sse }))
}

/// Prints the flags' help as Spin's triggers do (`{all-args}` only).
pub fn print_help_args(command: Command) -> std::io::Result<()> {
    command.disable_help_flag(true).help_template("{all-args}").print_long_help()
}

/// Spin's `LaunchMetadata`: every flag's long and short form.
#[derive(Serialize)]
struct LaunchMetadata {
    all_flags: Vec<LaunchFlag>,
}

#[derive(Serialize)]
struct LaunchFlag {
    #[serde(skip_serializing_if = "Option::is_none")]
    short: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    long: Option<String>,
}

fn launch_metadata(command: &Command) -> String {
    let all_flags = command
        .get_arguments()
        .map(|a| LaunchFlag {
            short: a.get_short().map(|c| format!("-{c}")),
            long: a.get_long().map(|l| format!("--{l}")),
        })
        .collect();
    serde_json::to_string_pretty(&LaunchMetadata { all_flags }).expect("flags serialize")
}

/// A run of the plugin, as `spin up` started it.
pub struct Invocation {
    kind: TriggerType,
    spin: SpinArgs,
    sse: Option<SseArgs>,
}

/// Runs the app's triggers of the invocation's type until SIGTERM.
pub async fn run(invocation: Invocation, limits: GuestLimits, sql_limits: sql::Limits) -> anyhow::Result<()> {
    let Invocation { kind, spin, sse } = invocation;
    let required = |name: &str| {
        std::env::var(name).with_context(|| format!("{name} is not set: `spin up` sets it for its trigger plugins"))
    };
    let locked_url = required(SPIN_LOCKED_URL)?;
    let working_dir = PathBuf::from(required(SPIN_WORKING_DIR)?);
    let local_app_dir = std::env::var_os(SPIN_LOCAL_APP_DIR).map(PathBuf::from);
    let lock_path = crate::locked::file_url_path(&locked_url)?;
    let lock = LockedApp::read(&lock_path)?;
    let state_dir = state_dir(spin.state_dir.as_deref(), local_app_dir.as_deref())?;
    let app_dir = local_app_dir.unwrap_or(working_dir);
    let mut manifest = lock.manifest_for(kind.name(), &app_dir).context("reading the locked app")?;
    // As Spin does: each component composed with its dependencies (the
    // platform adapter), so that `todo:platform` reaches Spin's SQLite file.
    manifest.compose_dependencies = true;
    tracing::info!(application = %manifest.application.name, state_dir = %state_dir.display(), "starting");
    let mut runtime_config = RuntimeConfig::load(spin.runtime_config_file.as_deref())?;
    if let SqlConfig::Sqlite { path: path @ None } = &mut runtime_config.sql {
        *path = Some(state_dir.join(SQLITE_DB_FILE));
    }
    let settings = Settings { data_dir: state_dir.join(OWN_DIR), runtime_config, limits, sql_limits };
    let serve = Serve {
        manifest_file: lock_path,
        listen: sse.as_ref().map(|s| s.sse_listen),
        watch: false,
        admin_listen: None,
        stream_origins: sse.map(|s| s.sse_allow_origins).unwrap_or_default(),
    };
    app::up(Arc::new(manifest), settings, serve).await
}

/// Spin's state directory: `--state-dir`, else `.spin` in the app's
/// directory. Every trigger process shares the SQLite file in it, so one
/// Spin would keep in memory (`--state-dir ""`, or an app from a registry
/// without one) cannot work here.
fn state_dir(flag: Option<&str>, local_app_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    match (flag, local_app_dir) {
        (Some(""), _) | (None, None) => bail!(
            "these triggers share Spin's SQLite file with Spin's HTTP components and need a state directory: \
             pass --state-dir DIR (an app from a registry has no default)"
        ),
        (Some(dir), _) => Ok(PathBuf::from(dir)),
        (None, Some(app)) => Ok(app.join(".spin")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_flags_as_spin_expects() {
        assert_eq!(
            TriggerType::from_executable(OsStr::new("/x/plugins/trigger-sse/trigger-sse")),
            Some(TriggerType::Sse)
        );
        assert_eq!(TriggerType::from_executable(OsStr::new("trigger-cron")), None);
        assert_eq!(TriggerType::from_executable(OsStr::new("todo-host")), None);
        let meta: serde_json::Value = serde_json::from_str(&launch_metadata(&command(TriggerType::Sse))).unwrap();
        let longs: Vec<&str> =
            meta["all_flags"].as_array().unwrap().iter().filter_map(|f| f["long"].as_str()).collect();
        for flag in ["--state-dir", "--runtime-config-file", "--launch-metadata-only", "--sse-listen"] {
            assert!(longs.contains(&flag), "{flag} in {longs:?}");
        }
        let pubsub = launch_metadata(&command(TriggerType::Pubsub));
        assert!(!pubsub.contains("--sse-listen"), "only the stream has a listener: {pubsub}");
    }

    #[test]
    fn the_state_dir_is_spins() {
        let app = Path::new("/apps/todo");
        assert_eq!(state_dir(None, Some(app)).unwrap(), app.join(".spin"));
        assert_eq!(state_dir(Some("/s"), Some(app)).unwrap(), PathBuf::from("/s"));
        assert!(state_dir(Some(""), Some(app)).is_err());
        assert!(state_dir(None, None).is_err());
    }
}
