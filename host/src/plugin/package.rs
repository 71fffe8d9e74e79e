//! `todo-host plugins package OUT`: for each trigger plugin, a tarball
//! holding this executable under the plugin's name and the license, and a
//! plugin manifest for `spin plugins install --file <manifest> --yes`, in
//! the schema of Spin's `crates/plugins/src/manifest.rs`: the package's
//! `url` is the tarball's `file://` URL and its `sha256` the tarball's,
//! which Spin checks before it unpacks the tarball into its plugin
//! directory (the executable must be named as the plugin).

use super::TriggerType;
use anyhow::{bail, Context};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::{
    fs::File,
    io::BufWriter,
    path::{Path, PathBuf},
};

/// The Spin versions these plugins are built and tested against (the
/// trigger protocol and lock format of 3.x and 4.x).
pub const SPIN_COMPATIBILITY: &str = ">=3.0, <5.0";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const LICENSE: &str = env!("CARGO_PKG_LICENSE");

/// Spin's `PluginManifest` (camelCase keys).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PluginManifest {
    name: String,
    description: String,
    version: &'static str,
    spin_compatibility: &'static str,
    license: &'static str,
    packages: Vec<PluginPackage>,
}

#[derive(Serialize)]
struct PluginPackage {
    os: &'static str,
    arch: &'static str,
    url: String,
    sha256: String,
}

/// Spin's names for this build's OS and architecture.
fn platform() -> anyhow::Result<(&'static str, &'static str)> {
    let os = match std::env::consts::OS {
        os @ ("linux" | "macos" | "windows") => os,
        other => bail!("Spin has no plugin packages for OS {other}"),
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        arch @ ("aarch64" | "arm") => arch,
        other => bail!("Spin has no plugin packages for architecture {other}"),
    };
    Ok((os, arch))
}

/// Writes every plugin's tarball and manifest into `out`; returns the manifests' paths.
pub fn package(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let out = out.canonicalize()?;
    let executable = std::env::current_exe().context("finding this executable")?;
    let (os, arch) = platform()?;
    let mut manifests = Vec::new();
    for kind in TriggerType::ALL {
        let name = kind.plugin().to_owned();
        let tarball = out.join(format!("{name}-{VERSION}-{os}-{arch}.tar.gz"));
        write_tarball(&tarball, &name, &executable).with_context(|| format!("writing {}", tarball.display()))?;
        let url = url::Url::from_file_path(&tarball)
            .map_err(|()| anyhow::anyhow!("{} has no file URL", tarball.display()))?;
        let manifest = PluginManifest {
            description: format!("Runs the app's [[trigger.{}]] with todo-host, for `spin up`", kind.name()),
            name,
            version: VERSION,
            spin_compatibility: SPIN_COMPATIBILITY,
            license: LICENSE,
            packages: vec![PluginPackage { os, arch, url: url.into(), sha256: sha256_of(&tarball)? }],
        };
        let path = out.join(format!("{}.json", manifest.name));
        std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)?;
        manifests.push(path);
    }
    Ok(manifests)
}

/// `<name>` (the executable, mode 755) and `LICENSE`, gzipped at the
/// fastest level: the executable is large (over 500 MB in a debug build)
/// and the tarball stays on this machine.
fn write_tarball(path: &Path, name: &str, executable: &Path) -> anyhow::Result<()> {
    let gz = flate2::write::GzEncoder::new(BufWriter::new(File::create(path)?), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut binary = File::open(executable).with_context(|| format!("reading {}", executable.display()))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(binary.metadata()?.len());
    header.set_mode(0o755);
    tar.append_data(&mut header, name, &mut binary)?;
    let license = format!("todo-host is licensed under {LICENSE} (SPDX identifier).\n");
    let mut header = tar::Header::new_gnu();
    header.set_size(license.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "LICENSE", license.as_bytes())?;
    tar.into_inner()?.finish()?.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
