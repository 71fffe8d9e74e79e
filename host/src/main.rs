//! `todo-host`: runs the todo system's WebAssembly components in the style
//! of `spin up`, over the embedded default backends.

mod auth;
mod backends;
mod builder;
mod manifest;
mod migrate;
mod outbox;
mod runtime;
mod triggers;

use anyhow::Context;
use backends::{sqlite, Backends};
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

#[derive(Args)]
struct DataDirArg {
    /// Where databases and compiled components live [default: .data beside the manifest].
    #[arg(long, alias = "state-dir")]
    data_dir: Option<PathBuf>,
}

impl DataDirArg {
    fn resolve(self, manifest: &Manifest) -> PathBuf {
        self.data_dir.unwrap_or_else(|| manifest.dir.join(".data"))
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
    /// Wall-clock time one guest call may take, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    guest_timeout_ms: u64,
    /// Linear memory one guest instance may use, in MiB.
    #[arg(long, default_value_t = 128)]
    guest_memory_mb: usize,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wasmtime_cranelift=warn,cranelift_codegen=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Build { manifest } => builder::build(&Manifest::load(&manifest.file)?, true),
        Command::Up(args) => tokio::runtime::Runtime::new()?.block_on(up(args)),
        Command::DeadLetters { manifest, data, topic } => {
            let data_dir = data.resolve(&Manifest::load(&manifest.file)?);
            tokio::runtime::Runtime::new()?.block_on(dead_letters(&data_dir, &topic))
        }
    }
}

async fn dead_letters(data_dir: &std::path::Path, topic: &str) -> anyhow::Result<()> {
    let pubsub = sqlite::SqlitePubSub::open(data_dir.join("pubsub.db")).context("opening pubsub.db")?;
    for letter in pubsub.dead_letters(topic).await? {
        println!("{}", serde_json::to_string(&letter)?);
    }
    Ok(())
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let manifest = Arc::new(Manifest::load(&args.manifest.file)?);
    tracing::info!(application = %manifest.application.name, "starting");
    if args.build {
        builder::build(&manifest, false)?;
    }
    let data_dir = args.data.resolve(&manifest);
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;

    let backends = open_embedded(&data_dir)?;
    migrate::apply(backends.sql.as_ref(), &manifest.dir.join("migrations")).await?;

    let limits = GuestLimits {
        time: Duration::from_millis(args.guest_timeout_ms),
        memory_bytes: args.guest_memory_mb << 20,
    };
    let engine = runtime::engine::new_engine(limits.memory_bytes)?;
    let relay = outbox::Relay::new();
    let app = Arc::new(AppContext { backends: backends.clone(), relay: relay.clone(), limits });
    let cache_dir = data_dir.join("compiled");
    let components = {
        let manifest = manifest.clone();
        tokio::task::spawn_blocking(move || Components::load(engine, app, &manifest, &cache_dir)).await??
    };
    let components = Arc::new(components);

    relay.spawn(backends.sql.clone(), backends.pubsub.clone());
    triggers::pubsub::start(&manifest, backends.pubsub.as_ref(), &components)?;
    triggers::cron::start(&manifest, &components)?;

    let server = Arc::new(HttpServer {
        manifest: manifest.clone(),
        components,
        auth: auth::Auth::from_env(&data_dir)?,
        started: true.into(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    // Tests and scripts read this line to find the port.
    println!("todo-host listening on http://{}", listener.local_addr()?);
    axum::serve(listener, triggers::http::router(server))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// The embedded default: SQLite files in the data directory.
fn open_embedded(data_dir: &std::path::Path) -> anyhow::Result<Backends> {
    let state = Arc::new(sqlite::SqliteState::open(data_dir.join("state.db")).context("opening state.db")?);
    state.spawn_purger(Duration::from_secs(60));
    Ok(Backends {
        sql: Arc::new(sqlite::SqliteSql::open(data_dir.join("app.db")).context("opening app.db")?),
        state,
        pubsub: Arc::new(sqlite::SqlitePubSub::open(data_dir.join("pubsub.db")).context("opening pubsub.db")?),
    })
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down: draining requests in flight");
}
