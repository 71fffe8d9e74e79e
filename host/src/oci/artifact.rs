//! Spin's OCI application format (`crates/oci/src/client.rs` in Spin), both
//! ways: an app becomes one Wasm layer per component, one data layer per
//! file (files of 128 bytes or less are inlined in the lock instead, as
//! Spin does, since some registries refuse tiny blobs) and the locked app
//! as the last layer; an artifact becomes a plain app directory again (a
//! `spin.toml` with the files beside it), which the host runs like any other.
//!
//! In the lock, a directory is the list of its files as content references,
//! as Spin writes a component's `files`. What this host adds travels where
//! Spin keeps free-form data, the `metadata` maps, mirroring the manifest's
//! `tool.todo` tables: a component's grants under its `metadata.tool.todo`,
//! the application's migrations under `metadata.tool.todo.migrations` (the
//! files of `sqlite/` and `postgres/`). Our own trigger types travel as
//! Spin's do: a trigger's table is its opaque `trigger_config`. A
//! component's `files` travel as Spin's: every file, by its path in the
//! guest, unpacked into `files/<id>/` and mounted at `/` again. Variables travel as Spin's:
//! `[variables]` as the lock's `variables` (required means no `default`),
//! a component's `[component.<id>.variables]` as its `config`.

use super::OciError;
use crate::locked::{ContentPath, ContentRef, LockedApp, LockedComponent, LockedSource, LockedTrigger, Metadata};
use crate::manifest::{ComponentSpec, Manifest};
use oci_client::client::ImageLayer;
use serde_json::{json, Value};
use std::{
    collections::{BTreeMap, HashSet},
    path::{Component, Path, PathBuf},
};

pub const LOCKED_APP_MEDIA_TYPE: &str = "application/vnd.fermyon.spin.application.v1+config";
pub const WASM_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
pub const DATA_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+data";
/// Spin's archive layers (`SPIN_OCI_ARCHIVE_LAYERS`): all of a component's files in one tarball.
pub const ARCHIVE_MEDIA_TYPE: &str = "application/vnd.wasm.content.bundle.v1.tar+gzip";
/// Content up to this size is inlined in the lock rather than pushed as a layer.
const INLINE_MAX: usize = 128;

/// An app ready to push: its layers, the lock last.
pub struct Artifact {
    pub layers: Vec<ImageLayer>,
    pub lock: LockedApp,
}

/// The layers of an artifact being assembled, each blob once.
#[derive(Default)]
struct Layers {
    layers: Vec<ImageLayer>,
    seen: HashSet<String>,
}

impl Layers {
    fn push(&mut self, data: Vec<u8>, media_type: &str) -> String {
        let layer = ImageLayer::new(data, media_type.to_owned(), None);
        let digest = layer.sha256_digest();
        if self.seen.insert(digest.clone()) {
            self.layers.push(layer);
        }
        digest
    }

    fn wasm(&mut self, path: &Path) -> Result<ContentRef, OciError> {
        let data = read(path)?;
        Ok(ContentRef { digest: Some(self.push(data, WASM_MEDIA_TYPE)), ..Default::default() })
    }

    fn file(&mut self, data: Vec<u8>) -> ContentRef {
        if data.len() <= INLINE_MAX {
            let digest = ImageLayer::new(data.clone(), DATA_MEDIA_TYPE.into(), None).sha256_digest();
            return ContentRef { inline: Some(data), digest: Some(digest), source: None };
        }
        ContentRef { digest: Some(self.push(data, DATA_MEDIA_TYPE)), ..Default::default() }
    }

    /// Every file under `dir`, by `/`-separated path relative to it, sorted.
    fn dir(&mut self, dir: &Path) -> Result<Vec<ContentPath>, OciError> {
        let mut files = Vec::new();
        for path in files_under(dir)? {
            let relative = path.strip_prefix(dir).expect("walked from dir").to_owned();
            files.push(ContentPath { content: self.file(read(&path)?), path: relative });
        }
        Ok(files)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, OciError> {
    std::fs::read(path).map_err(|e| OciError::io(format!("reading {}", path.display()), e))
}

fn files_under(dir: &Path) -> Result<Vec<PathBuf>, OciError> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| OciError::io(format!("reading {}", dir.display()), e))?;
    for entry in entries {
        let path = entry.map_err(|e| OciError::io(format!("reading {}", dir.display()), e))?.path();
        if path.is_dir() {
            files.extend(files_under(&path)?);
        } else {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// TOML → JSON, for tables that travel verbatim.
fn to_json(value: &toml::Value) -> Value {
    serde_json::to_value(value).expect("TOML values are JSON values")
}

/// Assembles `manifest` (parsed, and as the raw TOML it was read from, so
/// that every key of a trigger or grant travels, not only those this
/// version of the host knows).
pub fn assemble(manifest: &Manifest, raw: &toml::Table) -> Result<Artifact, OciError> {
    let mut layers = Layers::default();
    // Components first, as Spin orders its layers.
    let components = lock_components(manifest, raw, &mut layers)?;
    let triggers = lock_triggers(raw);
    let migrations = match manifest.migrations_dir() {
        Some(dir) => layers.dir(&dir)?,
        None => Vec::new(),
    };
    let metadata = app_metadata(raw, &triggers, migrations);
    let lock = LockedApp {
        spin_lock_version: 0,
        must_understand: Vec::new(),
        metadata,
        host_requirements: Metadata::new(),
        variables: lock_variables(manifest),
        triggers,
        components,
    };
    Ok(Artifact { layers: layers.layers, lock })
}

/// As Spin's loader: name, version, description, authors, the global
/// trigger settings (`triggers`, and `trigger.type` when there is only one
/// type), plus our `tool` tables with the migrations as files.
fn app_metadata(raw: &toml::Table, triggers: &[LockedTrigger], migrations: Vec<ContentPath>) -> Metadata {
    let app = raw.get("application").and_then(toml::Value::as_table).cloned().unwrap_or_default();
    let mut metadata = Metadata::new();
    for key in ["name", "version", "description", "authors"] {
        if let Some(value) = app.get(key) {
            metadata.insert(key.into(), to_json(value));
        }
    }
    metadata.insert("triggers".into(), app.get("trigger").map_or(json!({}), to_json));
    let types: std::collections::BTreeSet<&str> = triggers.iter().map(|t| t.trigger_type.as_str()).collect();
    if let [only] = types.into_iter().collect::<Vec<_>>()[..] {
        metadata.insert("trigger".into(), json!({ "type": only }));
    }
    let mut tool = app.get("tool").map_or(json!({}), to_json);
    if !migrations.is_empty() {
        tool["todo"]["migrations"] = serde_json::to_value(migrations).expect("content paths serialize");
    } else if let Some(todo) = tool.get_mut("todo").and_then(Value::as_object_mut) {
        todo.remove("migrations");
    }
    if tool.as_object().is_some_and(|t| !t.is_empty()) {
        metadata.insert("tool".into(), tool);
    }
    metadata
}

fn lock_triggers(raw: &toml::Table) -> Vec<LockedTrigger> {
    let mut triggers = Vec::new();
    let tables = raw.get("trigger").and_then(toml::Value::as_table).cloned().unwrap_or_default();
    for (kind, list) in &tables {
        for (index, table) in list.as_array().into_iter().flatten().enumerate() {
            triggers.push(LockedTrigger {
                id: format!("{kind}-trigger-{index}"),
                trigger_type: kind.clone(),
                trigger_config: to_json(table),
            });
        }
    }
    triggers
}

/// A component's `files` as Spin pushes them: every file of each mounted
/// directory, by its path in the guest relative to `/`.
fn lock_files(manifest: &Manifest, spec: &ComponentSpec, layers: &mut Layers) -> Result<Vec<ContentPath>, OciError> {
    let mut files = Vec::new();
    for mount in manifest.grants(spec).files {
        if !mount.host.is_dir() {
            // As `up` would refuse it: pushed empty, with a warning.
            tracing::warn!(directory = %mount.host.display(), "a component's files are missing: pushed none");
            continue;
        }
        let guest = Path::new(mount.guest.trim_start_matches('/'));
        for file in layers.dir(&mount.host)? {
            files.push(ContentPath { path: guest.join(&file.path), ..file });
        }
    }
    Ok(files)
}

/// Spin's locked variables: `description`, `default` (none when required),
/// `secret` (left out when false), as Spin writes them.
fn lock_variables(manifest: &Manifest) -> Metadata {
    let locked = manifest.variables.iter().map(|(name, v)| {
        let mut locked = json!({});
        for (key, value) in [("description", &v.description), ("default", &v.default)] {
            if let Some(value) = value {
                locked[key] = json!(value);
            }
        }
        if v.secret {
            locked["secret"] = true.into();
        }
        (name.clone(), locked)
    });
    locked.collect()
}

/// `[variables]` from the lock: a variable without a default is required.
fn unpack_variables(lock: &LockedApp) -> Result<toml::Value, OciError> {
    let mut variables = toml::Table::new();
    for (name, locked) in &lock.variables {
        let mut v = locked.clone();
        let object = v.as_object_mut().ok_or_else(|| OciError::Format(format!("variable {name} is not a table")))?;
        if object.get("default").is_none_or(Value::is_null) {
            object.remove("default");
            object.insert("required".into(), true.into());
        }
        variables.insert(name.clone(), to_toml(&v)?);
    }
    Ok(variables.into())
}

fn lock_components(
    manifest: &Manifest,
    raw: &toml::Table,
    layers: &mut Layers,
) -> Result<Vec<LockedComponent>, OciError> {
    let tables = raw.get("component").and_then(toml::Value::as_table).cloned().unwrap_or_default();
    let mut components = Vec::new();
    for (id, spec) in &manifest.component {
        let table = tables.get(id).and_then(toml::Value::as_table).cloned().unwrap_or_default();
        let mut metadata = Metadata::new();
        metadata.insert("allowed_outbound_hosts".into(), json!(spec.allowed_outbound_hosts));
        for key in ["description", "tool"] {
            if let Some(value) = table.get(key) {
                metadata.insert(key.into(), to_json(value));
            }
        }
        let content = layers.wasm(&manifest.source_path(spec))?;
        components.push(LockedComponent {
            id: id.clone(),
            metadata,
            source: LockedSource { content_type: "application/wasm".into(), content },
            env: BTreeMap::new(),
            files: lock_files(manifest, spec, layers)?,
            config: spec.variables.clone(),
            dependencies: Metadata::new(),
            host_requirements: Metadata::new(),
        });
    }
    Ok(components)
}

/// Writes the app of `lock` into `dir`: `spin.toml`, `components/<id>.wasm`,
/// `migrations/...` and `files/<id>/...`, taking layers from `blob`.
pub fn unpack(lock: &LockedApp, blob: &dyn Fn(&str) -> Result<PathBuf, OciError>, dir: &Path) -> Result<(), OciError> {
    lock.check_supported()?;
    let place = |content: &ContentRef, dest: &Path| place(content, dest, blob);
    let mut manifest = toml::Table::new();
    manifest.insert("spin_manifest_version".into(), 2.into());
    manifest.insert("application".into(), unpack_application(lock, dir, &place)?);
    let mut components = toml::Table::new();
    for c in &lock.components {
        let source = format!("components/{}.wasm", c.id);
        place(&c.source.content, &dir.join(&source))?;
        let mut table = toml::Table::new();
        table.insert("source".into(), source.into());
        for key in ["allowed_outbound_hosts", "tool"] {
            if let Some(value) = c.metadata.get(key) {
                table.insert(key.into(), to_toml(value)?);
            }
        }
        if !c.config.is_empty() {
            table.insert("variables".into(), to_toml(&json!(c.config))?);
        }
        if !c.files.is_empty() {
            let directory = format!("files/{}", c.id);
            place_all(&c.files, &dir.join(&directory), &place)?;
            table.insert("files".into(), to_toml(&json!([{ "source": directory, "destination": "/" }]))?);
        }
        components.insert(c.id.clone(), table.into());
    }
    manifest.insert("component".into(), components.into());
    manifest.insert("variables".into(), unpack_variables(lock)?);
    manifest.insert("trigger".into(), unpack_triggers(lock)?.into());
    let text = toml::to_string(&manifest).map_err(|e| OciError::Format(format!("writing spin.toml: {e}")))?;
    let path = dir.join("spin.toml");
    std::fs::write(&path, text).map_err(|e| OciError::io(format!("writing {}", path.display()), e))
}

type Place<'a> = dyn Fn(&ContentRef, &Path) -> Result<(), OciError> + 'a;

/// `[application]`: the name, and our tool tables with the migrations back
/// as a directory.
fn unpack_application(lock: &LockedApp, dir: &Path, place: &Place) -> Result<toml::Value, OciError> {
    let name = lock.metadata.get("name").and_then(Value::as_str).unwrap_or("app");
    let mut app = toml::Table::new();
    app.insert("name".into(), name.into());
    let mut tool = lock.metadata.get("tool").cloned().unwrap_or(json!({}));
    let migrations = tool.get_mut("todo").and_then(|t| t.get_mut("migrations")).map(Value::take);
    if let Some(files) = migrations {
        let files: Vec<ContentPath> = serde_json::from_value(files)
            .map_err(|e| OciError::Format(format!("metadata.tool.todo.migrations: {e}")))?;
        place_all(&files, &dir.join("migrations"), place)?;
        tool["todo"]["migrations"] = json!("migrations");
    }
    if tool.as_object().is_some_and(|t| !t.is_empty()) {
        app.insert("tool".into(), to_toml(&tool)?);
    }
    Ok(app.into())
}

/// `[[trigger.<type>]]` from each trigger's config.
fn unpack_triggers(lock: &LockedApp) -> Result<toml::Table, OciError> {
    let mut triggers: BTreeMap<String, Vec<toml::Value>> = BTreeMap::new();
    for t in &lock.triggers {
        triggers.entry(t.trigger_type.clone()).or_default().push(to_toml(&t.trigger_config)?);
    }
    Ok(triggers.into_iter().map(|(kind, list)| (kind, toml::Value::Array(list))).collect())
}

fn place_all(files: &[ContentPath], dir: &Path, place: &Place) -> Result<(), OciError> {
    for file in files {
        let safe = file.path.components().all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(OciError::Format(format!("file path {} leaves its directory", file.path.display())));
        }
        place(&file.content, &dir.join(&file.path))?;
    }
    Ok(())
}

/// Writes content at `dest`: inline bytes, or a hard link to the cached
/// layer (a copy where links fail, across file systems).
fn place(content: &ContentRef, dest: &Path, blob: &dyn Fn(&str) -> Result<PathBuf, OciError>) -> Result<(), OciError> {
    let parent = dest.parent().expect("placed under the app dir");
    std::fs::create_dir_all(parent).map_err(|e| OciError::io(format!("creating {}", parent.display()), e))?;
    let written = match (&content.inline, &content.digest) {
        (Some(bytes), _) => std::fs::write(dest, bytes),
        (None, Some(digest)) => {
            let source = blob(digest)?;
            std::fs::hard_link(&source, dest).or_else(|_| std::fs::copy(&source, dest).map(drop))
        }
        (None, None) => {
            return Err(OciError::Format(format!("{} has neither inline content nor a digest", dest.display())))
        }
    };
    written.map_err(|e| OciError::io(format!("writing {}", dest.display()), e))
}

fn to_toml(value: &Value) -> Result<toml::Value, OciError> {
    toml::Value::try_from(value).map_err(|e| OciError::Format(format!("{value} has no TOML form: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An app with everything that must travel: grants, outbound hosts, our
    /// trigger types, a component's files (a small file inlined, a big one a
    /// layer) and migrations.
    fn app(dir: &Path) -> (Manifest, toml::Table) {
        let text = r#"
spin_manifest_version = 2
[application]
name = "todo"
version = "0.1.0"
[application.tool.todo]
migrations = "migrations"
[[trigger.http]]
route = "/api/todos/..."
component = "api"
[[trigger.pubsub]]
topic = "task-events"
component = "api"
max_attempts = 3
[[trigger.schedule]]
schedule = "@every 1m"
component = "api"
[[trigger.sse]]
route = "/stream"
topic = "task-updates"
user_attribute = "partitionkey"
[component.api]
source = "api.wasm"
allowed_outbound_hosts = ["https://example.com"]
files = [{ source = "web", destination = "/" }]
[component.api.tool.todo]
sql_databases = ["default"]
publish_topics = ["task-events"]
"#;
        std::fs::write(dir.join("spin.toml"), text).unwrap();
        std::fs::write(dir.join("api.wasm"), vec![7u8; 300]).unwrap();
        std::fs::create_dir_all(dir.join("web/assets")).unwrap();
        std::fs::write(dir.join("web/index.html"), "<!doctype html>").unwrap();
        std::fs::write(dir.join("web/assets/app.js"), "x".repeat(500)).unwrap();
        std::fs::create_dir_all(dir.join("migrations/sqlite")).unwrap();
        std::fs::write(dir.join("migrations/sqlite/0001_init.sql"), "CREATE TABLE t (id INTEGER);").unwrap();
        (Manifest::load(&dir.join("spin.toml")).unwrap(), toml::from_str(text).unwrap())
    }

    #[test]
    fn an_app_survives_the_round_trip() {
        let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (manifest, raw) = app(src.path());
        let artifact = assemble(&manifest, &raw).unwrap();
        let media: Vec<&str> = artifact.layers.iter().map(|l| l.media_type.as_str()).collect();
        assert_eq!(
            media,
            [WASM_MEDIA_TYPE, DATA_MEDIA_TYPE],
            "the wasm and app.js; index.html and the migration are inline"
        );
        let lock = serde_json::to_value(&artifact.lock).unwrap();
        assert_eq!(lock["metadata"]["name"], "todo");
        assert_eq!(lock["components"][0]["metadata"]["tool"]["todo"]["publish_topics"], json!(["task-events"]));
        assert_eq!(lock["metadata"]["tool"]["todo"]["migrations"][0]["path"], "sqlite/0001_init.sql");
        let files: Vec<&str> =
            lock["components"][0]["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
        assert_eq!(files, ["assets/app.js", "index.html"], "paths in the guest, relative to /");

        let blobs: BTreeMap<String, PathBuf> = artifact
            .layers
            .iter()
            .map(|l| {
                let path = src.path().join(l.sha256_digest().replace(':', "-"));
                std::fs::write(&path, &l.data).unwrap();
                (l.sha256_digest(), path)
            })
            .collect();
        let blob = |d: &str| blobs.get(d).cloned().ok_or_else(|| OciError::Format(format!("no blob {d}")));
        unpack(&artifact.lock, &blob, out.path()).unwrap();
        let pulled = Manifest::load(&out.path().join("spin.toml")).unwrap();
        let grants = pulled.component["api"].grants();
        assert_eq!((grants.sql_databases, grants.publish_topics), (vec!["default".into()], vec!["task-events".into()]));
        assert_eq!(grants.allowed_outbound_hosts, ["https://example.com"]);
        assert_eq!(pulled.trigger.pubsub[0].max_attempts, 3);
        assert_eq!(pulled.trigger.sse[0].route, "/stream");
        assert_eq!(std::fs::read(pulled.source_path(&pulled.component["api"])).unwrap(), vec![7u8; 300]);
        let migration = pulled.migrations_dir().unwrap().join("sqlite/0001_init.sql");
        assert_eq!(std::fs::read_to_string(migration).unwrap(), "CREATE TABLE t (id INTEGER);");
        let mounts = pulled.grants(&pulled.component["api"]).files;
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].guest, "/");
        assert_eq!(std::fs::read_to_string(mounts[0].host.join("assets/app.js")).unwrap(), "x".repeat(500));
        assert_eq!(std::fs::read_to_string(mounts[0].host.join("index.html")).unwrap(), "<!doctype html>");
    }

    #[test]
    fn refuses_unsafe_paths() {
        let out = tempfile::tempdir().unwrap();
        let mut lock: LockedApp = serde_json::from_value(json!({
            "spin_lock_version": 0, "triggers": [],
            "components": [{"id": "c", "source": {"content_type": "application/wasm", "inline": "AGFzbQ=="},
                            "files": [{"path": "../evil", "inline": "eA=="}]}]
        }))
        .unwrap();
        let none = |d: &str| Err(OciError::Format(d.to_owned()));
        let err = unpack(&lock, &none, out.path()).unwrap_err().to_string();
        assert!(err.contains("leaves its directory"), "{err}");
        lock.components[0].files.clear();
        unpack(&lock, &none, out.path()).unwrap();
    }
}
