//! `up --watch`: swaps in a component whose file changed, or whose `source`
//! changed in the manifest, without a restart. A version that fails to
//! compile or does not fit is refused and the old one keeps serving.

use crate::manifest::Manifest;
use crate::runtime::components::Components;
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, SystemTime},
};

const POLL: Duration = Duration::from_millis(300);

/// What identifies a file version without reading it.
fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

pub fn spawn(manifest_path: PathBuf, components: Arc<Components>) {
    tokio::spawn(async move {
        let mut seen: HashMap<String, (PathBuf, Option<(SystemTime, u64)>)> = HashMap::new();
        loop {
            match Manifest::load(&manifest_path) {
                Ok(manifest) => {
                    for (id, spec) in &manifest.component {
                        let path = manifest.source_path(spec);
                        let now = (path.clone(), stamp(&path));
                        let before = seen.insert(id.clone(), now.clone());
                        if before.is_some_and(|b| b != now) && now.1.is_some() {
                            swap(&components, id, &path).await;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "watch: the manifest does not load; keeping the running versions")
                }
            }
            tokio::time::sleep(POLL).await;
        }
    });
}

async fn swap(components: &Arc<Components>, id: &str, path: &PathBuf) {
    if components.get(id).is_none() {
        tracing::warn!(component = %id, "watch: new components need a restart");
        return;
    }
    // Let a writer finish the file before reading it.
    tokio::time::sleep(POLL).await;
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return tracing::warn!(component = %id, error = %e, "watch: reading the new version"),
    };
    if let Err(e) = components.push(id, bytes, path.display().to_string(), true).await {
        tracing::warn!(component = %id, error = %format!("{e:#}"), "watch: refused the new version; the old one keeps serving");
    }
}
