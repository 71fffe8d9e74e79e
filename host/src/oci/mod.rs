//! Applications as OCI artifacts in Spin's format (`artifact`): pushed to
//! and pulled from a registry with `oci-client`, with the credentials of the
//! Docker config file (`auth`), and cached by digest (`cache`), so a second
//! start needs no registry.

pub mod artifact;
mod auth;
pub mod cache;

use crate::locked::LockedApp;
use cache::Cache;
use oci_client::{
    client::{ClientConfig, ClientProtocol, Config, ImageLayer},
    config::{Architecture, ConfigFile, Os},
    errors::OciDistributionError,
    manifest::{OciDescriptor, OciImageManifest},
    Reference,
};
use std::{collections::BTreeMap, path::PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("{reference:?} is not an OCI reference (registry/repository:tag or registry/repository@sha256:...)")]
    BadReference {
        reference: String,
        #[source]
        source: oci_client::ParseError,
    },
    #[error("{action} {reference}")]
    Registry {
        action: &'static str,
        reference: String,
        #[source]
        source: OciDistributionError,
    },
    #[error("the registry of {reference} cannot be reached, and nothing is cached for it")]
    Unreachable {
        reference: String,
        #[source]
        source: OciDistributionError,
    },
    #[error("{reference} is not a Spin application: {why}")]
    NotAnApp { reference: String, why: String },
    #[error("registry credentials: {0}")]
    Credentials(String),
    #[error("{0}")]
    Format(String),
    #[error(transparent)]
    Unsupported(#[from] crate::locked::Unsupported),
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl OciError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        OciError::Io { context: context.into(), source }
    }
}

/// Whether `-f` names a registry reference rather than a file: it must
/// name its registry (a host with a dot or a port, or `localhost`), as in
/// `ghcr.io/org/app:1` or `127.0.0.1:5000/todo/app@sha256:...`, so that a
/// path like `apps/spin.toml` is never taken for one.
pub fn looks_like_reference(text: &str) -> bool {
    let Some((registry, rest)) = text.split_once('/') else { return false };
    let host_like = !registry.starts_with('.');
    let names_registry = host_like && (registry.contains('.') || registry.contains(':') || registry == "localhost");
    names_registry && !rest.is_empty() && !text.ends_with(".toml")
}

pub fn parse_reference(text: &str) -> Result<Reference, OciError> {
    text.parse().map_err(|source| OciError::BadReference { reference: text.to_owned(), source })
}

/// An application pulled into the cache.
pub struct Pulled {
    pub digest: String,
    /// The unpacked app: `spin.toml` and its files.
    pub dir: PathBuf,
}

pub struct Registry {
    client: oci_client::Client,
}

impl Registry {
    /// Plain HTTP for every registry with `insecure`, else for loopback ones
    /// only (a local test registry), HTTPS for the rest.
    pub fn new(insecure: bool, reference: &Reference) -> Self {
        let registry = reference.resolve_registry().to_owned();
        let host = registry.rsplit_once(':').map_or(registry.as_str(), |(host, _)| host);
        let protocol = if insecure || ["localhost", "127.0.0.1", "[::1]"].contains(&host) {
            ClientProtocol::HttpsExcept(vec![registry.clone()])
        } else {
            ClientProtocol::Https
        };
        Self { client: oci_client::Client::new(ClientConfig { protocol, ..Default::default() }) }
    }

    /// Pushes an assembled app; returns the manifest digest.
    pub async fn push(&self, reference: &Reference, artifact: artifact::Artifact) -> Result<String, OciError> {
        let failed = |source| OciError::Registry { action: "pushing", reference: reference.to_string(), source };
        let auth = auth::for_registry(reference.resolve_registry())?;
        let lock = serde_json::to_vec(&artifact.lock).expect("a lock serializes");
        let mut layers = artifact.layers;
        layers.push(ImageLayer::new(lock, artifact::LOCKED_APP_MEDIA_TYPE.into(), None));
        let config = image_config(&layers[layers.len() - 1]).map_err(failed)?;
        let manifest = OciImageManifest::build(&layers, &config, Some(annotations(&artifact.lock)));
        let pushed = self.client.push(reference, &layers, config, &auth, Some(manifest)).await.map_err(failed)?;
        match pushed.manifest_url.rsplit('/').next().filter(|last| last.starts_with("sha256:")) {
            Some(digest) => Ok(digest.to_owned()),
            None => self.client.fetch_manifest_digest(reference, &auth).await.map_err(failed),
        }
    }

    /// The app `reference` names, from the cache when it is there (a digest
    /// reference is immutable; a tag is asked of the registry, and only when
    /// the registry cannot be reached is the digest it last named used).
    pub async fn pull(&self, reference: &Reference, cache: &Cache) -> Result<Pulled, OciError> {
        if let Some(pulled) = reference.digest().and_then(|d| cached(cache, d)) {
            return Ok(pulled);
        }
        let auth = auth::for_registry(reference.resolve_registry())?;
        let (manifest, digest) = match self.client.pull_image_manifest(reference, &auth).await {
            Ok(found) => found,
            Err(OciDistributionError::RequestError(e)) if e.is_connect() || e.is_timeout() => {
                let pulled = cache.tagged(reference).and_then(|d| cached(cache, &d));
                let Some(pulled) = pulled else {
                    return Err(OciError::Unreachable { reference: reference.to_string(), source: e.into() });
                };
                tracing::warn!(reference = %reference, digest = %pulled.digest, error = %e,
                    "the registry is unreachable: running the digest this tag named when last pulled");
                return Ok(pulled);
            }
            Err(source) => {
                return Err(OciError::Registry { action: "pulling", reference: reference.to_string(), source })
            }
        };
        if cached(cache, &digest).is_none() {
            self.fetch(reference, &manifest, &digest, cache).await?;
        }
        cache.tag(reference, &digest)?;
        Ok(Pulled { dir: cache.app_dir(&digest)?, digest })
    }

    /// Fetches the layers not cached yet and unpacks the app.
    async fn fetch(
        &self,
        reference: &Reference,
        manifest: &OciImageManifest,
        digest: &str,
        cache: &Cache,
    ) -> Result<(), OciError> {
        let not_an_app = |why: String| OciError::NotAnApp { reference: reference.to_string(), why };
        if manifest.layers.iter().any(|l| l.media_type == artifact::ARCHIVE_MEDIA_TYPE) {
            return Err(not_an_app(
                "it has archive layers (SPIN_OCI_ARCHIVE_LAYERS), which this host does not unpack".into(),
            ));
        }
        for layer in &manifest.layers {
            if !cache.has_blob(&layer.digest) {
                let bytes = self.blob(reference, layer).await?;
                cache.write_blob(&layer.digest, &bytes)?;
            }
        }
        let lock = match manifest.layers.iter().find(|l| l.media_type == artifact::LOCKED_APP_MEDIA_TYPE) {
            Some(layer) => read_blob(cache, &layer.digest)?,
            // Apps pushed by older Spin versions carry the lock as the image config.
            None => self.blob(reference, &manifest.config).await?,
        };
        let lock: LockedApp =
            serde_json::from_slice(&lock).map_err(|e| not_an_app(format!("its lock does not parse: {e}")))?;
        let blob = |digest: &str| cache.blob_path(digest);
        cache.write_app(digest, |dir| artifact::unpack(&lock, &blob, dir))
    }

    async fn blob(&self, reference: &Reference, layer: &OciDescriptor) -> Result<Vec<u8>, OciError> {
        let mut bytes = Vec::with_capacity(usize::try_from(layer.size).unwrap_or_default());
        self.client.pull_blob(reference, layer, &mut bytes).await.map_err(|source| OciError::Registry {
            action: "pulling a layer of",
            reference: reference.to_string(),
            source,
        })?;
        Ok(bytes)
    }
}

fn cached(cache: &Cache, digest: &str) -> Option<Pulled> {
    let dir = cache.app_dir(digest).ok()?;
    dir.join("spin.toml").is_file().then(|| Pulled { digest: digest.to_owned(), dir })
}

fn read_blob(cache: &Cache, digest: &str) -> Result<Vec<u8>, OciError> {
    let path = cache.blob_path(digest)?;
    std::fs::read(&path).map_err(|e| OciError::io(format!("reading {}", path.display()), e))
}

/// An OCI image config as Spin writes one: a Wasm "image" whose label names
/// the lock's digest, so that different apps never share a config digest.
fn image_config(lock_layer: &ImageLayer) -> Result<Config, OciDistributionError> {
    let labels = [("com.fermyon.spin.lockedAppDigest".to_owned(), lock_layer.sha256_digest())].into();
    let file = ConfigFile {
        architecture: Architecture::Wasm,
        os: Os::Other("wasip2".into()),
        config: Some(oci_client::config::Config { labels: Some(labels), ..Default::default() }),
        ..Default::default()
    };
    Config::oci_v1_from_config_file(file, None)
}

/// The standard annotations Spin infers: title, version, description, created.
fn annotations(lock: &LockedApp) -> BTreeMap<String, String> {
    use oci_client::annotations as a;
    let text = |key: &str| lock.metadata.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let mut annotations =
        BTreeMap::from([(a::ORG_OPENCONTAINERS_IMAGE_CREATED.to_owned(), chrono::Utc::now().to_rfc3339())]);
    for (annotation, key) in [
        (a::ORG_OPENCONTAINERS_IMAGE_TITLE, "name"),
        (a::ORG_OPENCONTAINERS_IMAGE_VERSION, "version"),
        (a::ORG_OPENCONTAINERS_IMAGE_DESCRIPTION, "description"),
    ] {
        if let Some(value) = text(key) {
            annotations.insert(annotation.to_owned(), value);
        }
    }
    annotations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_references_from_paths() {
        for reference in ["127.0.0.1:5000/todo/app:test", "ghcr.io/org/app@sha256:00", "localhost/app", "r.example/a/b"]
        {
            assert!(looks_like_reference(reference), "{reference}");
        }
        for path in ["spin.toml", "apps/spin.toml", "./app", "/abs/dir", "examples/todo", "../x.y/spin.toml"] {
            assert!(!looks_like_reference(path), "{path}");
        }
        assert!(parse_reference("127.0.0.1:5000/Bad Repo:x").unwrap_err().to_string().contains("Bad Repo"));
    }
}
