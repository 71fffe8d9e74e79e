//! The peer runtime: `wasmtime serve` (wasmtime-cli at the host's wasmtime
//! version, built into the cache by scripts/services/wasmtime-cli.sh) on
//! the same trivial wasi:http component the host runs.

use crate::host::repo;
use anyhow::{bail, Context};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Installs wasmtime-cli if missing (a long compile the first time) and
/// returns its path.
pub fn install() -> anyhow::Result<PathBuf> {
    let script = repo().join("scripts/services/wasmtime-cli.sh");
    if !Command::new(&script).arg("install").status()?.success() {
        bail!("installing wasmtime-cli failed");
    }
    let out = Command::new(&script).arg("path").output()?;
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

pub struct Serve {
    child: Child,
    pub base: String,
}

impl Serve {
    /// `wasmtime serve` on a free loopback port; waits until it answers.
    pub fn start(wasmtime: &Path, component: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        // -S cli: the component's Rust std imports wasi:cli (stdio,
        // environment), which serve links only when asked.
        let child = Command::new(wasmtime)
            .args(["serve", "-S", "cli", "--addr", &addr])
            .arg(component)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting wasmtime serve")?;
        let serve = Serve { child, base: format!("http://{addr}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(&addr).is_err() {
            if Instant::now() > deadline {
                bail!("wasmtime serve did not listen on {addr}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(serve)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
