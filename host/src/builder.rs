//! Building components from their `[component.<id>.build]` sections, as
//! `spin build` does; `up --build` builds only missing or stale ones.

use crate::manifest::{BuildSpec, Manifest};
use anyhow::{bail, Context};
use std::{path::Path, process::Command, time::SystemTime};

/// Builds every component (`all`), or only those whose output is missing
/// or older than a file its `watch` globs match.
pub fn build(manifest: &Manifest, all: bool) -> anyhow::Result<()> {
    let components = manifest
        .component
        .iter()
        .map(|(id, spec)| (format!("component {id}"), manifest.source_path(spec), &spec.build));
    for (what, output, spec) in components {
        let Some(spec) = spec else { continue };
        if all || is_stale(manifest, &output, spec)? {
            run(manifest, &what, &output, spec)?;
        } else {
            tracing::debug!(%what, "up to date");
        }
    }
    Ok(())
}

fn run(manifest: &Manifest, what: &str, output: &Path, build: &BuildSpec) -> anyhow::Result<()> {
    let workdir = manifest.dir.join(build.workdir.as_deref().unwrap_or(Path::new(".")));
    tracing::info!(%what, command = %build.command, "building");
    let status = Command::new("sh")
        .arg("-c")
        .arg(&build.command)
        .current_dir(&workdir)
        // A build started from inside cargo (tests) must not inherit the
        // outer build's flags.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .status()
        .with_context(|| format!("running the build of {what} in {}", workdir.display()))?;
    if !status.success() {
        bail!("building {what}: `{}` failed with {status}", build.command);
    }
    if !output.exists() {
        bail!("building {what} succeeded but did not produce {}", output.display());
    }
    Ok(())
}

fn is_stale(manifest: &Manifest, output: &Path, build: &BuildSpec) -> anyhow::Result<bool> {
    let Ok(built) = std::fs::metadata(output).and_then(|m| m.modified()) else {
        return Ok(true);
    };
    let base = manifest.dir.join(build.workdir.as_deref().unwrap_or(Path::new(".")));
    for pattern in &build.watch {
        let full = base.join(pattern);
        let paths = glob::glob(&full.to_string_lossy()).with_context(|| format!("bad watch glob {pattern:?}"))?;
        for path in paths.flatten() {
            let modified = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
            if modified > built {
                tracing::info!(changed = %path.display(), "stale");
                return Ok(true);
            }
        }
    }
    Ok(false)
}
