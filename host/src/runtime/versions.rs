//! The versions of one component: every version the host has seen (content
//! hash, source, time loaded), the active one, and the activation history.
//! A swap replaces the active `Arc<Loaded>` atomically: calls already
//! running keep the version they started with.

use super::components::{Loaded, Roles};
use super::store::ComponentGrants;

use serde::Serialize;
use std::sync::{Arc, Mutex, RwLock};

/// Why a swap (push, activate, rollback) was refused.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("no component {0:?}")]
    NoSuchComponent(String),
    #[error("give at least 8 characters of the sha256")]
    ShortHash,
    #[error("no version {0} (push it first)")]
    NoSuchVersion(String),
    #[error("{0} matches several versions")]
    Ambiguous(String),
    #[error("component {0} has no earlier version to roll back to")]
    NoEarlierVersion(String),
    /// The new version does not compile, or does not fit the component's worlds.
    #[error("{0:#}")]
    Refused(anyhow::Error),
    /// The host failed (not the version's fault).
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

/// Versions kept per component (the active one is never dropped).
const KEPT: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub sha256: String,
    pub source: String,
    pub loaded_at: chrono::DateTime<chrono::Utc>,
    pub active: bool,
}

struct Version {
    loaded: Arc<Loaded>,
    source: String,
    loaded_at: chrono::DateTime<chrono::Utc>,
}

pub struct Slot {
    pub roles: Roles,
    /// What the manifest grants the component, whatever its version.
    pub grants: ComponentGrants,
    active: RwLock<Arc<Loaded>>,
    /// Oldest first.
    versions: Mutex<Vec<Version>>,
    /// Activated hashes, oldest first; the last is the active one.
    activations: Mutex<Vec<String>>,
}

impl Slot {
    pub fn new(roles: Roles, grants: ComponentGrants, loaded: Loaded, source: String) -> Self {
        let loaded = Arc::new(loaded);
        let sha256 = loaded.sha256.clone();
        Self {
            roles,
            grants,
            active: RwLock::new(loaded.clone()),
            versions: Mutex::new(vec![Version { loaded, source, loaded_at: chrono::Utc::now() }]),
            activations: Mutex::new(vec![sha256]),
        }
    }

    pub fn active(&self) -> Arc<Loaded> {
        self.active.read().unwrap().clone()
    }

    /// Keeps a compiled version (once per hash); returns its hash.
    pub fn add(&self, loaded: Loaded, source: String) -> String {
        let sha256 = loaded.sha256.clone();
        let mut versions = self.versions.lock().unwrap();
        if !versions.iter().any(|v| v.loaded.sha256 == sha256) {
            versions.push(Version { loaded: Arc::new(loaded), source, loaded_at: chrono::Utc::now() });
            let active = self.active().sha256.clone();
            while versions.len() > KEPT {
                let Some(oldest) = versions.iter().position(|v| v.loaded.sha256 != active) else { break };
                versions.remove(oldest);
            }
        }
        sha256
    }

    pub fn activate(&self, id: &str, sha256_prefix: &str) -> Result<VersionInfo, SwapError> {
        let loaded = self.find(sha256_prefix)?;
        let mut activations = self.activations.lock().unwrap();
        if self.active().sha256 == loaded.sha256 {
            return self.info(&loaded.sha256);
        }
        let old = std::mem::replace(&mut *self.active.write().unwrap(), loaded.clone());
        activations.push(loaded.sha256.clone());
        drop(activations);
        log_swap(id, &old.sha256, &loaded.sha256);
        self.info(&loaded.sha256)
    }

    pub fn rollback(&self, id: &str) -> Result<VersionInfo, SwapError> {
        let mut activations = self.activations.lock().unwrap();
        if activations.len() < 2 {
            return Err(SwapError::NoEarlierVersion(id.to_owned()));
        }
        let current = activations.pop().expect("checked");
        let previous = activations.last().expect("checked").clone();
        let loaded = match self.find(&previous) {
            Ok(loaded) => loaded,
            Err(_) => {
                activations.push(current);
                return Err(SwapError::NoEarlierVersion(id.to_owned()));
            }
        };
        *self.active.write().unwrap() = loaded;
        drop(activations);
        log_swap(id, &current, &previous);
        self.info(&previous)
    }

    fn find(&self, sha256_prefix: &str) -> Result<Arc<Loaded>, SwapError> {
        if sha256_prefix.len() < 8 {
            return Err(SwapError::ShortHash);
        }
        let versions = self.versions.lock().unwrap();
        let mut matches = versions.iter().filter(|v| v.loaded.sha256.starts_with(sha256_prefix));
        let found = matches.next().ok_or_else(|| SwapError::NoSuchVersion(sha256_prefix.to_owned()))?;
        if matches.next().is_some() {
            return Err(SwapError::Ambiguous(sha256_prefix.to_owned()));
        }
        Ok(found.loaded.clone())
    }

    pub fn info(&self, sha256: &str) -> Result<VersionInfo, SwapError> {
        self.versions()
            .into_iter()
            .find(|v| v.sha256 == sha256)
            .ok_or_else(|| SwapError::NoSuchVersion(sha256.to_owned()))
    }

    pub fn versions(&self) -> Vec<VersionInfo> {
        let active = self.active().sha256.clone();
        self.versions
            .lock()
            .unwrap()
            .iter()
            .map(|v| VersionInfo {
                sha256: v.loaded.sha256.clone(),
                source: v.source.clone(),
                loaded_at: v.loaded_at,
                active: v.loaded.sha256 == active,
            })
            .collect()
    }
}

fn log_swap(id: &str, old: &str, new: &str) {
    crate::metrics::METRICS.swaps.get_or_create(&crate::metrics::Component { component: id.to_owned() }).inc();
    tracing::info!(component = %id, old_sha256 = %old, new_sha256 = %new, "component swapped");
}
