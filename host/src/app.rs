//! The application: opens the capabilities the runtime configuration
//! chooses, applies the host's and the application's migrations, loads the
//! components, and starts the triggers. The top layer with the CLI: it may
//! import every layer below.

use crate::capabilities::{
    dapr_sidecar::Sidecar,
    pubsub::{self, PubSubCapability},
    sql::{self, migrate, SqlCapability},
    state::StateCapability,
    variables::VariablesCapability,
    Capabilities,
};
use crate::manifest::Manifest;
use crate::runtime::{
    components::Components,
    store::{AppContext, GuestLimits},
};
use crate::runtime_config::{CronConfig, PubSubConfig, RuntimeConfig};
use crate::triggers::{self, http::HttpServer, sse};
use crate::{admin, auth, watch};
use anyhow::Context;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

/// Where an application's files and limits come from (the CLI's flags).
pub struct Settings {
    pub data_dir: PathBuf,
    pub runtime_config: RuntimeConfig,
    pub limits: GuestLimits,
    pub sql_limits: sql::Limits,
}

/// An application ready to serve: its components over their capabilities,
/// and what the Dapr sidecar delivers to, if anything.
pub struct App {
    pub components: Arc<Components>,
    /// The secret the components' `jwt_secret` holds, for what the host verifies itself.
    pub auth: auth::Auth,
    dapr_subscriptions: Arc<pubsub::dapr::Subscriptions>,
}

/// Opens the capabilities, applies migrations and loads the components (or
/// only the one named `only`).
pub async fn open(manifest: &Arc<Manifest>, settings: &Settings, only: Option<&str>) -> anyhow::Result<App> {
    let data_dir = &settings.data_dir;
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let (capabilities, dapr_subscriptions) = open_capabilities(data_dir, settings)?;
    migrate_databases(&capabilities.sql, manifest.migrations_dir().as_deref()).await?;
    let engine = crate::runtime::engine::new_engine(settings.limits.memory_bytes)?;
    let providers = &settings.runtime_config.variables;
    let auth = auth::Auth::resolve(providers, data_dir)?;
    let variables = VariablesCapability::resolve(manifest, |name| auth.provide(providers, name))?;
    let app = Arc::new(AppContext { capabilities, variables, limits: settings.limits });
    let (manifest, cache_dir, only) = (manifest.clone(), data_dir.join("compiled"), only.map(str::to_owned));
    let components =
        tokio::task::spawn_blocking(move || Components::load(engine, app, &manifest, &cache_dir, only.as_deref()))
            .await??;
    Ok(App { components: Arc::new(components), auth, dapr_subscriptions })
}

/// The host's own tables first, then the application's schema, in every database.
async fn migrate_databases(sql: &SqlCapability, app_migrations: Option<&Path>) -> anyhow::Result<()> {
    for (label, db) in sql.databases() {
        let dialect = db.dialect();
        migrate::apply(db.as_ref(), &migrate::host_history(dialect))
            .await
            .with_context(|| format!("applying the host's migrations to database {label:?}"))?;
        migrate::apply(db.as_ref(), &migrate::app_history(app_migrations, dialect)?)
            .await
            .with_context(|| format!("applying the application's migrations to database {label:?}"))?;
    }
    Ok(())
}

/// The capabilities the runtime configuration chooses; the embedded default
/// keeps SQLite files in the data directory. Also returns the subscriptions
/// the Dapr sidecar delivers to (empty unless pub/sub is Dapr's).
fn open_capabilities(
    data_dir: &Path,
    settings: &Settings,
) -> anyhow::Result<(Capabilities, Arc<pubsub::dapr::Subscriptions>)> {
    let config = &settings.runtime_config;
    let sidecar = || Sidecar::new(&config.dapr.http_url).context("configuring the Dapr sidecar ([dapr] http_url)");
    let sql = Arc::new(SqlCapability::open(&config.sql, data_dir, settings.sql_limits)?);
    let state = Arc::new(StateCapability::open(&config.state, data_dir, sidecar)?);
    let outbox = sql.default_database().clone();
    let (pubsub, subscriptions) = match &config.pubsub {
        PubSubConfig::Sqlite => {
            anyhow::ensure!(
                outbox.dialect() == sql::Dialect::Sqlite,
                "[pubsub] type = \"sqlite\" reads the outbox of a SQLite database in place; with [sql] on PostgreSQL use [pubsub] type = \"dapr\""
            );
            let log = Arc::new(pubsub::sqlite::SqlitePubSub::new(outbox.clone()));
            (PubSubCapability::embedded(log, outbox), Arc::default())
        }
        PubSubConfig::Dapr { component, replica_component } => {
            let broker = pubsub::dapr::DaprPubSub::new(sidecar()?, component, replica_component);
            let subscriptions = broker.subscriptions();
            (PubSubCapability::relayed(Arc::new(broker), outbox), subscriptions)
        }
    };
    Ok((Capabilities { sql, state, pubsub: Arc::new(pubsub) }, subscriptions))
}

/// What `up` serves beyond the components.
pub struct Serve {
    pub manifest_file: PathBuf,
    /// None: no listener (a trigger plugin with nothing to serve).
    pub listen: Option<SocketAddr>,
    pub watch: bool,
    pub admin_listen: Option<SocketAddr>,
    /// Other origins whose pages may read the stream (Spin's dashboard).
    pub stream_origins: Vec<String>,
}

/// Runs the application until SIGTERM or Ctrl-C: every trigger, the public
/// listener, and (when asked) the admin API and the watcher.
pub async fn up(manifest: Arc<Manifest>, settings: Settings, serve: Serve) -> anyhow::Result<()> {
    let App { components, auth, dapr_subscriptions } = open(&manifest, &settings, None).await?;
    let capabilities = &components.app.capabilities;
    capabilities.pubsub.start_relay();
    let broker = capabilities.pubsub.broker.clone();
    triggers::pubsub::start(&manifest, broker.as_ref(), &components)?;
    let config = &settings.runtime_config;
    let dapr_cron = config.cron == CronConfig::Dapr;
    if !dapr_cron {
        triggers::schedule::start(&manifest, &components)?;
    }
    let hub = match manifest.trigger.sse.first() {
        Some(trigger) => {
            // The embedded pub/sub's log is the stream log; a broker's is not local.
            let hub = if config.pubsub == PubSubConfig::Sqlite {
                let outbox = capabilities.pubsub.outbox.clone();
                sse::Hub::over_outbox(outbox, trigger.clone()).await.context("opening the event log for streams")?
            } else {
                sse::Hub::open(&settings.data_dir.join("streams.db"), trigger.clone()).context("opening streams.db")?
            };
            hub.start(broker.as_ref(), &replica_id())?;
            Some(hub)
        }
        None => None,
    };
    if config.uses_dapr_app() {
        // After every subscription is registered: the sidecar asks for them
        // once the app port is open.
        let addr = config.dapr.app_listen;
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr} for Dapr"))?;
        println!("todo-host dapr app listening on http://{}", listener.local_addr()?);
        let cron = dapr_cron.then(|| components.clone());
        triggers::dapr::spawn(listener, Arc::new(triggers::dapr::App { subscriptions: dapr_subscriptions, cron }));
    }

    let server = Arc::new(HttpServer {
        manifest: manifest.clone(),
        components,
        auth,
        hub: hub.clone(),
        cors: triggers::cors::Cors::new(serve.stream_origins),
        started: true.into(),
    });
    if serve.watch {
        watch::spawn(serve.manifest_file.clone(), server.components.clone());
    }
    if let Some(addr) = serve.admin_listen {
        let token = config.variables.host_secret(admin::TOKEN_ENV);
        admin::spawn(addr, server.components.clone(), token).await?;
    }
    note_unexported_telemetry();
    let Some(listen) = serve.listen else {
        shutdown_signal().await;
        tracing::info!("stopped");
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    // Tests and scripts read this line to find the port.
    println!("todo-host listening on http://{}", listener.local_addr()?);
    triggers::http::serve(listener, server, shutdown_signal()).await?;
    if let Some(hub) = hub {
        hub.drained(Duration::from_secs(5)).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// spin-operator passes every OTLP endpoint it has; this host exports only
/// traces over OTLP, so it says so rather than dropping the others silently.
fn note_unexported_telemetry() {
    for (signal, instead) in [("METRICS", "Prometheus text at /metrics"), ("LOGS", "stderr")] {
        let name = format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT");
        if std::env::var(&name).is_ok_and(|v| !v.is_empty()) {
            tracing::warn!(
                "{name} is set, but this host exports only traces over OTLP; its {} go to {instead}",
                signal.to_lowercase()
            );
        }
    }
}

/// Runs a scheduled component once, for the tick at `at`.
pub async fn job(
    manifest: Manifest,
    settings: &Settings,
    component: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        manifest.trigger.schedule.iter().any(|t| t.component == component),
        "component {component:?} has no [[trigger.schedule]] in the manifest"
    );
    let app = open(&Arc::new(manifest), settings, Some(component)).await?;
    app.components.run_job(component, at).await
}

/// This replica's name: its stream subscription is its own, so every
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
