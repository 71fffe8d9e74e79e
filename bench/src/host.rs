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
    let host = repo().join("target/release/todo-host");
    let status = Command::new(&host).args(["build", "-f"]).arg(repo().join("spin.toml")).status()?;
    if !status.success() {
        bail!("building the components failed");
    }
    Ok(host)
}

pub struct Host {
    child: Child,
    pub base: String,
}

impl Host {
    /// Starts the host on `data_dir` and waits until it listens.
    pub fn start(binary: &Path, data_dir: &Path) -> anyhow::Result<Host> {
        let mut child = Command::new(binary)
            .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("-f")
            .arg(repo().join("spin.toml"))
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
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn token(user: &str) -> String {
    let claims = serde_json::json!({ "sub": user, "exp": chrono::Utc::now().timestamp() + 24 * 3600 });
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()))
        .expect("HS256 encoding")
}

pub fn client(user: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", token(user)).parse().unwrap());
    reqwest::Client::builder().default_headers(headers).pool_max_idle_per_host(64).build().unwrap()
}

/// Raises this process's open-file limit (inherited by the host it starts).
pub fn raise_fd_limit(want: u64) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = want.min(limit.rlim_max);
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}
