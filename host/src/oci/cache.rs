//! The local cache of pulled applications, by digest:
//!
//! ```text
//! blobs/sha256/<hex>          layers (content-addressed: shared by every app and version)
//! apps/<hex>/spin.toml ...    an artifact unpacked into a plain app directory, by manifest digest
//! refs/<registry>/<repository>/<tag>   the manifest digest a tag last resolved to
//! ```
//!
//! Everything is written to a temporary name first and renamed into place,
//! so a crash or a concurrent pull never leaves a half-written entry.

use super::OciError;
use oci_client::Reference;
use std::path::{Path, PathBuf};

pub struct Cache {
    root: PathBuf,
}

/// `sha256:<hex>` → `<hex>`, refusing anything that could leave the directory.
fn hex_of(digest: &str) -> Result<&str, OciError> {
    digest
        .strip_prefix("sha256:")
        .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| OciError::Format(format!("unsupported digest {digest:?} (only sha256 is)")))
}

impl Cache {
    /// `$TODO_OCI_CACHE` if given, else `$XDG_CACHE_HOME/todo-system/oci`,
    /// else `~/.cache/todo-system/oci`.
    pub fn at(root: Option<PathBuf>) -> Self {
        let root = root.unwrap_or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".cache")
            });
            base.join("todo-system/oci")
        });
        Self { root }
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, OciError> {
        Ok(self.root.join("blobs/sha256").join(hex_of(digest)?))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_ok_and(|p| p.is_file())
    }

    pub fn write_blob(&self, digest: &str, bytes: &[u8]) -> Result<(), OciError> {
        write_atomically(&self.blob_path(digest)?, |tmp| {
            std::fs::write(tmp, bytes).map_err(|e| OciError::io(format!("writing {}", tmp.display()), e))
        })
    }

    /// The unpacked app of a manifest digest (present or not).
    pub fn app_dir(&self, digest: &str) -> Result<PathBuf, OciError> {
        Ok(self.root.join("apps").join(hex_of(digest)?))
    }

    /// Unpacks an app with `fill` into a fresh directory, then moves it into
    /// place; an app another process unpacked meanwhile is kept.
    pub fn write_app(&self, digest: &str, fill: impl FnOnce(&Path) -> Result<(), OciError>) -> Result<(), OciError> {
        let dir = self.app_dir(digest)?;
        write_atomically(&dir, |tmp| {
            std::fs::create_dir_all(tmp).map_err(|e| OciError::io(format!("creating {}", tmp.display()), e))?;
            fill(tmp)
        })
    }

    fn ref_path(&self, reference: &Reference) -> Option<PathBuf> {
        let tag = reference.tag()?;
        Some(self.root.join("refs").join(reference.registry()).join(reference.repository()).join(tag))
    }

    /// The digest `reference`'s tag resolved to when it was last pulled.
    pub fn tagged(&self, reference: &Reference) -> Option<String> {
        let text = std::fs::read_to_string(self.ref_path(reference)?).ok()?;
        Some(text.trim().to_owned()).filter(|d| hex_of(d).is_ok())
    }

    pub fn tag(&self, reference: &Reference, digest: &str) -> Result<(), OciError> {
        let Some(path) = self.ref_path(reference) else { return Ok(()) };
        write_atomically(&path, |tmp| {
            std::fs::write(tmp, digest).map_err(|e| OciError::io(format!("writing {}", tmp.display()), e))
        })
    }
}

/// Runs `write` on a temporary sibling of `path`, then renames it to
/// `path`. If `path` exists by then (written by someone else), theirs stays.
fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<(), OciError>) -> Result<(), OciError> {
    let parent = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(parent).map_err(|e| OciError::io(format!("creating {}", parent.display()), e))?;
    let name = path.file_name().expect("cache paths have a name").to_string_lossy();
    let tmp = parent.join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
    let written = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).or_else(|e| {
            if path.exists() {
                Ok(())
            } else {
                Err(OciError::io(format!("moving {} into place", path.display()), e))
            }
        })
    });
    if tmp.is_dir() {
        let _ = std::fs::remove_dir_all(&tmp);
    } else {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn stores_blobs_apps_and_tags_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(Some(dir.path().to_owned()));
        assert!(!cache.has_blob(DIGEST));
        cache.write_blob(DIGEST, b"layer").unwrap();
        assert!(cache.has_blob(DIGEST));
        cache
            .write_app(DIGEST, |d| std::fs::write(d.join("spin.toml"), "x").map_err(|e| OciError::io("w", e)))
            .unwrap();
        assert!(cache.app_dir(DIGEST).unwrap().join("spin.toml").is_file());
        let reference: Reference = "127.0.0.1:5000/todo/app:test".parse().unwrap();
        assert_eq!(cache.tagged(&reference), None);
        cache.tag(&reference, DIGEST).unwrap();
        assert_eq!(cache.tagged(&reference).as_deref(), Some(DIGEST));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("apps")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary directory is left behind");
    }

    #[test]
    fn refuses_digests_that_are_not_sha256() {
        let cache = Cache::at(Some(PathBuf::from("/nonexistent")));
        assert!(cache.blob_path("sha256:../../etc").is_err());
        assert!(cache.app_dir("md5:00").is_err());
    }
}
