//! Starts the release `todo-host` on the repository's `spin.toml` with a
//! fresh data directory, on a loopback port of its own.

use anyhow::{bail, Context};
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

pub const SECRET: &str = "bench-secret";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("the repository")
}

/// The components the benchmarks run.
const COMPONENTS: [&str; 3] = ["task-api", "test-guest", "hello-http"];

/// Builds the release host and the components (cargo's no-op when fresh).
pub fn build() -> anyhow::Result<PathBuf> {
    let status = Command::new("cargo")
        .args(["build", "--release", "--quiet", "-p", "todo-host"])
        .current_dir(repo())
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("building todo-host failed");
    }
    for package in COMPONENTS {
        let status = Command::new(repo().join("components/build.sh")).arg(package).status()?;
        if !status.success() {
            bail!("building {package} failed");
        }
    }
    Ok(repo().join("target/release/todo-host"))
}

/// A built component's file.
pub fn wasm(package: &str) -> PathBuf {
    repo().join(format!("target/wasm/wasm32-wasip2/release/{}.wasm", package.replace('-', "_")))
}

/// Writes the benchmark's application into `dir`: the Task API on
/// `/api/todos`, the test component — a trivial HTTP route
/// (`/test/version`) and a handler subscribed to `test` — the peer
/// runtime's trivial wasi:http component on `/hello`, the stream, each
/// component's grants, and the migrations.
pub fn app(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = format!(
        r#"spin_manifest_version = 2
[application]
name = "todo-bench"
[application.tool.todo]
migrations = "migrations"
[variables]
jwt_secret = {{ required = true, secret = true }}
[[trigger.sse]]
route = "/api/stream/tasks"
topic = "task-updates"
user_attribute = "partitionkey"
[[trigger.http]]
route = "/api/todos/..."
component = "task-api"
[[trigger.http]]
route = "/test/..."
component = "test-guest"
[[trigger.http]]
route = "/hello/..."
component = "hello-http"
[[trigger.pubsub]]
topic = "test"
component = "test-guest"
[component.hello-http]
source = "{}"
[component.task-api]
source = "{}"
[component.task-api.tool.todo]
sql_databases = ["default"]
publish_topics = ["task-events", "task-updates"]
[component.task-api.variables]
jwt_secret = "{{{{ jwt_secret }}}}"
[component.test-guest]
source = "{}"
[component.test-guest.variables]
jwt_secret = "{{{{ jwt_secret }}}}"
[component.test-guest.tool.todo]
sql_databases = ["default"]
state_stores = ["default"]
publish_topics = ["*"]
"#,
        wasm("hello-http").display(),
        wasm("task-api").display(),
        wasm("test-guest").display()
    );
    for dialect in ["sqlite", "postgres"] {
        std::fs::create_dir_all(dir.join("migrations").join(dialect))?;
        for entry in std::fs::read_dir(repo().join("migrations").join(dialect))? {
            let entry = entry?;
            std::fs::copy(entry.path(), dir.join("migrations").join(dialect).join(entry.file_name()))?;
        }
    }
    let path = dir.join("spin.toml");
    std::fs::write(&path, manifest)?;
    Ok(path)
}

pub struct Host {
    child: Child,
    pub base: String,
}

impl Host {
    /// Starts the host on `data_dir` and waits until it listens.
    pub fn start(binary: &Path, manifest: &Path, data_dir: &Path) -> anyhow::Result<Host> {
        Self::start_with(binary, manifest, data_dir, &[])
    }

    /// As `start`, with more environment (a runtime configuration, a replica id).
    pub fn start_with(binary: &Path, manifest: &Path, data_dir: &Path, env: &[(&str, String)]) -> anyhow::Result<Host> {
        let mut child = Command::new(binary)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("-f")
            .arg(manifest)
            .env("TODO_JWT_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting todo-host")?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(addr) = line.strip_prefix("todo-host listening on ") {
                        break addr.to_owned();
                    }
                }
                _ => bail!("todo-host exited before listening"),
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Host { child, base })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The host's resident set size, in MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_of(self.pid())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resident set size, in MiB.
pub fn rss_of(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

pub fn token(user: &str) -> String {
    let claims = serde_json::json!({ "sub": user, "exp": chrono::Utc::now().timestamp() + 24 * 3600 });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("HS256 encoding")
}

pub fn client(user: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", token(user)).parse().unwrap());
    reqwest::Client::builder().default_headers(headers).pool_max_idle_per_host(64).build().unwrap()
}

/// Raises this process's open-file limit (inherited by the host it
/// starts): the hard limit too where allowed (root), else up to it.
pub fn raise_fd_limit(want: u64) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        let raised = libc::rlimit { rlim_cur: want, rlim_max: want.max(limit.rlim_max) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            limit.rlim_cur = want.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}
