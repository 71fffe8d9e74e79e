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

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn wasm(package: &str) -> PathBuf {
    repo().join(format!("target/wasm/wasm32-wasip2/release/{}.wasm", package.replace('-', "_")))
}

/// Builds the guest components once per test binary.
pub fn build_components() {
    static BUILT: Once = Once::new();
    BUILT.call_once(|| {
        for package in ["task-api", "test-guest"] {
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

/// The manifest the tests run: the real Task API, plus the test component
/// on `/test/...`, subscribed to `test` and ticking every second.
pub fn manifest(test_guest: &Path) -> String {
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "todo-test"

[[trigger.http]]
route = "/api/todos/..."
component = "task-api"

[[trigger.http]]
route = "/test/..."
component = "test-guest"

[[trigger.static]]
route = "/..."
directory = "static"
fallback = "index.html"

[[trigger.pubsub]]
topic = "test"
component = "test-guest"
max_attempts = 3
initial_backoff_ms = 20
max_backoff_ms = 100

[[trigger.pubsub]]
topic = "task-events"
component = "test-guest"

[[trigger.cron]]
schedule = "@every 1s"
component = "test-guest"

[component.task-api]
source = "{}"

[component.test-guest]
source = "{}"
"#,
        wasm("task-api").display(),
        test_guest.display()
    )
}

pub struct Options {
    pub guest_timeout_ms: u64,
    pub guest_memory_mb: usize,
    pub test_guest: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self { guest_timeout_ms: 2_000, guest_memory_mb: 64, test_guest: wasm("test-guest") }
    }
}

pub struct Host {
    child: Option<Child>,
    pub base: String,
    pub dir: tempfile::TempDir,
    options: Options,
}

impl Host {
    pub fn start() -> Host {
        Self::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Host {
        build_components();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spin.toml"), manifest(&options.test_guest)).unwrap();
        std::fs::create_dir_all(dir.path().join("static/assets")).unwrap();
        std::fs::write(dir.path().join("static/index.html"), "<!doctype html><title>todo</title>").unwrap();
        std::fs::write(dir.path().join("static/assets/app.js"), "console.log('todo')").unwrap();
        copy_dir(&repo().join("migrations"), &dir.path().join("migrations"));
        // Share compiled components between test hosts: compiling them in a
        // debug build takes seconds, and cache entries are written atomically.
        let shared = repo().join("target/test-compiled");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::create_dir_all(dir.path().join(".data")).unwrap();
        std::os::unix::fs::symlink(&shared, dir.path().join(".data/compiled")).unwrap();
        let mut host = Host { child: None, base: String::new(), dir, options };
        host.spawn();
        host
    }

    fn spawn(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_todo-host"))
            .args(["up", "--listen", "127.0.0.1:0", "-f"])
            .arg(self.dir.path().join("spin.toml"))
            .arg("--guest-timeout-ms")
            .arg(self.options.guest_timeout_ms.to_string())
            .arg("--guest-memory-mb")
            .arg(self.options.guest_memory_mb.to_string())
            .env("TODO_JWT_SECRET", SECRET)
            .env("RUST_LOG", "info,todo_host=debug")
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting todo-host");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("todo-host listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        self.base = rx.recv_timeout(Duration::from_secs(120)).expect("todo-host did not start listening");
        self.child = Some(child);
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

    /// Polls `check` until it returns Some, for at most `timeout`.
    pub async fn eventually<T, F, Fut>(&self, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(Instant::now() < deadline, "condition not met within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
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
    let claims = serde_json::json!({ "sub": user, "exp": chrono::Utc::now().timestamp() + 3600 });
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()))
        .unwrap()
}

/// An HTTP client acting as `user`.
pub fn client(user: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", token(user)).parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
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
                    let (name, value) = line.split_once(':').map(|(n, v)| (n, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
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
