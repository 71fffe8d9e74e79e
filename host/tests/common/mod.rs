//! The integration-test harness: builds the real components, writes a
//! manifest wiring them, and runs `todo-host up` as a child process on a
//! loopback port of its own, with a data directory that survives restarts.
#![allow(dead_code)] // each test binary uses its own part of the harness

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Once,
    time::{Duration, Instant},
};

pub const SECRET: &str = "integration-test-secret";
/// How long an event may take to be relayed and handled.
pub const EVENT_WAIT: Duration = Duration::from_secs(20);

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn wasm(package: &str) -> PathBuf {
    repo().join(format!("target/wasm/wasm32-wasip2/release/{}.wasm", package.replace('-', "_")))
}

/// The components the test manifest runs, besides the test component.
pub const COMPONENTS: [&str; 7] = [
    "task-api",
    "notification-handler",
    "recurring-handler",
    "reminder-checker",
    "sign-in",
    "platform-adapter",
    "static-files",
];

/// The components that import `todo:platform`: composed with the platform
/// adapter when the tests run composed.
pub const PLATFORM_COMPONENTS: [&str; 5] =
    ["task-api", "notification-handler", "recurring-handler", "reminder-checker", "test-guest"];

/// Whether the tests run as Spin would run the app (`TODO_TEST_COMPOSE`):
/// every component importing `todo:platform` composed with
/// components/platform-adapter (`up --compose-dependencies`), which runs
/// the platform on the host's Spin SQLite interface.
pub fn composed() -> bool {
    std::env::var_os("TODO_TEST_COMPOSE").is_some()
}

/// `manifest` with the platform components depending on the platform
/// adapter, as spin.toml has them.
pub fn with_adapter(manifest: &str) -> String {
    let mut table: toml::Table = toml::from_str(manifest).unwrap();
    let components = table["component"].as_table_mut().unwrap();
    for id in PLATFORM_COMPONENTS {
        let component = components[id].as_table_mut().unwrap();
        component.insert("sqlite_databases".into(), toml::Value::Array(vec!["default".into()]));
        component.insert("dependencies_inherit_configuration".into(), true.into());
        let adapter = toml::Table::from_iter([("component".to_owned(), "platform-adapter".into())]);
        let dependencies = toml::Table::from_iter([("todo:platform".to_owned(), adapter.into())]);
        component.insert("dependencies".into(), dependencies.into());
    }
    let source = wasm("platform-adapter").display().to_string();
    components.insert("platform-adapter".into(), toml::Table::from_iter([("source".to_owned(), source.into())]).into());
    toml::to_string(&table).unwrap()
}

/// Builds the guest components once per test binary.
pub fn build_components() {
    static BUILT: Once = Once::new();
    BUILT.call_once(|| {
        for package in COMPONENTS.into_iter().chain(["test-guest"]) {
            let status = Command::new(repo().join("components/build.sh"))
                .arg(package)
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_MAKEFLAGS")
                .status()
                .expect("running components/build.sh");
            assert!(status.success(), "building {package} failed");
        }
    });
}

/// The manifest the tests run: the real components wired as in the repo's
/// spin.toml (with short retry backoffs, and the reminder checker's schedule
/// `@every 1h` so that it only runs when a test runs it with `Host::job`),
/// plus the test component on `/test/...`, subscribed to `test`,
/// `task-events` and `reminders` and ticking every second, granted every
/// store and topic and the outbound hosts of `options`. The variables are
/// spin.toml's (`jwt_secret` for every HTTP component, `dev_sign_in` for the
/// sign-in) plus `options.variables`; the test component reads `jwt_secret`
/// and `greeting`.
pub fn manifest(options: &Options) -> String {
    let manifest = native_manifest(options);
    if options.compose {
        with_adapter(&manifest)
    } else {
        manifest
    }
}

fn native_manifest(options: &Options) -> String {
    let outbound: Vec<String> = options.test_guest_outbound.iter().map(|h| format!("{h:?}")).collect();
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "todo-test"
[application.tool.todo]
{migrations}

[variables]
jwt_secret = {{ required = true, secret = true }}
dev_sign_in = {{ default = "false" }}
{}

[[trigger.sse]]
route = "/api/stream/tasks"
topic = "task-updates"
user_attribute = "partitionkey"

[[trigger.http]]
route = "/api/todos/..."
component = "task-api"

[[trigger.http]]
route = "/api/notifications/..."
component = "notification-handler"

[[trigger.http]]
route = "/test/..."
component = "test-guest"

[[trigger.http]]
route = "/auth/..."
component = "sign-in"

[[trigger.http]]
route = "/..."
component = "static-files"

[[trigger.pubsub]]
topic = "test"
component = "test-guest"
max_attempts = 3
initial_backoff_ms = 20
max_backoff_ms = 100

[[trigger.pubsub]]
topic = "task-events"
component = "test-guest"

[[trigger.pubsub]]
topic = "reminders"
component = "test-guest"

[[trigger.pubsub]]
topic = "reminders"
component = "notification-handler"
max_attempts = 3
initial_backoff_ms = 20
max_backoff_ms = 100

[[trigger.pubsub]]
topic = "task-events"
component = "recurring-handler"
max_attempts = 3
initial_backoff_ms = 20
max_backoff_ms = 100

[[trigger.schedule]]
schedule = "@every 1s"
component = "test-guest"

[[trigger.schedule]]
schedule = "@every 1h"
component = "reminder-checker"

[component.task-api]
source = "{}"
[component.task-api.tool.todo]
sql_databases = ["default"]
publish_topics = ["task-events", "task-updates"]
[component.task-api.variables]
jwt_secret = "{{{{ jwt_secret }}}}"

[component.notification-handler]
source = "{}"
[component.notification-handler.tool.todo]
sql_databases = ["default"]
publish_topics = ["task-updates"]
[component.notification-handler.variables]
jwt_secret = "{{{{ jwt_secret }}}}"

[component.recurring-handler]
source = "{}"
[component.recurring-handler.tool.todo]
sql_databases = ["default"]
publish_topics = ["task-events", "task-updates"]

[component.reminder-checker]
source = "{}"
[component.reminder-checker.tool.todo]
sql_databases = ["default"]
state_stores = ["default"]
publish_topics = ["reminders"]

[component.sign-in]
source = "{}"
[component.sign-in.variables]
jwt_secret = "{{{{ jwt_secret }}}}"
dev_sign_in = "{{{{ dev_sign_in }}}}"
stream_route = "/api/stream/tasks"

[component.static-files]
source = "{}"
files = [{{ source = "static", destination = "/" }}]
[component.static-files.variables]
stream_url = ""

[component.test-guest]
source = "{}"
allowed_outbound_hosts = [{}]
[component.test-guest.variables]
jwt_secret = "{{{{ jwt_secret }}}}"
greeting = "hello from {{{{ dev_sign_in }}}}"
[component.test-guest.tool.todo]
{}
"#,
        options.variables,
        wasm("task-api").display(),
        wasm("notification-handler").display(),
        wasm("recurring-handler").display(),
        wasm("reminder-checker").display(),
        wasm("sign-in").display(),
        wasm("static-files").display(),
        options.test_guest.display(),
        outbound.join(", "),
        options.test_guest_grants,
        migrations = if options.app_migrations { "migrations = \"migrations\"" } else { "" },
    )
}

pub struct Options {
    pub guest_timeout_ms: u64,
    pub guest_memory_mb: usize,
    pub test_guest: PathBuf,
    /// Serve the admin API (with `ADMIN_TOKEN`) on a port of its own.
    pub admin: bool,
    /// Run with `--watch`.
    pub watch: bool,
    /// On the distributed backend: join this cluster (same app id, topics
    /// and database) as another replica, rather than starting a new one.
    pub cluster: Option<Cluster>,
    /// On the distributed backend: Dapr's cron bindings run the schedules.
    pub dapr_cron: bool,
    /// More environment for `todo-host up`.
    pub env: Vec<(String, String)>,
    /// The test component's `allowed_outbound_hosts`.
    pub test_guest_outbound: Vec<String>,
    /// `--transaction-timeout-ms`.
    pub transaction_timeout_ms: u64,
    /// The test component's `[component.test-guest.tool.todo]` grants.
    pub test_guest_grants: String,
    /// More `[variables]` lines.
    pub variables: String,
    /// Run the platform components composed with the platform adapter
    /// (default: `composed()`).
    pub compose: bool,
    /// Stay on the embedded backend in the distributed pass too: as Spin
    /// runs the app (implied by `compose`), or to compare with it.
    pub embedded: bool,
    /// Give the host the application's migrations (`[application.tool.todo]`).
    pub app_migrations: bool,
}

/// Everything: the default database and store, any topic.
pub const ALL_GRANTS: &str = "sql_databases = [\"default\"]\nstate_stores = [\"default\"]\npublish_topics = [\"*\"]";

impl Default for Options {
    fn default() -> Self {
        Self {
            guest_timeout_ms: 2_000,
            guest_memory_mb: 64,
            test_guest: wasm("test-guest"),
            admin: false,
            watch: false,
            cluster: None,
            dapr_cron: false,
            env: Vec::new(),
            test_guest_outbound: Vec::new(),
            transaction_timeout_ms: 5_000,
            test_guest_grants: ALL_GRANTS.into(),
            variables: String::new(),
            compose: composed(),
            embedded: false,
            app_migrations: true,
        }
    }
}

/// Whether the tests run on the distributed backend: each host with its own
/// daprd (`TODO_TEST_DAPRD`) over the Kafka and Redis `scripts/test.sh`
/// started, and PostgreSQL for `sql`.
pub fn distributed() -> bool {
    std::env::var_os("TODO_TEST_DAPRD").is_some()
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (scripts/test.sh sets it)"))
}

/// What the replicas of one application share on the distributed backend.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// The Dapr namespace (the app id is `todo`, as the components' scopes
    /// want): part of the consumer groups, the state keys and (as Dapr
    /// scopes a pub/sub by namespace when its metadata names it) the topics
    /// on the broker, so tests sharing the servers stay apart.
    pub namespace: String,
    pub sql_url: Option<String>,
}

/// A daprd beside a test host: its own ports, the repo's `dapr/` files
/// with the local overlay (`scripts/services/daprd.sh local`).
struct Sidecar {
    child: Option<Child>,
    http_port: u16,
    app_port: u16,
    replica: String,
}

/// The status of `GET path` on `base` (`http://host:port`), by hand: the
/// harness is synchronous where tests are async, so no blocking client.
fn http_status(base: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(base.strip_prefix("http://")?).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A loopback port nothing listens on and not handed out before, below
/// Linux's ephemeral range (32768+) so that outgoing connections cannot
/// take it before daprd or the host binds it.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
}

impl Sidecar {
    fn new(replica: String) -> Self {
        Sidecar { child: None, http_port: free_port(), app_port: free_port(), replica }
    }

    fn start(&mut self, namespace: &str, log: &Path) {
        let dir = PathBuf::from(env("TODO_TEST_DAPR_DIR"));
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new(env("TODO_TEST_DAPRD"))
            .current_dir(&dir)
            .args(["--app-id", "todo", "--app-port", &self.app_port.to_string()])
            .args(["--dapr-http-port", &self.http_port.to_string(), "--dapr-listen-addresses", "127.0.0.1"])
            .args(["--dapr-grpc-port", &free_port().to_string()])
            .args([
                "--dapr-internal-grpc-port",
                &free_port().to_string(),
                "--dapr-internal-grpc-listen-address",
                "127.0.0.1",
            ])
            .args(["--metrics-port", &free_port().to_string(), "--metrics-listen-address", "127.0.0.1"])
            .arg("--resources-path")
            .arg(dir.join("resources"))
            .args(["--log-level", "warn"])
            .env("KAFKA_BROKERS", env("TODO_TEST_KAFKA"))
            .env("REDIS_HOST", env("TODO_TEST_REDIS"))
            .env("NAMESPACE", namespace)
            .env("POD_NAME", &self.replica)
            .env("TODO_REPLICA_INITIAL_OFFSET", "oldest")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting daprd");
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

pub const ADMIN_TOKEN: &str = "integration-test-admin-token";

/// Builds the test component reporting `version` from `/test/version`, in a
/// target directory of its own; returns its path.
pub fn build_test_guest(version: &str) -> PathBuf {
    build_components();
    let dir = repo().join(format!("target/wasm-{version}"));
    let status = Command::new(repo().join("components/build.sh"))
        .arg("test-guest")
        .env("WASM_TARGET_DIR", &dir)
        .env("TEST_GUEST_VERSION", version)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .status()
        .expect("running components/build.sh");
    assert!(status.success(), "building test-guest {version} failed");
    dir.join("wasm32-wasip2/release/test_guest.wasm")
}

pub struct Host {
    child: Option<Child>,
    pub base: String,
    /// The PostgreSQL database of this host, when the tests run against
    /// PostgreSQL (`TODO_TEST_POSTGRES_URL`); else the embedded SQLite.
    sql_url: Option<String>,
    /// On the distributed backend: the namespace and this host's daprd.
    namespace: String,
    sidecar: Option<Sidecar>,
    /// The admin API, with `Options::admin`.
    pub admin_base: Option<String>,
    pub dir: tempfile::TempDir,
    options: Options,
}

/// A fresh application directory for `options`: the manifest, the
/// application's migrations and the files `static-files` mounts.
pub fn app_dir(options: &Options) -> tempfile::TempDir {
    build_components();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spin.toml"), manifest(options)).unwrap();
    std::fs::create_dir_all(dir.path().join("static/assets")).unwrap();
    std::fs::write(dir.path().join("static/index.html"), "<!doctype html><title>todo</title>").unwrap();
    std::fs::write(dir.path().join("static/assets/app.js"), "console.log('todo')").unwrap();
    copy_dir(&repo().join("migrations"), &dir.path().join("migrations"));
    dir
}

impl Host {
    pub fn start() -> Host {
        Self::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Host {
        let dir = app_dir(&options);
        // Share compiled components between test hosts: compiling them in a
        // debug build takes seconds, and cache entries are written atomically.
        let shared = repo().join("target/test-compiled");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::create_dir_all(dir.path().join(".data")).unwrap();
        std::os::unix::fs::symlink(&shared, dir.path().join(".data/compiled")).unwrap();
        // As Spin runs the app (`compose`), everything goes through the
        // adapter onto Spin's SQLite: the distributed backend has no part in it.
        let distributed = distributed() && !options.compose && !options.embedded;
        let (namespace, sql_url) = match &options.cluster {
            Some(c) => (c.namespace.clone(), c.sql_url.clone()),
            None => (
                format!("t{}-", &uuid::Uuid::new_v4().simple().to_string()[..12]),
                std::env::var("TODO_TEST_POSTGRES_URL")
                    .ok()
                    .filter(|_| distributed)
                    .map(|server| fresh_database(&server)),
            ),
        };
        let sidecar =
            distributed.then(|| Sidecar::new(format!("r{}", &uuid::Uuid::new_v4().simple().to_string()[..8])));
        let mut host =
            Host { child: None, base: String::new(), admin_base: None, sql_url, namespace, sidecar, dir, options };
        if let Some(sidecar) = &host.sidecar {
            let config = format!(
                "[state]\ntype = \"dapr\"\n[pubsub]\ntype = \"dapr\"\n[cron]\ntype = \"{}\"\n\
                 [dapr]\nhttp_url = \"http://127.0.0.1:{}\"\napp_listen = \"127.0.0.1:{}\"\n",
                if host.options.dapr_cron { "dapr" } else { "host" },
                sidecar.http_port,
                sidecar.app_port
            );
            std::fs::write(host.dir.path().join("runtime-config.toml"), config).unwrap();
            host.start_sidecar();
        }
        host.spawn();
        host
    }

    /// What another replica of this application needs to join it.
    pub fn cluster(&self) -> Cluster {
        Cluster { namespace: self.namespace.clone(), sql_url: self.sql_url.clone() }
    }

    /// Starts this host's daprd (again); its log is `daprd.log` in the data directory.
    pub fn start_sidecar(&mut self) {
        let log = self.dir.path().join("daprd.log");
        let namespace = self.namespace.clone();
        self.sidecar.as_mut().expect("a distributed host").start(&namespace, &log);
    }

    /// Stops this host's daprd (SIGKILL).
    pub fn stop_sidecar(&mut self) {
        self.sidecar.as_mut().expect("a distributed host").stop();
    }

    /// The topic as named on the broker (Dapr prefixes the namespace).
    pub fn broker_topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.namespace)
    }

    fn spawn(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_todo-host"));
        command
            .envs(self.backend_env())
            .args(["up", "--listen", "127.0.0.1:0", "-f"])
            .arg(self.dir.path().join("spin.toml"))
            .arg("--guest-timeout-ms")
            .arg(self.options.guest_timeout_ms.to_string())
            .arg("--guest-memory-mb")
            .arg(self.options.guest_memory_mb.to_string())
            .arg("--transaction-timeout-ms")
            .arg(self.options.transaction_timeout_ms.to_string())
            .env("TODO_JWT_SECRET", SECRET)
            .env("RUST_LOG", "info,todo_host=debug")
            .envs(self.options.env.iter().cloned())
            .stdout(Stdio::piped());
        if self.options.admin {
            command.args(["--admin-listen", "127.0.0.1:0"]).env("TODO_ADMIN_TOKEN", ADMIN_TOKEN);
        }
        if self.options.watch {
            command.arg("--watch");
        }
        if self.options.compose {
            command.arg("--compose-dependencies");
        }
        let mut child = command.spawn().expect("starting todo-host");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                for (kind, prefix) in [("admin", "todo-host admin listening on "), ("api", "todo-host listening on ")] {
                    if let Some(addr) = line.strip_prefix(prefix) {
                        let _ = tx.send((kind, addr.to_owned()));
                    }
                }
            }
        });
        let started = |rx: &std::sync::mpsc::Receiver<(&'static str, String)>| -> String {
            rx.recv_timeout(Duration::from_secs(120)).expect("todo-host did not start listening").1
        };
        if self.options.admin {
            self.admin_base = Some(started(&rx));
        }
        self.base = started(&rx);
        self.child = Some(child);
        if let Some(sidecar) = &self.sidecar {
            // Ready once the sidecar has loaded its components.
            let ready = || http_status(&self.base, "/readyz") == Some(200);
            let deadline = Instant::now() + Duration::from_secs(60);
            while !ready() {
                assert!(
                    Instant::now() < deadline,
                    "not ready after 60 s: see daprd.log of replica {}",
                    sidecar.replica
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// The environment that points `todo-host` (up, job) at this host's
    /// backends: its SQL database, and on the distributed backend its
    /// runtime configuration and replica name.
    pub fn backend_env(&self) -> Vec<(&'static str, String)> {
        let mut env: Vec<_> = self.sql_url.iter().map(|url| ("TODO_SQL_URL", url.clone())).collect();
        if let Some(sidecar) = &self.sidecar {
            let config = self.dir.path().join("runtime-config.toml").display().to_string();
            env.extend([("TODO_RUNTIME_CONFIG_FILE", config), ("TODO_REPLICA_ID", sidecar.replica.clone())]);
        }
        env
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts the host again on the same data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Waits up to `timeout` for the process to exit by itself (after SIGTERM).
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().unwrap();
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                self.child = None;
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs `todo-host job <component> --at <at>` on this host's manifest and
    /// data directory: one tick of a scheduled component for the scheduled
    /// time `at` (RFC 3339), next to the running host (whose relay publishes
    /// what the job queued). Panics if the job fails.
    pub async fn job(&self, component: &str, at: &str) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_todo-host"))
            .envs(self.backend_env())
            .args(["job", component, "--at", at, "-f"])
            .arg(self.dir.path().join("spin.toml"))
            .args(self.options.compose.then_some("--compose-dependencies"))
            .output()
            .await
            .expect("running todo-host job");
        assert!(out.status.success(), "job {component} at {at}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// One run of the reminder checker for the scheduled time `at`.
    pub async fn check_reminders(&self, at: &str) {
        self.job("reminder-checker", at).await;
    }

    /// Polls `check` until it returns Some, for at most `timeout`.
    pub async fn eventually<T, F, Fut>(&self, timeout: Duration, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        self.eventually_or(timeout, check, || "the condition was not met".to_owned()).await
    }

    /// As `eventually`, and on a timeout fails with what `explain` says is
    /// still missing.
    pub async fn eventually_or<T, F, Fut>(&self, timeout: Duration, mut check: F, explain: impl Fn() -> String) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(Instant::now() < deadline, "not within {timeout:?}: {}", explain());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
        if let Some(sidecar) = &mut self.sidecar {
            sidecar.stop();
            if std::thread::panicking() {
                // The data directory goes with the host: show why daprd failed, if it did.
                let log = std::fs::read_to_string(self.dir.path().join("daprd.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("--- daprd.log of replica {} (last 40 lines)", sidecar.replica);
                tail.iter().rev().for_each(|l| eprintln!("{l}"));
            }
        }
    }
}

/// Runs `todo-host up` on the test manifest of `options` and expects it to
/// refuse to start: returns what it printed on stderr.
pub fn refused_start(options: &Options) -> String {
    let dir = app_dir(options);
    let mut child = Command::new(env!("CARGO_BIN_EXE_todo-host"))
        .args(["up", "--listen", "127.0.0.1:0", "-f"])
        .arg(dir.path().join("spin.toml"))
        .env("TODO_JWT_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("todo-host kept running on a manifest it should refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "todo-host exited successfully: {stderr}");
    stderr
}

/// Creates an empty database on the PostgreSQL server at `server` (a URL
/// naming any database on it) and returns its URL.
fn fresh_database(server: &str) -> String {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let out = Command::new("psql")
        .args([server, "-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("running psql");
    assert!(out.status.success(), "creating a test database: {}", String::from_utf8_lossy(&out.stderr));
    let (base, _) = server.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// A valid token for `user`.
pub fn token(user: &str) -> String {
    signed(SECRET, user, 3600)
}

/// A token for `user` signed with `secret`, expiring `ttl_seconds` from now
/// (in the past when negative).
pub fn signed(secret: &str, user: &str, ttl_seconds: i64) -> String {
    let now = todo_token::now();
    todo_token::Key::new(secret.as_bytes()).issue(user, now, now + ttl_seconds)
}

/// An HTTP client acting as `user`.
pub fn client(user: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", token(user)).parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(res: reqwest::Response, status: u16) -> serde_json::Value {
    let actual = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts an error response `{"error": {"code", "message"}}` with this
/// status and code; returns the message.
pub async fn expect_error(res: reqwest::Response, status: u16, code: &str) -> String {
    let body = expect_json(res, status).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_else(|| panic!("no message: {body}"));
    assert!(!message.is_empty(), "{body}");
    message.to_owned()
}

/// One delivery of an event to the test component.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub topic: String,
    pub event_id: String,
    pub attempt: u32,
    pub subject: String,
}

impl Host {
    /// Publishes `data` as event `id` on `topic` through the test component
    /// (`/test/publish`: inside a transaction, partition key = `user`, type
    /// `test.event`).
    pub async fn publish(&self, user: &str, topic: &str, id: &str, data: &serde_json::Value) {
        let res = client(user)
            .post(self.url(&format!("/test/publish?topic={topic}&id={id}")))
            .body(data.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_eq!(status, 202, "publishing {id} on {topic}: {}", res.text().await.unwrap());
    }

    /// Every delivery of `topic` to the test component so far, in order.
    pub async fn deliveries(&self, topic: &str) -> Vec<Delivery> {
        let res = client("tester").get(self.url("/test/records?kind=event")).send().await.unwrap();
        let records = expect_json(res, 200).await;
        records
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| {
                let parts: Vec<&str> = r.as_str().unwrap().split('|').collect();
                (parts[0] == topic).then(|| Delivery {
                    topic: parts[0].to_owned(),
                    event_id: parts[1].to_owned(),
                    attempt: parts[2].parse().unwrap(),
                    subject: parts[3].to_owned(),
                })
            })
            .collect()
    }

    /// Makes the subscription of `component` to `topic` deliver again every
    /// event from `event_id` on, as at-least-once delivery does when a host
    /// dies between a handler's commit and saving the subscription's
    /// position. Embedded: rewinds that cursor over the outbox in `app.db`
    /// (the consumer rereads it before each batch); the log keeps one event
    /// per id, so publishing a copy would not be a redelivery.
    /// Distributed: Kafka keeps every copy, so publishing the event again
    /// (read back from the topic) is one.
    pub async fn redeliver_from(&self, component: &str, topic: &str, event_id: &str) {
        if let Some(sidecar) = &self.sidecar {
            let events = self.read_topic(topic).await;
            let event =
                events.iter().find(|e| e["id"] == event_id).unwrap_or_else(|| panic!("{event_id} not on {topic}"));
            // Through the sidecar, which adds the namespace to the topic.
            let url = format!("http://127.0.0.1:{}/v1.0/publish/pubsub/{topic}", sidecar.http_port);
            let res = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/cloudevents+json")
                .body(event.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 204, "publishing {event_id} again");
            return;
        }
        let db = rusqlite::Connection::open(self.dir.path().join(".data/app.db")).unwrap();
        db.busy_timeout(Duration::from_secs(5)).unwrap();
        let offset: i64 = db
            .query_row("SELECT seq FROM outbox WHERE topic = ?1 AND event_id = ?2", [topic, event_id], |r| r.get(0))
            .unwrap_or_else(|e| panic!("event {event_id} on {topic}: {e}"));
        let rewound = db
            .execute(
                "UPDATE pubsub_cursor SET position = ?2 WHERE subscription = ?1 AND position >= ?3",
                rusqlite::params![format!("{component}.{topic}"), offset - 1, offset],
            )
            .unwrap();
        assert_eq!(rewound, 1, "{component} has not had event {event_id} on {topic} yet");
    }

    /// Every event on `topic` (this cluster's, on the broker), oldest first.
    pub async fn read_topic(&self, topic: &str) -> Vec<serde_json::Value> {
        let out = tokio::process::Command::new(repo().join("scripts/services/kafka.sh"))
            .arg("consume")
            .arg(env("TODO_TEST_KAFKA").rsplit(':').next().unwrap())
            .arg(self.broker_topic(topic))
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The user's notifications, newest first (the first 100).
    pub async fn notifications(&self, user: &str) -> Vec<serde_json::Value> {
        let res = client(user).get(self.url("/api/notifications?limit=100")).send().await.unwrap();
        let page = expect_json(res, 200).await;
        assert_eq!(page["next_cursor"], serde_json::Value::Null, "more than 100 notifications");
        page["items"].as_array().unwrap().clone()
    }

    /// Waits until every reminder published so far with partition key
    /// `user` has been handled by the notification handler and the test
    /// component: publishes a marker reminder behind them (a topic is
    /// delivered in publish order, retries in place), for a user of its own,
    /// and waits for its notification and its delivery.
    pub async fn settle_reminders(&self, user: &str) {
        let marker_user = format!("marker-{}", uuid::Uuid::new_v4());
        let event_id = uuid::Uuid::new_v4().to_string();
        let reminder = serde_json::json!({
            "kind": "upcoming", "task_id": uuid::Uuid::new_v4(), "user_id": marker_user,
            "title": "marker", "due_date": "2030-01-01T00:00:00Z",
        });
        self.publish(user, "reminders", &event_id, &reminder).await;
        self.eventually(EVENT_WAIT, || async { (self.notifications(&marker_user).await.len() == 1).then_some(()) })
            .await;
        self.eventually(EVENT_WAIT, || async {
            self.deliveries("reminders").await.iter().any(|d| d.event_id == event_id).then_some(())
        })
        .await;
    }

    /// The events the subscriptions of `topic` gave up on: embedded, as
    /// `todo-host dead-letters <topic>-dlq` lists them (with the subscription
    /// and the reason); distributed, the events on the dead-letter topic
    /// (with their `event_id`).
    pub async fn dead_letters(&self, topic: &str) -> Vec<serde_json::Value> {
        if self.sidecar.is_some() {
            let events = self.read_topic(&format!("{topic}-dlq")).await;
            return events.into_iter().map(|e| serde_json::json!({ "event_id": e["id"], "event": e })).collect();
        }
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_todo-host"))
            .args(["dead-letters", "-f"])
            .arg(self.dir.path().join("spin.toml"))
            .arg(format!("{topic}-dlq"))
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

/// One Server-Sent Event.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
    pub retry: Option<u64>,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("event data {:?}: {e}", self.data))
    }
}

/// A minimal `text/event-stream` reader over a response body.
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200, "opening the stream");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self { body: Box::pin(response.bytes_stream()), buffer: String::new() }
    }

    /// The next event (comments skipped), or None when the stream ends or
    /// nothing comes within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        use futures::StreamExt;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent::default();
                let mut fields = 0;
                for line in frame.lines() {
                    let (name, value) =
                        line.split_once(':').map(|(n, v)| (n, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
                    match name {
                        "id" => event.id = Some(value.to_owned()),
                        "event" => event.event = value.to_owned(),
                        "data" if event.data.is_empty() => event.data = value.to_owned(),
                        "data" => event.data = format!("{}\n{value}", event.data),
                        "retry" => event.retry = value.parse().ok(),
                        _ => continue, // a comment (heartbeat)
                    }
                    fields += 1;
                }
                if fields > 0 {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next()).await.ok()??.ok()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// Stops the tests' Kafka broker (distributed backend).
pub fn stop_kafka() {
    let status = Command::new(repo().join("scripts/services/kafka.sh"))
        .args(["stop", &env("TODO_TEST_KAFKA_DIR")])
        .status()
        .unwrap();
    assert!(status.success(), "stopping Kafka");
}

/// Starts the tests' Kafka broker again, on its data and ports.
pub fn start_kafka() {
    let port = env("TODO_TEST_KAFKA").rsplit(':').next().unwrap().to_owned();
    let status = Command::new(repo().join("scripts/services/kafka.sh"))
        .args(["start", &env("TODO_TEST_KAFKA_DIR"), &port, &env("TODO_TEST_KAFKA_CONTROLLER_PORT")])
        .status()
        .unwrap();
    assert!(status.success(), "starting Kafka");
}

impl Host {
    /// The status of `GET /readyz`.
    pub async fn readyz(&self) -> u16 {
        reqwest::get(self.url("/readyz")).await.unwrap().status().as_u16()
    }

    /// A counter or gauge from `/metrics` (0 when absent).
    pub async fn metric(&self, series: &str) -> f64 {
        let text = reqwest::get(self.url("/metrics")).await.unwrap().text().await.unwrap();
        text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
    }
}

/// The Task API as one user, for tests that drive it rather than test it.
pub struct TaskApi<'h> {
    host: &'h Host,
    client: reqwest::Client,
}

impl<'h> TaskApi<'h> {
    pub fn new(host: &'h Host, user: &str) -> Self {
        Self { host, client: client(user) }
    }

    pub async fn create(&self, body: serde_json::Value) -> serde_json::Value {
        let res = self.client.post(self.host.url("/api/todos")).json(&body).send().await.unwrap();
        expect_json(res, 201).await
    }

    pub async fn complete(&self, id: &str, completed: bool) -> serde_json::Value {
        let url = self.host.url(&format!("/api/todos/{id}/complete"));
        let res = self.client.patch(url).json(&serde_json::json!({ "completed": completed })).send().await.unwrap();
        expect_json(res, 200).await
    }

    /// Every task of the user, page after page.
    pub async fn tasks(&self) -> Vec<serde_json::Value> {
        let (mut all, mut cursor) = (Vec::new(), String::new());
        loop {
            let res = self.client.get(self.host.url(&format!("/api/todos?limit=100{cursor}"))).send().await.unwrap();
            let page = expect_json(res, 200).await;
            all.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return all,
            }
        }
    }

    /// The tasks whose parent is `id`.
    pub async fn children(&self, id: &str) -> Vec<serde_json::Value> {
        self.tasks().await.into_iter().filter(|t| t["parent_task_id"] == id).collect()
    }

    /// Waits for the next occurrence of `id` and returns it.
    pub async fn next_of(&self, id: &str) -> serde_json::Value {
        self.host
            .eventually(EVENT_WAIT, || async {
                let children = self.children(id).await;
                assert!(children.len() <= 1, "{children:?}");
                children.into_iter().next()
            })
            .await
    }

    pub async fn history(&self, id: &str) -> Vec<serde_json::Value> {
        let res = self.client.get(self.host.url(&format!("/api/todos/{id}/history"))).send().await.unwrap();
        expect_json(res, 200).await["items"].as_array().unwrap().clone()
    }

    /// Waits until the recurring handler has handled every `task-events`
    /// event published so far for this user: completes a recurring marker
    /// task behind them (a topic is delivered in publish order, retries in
    /// place) and waits for the marker's next occurrence.
    pub async fn settle(&self) {
        let marker =
            self.create(serde_json::json!({"title": "marker", "recurrence_pattern": {"frequency": "daily"}})).await;
        let id = marker["id"].as_str().unwrap().to_owned();
        self.complete(&id, true).await;
        self.next_of(&id).await;
    }
}
