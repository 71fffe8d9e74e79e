//! `spin.toml`: Spin manifest version 2 (`[application]`, `[component.<id>]`
//! with `source`, `build`, `allowed_outbound_hosts` and `files`,
//! `[[trigger.http]]`), extended with `[[trigger.pubsub]]` subscriptions,
//! `[[trigger.schedule]]` schedules and `[[trigger.sse]]` streams.
//! What this host adds to a component or the application lives in their
//! `tool.todo` table, which Spin ignores (its manifest refuses unknown keys
//! elsewhere): a component's grants of the platform's interfaces, and the
//! application's migrations.

use anyhow::{bail, Context};
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    pub application: Application,
    #[serde(default)]
    pub trigger: Triggers,
    #[serde(default)]
    pub component: BTreeMap<String, ComponentSpec>,
    /// `[variables]`: the application's variables, as in Spin.
    #[serde(default)]
    pub variables: BTreeMap<String, Variable>,
    /// The directory holding the manifest: relative paths start there.
    #[serde(skip)]
    pub dir: PathBuf,
    /// Whether components run composed with their `dependencies`
    /// (`up --compose-dependencies`) rather than on the native platform.
    #[serde(skip)]
    pub compose_dependencies: bool,
}

#[derive(Debug, Deserialize)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub tool: AppTools,
}

#[derive(Debug, Default, Deserialize)]
pub struct AppTools {
    #[serde(default)]
    pub todo: AppSettings,
}

/// `[application.tool.todo]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSettings {
    /// The application's migrations: a directory holding `sqlite/` and
    /// `postgres/` histories, relative to the manifest. None: no schema of
    /// the application's own.
    #[serde(default)]
    pub migrations: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
    #[serde(default)]
    pub pubsub: Vec<PubSubTrigger>,
    #[serde(default)]
    pub schedule: Vec<ScheduleTrigger>,
    #[serde(default)]
    pub sse: Vec<SseTrigger>,
}

/// A stream of Server-Sent Events held by the host: each event on `topic`
/// goes to the streams of the user its `user_attribute` names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseTrigger {
    /// An exact path.
    pub route: String,
    pub topic: String,
    /// The CloudEvent attribute holding the user id an event is for.
    pub user_attribute: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    /// An exact path, or a prefix ending in `/...` (which also matches the
    /// prefix itself), as in Spin.
    pub route: String,
    pub component: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PubSubTrigger {
    pub topic: String,
    pub component: String,
    /// Where events go after `max_attempts` failures or a `drop`;
    /// default `<topic>-dlq`.
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait before the first redelivery, doubled each time up to
    /// `max_backoff_ms`.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
}

fn default_max_attempts() -> u32 {
    5
}
fn default_initial_backoff_ms() -> u64 {
    500
}
fn default_max_backoff_ms() -> u64 {
    30_000
}

impl PubSubTrigger {
    pub fn dead_letter_topic(&self) -> String {
        self.dead_letter_topic.clone().unwrap_or_else(|| format!("{}-dlq", self.topic))
    }
    pub fn initial_backoff(&self) -> Duration {
        Duration::from_millis(self.initial_backoff_ms)
    }
    pub fn max_backoff(&self) -> Duration {
        Duration::from_millis(self.max_backoff_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTrigger {
    /// `@every <n>ms|s|m|h`, or a cron expression with seconds
    /// (`sec min hour day-of-month month day-of-week`), as Dapr's cron binding.
    pub schedule: String,
    pub component: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ComponentSpec {
    /// The component's `.wasm` file.
    pub source: PathBuf,
    #[serde(default)]
    pub build: Option<BuildSpec>,
    /// The databases it may open through Spin's SQLite interface
    /// (`fermyon:spin/sqlite`), as in Spin.
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    /// Spin's component dependencies: what satisfies some of its imports
    /// (`"todo:platform" = { component = "platform-adapter" }`). This host
    /// provides `todo:platform` natively and ignores them, unless
    /// `up --compose-dependencies` composes them in.
    #[serde(default)]
    pub dependencies: BTreeMap<String, Dependency>,
    /// Whether the dependencies may use what the component is granted (as
    /// in Spin; without it they get nothing).
    #[serde(default)]
    pub dependencies_inherit_configuration: bool,
    /// Where the component may send HTTP requests (Spin's syntax).
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    /// `[component.<id>.variables]`: what the component may read through
    /// `fermyon:spin/variables`, each a template over `[variables]`.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Files the component may read, as Spin's `files`.
    #[serde(default)]
    pub files: Vec<FileMount>,
    #[serde(default)]
    pub tool: ComponentTools,
}

/// A `files` entry in Spin's two forms: `{ source, destination }`, or a
/// path relative to the manifest, seen at the same path by the guest.
/// Spin copies the files; this host mounts the directory read-only, so a
/// file or a glob pattern is refused (see `Manifest::mounts`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FileMount {
    Placement { source: PathBuf, destination: String },
    Path(PathBuf),
}

/// A directory a component may read: where it is, and where the guest sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub host: PathBuf,
    pub guest: String,
}

/// An application variable (`[variables] name = { ... }`): `required`, or
/// with a `default`; `secret` keeps its value out of logs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub secret: bool,
}

/// A component dependency in one of Spin's forms.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Dependency {
    /// Another component of the application.
    Component {
        component: String,
        #[serde(default)]
        export: Option<String>,
    },
    /// A local Wasm file, relative to the manifest.
    Path {
        path: PathBuf,
        #[serde(default)]
        export: Option<String>,
    },
    /// Spin's registry and URL forms (`"1.0"`, `{ version = ... }`,
    /// `{ url = ... }`): kept to be refused when composing.
    Other(toml::Value),
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ComponentTools {
    #[serde(default)]
    pub todo: PlatformGrants,
}

/// `[component.<id>.tool.todo]`: what the component may use of
/// `todo:platform`; nothing listed means nothing granted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformGrants {
    /// Database labels (`sql`), as Spin's `sqlite_databases`.
    #[serde(default)]
    pub sql_databases: Vec<String>,
    /// Store labels (`state`), as Spin's `key_value_stores`.
    #[serde(default)]
    pub state_stores: Vec<String>,
    /// Topics the component may publish to (`"*"`: any).
    #[serde(default)]
    pub publish_topics: Vec<String>,
}

/// Everything a component is granted.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub sql_databases: Vec<String>,
    pub state_stores: Vec<String>,
    pub publish_topics: Vec<String>,
    /// Labels for Spin's SQLite interface (`sqlite_databases`).
    pub sqlite_databases: Vec<String>,
    pub allowed_outbound_hosts: Vec<String>,
    /// The directories it may read (`Manifest::grants` resolves them).
    pub files: Vec<Mount>,
}

impl ComponentSpec {
    pub fn grants(&self) -> Grants {
        let todo = &self.tool.todo;
        Grants {
            sql_databases: todo.sql_databases.clone(),
            state_stores: todo.state_stores.clone(),
            publish_topics: todo.publish_topics.clone(),
            sqlite_databases: self.sqlite_databases.clone(),
            allowed_outbound_hosts: self.allowed_outbound_hosts.clone(),
            files: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSpec {
    /// A shell command, run in `workdir`.
    pub command: String,
    #[serde(default)]
    pub workdir: Option<PathBuf>,
    /// Globs of the files the build reads: the component is stale when one
    /// is newer than its source.
    #[serde(default)]
    pub watch: Vec<String>,
}

impl Manifest {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut manifest: Manifest = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        manifest.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if manifest.dir.as_os_str().is_empty() {
            manifest.dir = PathBuf::from(".");
        }
        manifest.validate().with_context(|| format!("checking {}", path.display()))?;
        Ok(manifest)
    }

    /// A manifest given as JSON (a locked app's, for a trigger plugin);
    /// its relative paths start at `dir`.
    pub fn from_json(value: serde_json::Value, dir: PathBuf) -> anyhow::Result<Self> {
        let mut manifest: Manifest = serde_json::from_value(value)?;
        manifest.dir = dir;
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.spin_manifest_version != 2 {
            bail!("spin_manifest_version must be 2, got {}", self.spin_manifest_version);
        }
        let triggered = self
            .trigger
            .http
            .iter()
            .map(|t| (&t.component, "http"))
            .chain(self.trigger.pubsub.iter().map(|t| (&t.component, "pubsub")))
            .chain(self.trigger.schedule.iter().map(|t| (&t.component, "schedule")));
        for (component, kind) in triggered {
            if !self.component.contains_key(component) {
                bail!("a [[trigger.{kind}]] names component {component:?}, which has no [component.{component}]");
            }
        }
        let routes = self.trigger.http.iter().map(|t| &t.route).chain(self.trigger.sse.iter().map(|t| &t.route));
        for route in routes {
            if !route.starts_with('/') {
                bail!("route {route:?} must start with '/'");
            }
        }
        if self.trigger.sse.len() > 1 {
            bail!("this host serves one [[trigger.sse]] stream; the manifest has {}", self.trigger.sse.len());
        }
        self.validate_variables()?;
        for (id, spec) in &self.component {
            let globs = spec.files.iter().filter_map(|f| match f {
                FileMount::Path(p) if p.to_str().is_some_and(|p| p.contains(['*', '?', '['])) => Some(p),
                _ => None,
            });
            if let Some(pattern) = globs.into_iter().next() {
                bail!(
                    "[component.{id}] files: {} is a pattern; this host mounts directories: \
                     write {{ source = \"dir\", destination = \"/\" }}",
                    pattern.display()
                );
            }
        }
        for t in &self.trigger.pubsub {
            if t.max_attempts == 0 {
                bail!("[[trigger.pubsub]] for {:?}: max_attempts must be at least 1", t.component);
            }
        }
        Ok(())
    }

    /// Spin's rules: valid names, `required` or a `default` (not both), and
    /// component templates naming only declared variables.
    fn validate_variables(&self) -> anyhow::Result<()> {
        for (name, v) in &self.variables {
            crate::variables::check_name(name).map_err(anyhow::Error::msg)?;
            match (v.required, &v.default) {
                (true, Some(_)) => bail!("variable {name:?} is required and has a default: it can only be one"),
                (false, None) => bail!("variable {name:?} needs a default, or required = true"),
                _ => {}
            }
        }
        for (id, spec) in &self.component {
            for (key, text) in &spec.variables {
                let checked = crate::variables::check_name(key).and_then(|()| crate::variables::Template::parse(text));
                let template = checked.map_err(|e| anyhow::anyhow!("[component.{id}.variables]: {e}"))?;
                let unknown = template.references().find(|r| !self.variables.contains_key(*r)).map(str::to_owned);
                if let Some(unknown) = unknown {
                    bail!("[component.{id}.variables] {key}: no [variables] {unknown:?}");
                }
            }
        }
        Ok(())
    }

    /// The application's migrations directory, if it has one.
    pub fn migrations_dir(&self) -> Option<PathBuf> {
        self.application.tool.todo.migrations.as_ref().map(|dir| self.dir.join(dir))
    }

    /// Everything `spec` grants, its `files` resolved against the manifest's directory.
    pub fn grants(&self, spec: &ComponentSpec) -> Grants {
        Grants { files: self.mounts(spec), ..spec.grants() }
    }

    /// A component's `files` as directory mounts.
    fn mounts(&self, spec: &ComponentSpec) -> Vec<Mount> {
        let mount = |f: &FileMount| match f {
            FileMount::Placement { source, destination } => {
                Mount { host: self.dir.join(source), guest: destination.clone() }
            }
            FileMount::Path(path) => Mount { host: self.dir.join(path), guest: format!("/{}", path.display()) },
        };
        spec.files.iter().map(mount).collect()
    }

    /// The component's source, resolved against the manifest's directory.
    pub fn source_path(&self, spec: &ComponentSpec) -> PathBuf {
        self.dir.join(&spec.source)
    }

    /// The component serving `path`, the most specific route winning as in
    /// Spin's router: an exact route, else the longest matching `/...`
    /// prefix (so `/...`, the dashboard's files, is below every API route).
    pub fn route(&self, path: &str) -> Option<&HttpTrigger> {
        self.trigger
            .http
            .iter()
            .filter_map(|t| route_match(&t.route, path).map(|len| (len, t)))
            .max_by_key(|(len, _)| *len)
            .map(|(_, t)| t)
    }
}

/// How specific a match of `route` to `path` is, or None.
fn route_match(route: &str, path: &str) -> Option<usize> {
    match route.strip_suffix("/...") {
        Some(prefix) => {
            let rest = path.strip_prefix(prefix)?;
            (rest.is_empty() || rest.starts_with('/')).then_some(prefix.len())
        }
        None => (route == path).then_some(usize::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> anyhow::Result<Manifest> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("spin.toml");
        std::fs::write(&path, text)?;
        Manifest::load(&path)
    }

    const BASE: &str = r#"
        spin_manifest_version = 2
        [application]
        name = "t"
        [[trigger.http]]
        route = "/api/todos/..."
        component = "api"
        [[trigger.http]]
        route = "/api/todos/special"
        component = "other"
        [[trigger.pubsub]]
        topic = "task-events"
        component = "other"
        [component.api]
        source = "api.wasm"
        allowed_outbound_hosts = ["https://example.com"]
        [component.api.tool.todo]
        sql_databases = ["default"]
        publish_topics = ["task-events"]
        [component.api.build]
        command = "make"
        [component.other]
        source = "other.wasm"
    "#;

    #[test]
    fn the_dashboards_catch_all_is_below_every_route_and_mounts_its_files() {
        let text = format!(
            "{BASE}\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"files\"\n[component.files]\nsource = \"f.wasm\"\n\
             files = [{{ source = \"frontend/dist\", destination = \"/\" }}, \"docs\"]\n"
        );
        let m = manifest(&text).unwrap();
        assert_eq!(m.route("/").unwrap().component, "files");
        assert_eq!(m.route("/tasks/42").unwrap().component, "files");
        assert_eq!(m.route("/api/todosx").unwrap().component, "files", "a prefix matches whole segments");
        assert_eq!(m.route("/api/todos/1").unwrap().component, "api");
        assert_eq!(m.route("/api/todos/special").unwrap().component, "other");
        let mounts = m.grants(&m.component["files"]).files;
        assert_eq!(mounts[0], Mount { host: m.dir.join("frontend/dist"), guest: "/".into() });
        assert_eq!(mounts[1], Mount { host: m.dir.join("docs"), guest: "/docs".into() });
        let err = manifest(&text.replace("\"docs\"", "\"docs/*.md\"")).unwrap_err();
        assert!(format!("{err:#}").contains("mounts directories"), "{err:#}");
    }

    #[test]
    fn routes_exact_then_longest_prefix() {
        let m = manifest(BASE).unwrap();
        assert_eq!(m.route("/api/todos").unwrap().component, "api");
        assert_eq!(m.route("/api/todos/1/history").unwrap().component, "api");
        assert_eq!(m.route("/api/todos/special").unwrap().component, "other");
        assert!(m.route("/api/todosx").is_none());
        assert!(m.route("/").is_none());
        assert_eq!(m.trigger.pubsub[0].dead_letter_topic(), "task-events-dlq");
        assert_eq!(m.trigger.pubsub[0].max_attempts, 5);
        let grants = m.component["api"].grants();
        assert_eq!(grants.sql_databases, ["default"]);
        assert_eq!(grants.publish_topics, ["task-events"]);
        assert_eq!(grants.allowed_outbound_hosts, ["https://example.com"]);
        assert!(grants.state_stores.is_empty());
        assert!(m.component["other"].grants().sql_databases.is_empty(), "nothing listed, nothing granted");
        assert!(m.migrations_dir().is_none());
    }

    #[test]
    fn reads_spin_dependencies_and_sqlite_grants() {
        let m = manifest(&format!(
            "{BASE}{}",
            r#"
            sqlite_databases = ["default"]
            dependencies_inherit_configuration = true
            [component.other.dependencies]
            "todo:platform" = { component = "api" }
            "a:b/c" = { path = "dep.wasm", export = "a:b/c@1.0.0" }
            "x:y" = "1.0.0"
            "#
        ))
        .unwrap();
        let other = &m.component["other"];
        assert_eq!(other.grants().sqlite_databases, ["default"]);
        assert!(other.dependencies_inherit_configuration);
        assert!(
            matches!(&other.dependencies["todo:platform"], Dependency::Component { component, export: None } if component == "api")
        );
        assert!(matches!(&other.dependencies["a:b/c"], Dependency::Path { export: Some(e), .. } if e == "a:b/c@1.0.0"));
        assert!(matches!(&other.dependencies["x:y"], Dependency::Other(toml::Value::String(v)) if v == "1.0.0"));
        assert!(m.component["api"].dependencies.is_empty() && !m.component["api"].dependencies_inherit_configuration);
    }

    #[test]
    fn rejects_unknown_components_versions_and_keys() {
        let err = manifest(
            &BASE.replace("component = \"other\"\n        [component", "component = \"nope\"\n        [component"),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("\"nope\""), "{err:#}");
        let err = manifest(&BASE.replace("= 2", "= 1")).unwrap_err();
        assert!(format!("{err:#}").contains("must be 2"), "{err:#}");
        let err = manifest(&BASE.replace("topic =", "topik =")).unwrap_err();
        assert!(format!("{err:#}").contains("topik"), "{err:#}");
        let err = manifest(&BASE.replace("sql_databases", "sql_database")).unwrap_err();
        assert!(format!("{err:#}").contains("sql_database"), "{err:#}");
    }

    #[test]
    fn variables_as_spin_declares_them() {
        let with = |variables: &str, component: &str| {
            manifest(&format!("{BASE}\n[variables]\n{variables}\n[component.other.variables]\n{component}\n"))
        };
        let m = with(
            r#"secret = { required = true, secret = true }
            flag = { default = "false" }"#,
            r#"key = "k-{{ secret }}""#,
        )
        .unwrap();
        assert!(m.variables["secret"].required && m.variables["secret"].secret);
        assert_eq!(m.variables["flag"].default.as_deref(), Some("false"));
        assert_eq!(m.component["other"].variables["key"], "k-{{ secret }}");
        for (variables, component, says) in [
            ("a = { required = true }", r#"b = "{{ c }}""#, "no [variables] \"c\""),
            ("a = {}", "", "needs a default"),
            (r#"a = { required = true, default = "x" }"#, "", "required and has a default"),
            ("Bad = { required = true }", "", "lower-case"),
            ("a = { required = true }", r#"b = "{{ a ""#, "unclosed"),
            (r#"a = { default = "x", other = 1 }"#, "", "other"),
        ] {
            let err = format!("{:#}", with(variables, component).unwrap_err());
            assert!(err.contains(says), "{variables} / {component}: {err}");
        }
    }
}
