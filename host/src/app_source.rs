//! Where `-f` takes the application from, as `spin up -f` does: a
//! `spin.toml`, a directory holding one, or an OCI reference
//! (`registry/repository:tag` or `@sha256:...`), pulled into the cache and
//! run from there. An existing path always wins over a reference.

use crate::manifest::Manifest;
use crate::oci::{self, cache::Cache, Registry};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Plain HTTP for every registry (loopback ones always are).
    pub insecure: bool,
    /// The cache of pulled apps [default: ~/.cache/todo-system/oci].
    pub cache: Option<PathBuf>,
}

impl RegistryOptions {
    pub fn cache(&self) -> Cache {
        Cache::at(self.cache.clone())
    }
}

/// An application ready to load, and where it came from.
pub struct AppSource {
    pub manifest_file: PathBuf,
    /// The OCI reference it was pulled from, if it was.
    pub reference: Option<String>,
}

impl AppSource {
    /// Resolves `from`, pulling it when it is a reference.
    pub async fn resolve(from: &str, options: &RegistryOptions) -> anyhow::Result<Self> {
        let path = Path::new(from);
        if path.exists() || !oci::looks_like_reference(from) {
            let manifest_file = if path.is_dir() { path.join("spin.toml") } else { path.to_owned() };
            return Ok(Self { manifest_file, reference: None });
        }
        let reference = oci::parse_reference(from)?;
        let pulled = Registry::new(options.insecure, &reference).pull(&reference, &options.cache()).await?;
        tracing::info!(reference = %from, digest = %pulled.digest, dir = %pulled.dir.display(), "application from the registry");
        Ok(Self { manifest_file: pulled.dir.join("spin.toml"), reference: Some(from.to_owned()) })
    }

    pub fn load(&self) -> anyhow::Result<Manifest> {
        let manifest = Manifest::load(&self.manifest_file);
        match &self.reference {
            Some(reference) => manifest.with_context(|| format!("loading the application {reference}")),
            None => manifest,
        }
    }

    /// The default data directory: `.data` beside a local manifest; for a
    /// pulled app `.data` in the working directory (the cache is shared by
    /// every version of the app, the data must outlive them).
    pub fn default_data_dir(&self, manifest: &Manifest) -> PathBuf {
        match self.reference {
            Some(_) => PathBuf::from(".data"),
            None => manifest.dir.join(".data"),
        }
    }

    /// Refuses what only makes sense for an app built here.
    pub fn ensure_local(&self, what: &str) -> anyhow::Result<()> {
        match &self.reference {
            Some(reference) => anyhow::bail!("{what} needs a local spin.toml; {reference} is a registry reference"),
            None => Ok(()),
        }
    }
}
