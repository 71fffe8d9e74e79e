//! `todo-host`: runs the todo system's WebAssembly components in the style
//! of `spin up`, over the embedded default backends.

mod admin;
mod auth;
mod backends;
mod builder;
mod manifest;
mod metrics;
mod migrate;
mod outbox;
mod runtime;
mod runtime_config;
mod sse;
mod telemetry;
mod triggers;
mod watch;

use anyhow::Context;
use backends::{dapr, sqlite, Backends};
use clap::{Args, Parser, Subcommand};
use manifest::Manifest;
use runtime::{
    components::Components,
    store::{AppContext, GuestLimits},
};
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use triggers::http::HttpServer;

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
    /// data directory (a running host relays the events it publishes).
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
    /// Where databases and compiled components live [default: .data beside the manifest].
    #[arg(long, alias = "state-dir")]
    data_dir: Option<PathBuf>,
    /// Chooses the backend of each interface (see README); default: embedded.
    #[arg(long, env = "TODO_RUNTIME_CONFIG_FILE")]
    runtime_config_file: Option<PathBuf>,
}

impl DataDirArg {
    fn resolve(&self, manifest: &Manifest) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| manifest.dir.join(".data"))
    }
}

#[derive(Args)]
struct ManifestArg {
    /// The application manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    file: PathBuf,
}

#[derive(Args)]
struct UpArgs {
    #[command(flatten)]
    manifest: ManifestArg,
    /// The address to serve HTTP on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    #[command(flatten)]
    data: DataDirArg,
    /// Builds missing or stale components first.
    #[arg(long)]
    build: bool,
    /// Swaps in a component when its file, or its `source` in the manifest, changes.
    #[arg(long)]
    watch: bool,
    /// Serves the admin API (component versions) on this address; needs TODO_ADMIN_TOKEN.
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
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
}

impl LimitArgs {
    fn limits(&self) -> GuestLimits {
        GuestLimits { time: Duration::from_millis(self.guest_timeout_ms), memory_bytes: self.guest_memory_mb << 20 }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = telemetry::init().context("setting up logs and traces")?;
    match cli.command {
        Command::Build { manifest } => builder::build(&Manifest::load(&manifest.file)?, true),
        Command::Up(args) => tokio::runtime::Runtime::new()?.block_on(up(args)),
        Command::Job { manifest, data, limits, component, at } => {
            let manifest = Manifest::load(&manifest.file)?;
            let at = at.map_or_else(chrono::Utc::now, |t| t.with_timezone(&chrono::Utc));
            tokio::runtime::Runtime::new()?.block_on(job(manifest, &data, limits.limits(), &component, at))
        }
        Command::Component { action, admin_url, admin_token } => {
            let token = admin_token.with_context(|| format!("set {} or pass --admin-token", admin::TOKEN_ENV))?;
            tokio::runtime::Runtime::new()?.block_on(component(action, &admin_url, &token))
        }
        Command::DeadLetters { manifest, data, topic } => {
            let config = runtime_config::RuntimeConfig::load(data.runtime_config_file.as_deref())?;
            anyhow::ensure!(
                config.pubsub == runtime_config::PubSubConfig::Sqlite,
                "pub/sub is Dapr's here: the dead letters are the events on the broker's {topic} topic (Dapr prefixes it with the namespace)"
            );
            let data_dir = data.resolve(&Manifest::load(&manifest.file)?);
            tokio::runtime::Runtime::new()?.block_on(dead_letters(&data_dir, &topic))
        }
    }
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
    let response = request.bearer_auth(token).send().await.with_context(|| format!("reaching the admin API at {admin_url}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.context("reading the admin API's answer")?;
    if !status.is_success() {
        anyhow::bail!("{status}: {}", body["error"]["message"].as_str().unwrap_or("(no message)"));
    }
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(())
}

async fn dead_letters(data_dir: &std::path::Path, topic: &str) -> anyhow::Result<()> {
    let pubsub = sqlite::SqlitePubSub::open(data_dir.join("pubsub.db")).context("opening pubsub.db")?;
    for letter in pubsub.dead_letters(topic).await? {
        println!("{}", serde_json::to_string(&letter)?);
    }
    Ok(())
}

/// An application ready to serve: its components (over their backends),
/// the outbox relay, and what the Dapr sidecar delivers to, if anything.
struct App {
    components: Arc<Components>,
    relay: Arc<outbox::Relay>,
    config: runtime_config::RuntimeConfig,
    dapr_subscriptions: Arc<dapr::pubsub::Subscriptions>,
}

/// Opens the backends, applies migrations and loads the components (or only
/// the one named `only`).
async fn open_app(manifest: &Arc<Manifest>, data: &DataDirArg, limits: GuestLimits, only: Option<&str>) -> anyhow::Result<App> {
    let data_dir = &data.resolve(manifest);
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let config = runtime_config::RuntimeConfig::load(data.runtime_config_file.as_deref())?;
    let (backends, dapr_subscriptions) = open_backends(data_dir, &config)?;
    migrate::apply(backends.sql.as_ref(), &manifest.dir.join("migrations")).await?;
    let engine = runtime::engine::new_engine(limits.memory_bytes)?;
    let relay = outbox::Relay::new();
    let app = Arc::new(AppContext { backends, relay: relay.clone(), limits });
    let (manifest, cache_dir, only) = (manifest.clone(), data_dir.join("compiled"), only.map(str::to_owned));
    let components =
        tokio::task::spawn_blocking(move || Components::load(engine, app, &manifest, &cache_dir, only.as_deref()))
            .await??;
    Ok(App { components: Arc::new(components), relay, config, dapr_subscriptions })
}

async fn job(
    manifest: Manifest,
    data: &DataDirArg,
    limits: GuestLimits,
    component: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        manifest.trigger.cron.iter().any(|t| t.component == component),
        "component {component:?} has no [[trigger.cron]] in the manifest"
    );
    let app = open_app(&Arc::new(manifest), data, limits, Some(component)).await?;
    app.components.run_job(component, &at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)).await
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let manifest = Arc::new(Manifest::load(&args.manifest.file)?);
    tracing::info!(application = %manifest.application.name, "starting");
    if args.build {
        builder::build(&manifest, false)?;
    }
    let data_dir = args.data.resolve(&manifest);
    let App { components, relay, config, dapr_subscriptions } =
        open_app(&manifest, &args.data, args.limits.limits(), None).await?;
    let backends = components.app.backends.clone();

    relay.spawn(backends.sql.clone(), backends.pubsub.clone());
    triggers::pubsub::start(&manifest, backends.pubsub.as_ref(), &components)?;
    let dapr_cron = config.cron == runtime_config::CronConfig::Dapr;
    if !dapr_cron {
        triggers::cron::start(&manifest, &components)?;
    }
    let hub = sse::Hub::open(&data_dir.join("streams.db")).context("opening streams.db")?;
    hub.start(backends.pubsub.as_ref(), &replica_id())?;
    if config.uses_dapr_app() {
        // After every subscription is registered: the sidecar asks for them
        // once the app port is open.
        let addr = config.dapr.app_listen;
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr} for Dapr"))?;
        println!("todo-host dapr app listening on http://{}", listener.local_addr()?);
        let cron = dapr_cron.then(|| components.clone());
        dapr::app::spawn(listener, Arc::new(dapr::app::App { subscriptions: dapr_subscriptions, cron }));
    }

    let server = Arc::new(HttpServer {
        manifest: manifest.clone(),
        components,
        auth: auth::Auth::from_env(&data_dir)?,
        hub: hub.clone(),
        started: true.into(),
    });
    if args.watch {
        watch::spawn(args.manifest.file.clone(), server.components.clone());
    }
    if let Some(addr) = args.admin_listen {
        let token = std::env::var(admin::TOKEN_ENV)
            .ok()
            .filter(|t| t.len() >= 16)
            .with_context(|| format!("--admin-listen needs {} (16 characters or more)", admin::TOKEN_ENV))?;
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
        println!("todo-host admin listening on http://{}", listener.local_addr()?);
        let router = admin::router(server.components.clone(), token);
        tokio::spawn(async move { axum::serve(listener, router).await });
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    // Tests and scripts read this line to find the port.
    println!("todo-host listening on http://{}", listener.local_addr()?);
    let listener = sse::native::Listener::new(listener, server.clone())?;
    let draining = hub.clone();
    axum::serve(listener, triggers::http::router(server))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            hub.shutdown();
        })
        .await?;
    draining.drained(Duration::from_secs(5)).await;
    tracing::info!("stopped");
    Ok(())
}

/// The backends the runtime configuration chooses; the embedded default
/// keeps SQLite files in the data directory. Also returns the subscriptions
/// the Dapr sidecar delivers to (empty unless pub/sub is Dapr's).
fn open_backends(
    data_dir: &std::path::Path,
    config: &runtime_config::RuntimeConfig,
) -> anyhow::Result<(Backends, Arc<dapr::pubsub::Subscriptions>)> {
    use runtime_config::{PubSubConfig, SqlConfig, StateConfig};
    let sidecar = || dapr::Sidecar::new(&config.dapr.http_url).context("configuring the Dapr sidecar ([dapr] http_url)");
    let sql: Arc<dyn backends::sql::Sql> = match &config.sql {
        SqlConfig::Sqlite => Arc::new(sqlite::SqliteSql::open(data_dir.join("app.db")).context("opening app.db")?),
        SqlConfig::Postgres { url, pool_size } => {
            Arc::new(backends::postgres::PostgresSql::new(url, *pool_size).context("configuring PostgreSQL")?)
        }
    };
    let state: Arc<dyn backends::state::State> = match &config.state {
        StateConfig::Sqlite => {
            let state = Arc::new(sqlite::SqliteState::open(data_dir.join("state.db")).context("opening state.db")?);
            state.spawn_purger(Duration::from_secs(60));
            state
        }
        StateConfig::Dapr { store } => Arc::new(dapr::state::DaprState::new(sidecar()?, store)),
    };
    let (pubsub, subscriptions): (Arc<dyn backends::pubsub::PubSub>, _) = match &config.pubsub {
        PubSubConfig::Sqlite => (
            Arc::new(sqlite::SqlitePubSub::open(data_dir.join("pubsub.db")).context("opening pubsub.db")?),
            Arc::default(),
        ),
        PubSubConfig::Dapr { component, replica_component } => {
            let pubsub = dapr::pubsub::DaprPubSub::new(sidecar()?, component, replica_component);
            let subscriptions = pubsub.subscriptions();
            (Arc::new(pubsub), subscriptions)
        }
    };
    Ok((Backends { sql, state, pubsub }, subscriptions))
}

/// This replica's name: its `task-updates` subscription is its own, so every
/// replica sees every event (`TODO_REPLICA_ID`, else the host name).
fn replica_id() -> String {
    std::env::var("TODO_REPLICA_ID")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "local".into())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down: draining requests in flight");
}
