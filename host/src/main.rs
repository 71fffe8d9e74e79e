//! `todo-host`: runs the todo system's WebAssembly components in the style
//! of `spin up`. The layers, each importing only those below it:
//! `capabilities` (sql, state, pubsub, outbound HTTP), `runtime` (engine,
//! store, components, versions), `triggers` (http, pubsub, cron, the Dapr
//! app endpoints, SSE), then `app` and this CLI; `metrics` and `telemetry`
//! are leaves every layer may call, `manifest` and `runtime_config` plain
//! configuration. `app_source` resolves `-f` (a file, a directory or an OCI
//! reference, through `oci` and Spin's `locked` app format), `selection`
//! keeps the components `--component-id` names, `variables` resolves Spin
//! variables.

/// mimalloc rather than the C library's allocator (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod app;
mod app_source;
mod auth;
mod builder;
mod capabilities;
mod locked;
mod manifest;
mod metrics;
mod oci;
mod plugin;
mod runtime;
mod runtime_config;
mod selection;
mod telemetry;
mod triggers;
mod variables;
mod watch;

use anyhow::Context;
use app_source::{AppSource, RegistryOptions};
use clap::{Args, Parser, Subcommand};
use manifest::Manifest;
use runtime::store::GuestLimits;
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

#[derive(Parser)]
#[command(name = "todo-host", version, about = "Runs the todo system's WebAssembly components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves every component of the application: HTTP, pub/sub, cron.
    Up(UpArgs),
    /// Builds every component from its `[component.<id>.build]` section.
    Build {
        #[command(flatten)]
        manifest: ManifestArg,
    },
    /// Runs a scheduled component once, for the tick at `--at`, against the
    /// data directory (a running host delivers the events it publishes).
    Job {
        #[command(flatten)]
        manifest: ManifestArg,
        #[command(flatten)]
        data: DataDirArg,
        #[command(flatten)]
        limits: LimitArgs,
        /// The component, as named in spin.toml.
        component: String,
        /// The scheduled time, RFC 3339 [default: now].
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Runs the component composed with its dependencies, as `up --compose-dependencies`.
        #[arg(long)]
        compose_dependencies: bool,
    },
    /// Manages component versions through a running host's admin API.
    Component {
        #[command(subcommand)]
        action: ComponentAction,
        /// The admin API of the running host (`up --admin-listen`).
        #[arg(long, global = true, default_value = "http://127.0.0.1:3001")]
        admin_url: String,
        /// The admin token.
        #[arg(long, global = true, env = "TODO_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
    },
    /// Lists the events subscriptions gave up on, oldest first, as JSON lines.
    DeadLetters {
        #[command(flatten)]
        manifest: ManifestArg,
        #[command(flatten)]
        data: DataDirArg,
        /// The dead-letter topic (by default `<topic>-dlq`).
        topic: String,
    },
    /// Prints a bearer token for `--user`, signed with the secret the host
    /// would use (TODO_JWT_SECRET, SPIN_VARIABLE_JWT_SECRET, else the
    /// development secret of the data directory): for curl, or for `spin up`
    /// given the same secret.
    Token {
        #[command(flatten)]
        manifest: ManifestArg,
        #[command(flatten)]
        data: DataDirArg,
        /// The user id (the token's `sub`).
        #[arg(long)]
        user: String,
        /// How long the token is valid, in hours.
        #[arg(long, default_value_t = 12)]
        ttl_hours: i64,
    },
    /// Pushes the application to an OCI registry, or pulls one into the cache.
    Registry {
        #[command(subcommand)]
        action: RegistryAction,
    },
    /// Runs as Spin's trigger plugin `trigger-<type>` (what the plugin's
    /// executable, this binary under that name, does): `spin up` starts it.
    Trigger {
        #[arg(value_enum)]
        kind: plugin::TriggerType,
        /// The plugin's flags (`--help-args-only` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Spin plugins of this host.
    Plugins {
        #[command(subcommand)]
        action: PluginsAction,
    },
}

#[derive(Subcommand)]
enum PluginsAction {
    /// Writes each trigger plugin's tarball and manifest into OUT, for
    /// `spin plugins install --file OUT/trigger-<type>.json --yes`.
    Package { out: PathBuf },
}

#[derive(Subcommand)]
enum RegistryAction {
    /// Pushes the built application (components, static files, migrations)
    /// in Spin's format; prints the digest.
    Push {
        /// Where to: `registry/repository:tag`.
        reference: String,
        #[command(flatten)]
        manifest: ManifestArg,
    },
    /// Pulls an application into the cache; prints its digest and directory.
    Pull {
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

#[derive(Subcommand)]
enum ComponentAction {
    /// Lists every component and the versions the host has seen.
    List,
    /// Uploads a new version, compiles it and (unless --no-activate) activates it.
    Push {
        id: String,
        file: PathBuf,
        #[arg(long)]
        no_activate: bool,
    },
    /// Activates a version seen before (a sha256, or a unique prefix of 8+ characters).
    Activate { id: String, sha256: String },
    /// Re-activates the version that was active before the current one.
    Rollback { id: String },
}

#[derive(Args)]
struct DataDirArg {
    /// Where databases and compiled components live [default: .data beside
    /// the manifest; for an app from a registry, .data here].
    #[arg(long, alias = "state-dir", env = "TODO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Chooses the backend of each interface (see README); default:
    /// embedded, also when the file does not exist.
    #[arg(long, env = "TODO_RUNTIME_CONFIG_FILE")]
    runtime_config_file: Option<PathBuf>,
}

impl DataDirArg {
    fn resolve(&self, source: &AppSource, manifest: &Manifest) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| source.default_data_dir(manifest))
    }
}

#[derive(Args)]
struct ManifestArg {
    /// The application: a spin.toml, a directory holding one, or an OCI
    /// reference (`registry/repository:tag` or `...@sha256:...`).
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

impl ManifestArg {
    async fn resolve(&self) -> anyhow::Result<(AppSource, Manifest)> {
        let source = AppSource::resolve(&self.from, &self.registry.options()).await?;
        let manifest = source.load()?;
        Ok((source, manifest))
    }
}

#[derive(Args)]
struct RegistryArgs {
    /// Talks plain HTTP to the registry (loopback registries always are).
    #[arg(long)]
    insecure: bool,
    /// The cache of pulled applications [default: ~/.cache/todo-system/oci].
    #[arg(long, env = "TODO_OCI_CACHE")]
    oci_cache: Option<PathBuf>,
}

impl RegistryArgs {
    fn options(&self) -> RegistryOptions {
        RegistryOptions { insecure: self.insecure, cache: self.oci_cache.clone() }
    }
}

#[derive(Args)]
struct UpArgs {
    #[command(flatten)]
    manifest: ManifestArg,
    /// The address to serve HTTP on (the flag wins over the variable, as in Spin).
    #[arg(long, env = "SPIN_HTTP_LISTEN_ADDR", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    #[command(flatten)]
    data: DataDirArg,
    /// Builds missing or stale components first.
    #[arg(long)]
    build: bool,
    /// Swaps in a component when its file, or its `source` in the manifest, changes.
    #[arg(long)]
    watch: bool,
    /// Serves the admin API (component versions) on this address; needs
    /// TODO_ADMIN_TOKEN (or the Spin variable admin_token).
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Runs only this component and the triggers that run it (repeatable;
    /// spin-operator passes `spec.components` so).
    #[arg(long = "component-id", env = "SPIN_COMPONENTS_TO_RETAIN", value_delimiter = ',')]
    component_ids: Vec<String>,
    /// Runs each component composed with its `[component.<id>.dependencies]`
    /// (the platform adapter on Spin's SQLite interface, as under Spin)
    /// instead of on the native `todo:platform`.
    #[arg(long)]
    compose_dependencies: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Args)]
struct LimitArgs {
    /// Wall-clock time one guest call may take, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    guest_timeout_ms: u64,
    /// Linear memory one guest instance may use, in MiB.
    #[arg(long, default_value_t = 128)]
    guest_memory_mb: usize,
    /// The same limit in bytes, as Spin's flag (spin-operator sets it from
    /// `spec.invocationLimits.memory`); wins over --guest-memory-mb.
    #[arg(long, env = "SPIN_MAX_INSTANCE_MEMORY")]
    max_instance_memory: Option<usize>,
    /// How long a guest may hold a database transaction (and wait for the
    /// database writer) before it is rolled back, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    transaction_timeout_ms: u64,
}

impl LimitArgs {
    fn limits(&self) -> GuestLimits {
        let memory_bytes = self.max_instance_memory.unwrap_or(self.guest_memory_mb << 20);
        GuestLimits { time: Duration::from_millis(self.guest_timeout_ms), memory_bytes }
    }

    fn sql_limits(&self) -> capabilities::sql::Limits {
        let limit = Duration::from_millis(self.transaction_timeout_ms);
        capabilities::sql::Limits { transaction_deadline: limit, writer_wait: limit }
    }

    fn settings(&self, data: &DataDirArg, source: &AppSource, manifest: &Manifest) -> anyhow::Result<app::Settings> {
        Ok(app::Settings {
            data_dir: data.resolve(source, manifest),
            runtime_config: runtime_config::RuntimeConfig::load(data.runtime_config_file.as_deref())?,
            limits: self.limits(),
            sql_limits: self.sql_limits(),
        })
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os();
    // Installed as a plugin, the executable is named after it.
    if let Some(kind) = args.next().as_deref().and_then(plugin::TriggerType::from_executable) {
        return trigger_plugin(kind, args.collect());
    }
    match Cli::parse().command {
        Command::Trigger { kind, args } => trigger_plugin(kind, args),
        command => run(command),
    }
}

/// `todo-host` as `spin up` runs the plugin `trigger-<kind>`: the
/// handshake, answered before anything else can write to stderr, or the
/// app's triggers of that type.
fn trigger_plugin(kind: plugin::TriggerType, args: Vec<std::ffi::OsString>) -> anyhow::Result<()> {
    use clap::{Args as _, FromArgMatches as _};
    let command = LimitArgs::augment_args(plugin::command(kind));
    let matches = command.clone().get_matches_from(std::iter::once(kind.plugin().into()).chain(args));
    let invocation = match plugin::request(kind, &command, &matches)? {
        plugin::Request::LaunchMetadata(json) => {
            eprintln!("{json}");
            return Ok(());
        }
        plugin::Request::HelpArgs => return Ok(plugin::print_help_args(command)?),
        plugin::Request::Run(invocation) => invocation,
    };
    let limits = LimitArgs::from_arg_matches(&matches)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _telemetry = telemetry::init(Some(kind.plugin())).context("setting up logs and traces")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(plugin::run(invocation, limits.limits(), limits.sql_limits()))
}

fn run(command: Command) -> anyhow::Result<()> {
    // reqwest (the OCI client's and the OTLP exporter's) is built without a
    // crypto provider, so that TLS is ring's (as wasmtime-wasi-http's) and
    // never needs OpenSSL: install it before any client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _telemetry = telemetry::init(None).context("setting up logs and traces")?;
    let runtime = tokio::runtime::Runtime::new()?;
    match command {
        Command::Build { manifest } => {
            let (source, manifest) = runtime.block_on(manifest.resolve())?;
            source.ensure_local("build")?;
            builder::build(&manifest, true)
        }
        Command::Up(args) => runtime.block_on(up(args)),
        Command::Job { manifest, data, limits, component, at, compose_dependencies } => runtime.block_on(async {
            let (source, mut manifest) = manifest.resolve().await?;
            manifest.compose_dependencies = compose_dependencies;
            let settings = limits.settings(&data, &source, &manifest)?;
            let at = at.map_or_else(chrono::Utc::now, |t| t.with_timezone(&chrono::Utc));
            app::job(manifest, &settings, &component, at).await
        }),
        Command::Component { action, admin_url, admin_token } => {
            let token = admin_token.with_context(|| format!("set {} or pass --admin-token", admin::TOKEN_ENV))?;
            runtime.block_on(component(action, &admin_url, &token))
        }
        Command::DeadLetters { manifest, data, topic } => runtime.block_on(async {
            let config = runtime_config::RuntimeConfig::load(data.runtime_config_file.as_deref())?;
            anyhow::ensure!(
                config.pubsub == runtime_config::PubSubConfig::Sqlite,
                "pub/sub is Dapr's here: the dead letters are the events on the broker's {topic} topic (Dapr prefixes it with the namespace)"
            );
            let (source, manifest) = manifest.resolve().await?;
            dead_letters(&config.sql, &data.resolve(&source, &manifest), &topic).await
        }),
        Command::Registry { action } => runtime.block_on(registry(action)),
        Command::Plugins { action: PluginsAction::Package { out } } => {
            for manifest in plugin::package::package(&out)? {
                println!("{}", manifest.display());
            }
            Ok(())
        }
        Command::Trigger { .. } => unreachable!("handled before the runtime starts"),
        Command::Token { manifest, data, user, ttl_hours } => runtime.block_on(async {
            anyhow::ensure!(todo_token::valid_user_id(&user), "--user: 1-128 of letters, digits and ._@+-");
            let (source, manifest) = manifest.resolve().await?;
            let config = runtime_config::RuntimeConfig::load(data.runtime_config_file.as_deref())?;
            let auth = auth::Auth::resolve(&config.variables, &data.resolve(&source, &manifest))?;
            println!("{}", auth.issue(&user, chrono::Duration::hours(ttl_hours)).0);
            Ok(())
        }),
    }
}

/// `todo-host registry push|pull`.
async fn registry(action: RegistryAction) -> anyhow::Result<()> {
    match action {
        RegistryAction::Push { reference, manifest: arg } => {
            let (source, manifest) = arg.resolve().await?;
            source.ensure_local("registry push")?;
            let text = std::fs::read_to_string(&source.manifest_file)?;
            let raw: toml::Table =
                toml::from_str(&text).with_context(|| format!("parsing {}", source.manifest_file.display()))?;
            let artifact = oci::artifact::assemble(&manifest, &raw)?;
            let parsed = oci::parse_reference(&reference)?;
            let digest = oci::Registry::new(arg.registry.insecure, &parsed).push(&parsed, artifact).await?;
            println!("{digest}");
        }
        RegistryAction::Pull { reference, registry } => {
            let parsed = oci::parse_reference(&reference)?;
            let options = registry.options();
            let pulled = oci::Registry::new(options.insecure, &parsed).pull(&parsed, &options.cache()).await?;
            println!("{} {}", pulled.digest, pulled.dir.display());
        }
    }
    Ok(())
}

/// The admin API client behind `todo-host component`.
async fn component(action: ComponentAction, admin_url: &str, token: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = |path: String| format!("{}/admin/components{path}", admin_url.trim_end_matches('/'));
    let request = match action {
        ComponentAction::List => client.get(url(String::new())),
        ComponentAction::Push { id, file, no_activate } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            client.post(url(format!("/{id}/versions?activate={}", !no_activate))).body(bytes)
        }
        ComponentAction::Activate { id, sha256 } => {
            client.post(url(format!("/{id}/activate"))).json(&serde_json::json!({ "sha256": sha256 }))
        }
        ComponentAction::Rollback { id } => client.post(url(format!("/{id}/rollback"))),
    };
    let response =
        request.bearer_auth(token).send().await.with_context(|| format!("reaching the admin API at {admin_url}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.context("reading the admin API's answer")?;
    if !status.is_success() {
        anyhow::bail!("{status}: {}", body["error"]["message"].as_str().unwrap_or("(no message)"));
    }
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(())
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let (source, mut manifest) = args.manifest.resolve().await?;
    tracing::info!(application = %manifest.application.name, "starting");
    if args.build {
        source.ensure_local("--build")?;
        builder::build(&manifest, false)?;
    }
    if args.watch {
        source.ensure_local("--watch")?;
    }
    selection::retain(&mut manifest, &args.component_ids)?;
    let settings = args.limits.settings(&args.data, &source, &manifest)?;
    manifest.compose_dependencies = args.compose_dependencies;
    let manifest = Arc::new(manifest);
    let serve = app::Serve {
        manifest_file: source.manifest_file.clone(),
        listen: Some(args.listen),
        watch: args.watch,
        admin_listen: args.admin_listen,
        stream_origins: Vec::new(),
    };
    app::up(manifest, settings, serve).await
}

/// The embedded pub/sub files its dead letters in the application's database.
async fn dead_letters(sql: &runtime_config::SqlConfig, data_dir: &std::path::Path, topic: &str) -> anyhow::Result<()> {
    let sql = capabilities::sql::SqlCapability::open(sql, data_dir, Default::default())?;
    for letter in capabilities::pubsub::sqlite::dead_letters(sql.default_database().as_ref(), topic).await? {
        println!("{}", serde_json::to_string(&letter)?);
    }
    Ok(())
}
