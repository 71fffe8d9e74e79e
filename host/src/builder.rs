//! Building components from their `[component.<id>.build]` sections, as
//! `spin build` does; `up --build` builds only missing or stale ones.

use crate::manifest::{ComponentSpec, Manifest};
use anyhow::{bail, Context};
use std::{path::Path, process::Command, time::SystemTime};

/// Builds every component (`all`), or only those whose source is missing or
/// older than a file its `watch` globs match.
pub fn build(manifest: &Manifest, all: bool) -> anyhow::Result<()> {
    for (id, spec) in &manifest.component {
        let Some(build) = &spec.build else { continue };
        if !all && !is_stale(manifest, spec)? {
            tracing::debug!(component = %id, "up to date");
            continue;
        }
        let workdir = manifest.dir.join(build.workdir.as_deref().unwrap_or(Path::new(".")));
        tracing::info!(component = %id, command = %build.command, "building");
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
            .with_context(|| format!("running the build of {id} in {}", workdir.display()))?;
        if !status.success() {
            bail!("building component {id}: `{}` failed with {status}", build.command);
        }
        let source = manifest.source_path(spec);
        if !source.exists() {
            bail!("building component {id} succeeded but did not produce {}", source.display());
        }
    }
    Ok(())
}

fn is_stale(manifest: &Manifest, spec: &ComponentSpec) -> anyhow::Result<bool> {
    let source = manifest.source_path(spec);
    let Ok(built) = std::fs::metadata(&source).and_then(|m| m.modified()) else {
        return Ok(true);
    };
    let Some(build) = &spec.build else { return Ok(false) };
    let base = manifest.dir.join(build.workdir.as_deref().unwrap_or(Path::new(".")));
    for pattern in &build.watch {
        let full = base.join(pattern);
        let paths = glob::glob(&full.to_string_lossy()).with_context(|| format!("bad watch glob {pattern:?}"))?;
        for path in paths.flatten() {
            let modified = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
            if modified > built {
                tracing::info!(changed = %path.display(), "component is stale");
                return Ok(true);
            }
        }
    }
    Ok(false)
}
