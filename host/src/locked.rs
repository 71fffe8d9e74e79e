//! Spin's locked application (`spin.lock`, `crates/locked-app` in Spin):
//! the JSON an OCI artifact carries as its
//! `application/vnd.fermyon.spin.application.v1+config` layer. Only the
//! parts this host reads or writes are modelled; unknown fields are
//! ignored on reading, as Spin does, except what Spin says a host must
//! understand (`must_understand`, `host_requirements`), which
//! `LockedApp::check_supported` refuses.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::{collections::BTreeMap, path::PathBuf};

/// Keys of a metadata map: free-form JSON, as Spin's `ValuesMap`.
pub type Metadata = Map<String, Value>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockedApp {
    /// Spin writes 0 unless the app has host requirements, and reads 0 and 1.
    pub spin_lock_version: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must_understand: Vec<Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Metadata,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub host_requirements: Metadata,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub variables: Metadata,
    pub triggers: Vec<LockedTrigger>,
    pub components: Vec<LockedComponent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockedTrigger {
    pub id: String,
    pub trigger_type: String,
    /// The trigger's table from the manifest, as JSON: opaque to Spin.
    pub trigger_config: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockedComponent {
    pub id: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Metadata,
    pub source: LockedSource,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ContentPath>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub dependencies: Metadata,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub host_requirements: Metadata,
}

/// A component's Wasm: `content_type` and the content reference side by side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockedSource {
    pub content_type: String,
    #[serde(flatten)]
    pub content: ContentRef,
}

/// Content by digest (a layer of the artifact), inline (base64, for small
/// files), or by URL (a local lock).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_bytes")]
    pub inline: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// A file: its content and its path (relative, `/`-separated) in its directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPath {
    #[serde(flatten)]
    pub content: ContentRef,
    pub path: PathBuf,
}

/// What in a lock this host cannot run.
#[derive(Debug, thiserror::Error)]
pub enum Unsupported {
    #[error("the application requires host features this host lacks: {0}")]
    HostRequirements(String),
    #[error("component {component} uses {what}, which this host does not give components")]
    ComponentFeature { component: String, what: &'static str },
}

impl LockedApp {
    /// Refuses an app that needs what this host does not do (Spin's host
    /// requirements, component files, environment, dependencies),
    /// rather than running it without.
    pub fn check_supported(&self) -> Result<(), Unsupported> {
        let required: Vec<&str> = self
            .host_requirements
            .keys()
            .chain(self.components.iter().flat_map(|c| c.host_requirements.keys()))
            .map(String::as_str)
            .collect();
        if !required.is_empty() {
            return Err(Unsupported::HostRequirements(required.join(", ")));
        }
        for c in &self.components {
            let feature = [
                (!c.files.is_empty(), "files"),
                (!c.env.is_empty(), "environment variables"),
                (!c.dependencies.is_empty(), "dependencies"),
            ];
            if let Some((_, what)) = feature.into_iter().find(|(used, _)| *used) {
                return Err(Unsupported::ComponentFeature { component: c.id.clone(), what });
            }
        }
        Ok(())
    }
}

/// `inline` is base64 (standard alphabet, padded), as Spin's `spin_serde::base64`.
mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| base64::engine::general_purpose::STANDARD.decode(t).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lock as Spin's loader and OCI client write it (`spin registry push`):
    /// origin removed, sources and files as digests, small files inline.
    const SPIN_PUSHED: &str = r#"{
      "spin_lock_version": 0,
      "metadata": {"name": "hello", "version": "0.1.0", "authors": ["a"], "trigger": {"type": "http"}, "triggers": {}},
      "triggers": [{"id": "trigger-hello", "trigger_type": "http",
                    "trigger_config": {"component": "hello", "route": "/..."}}],
      "components": [{"id": "hello",
        "metadata": {"allowed_outbound_hosts": [], "key_value_stores": ["default"]},
        "source": {"content_type": "application/wasm", "digest": "sha256:ab"},
        "files": [{"inline": "aGk=", "digest": "sha256:cd", "path": "a/b.txt"}]}]
    }"#;

    #[test]
    fn reads_what_spin_pushes() {
        let app: LockedApp = serde_json::from_str(SPIN_PUSHED).unwrap();
        assert_eq!(app.metadata["name"], "hello");
        assert_eq!(app.triggers[0].trigger_config["route"], "/...");
        let c = &app.components[0];
        assert_eq!(c.source.content.digest.as_deref(), Some("sha256:ab"));
        assert_eq!(c.files[0].content.inline.as_deref(), Some(&b"hi"[..]));
        assert_eq!(c.files[0].path, PathBuf::from("a/b.txt"));
        let err = app.check_supported().unwrap_err();
        assert!(err.to_string().contains("component hello uses files"), "{err}");
    }

    #[test]
    fn round_trips_and_refuses_host_requirements() {
        let mut app: LockedApp = serde_json::from_str(SPIN_PUSHED).unwrap();
        app.components[0].files.clear();
        app.check_supported().unwrap();
        let json = serde_json::to_value(&app).unwrap();
        assert_eq!(
            json["components"][0]["source"],
            serde_json::json!({"content_type": "application/wasm", "digest": "sha256:ab"})
        );
        assert!(json["components"][0].get("env").is_none(), "empty maps are left out, as Spin does");
        app.host_requirements.insert("local_service_chaining".into(), "required".into());
        assert!(app.check_supported().unwrap_err().to_string().contains("local_service_chaining"));
    }
}
