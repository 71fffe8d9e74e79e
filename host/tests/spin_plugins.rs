//! `todo-host` as Spin's trigger plugins, driven exactly as `spin up` drives
//! them (no Spin binary can be had here): the lock Spin's loader writes for
//! the repository's spin.toml (built below with code that mirrors Spin's
//! `crates/loader/src/local.rs` and `crates/manifest/src/normalize.rs`),
//! the environment and flags of `src/commands/up.rs`, the handshake, and
//! SIGTERM. Spin's own part, its HTTP trigger running the HTTP components
//! composed with the platform adapter on `<state dir>/sqlite_db.db`, is
//! played by `todo-host up --compose-dependencies` on that same file.

mod common;

use common::{build_components, expect_json, repo, token, EVENT_WAIT, SECRET};
use serde_json::{json, Map, Value};
use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const PLUGINS: [&str; 3] = ["pubsub", "schedule", "sse"];
/// The dashboard's origin under Spin, allowed to read the stream.
const DASHBOARD: &str = "http://127.0.0.1:3000";
/// How long a plugin may take to exit after SIGTERM.
const STOP_WITHIN: Duration = Duration::from_secs(10);

fn file_url(path: &Path) -> String {
    url::Url::from_file_path(path).unwrap().to_string()
}

/// Spin's trigger ids (`normalize_trigger_ids`): `<component>-<type>-trigger`,
/// else `<type>-trigger<n>`.
fn trigger_id(kind: &str, config: &toml::Table, taken: &mut Vec<String>, counter: &mut usize) -> String {
    if let Some(id) = config.get("id").and_then(toml::Value::as_str) {
        return id.to_owned();
    }
    if let Some(component) = config.get("component").and_then(toml::Value::as_str) {
        let id = format!("{component}-{kind}-trigger");
        if !taken.contains(&id) {
            taken.push(id.clone());
            return id;
        }
    }
    loop {
        let id = format!("{kind}-trigger{counter}");
        *counter += 1;
        if !taken.contains(&id) {
            taken.push(id.clone());
            return id;
        }
    }
}

/// Copies a component's `files` into `<working dir>/assets/<id>` as
/// Spin's `FilesMountStrategy::Copy` does (placements and directories).
fn copy_files(app: &Path, mounts: &[toml::Value], dest: &Path) {
    for mount in mounts {
        let (source, destination) = match mount {
            toml::Value::String(pattern) => (pattern.clone(), pattern.clone()),
            placement => (
                placement["source"].as_str().unwrap().to_owned(),
                placement["destination"].as_str().unwrap().to_owned(),
            ),
        };
        copy_tree(&app.join(&source), &dest.join(destination.trim_start_matches('/')));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_file() {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
        return;
    }
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        copy_tree(&entry.path(), &to.join(entry.file_name()));
    }
}

/// The locked app `spin up` writes to `<working dir>/spin.lock` for the
/// manifest at `manifest_path` (`LocalLoader::load_file`).
fn spin_lock(manifest_path: &Path, working_dir: &Path) -> Value {
    let app_dir = manifest_path.parent().unwrap();
    let manifest: toml::Table = toml::from_str(&std::fs::read_to_string(manifest_path).unwrap()).unwrap();
    let application = manifest["application"].as_table().unwrap();
    let mut metadata = Map::new();
    for key in ["name", "version", "description"] {
        if let Some(value) = application.get(key).and_then(toml::Value::as_str).filter(|v| !v.is_empty()) {
            metadata.insert(key.into(), json!(value));
        }
    }
    metadata.insert("triggers".into(), application.get("trigger").map_or(json!({}), |t| json!(t)));
    metadata.insert("origin".into(), json!(file_url(manifest_path)));

    let mut triggers = Vec::new();
    let mut taken = Vec::new();
    for (kind, list) in manifest["trigger"].as_table().unwrap() {
        let mut counter = 1;
        for config in list.as_array().unwrap() {
            let mut config = config.as_table().unwrap().clone();
            let id = trigger_id(kind, &config, &mut taken, &mut counter);
            config.remove("id");
            triggers.push(json!({ "id": id, "trigger_type": kind, "trigger_config": config }));
        }
    }

    let components_table = manifest["component"].as_table().unwrap();
    let source_url = |c: &toml::Value| file_url(&app_dir.join(c["source"].as_str().unwrap()));
    let mut components = Vec::new();
    for (id, c) in components_table {
        let mut meta = Map::new();
        if let Some(description) = c.get("description").and_then(toml::Value::as_str) {
            meta.insert("description".into(), json!(description));
        }
        let list = |key: &str| c.get(key).cloned().map(|v| json!(v)).unwrap_or(json!([]));
        meta.insert("allowed_outbound_hosts".into(), list("allowed_outbound_hosts"));
        meta.insert("key_value_stores".into(), list("key_value_stores"));
        meta.insert("databases".into(), list("sqlite_databases"));
        meta.insert("ai_models".into(), list("ai_models"));
        if let Some(build) = c.get("build") {
            meta.insert("build".into(), json!(build));
        }
        let mut locked = json!({
            "id": id,
            "metadata": meta,
            "source": { "content_type": "application/wasm", "source": source_url(c) },
        });
        if let Some(mounts) = c.get("files").and_then(toml::Value::as_array).filter(|m| !m.is_empty()) {
            let root = working_dir.join("assets").join(id);
            copy_files(app_dir, mounts, &root);
            locked["files"] = json!([{ "source": file_url(&root), "path": "/" }]);
        }
        if let Some(variables) = c.get("variables") {
            locked["config"] = json!(variables);
        }
        let inherit = c.get("dependencies_inherit_configuration").and_then(toml::Value::as_bool) == Some(true);
        if let Some(dependencies) = c.get("dependencies").and_then(toml::Value::as_table) {
            let mut locked_deps = Map::new();
            for (name, dependency) in dependencies {
                // `{ component = "x" }` is normalized to x's source (a local file here).
                let source = match dependency.get("component").and_then(toml::Value::as_str) {
                    Some(other) => source_url(&components_table[other]),
                    None => file_url(&app_dir.join(dependency["path"].as_str().unwrap())),
                };
                let mut dep = json!({
                    "source": { "content_type": "application/wasm", "source": source },
                    "export": dependency.get("export").and_then(toml::Value::as_str),
                });
                if inherit {
                    dep["inherit"] = json!("All");
                }
                locked_deps.insert(name.clone(), dep);
            }
            locked["dependencies"] = Value::Object(locked_deps);
        }
        components.push(locked);
    }

    let mut lock =
        json!({ "spin_lock_version": 0, "metadata": metadata, "triggers": triggers, "components": components });
    if let Some(variables) = manifest.get("variables").and_then(toml::Value::as_table) {
        let locked: Map<String, Value> = variables
            .iter()
            .map(|(name, v)| {
                let mut locked = Map::new();
                for key in ["description", "default"] {
                    if let Some(value) = v.get(key) {
                        locked.insert(key.into(), json!(value));
                    }
                }
                if v.get("secret").and_then(toml::Value::as_bool) == Some(true) {
                    locked.insert("secret".into(), json!(true));
                }
                (name.clone(), Value::Object(locked))
            })
            .collect();
        lock["variables"] = Value::Object(locked);
    }
    lock
}

/// The repository's spin.toml in an app directory of its own (its build
/// outputs and migrations linked in, a dashboard of one page: the test
/// command builds the real one later), with the reminder
/// checker ticking every second; and the same without the triggers Spin
/// hands to plugins, for the HTTP part.
struct App {
    dir: tempfile::TempDir,
}

impl App {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        std::fs::create_dir_all(&app).unwrap();
        for linked in ["target", "migrations"] {
            std::os::unix::fs::symlink(repo().join(linked), app.join(linked)).unwrap();
        }
        std::fs::create_dir_all(app.join("frontend/dist")).unwrap();
        std::fs::write(app.join("frontend/dist/index.html"), "<!doctype html><title>todo</title>").unwrap();
        let text = std::fs::read_to_string(repo().join("spin.toml")).unwrap();
        let mut manifest: toml::Table = toml::from_str(&text).unwrap();
        let schedules = manifest["trigger"]["schedule"].as_array().unwrap().len();
        assert!(schedules > 0, "the repository's spin.toml has a schedule");
        for schedule in manifest["trigger"].get_mut("schedule").unwrap().as_array_mut().unwrap() {
            schedule.as_table_mut().unwrap().insert("schedule".into(), "@every 1s".into());
        }
        std::fs::write(app.join("spin.toml"), toml::to_string(&manifest).unwrap()).unwrap();
        let triggers = manifest.get_mut("trigger").unwrap().as_table_mut().unwrap();
        triggers.retain(|kind, _| kind == "http");
        std::fs::write(app.join("spin-http.toml"), toml::to_string(&manifest).unwrap()).unwrap();
        for sub in ["work", "http-data", "bin"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Self { dir }
    }

    fn app_dir(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    fn working_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Spin's default state directory: `.spin` beside spin.toml.
    fn state_dir(&self) -> PathBuf {
        self.app_dir().join(".spin")
    }

    /// Writes the lock as `spin up` does; returns its `file://` URL.
    fn write_lock(&self) -> String {
        let lock = spin_lock(&self.app_dir().join("spin.toml"), &self.working_dir());
        let path = self.working_dir().join("spin.lock");
        std::fs::write(&path, serde_json::to_vec_pretty(&lock).unwrap()).unwrap();
        file_url(&path)
    }

    /// The plugin's executable as Spin installs it: named after the plugin.
    fn plugin_executable(&self, kind: &str) -> PathBuf {
        let path = self.dir.path().join("bin").join(format!("trigger-{kind}"));
        if !path.exists() {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_todo-host"), &path).unwrap();
        }
        path
    }

    /// The plugin as `spin up` starts it: the lock's URL, the working and
    /// app directories in the environment, the user's flags it declared.
    fn plugin(&self, kind: &str, locked_url: &str, flags: &[&str]) -> Command {
        let mut command = Command::new(self.plugin_executable(kind));
        command
            .args(flags)
            .env("SPIN_LOCKED_URL", locked_url)
            .env("SPIN_WORKING_DIR", self.working_dir())
            .env("SPIN_LOCAL_APP_DIR", self.app_dir())
            .env("SPIN_VARIABLE_JWT_SECRET", SECRET)
            .env_remove("TODO_JWT_SECRET");
        command
    }
}

/// A child process that is killed if the test fails before it stops it.
struct Running {
    child: Child,
    name: String,
}

impl Running {
    /// Starts `command`; with `listens`, waits for the address it serves on.
    fn spawn(mut command: Command, name: &str, listens: bool) -> (Self, Option<String>) {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("todo-host listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let base = listens.then(|| rx.recv_timeout(Duration::from_secs(120)).ok()).flatten();
        (Self { child, name: name.to_owned() }, base)
    }

    /// SIGTERM, as `spin up` sends on Ctrl-C; the exit status and how long it took.
    fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(started.elapsed() < STOP_WITHIN, "{} still runs {STOP_WITHIN:?} after SIGTERM", self.name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn build_adapter() {
    let status = Command::new(repo().join("components/build.sh"))
        .arg("platform-adapter")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .status()
        .unwrap();
    assert!(status.success(), "building the platform adapter");
}

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + EVENT_WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {EVENT_WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn answers_spins_handshake() {
    let app = App::new();
    for kind in PLUGINS {
        // `spin up` reads the launch metadata from stderr (as JSON, nothing else there).
        let out = app.plugin(kind, "file:///nowhere", &["--launch-metadata-only"]).output().unwrap();
        assert!(out.status.success(), "{kind}: {out:?}");
        let meta: Value = serde_json::from_slice(&out.stderr).unwrap_or_else(|e| {
            panic!("{kind}: stderr is not the metadata ({e}): {}", String::from_utf8_lossy(&out.stderr))
        });
        let longs: Vec<&str> =
            meta["all_flags"].as_array().unwrap().iter().filter_map(|f| f["long"].as_str()).collect();
        assert!(longs.contains(&"--state-dir") && longs.contains(&"--runtime-config-file"), "{kind}: {longs:?}");
        assert_eq!(longs.contains(&"--sse-listen"), kind == "sse", "{kind}: {longs:?}");
        assert_eq!(longs.contains(&"--sse-allow-origin"), kind == "sse", "{kind}: {longs:?}");

        let out = app.plugin(kind, "file:///nowhere", &["--help-args-only"]).output().unwrap();
        assert!(out.status.success(), "{kind}: {out:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("--state-dir") && !help.contains("--launch-metadata-only"), "{kind}: {help}");
    }
    // Not run by `spin up`: the variables it sets are missing.
    let out = app.plugin("pubsub", "file:///nowhere", &[]).env_remove("SPIN_LOCKED_URL").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SPIN_LOCKED_URL"));
}

#[tokio::test(flavor = "multi_thread")]
async fn run_the_app_beside_spins_http_part() {
    build_components();
    build_adapter();
    let app = App::new();
    let locked_url = app.write_lock();
    let state = app.state_dir();
    std::fs::create_dir_all(&state).unwrap();

    // Spin's part: the HTTP components, composed with the adapter, on Spin's SQLite file.
    let runtime_config = app.dir.path().join("http-runtime-config.toml");
    let db = state.join("sqlite_db.db");
    std::fs::write(&runtime_config, format!("[sqlite_database.default]\ntype = \"spin\"\npath = {:?}\n", db)).unwrap();
    let mut http = Command::new(env!("CARGO_BIN_EXE_todo-host"));
    http.args(["up", "--compose-dependencies", "--listen", "127.0.0.1:0", "-f"])
        .arg(app.app_dir().join("spin-http.toml"))
        .arg("--data-dir")
        .arg(app.dir.path().join("http-data"))
        .arg("--runtime-config-file")
        .arg(&runtime_config)
        .env("SPIN_VARIABLE_JWT_SECRET", SECRET)
        .env_remove("TODO_JWT_SECRET");
    let (_http, base) = Running::spawn(http, "the HTTP part", true);
    let base = base.expect("the HTTP part listens");

    let (mut pubsub, _) = Running::spawn(app.plugin("pubsub", &locked_url, &[]), "trigger-pubsub", false);
    let (mut schedule, _) = Running::spawn(app.plugin("schedule", &locked_url, &[]), "trigger-schedule", false);
    let sse_flags = ["--sse-listen", "127.0.0.1:0", "--sse-allow-origin", DASHBOARD];
    let (mut sse, stream_base) = Running::spawn(app.plugin("sse", &locked_url, &sse_flags), "trigger-sse", true);
    let stream_base = stream_base.expect("the sse plugin listens");
    // The dashboard, from the files Spin's loader copied into the working directory.
    let page = reqwest::get(format!("{base}/tasks/42")).await.unwrap().text().await.unwrap();
    assert!(page.contains("<title>todo</title>"), "{page}");

    let user = format!("spin-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let bearer = format!("Bearer {}", token(&user));
    let client = reqwest::Client::new();

    // The stream, read from the dashboard's origin: preflight, then CORS headers.
    let stream_url = format!("{stream_base}/api/stream/tasks");
    let preflight = client
        .request(reqwest::Method::OPTIONS, &stream_url)
        .header("origin", DASHBOARD)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization,last-event-id")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], DASHBOARD);
    assert!(preflight.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    let refused = client.get(&stream_url).header("origin", DASHBOARD).send().await.unwrap();
    assert_eq!(refused.status(), 401, "a stream needs a token");
    assert_eq!(refused.headers()["access-control-allow-origin"], DASHBOARD, "the dashboard may read the refusal");
    let stream = client
        .get(&stream_url)
        .header("authorization", &bearer)
        .header("origin", DASHBOARD)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["access-control-allow-origin"], DASHBOARD);
    let mut stream = common::SseReader::new(stream);

    // Tasks created through the adapter, in Spin's SQLite file.
    let api = |path: &str| format!("{base}{path}");
    let create = |body: Value| {
        let request = client.post(api("/api/todos")).header("authorization", &bearer).json(&body);
        async move { expect_json(request.send().await.unwrap(), 201).await["id"].as_str().unwrap().to_owned() }
    };
    let id = create(json!({"title": "Water the plants", "recurrence_pattern": {"frequency": "daily"}})).await;

    // ... which the sse plugin streams to its user.
    let event = stream.next(EVENT_WAIT).await.expect("the creation streams");
    assert!(event.data.contains(&id), "{event:?}");

    // Completed: the pubsub plugin's recurring handler creates the next occurrence.

    let completed = client
        .patch(api(&format!("/api/todos/{id}/complete")))
        .header("authorization", &bearer)
        .json(&json!({"completed": true}))
        .send()
        .await
        .unwrap();
    expect_json(completed, 200).await;
    eventually("the next occurrence", || async {
        let list = client.get(api("/api/todos?limit=100")).header("authorization", &bearer).send().await.unwrap();
        let list = expect_json(list, 200).await;
        list["items"].as_array().unwrap().iter().find(|t| t["parent_task_id"] == id.as_str()).cloned()
    })
    .await;

    // The schedule plugin's reminder checker (every second here) finds a
    // task due within the hour; its reminder reaches the notification
    // handler through the pubsub plugin.
    let due = (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339();
    let soon = create(json!({"title": "Call the plumber", "due_date": due})).await;
    eventually("the reminder's notification", || async {
        let list = client.get(api("/api/notifications")).header("authorization", &bearer).send().await.unwrap();
        let list = expect_json(list, 200).await;
        list["items"].as_array().unwrap().iter().find(|n| n.to_string().contains(&soon)).cloned()
    })
    .await;

    for plugin in [&mut pubsub, &mut schedule, &mut sse] {
        let (status, took) = plugin.terminate();
        assert!(status.success(), "{} exits 0 on SIGTERM: {status}", plugin.name);
        assert!(took < STOP_WITHIN, "{} took {took:?}", plugin.name);
    }
}

#[test]
fn packages_installable_plugins() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_todo-host"))
        .args(["plugins", "package"])
        .arg(out.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    for kind in PLUGINS {
        let name = format!("trigger-{kind}");
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(out.path().join(format!("{name}.json"))).unwrap()).unwrap();
        // Spin's PluginManifest: every required key, camelCase.
        assert_eq!(manifest["name"], name);
        assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(manifest["license"], env!("CARGO_PKG_LICENSE"));
        assert!(manifest["spinCompatibility"].as_str().unwrap().starts_with(">=3"));
        let packages = manifest["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 1);
        let package = &packages[0];
        assert_eq!(package["os"], "linux");
        assert_eq!(package["arch"], if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH });
        let url = url::Url::parse(package["url"].as_str().unwrap()).unwrap();
        assert_eq!(url.scheme(), "file");
        let tarball = url.to_file_path().unwrap();

        // What `spin plugins install` checks: the sha256 of the package...
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        std::io::copy(&mut std::fs::File::open(&tarball).unwrap(), &mut hasher).unwrap();
        assert_eq!(package["sha256"], hex::encode(sha2::Digest::finalize(hasher)));
        // ... and, unpacked, an executable named as the plugin.
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(&tarball).unwrap()));
        let mut entries = std::collections::BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mode = entry.header().mode().unwrap();
            let mut head = [0u8; 4];
            entry.read_exact(&mut head).unwrap();
            entries.insert(path, (mode, head));
        }
        let (mode, head) = entries.get(&name).unwrap_or_else(|| panic!("{name} in {:?}", entries.keys()));
        assert_eq!(mode & 0o111, 0o111, "executable");
        assert_eq!(head, b"\x7fELF", "this host's executable");
        assert!(entries.contains_key("LICENSE"), "{:?}", entries.keys());
    }
}
