//! Spin's locked application (`spin.lock`, `crates/locked-app` in Spin):
//! the JSON an OCI artifact carries as its
//! `application/vnd.fermyon.spin.application.v1+config` layer. Only the
//! parts this host reads or writes are modelled; unknown fields are
//! ignored on reading, as Spin does, except what Spin says a host must
//! understand (`must_understand`, `host_requirements`), which
//! `LockedApp::check_supported` refuses. A trigger plugin reads the lock
//! `spin up` writes (`LockedApp::read`, `manifest_for`), whose contents are
//! local files named by `file://` URLs.

use crate::manifest::Manifest;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

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
    /// requirements, environment, dependencies),
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
            let feature = [(!c.env.is_empty(), "environment variables"), (!c.dependencies.is_empty(), "dependencies")];
            if let Some((_, what)) = feature.into_iter().find(|(used, _)| *used) {
                return Err(Unsupported::ComponentFeature { component: c.id.clone(), what });
            }
        }
        Ok(())
    }
}

/// What a local lock (as `spin up` writes it) cannot be read for.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("reading the locked app {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("parsing the locked app {0}: {1}")]
    Parse(PathBuf, #[source] serde_json::Error),
    #[error("{0:?} is not a file:// URL (a lock `spin up` writes names local files)")]
    NotAFile(String),
}

/// The path of a `file://` URL, as Spin writes them into a local lock.
pub fn file_url_path(url: &str) -> Result<PathBuf, LockError> {
    let not_a_file = || LockError::NotAFile(url.to_owned());
    url::Url::parse(url)
        .ok()
        .filter(|u| u.scheme() == "file")
        .ok_or_else(not_a_file)?
        .to_file_path()
        .map_err(|()| not_a_file())
}

impl ContentRef {
    /// The local file or directory a lock `spin up` wrote names.
    fn local_path(&self) -> Result<PathBuf, LockError> {
        file_url_path(self.source.as_deref().unwrap_or_default())
    }
}

impl LockedApp {
    pub fn read(path: &Path) -> Result<Self, LockError> {
        let text = std::fs::read(path).map_err(|e| LockError::Read(path.to_owned(), e))?;
        serde_json::from_slice(&text).map_err(|e| LockError::Parse(path.to_owned(), e))
    }

    /// The app as a trigger plugin runs it: only the triggers of
    /// `trigger_type` and the components they name, in manifest form, with
    /// the components' sources, files and dependencies where the lock
    /// `spin up` wrote puts them. Relative paths start at `dir`.
    pub fn manifest_for(&self, trigger_type: &str, dir: &Path) -> anyhow::Result<Manifest> {
        let triggers: Vec<&Value> =
            self.triggers.iter().filter(|t| t.trigger_type == trigger_type).map(|t| &t.trigger_config).collect();
        let used: BTreeSet<&str> = triggers.iter().filter_map(|t| t.get("component")?.as_str()).collect();
        let mut components = Map::new();
        for c in self.components.iter().filter(|c| used.contains(c.id.as_str())) {
            components.insert(c.id.clone(), c.manifest_spec()?);
        }
        let value = json!({
            "spin_manifest_version": 2,
            "application": self.manifest_application()?,
            "trigger": { trigger_type: triggers },
            "component": components,
            "variables": self.manifest_variables(),
        });
        Manifest::from_json(value, dir.to_owned())
    }

    /// The name, and the migrations of the manifest the lock was made from
    /// (Spin's loader records it as `origin`; Spin keeps no `tool` table).
    fn manifest_application(&self) -> anyhow::Result<Value> {
        let name = self.metadata.get("name").cloned().unwrap_or(json!("app"));
        let origin = self.metadata.get("origin").and_then(Value::as_str).and_then(|o| file_url_path(o).ok());
        let Some(origin) = origin else { return Ok(json!({ "name": name })) };
        let text = std::fs::read_to_string(&origin).with_context(|| format!("reading {}", origin.display()))?;
        let raw: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", origin.display()))?;
        let migrations = raw
            .get("application")
            .and_then(|a| a.get("tool")?.get("todo")?.get("migrations")?.as_str())
            .map(|dir| origin.parent().unwrap_or(Path::new("/")).join(dir));
        Ok(json!({ "name": name, "tool": { "todo": { "migrations": migrations } } }))
    }

    /// `[variables]`: Spin's locked variables are required unless they have a default.
    fn manifest_variables(&self) -> Value {
        let variables = self.variables.iter().map(|(name, v)| {
            let mut v = v.clone();
            let required = v.get("default").is_none_or(Value::is_null);
            v.as_object_mut().map(|o| o.insert("required".into(), required.into()));
            (name.clone(), v)
        });
        Value::Object(variables.collect())
    }
}

impl LockedComponent {
    /// `[component.<id>]` from the lock: Spin's metadata keys
    /// (`allowed_outbound_hosts`, `databases`), `config` as the component's
    /// variables, files as directory mounts and dependencies by path.
    fn manifest_spec(&self) -> anyhow::Result<Value> {
        let mut spec = json!({ "source": self.source.content.local_path()? });
        for (ours, spins) in
            [("allowed_outbound_hosts", "allowed_outbound_hosts"), ("sqlite_databases", "databases"), ("tool", "tool")]
        {
            if let Some(value) = self.metadata.get(spins) {
                spec[ours] = value.clone();
            }
        }
        if !self.config.is_empty() {
            spec["variables"] = json!(self.config);
        }
        let files = self.files.iter().map(|f| Ok(json!({ "source": f.content.local_path()?, "destination": f.path })));
        spec["files"] = Value::Array(files.collect::<Result<_, LockError>>()?);
        let mut inherit = false;
        let mut dependencies = Map::new();
        for (name, dependency) in &self.dependencies {
            let locked: LockedDependency = serde_json::from_value(dependency.clone())
                .with_context(|| format!("component {}: dependency {name}", self.id))?;
            inherit |= locked.inherit == json!("All");
            let path = locked.source.content.local_path()?;
            dependencies.insert(name.clone(), json!({ "path": path, "export": locked.export }));
        }
        if !dependencies.is_empty() {
            spec["dependencies"] = Value::Object(dependencies);
            spec["dependencies_inherit_configuration"] = inherit.into();
        }
        Ok(spec)
    }
}

/// A component's dependency in the lock (Spin's `LockedComponentDependency`):
/// `inherit` is `"All"` or `{"Some": [...]}`, absent for none.
#[derive(Debug, Deserialize)]
struct LockedDependency {
    source: LockedSource,
    #[serde(default)]
    export: Option<String>,
    #[serde(default)]
    inherit: Value,
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
        app.check_supported().unwrap();
    }

    /// A local lock as `spin up` writes it: sources, files and dependencies
    /// as `file://` URLs.
    #[test]
    fn a_plugin_reads_only_its_triggers_from_a_local_lock() {
        let dir = tempfile::tempdir().unwrap();
        let url = |p: &str| url::Url::from_file_path(dir.path().join(p)).unwrap().to_string();
        std::fs::write(dir.path().join("spin.toml"), "[application.tool.todo]\nmigrations = \"migrations\"\n").unwrap();
        let lock: LockedApp = serde_json::from_value(json!({
            "spin_lock_version": 0,
            "metadata": {"name": "todo", "origin": url("spin.toml")},
            "variables": {"jwt_secret": {"secret": true}, "flag": {"default": "no"}},
            "triggers": [
                {"id": "h", "trigger_type": "http", "trigger_config": {"component": "api", "route": "/..."}},
                {"id": "p", "trigger_type": "pubsub", "trigger_config": {"component": "handler", "topic": "t"}}],
            "components": [
                {"id": "api", "source": {"content_type": "application/wasm", "source": url("api.wasm")}},
                {"id": "handler", "metadata": {"databases": ["default"], "allowed_outbound_hosts": []},
                 "source": {"content_type": "application/wasm", "source": url("handler.wasm")},
                 "files": [{"source": url("assets/handler"), "path": "/"}],
                 "config": {"secret": "{{ jwt_secret }}"},
                 "dependencies": {"todo:platform": {
                     "source": {"content_type": "application/wasm", "source": url("adapter.wasm")},
                     "export": null, "inherit": "All"}}}]
        }))
        .unwrap();
        let m = lock.manifest_for("pubsub", dir.path()).unwrap();
        assert!(m.trigger.http.is_empty() && m.trigger.pubsub.len() == 1);
        assert_eq!(m.component.keys().collect::<Vec<_>>(), ["handler"], "only the components of its triggers");
        let handler = &m.component["handler"];
        assert_eq!(m.source_path(handler), dir.path().join("handler.wasm"));
        assert_eq!(handler.sqlite_databases, ["default"]);
        assert!(handler.dependencies_inherit_configuration);
        assert!(matches!(&handler.dependencies["todo:platform"],
            crate::manifest::Dependency::Path { path, export: None } if *path == dir.path().join("adapter.wasm")));
        assert_eq!(m.grants(handler).files[0].host, dir.path().join("assets/handler"));
        assert_eq!(handler.variables["secret"], "{{ jwt_secret }}");
        assert!(m.variables["jwt_secret"].required && m.variables["jwt_secret"].secret);
        assert_eq!(m.variables["flag"].default.as_deref(), Some("no"));
        assert_eq!(m.migrations_dir(), Some(dir.path().join("migrations")), "named by the origin manifest");
        assert!(lock.manifest_for("sse", dir.path()).unwrap().component.is_empty());
        let mut remote = lock.clone();
        remote.components[1].source.content = ContentRef { digest: Some("sha256:ab".into()), ..Default::default() };
        let err = format!("{:#}", remote.manifest_for("pubsub", dir.path()).unwrap_err());
        assert!(err.contains("not a file:// URL"), "{err}");
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
