//! `todo-host` as a SpinKube executor: the app pushed to a real OCI
//! registry (Debian's docker-registry on loopback, `TODO_TEST_REGISTRY`,
//! started by scripts/test.sh; these tests are ignored without it), then
//! run with exactly the arguments, environment and runtime configuration
//! spin-operator gives its `spinImage` executor's container; selective
//! deployments; bad references; the cache without the registry; registry
//! credentials; and Spin's own artifact format both ways.

mod common;

use common::{client, expect_json, repo, SECRET};
use serde_json::{json, Value};
use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

const NEEDS: &str = "needs the test registry (scripts/test.sh sets TODO_TEST_REGISTRY)";

fn registry() -> String {
    std::env::var("TODO_TEST_REGISTRY").expect(NEEDS)
}

/// A fresh repository on the test registry.
fn fresh_reference(registry: &str) -> String {
    format!("{registry}/todo/app-{}:test", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The harness's app (the real components and the test component, static
/// files, migrations) in a directory of its own, ready to push.
fn app_dir() -> tempfile::TempDir {
    common::app_dir(&common::Options::default())
}

/// A `todo-host` command with none of the harness's secrets in its
/// environment, and the OCI cache and data directory under `work`.
fn todo_host(work: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_todo-host"));
    command
        .env_remove("TODO_JWT_SECRET")
        .env_remove("TODO_ADMIN_TOKEN")
        .env_remove("TODO_RUNTIME_CONFIG_FILE")
        .env_remove("DOCKER_CONFIG")
        .env("TODO_OCI_CACHE", work.join("oci-cache"))
        .env("TODO_DATA_DIR", work.join("data"))
        .env("RUST_LOG", "info");
    command
}

fn push(work: &Path, app: &Path, reference: &str) -> Output {
    let out = todo_host(work).args(["registry", "push", reference, "-f"]).arg(app.join("spin.toml")).output().unwrap();
    out
}

/// Pushes and returns the digest printed.
fn pushed(work: &Path, app: &Path, reference: &str) -> String {
    let out = push(work, app, reference);
    assert!(out.status.success(), "push: {}", String::from_utf8_lossy(&out.stderr));
    let digest = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    digest
}

/// The runtime configuration spin-operator renders (go-toml) for a SpinApp
/// with a `spin` SQLite database at `db` and a `spin` key-value store.
fn operator_runtime_config(work: &Path, db: &Path) -> PathBuf {
    let text = format!(
        "[[config_provider]]\n  prefix = 'SPIN_VARIABLE_'\n  type = 'env'\n\n[key_value_store]\n  [key_value_store.default]\n    type = 'spin'\n\n\
         [sqlite_database]\n  [sqlite_database.default]\n    path = '{}'\n    type = 'spin'\n",
        db.display()
    );
    let path = work.join("runtime-config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// spin-operator's container arguments for a `spinImage` executor, with
/// `--listen` on a loopback port (0.0.0.0:80 is not ours to bind).
fn operator_args(reference: &str, runtime_config: &Path, components: &[&str]) -> Vec<String> {
    let mut args: Vec<String> =
        ["up", "--listen", "127.0.0.1:0", "-f", reference, "--runtime-config-file"].map(String::from).into();
    args.push(runtime_config.display().to_string());
    for c in components {
        args.extend(["--component-id".into(), c.to_string()]);
    }
    args
}

/// A running `todo-host up`; killed when dropped.
struct Running {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

/// Starts `command` and waits for its listening line; Err(stderr) if it
/// exits first.
fn start(mut command: Command) -> Result<Running, String> {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("todo-host listening on ") {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let (mut pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(base) = rx.recv_timeout(Duration::from_millis(50)) {
            return Ok(Running { child, base, stderr });
        }
        if child.try_wait().unwrap().is_some() {
            reader.join().unwrap();
            let text = stderr.lock().unwrap().clone();
            return Err(text);
        }
        assert!(Instant::now() < deadline, "todo-host neither listened nor exited: {}", stderr.lock().unwrap());
    }
}

/// `command` must refuse to start; returns what it said.
fn refused(command: Command) -> String {
    match start(command) {
        Ok(running) => panic!("todo-host started, on {}", running.base),
        Err(stderr) => stderr,
    }
}

async fn status(url: &str) -> u16 {
    client("alice").get(url).header("accept", "application/json").send().await.unwrap().status().as_u16()
}

#[tokio::test]
#[ignore = "needs the test registry (scripts/test.sh sets TODO_TEST_REGISTRY)"]
async fn serves_with_the_operators_invocation_environment_and_runtime_config() {
    let (app, work) = (app_dir(), tempfile::tempdir().unwrap());
    let reference = fresh_reference(&registry());
    pushed(work.path(), app.path(), &reference);
    let db = work.path().join("volume/app.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let config = operator_runtime_config(work.path(), &db);
    let mut command = todo_host(work.path());
    command
        .args(operator_args(&reference, &config, &[]))
        // The operator sets the variable too; the flag wins, as in Spin (this
        // address is not on this machine: binding it would fail).
        .env("SPIN_HTTP_LISTEN_ADDR", "192.0.2.1:80")
        .env("SPIN_VARIABLE_JWT_SECRET", SECRET)
        .env("SPIN_MAX_INSTANCE_MEMORY", (32u64 << 20).to_string())
        .env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://127.0.0.1:1");
    let host = start(command).expect("the host starts");

    for probe in ["/healthz", "/readyz"] {
        assert_eq!(reqwest::get(host.url(probe)).await.unwrap().status(), 200, "{probe}");
    }
    // The Task API, with a token signed with the secret from the Spin variable.
    let alice = client("alice");
    let created = alice.post(host.url("/api/todos")).json(&json!({"title": "from SpinKube"})).send().await.unwrap();
    let task = expect_json(created, 201).await;
    let read = alice.get(host.url(&format!("/api/todos/{}", task["id"].as_str().unwrap()))).send().await.unwrap();
    assert_eq!(expect_json(read, 200).await["title"], "from SpinKube");
    let forged = common::signed("another-secret", "alice", 60);
    let res = reqwest::Client::new().get(host.url("/api/todos")).bearer_auth(forged).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let sign_in = reqwest::Client::new().post(host.url("/auth/dev/sign-in")).json(&json!({"user_id": "x"}));
    assert_eq!(sign_in.send().await.unwrap().status(), 404, "a real secret turns the development sign-in off");
    // The database is where [sqlite_database.default] path says, not in the data directory.
    assert!(db.is_file(), "the configured database file");
    assert!(!work.path().join("data/app.db").exists());
    assert!(work.path().join("data/state.db").is_file(), "[key_value_store.default] without a path: the data dir");
    // The static files and migrations travelled (the schema exists, see above).
    let js = reqwest::get(host.url("/assets/app.js")).await.unwrap();
    assert_eq!(js.text().await.unwrap(), "console.log('todo')");
    // SPIN_MAX_INSTANCE_MEMORY (bytes) caps each instance: 32 MiB, not the default 128.
    assert_eq!(status(&host.url("/test/alloc?mb=8")).await, 200);
    assert_eq!(status(&host.url("/test/alloc?mb=48")).await, 500);
    assert!(host.log().contains("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set"), "{}", host.log());
}

#[tokio::test]
#[ignore = "needs the test registry (scripts/test.sh sets TODO_TEST_REGISTRY)"]
async fn component_ids_run_only_those_components() {
    let (app, work) = (app_dir(), tempfile::tempdir().unwrap());
    let reference = fresh_reference(&registry());
    pushed(work.path(), app.path(), &reference);
    let config = operator_runtime_config(work.path(), &work.path().join("app.db"));
    let mut command = todo_host(work.path());
    command.args(operator_args(&reference, &config, &["task-api"])).env("SPIN_VARIABLE_JWT_SECRET", SECRET);
    let host = start(command).unwrap();
    assert_eq!(status(&host.url("/api/todos")).await, 200);
    assert_eq!(status(&host.url("/api/notifications")).await, 404, "another component's route");
    assert_eq!(status(&host.url("/test/version")).await, 404);
    drop(host);

    // The operator's environment variable, without flags.
    let mut command = todo_host(work.path());
    command
        .args(operator_args(&reference, &config, &[]))
        .env("SPIN_COMPONENTS_TO_RETAIN", "task-api,notification-handler")
        .env("SPIN_VARIABLE_JWT_SECRET", SECRET);
    let host = start(command).unwrap();
    assert_eq!(status(&host.url("/api/notifications")).await, 200);
    assert_eq!(status(&host.url("/test/version")).await, 404);
    drop(host);

    let mut command = todo_host(work.path());
    command.args(operator_args(&reference, &config, &["nope"]));
    let said = refused(command);
    assert!(said.contains("--component-id nope") && said.contains("task-api"), "{said}");
}

#[tokio::test]
#[ignore = "needs the test registry (scripts/test.sh sets TODO_TEST_REGISTRY)"]
async fn bad_references_and_unreachable_registries_fail_naming_the_reference() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("missing-runtime-config.toml");
    let unknown_tag = format!("{}/todo/never-pushed:nope", registry());
    for reference in ["127.0.0.1:1/todo/app:test", "127.0.0.1:5000/Not A Repo:x", unknown_tag.as_str()] {
        let mut command = todo_host(work.path());
        command.args(operator_args(reference, &config, &[]));
        let said = refused(command);
        assert!(said.contains(reference), "{reference}: {said}");
    }
}

/// A registry of this test's own, through the same script, so that it can
/// be stopped without disturbing the other tests.
struct PrivateRegistry {
    dir: tempfile::TempDir,
    addr: String,
}

impl PrivateRegistry {
    fn start(credentials: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut script = Command::new(repo().join("scripts/services/registry.sh"));
        script.arg("start").arg(dir.path()).arg(port.to_string()).args(credentials);
        assert!(script.status().unwrap().success(), "starting a registry");
        Self { dir, addr: format!("127.0.0.1:{port}") }
    }

    fn stop(&self) {
        let status =
            Command::new(repo().join("scripts/services/registry.sh")).arg("stop").arg(self.dir.path()).status();
        assert!(status.unwrap().success(), "stopping the registry");
    }
}

impl Drop for PrivateRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
#[ignore = "needs the test registry (scripts/test.sh sets TODO_TEST_REGISTRY)"]
async fn a_pulled_app_starts_again_from_the_cache_without_the_registry() {
    let _installed = registry();
    let (app, work) = (app_dir(), tempfile::tempdir().unwrap());
    let registry = PrivateRegistry::start(None);
    let reference = fresh_reference(&registry.addr);
    let digest = pushed(work.path(), app.path(), &reference);
    let by_digest = format!("{}@{digest}", reference.rsplit_once(':').unwrap().0);
    let config = operator_runtime_config(work.path(), &work.path().join("app.db"));
    let run = |reference: &str| {
        let mut command = todo_host(work.path());
        command.args(operator_args(reference, &config, &[])).env("SPIN_VARIABLE_JWT_SECRET", SECRET);
        start(command)
    };
    let first = run(&reference).unwrap();
    assert_eq!(status(&first.url("/api/todos")).await, 200);
    drop(first);

    registry.stop();
    let again = run(&by_digest).expect("a digest in the cache needs no registry");
    assert_eq!(status(&again.url("/api/todos")).await, 200);
    assert!(!again.log().contains("unreachable"), "{}", again.log());
    drop(again);
    let tagged = run(&reference).expect("a tag falls back to the digest it last named");
    assert_eq!(status(&tagged.url("/api/todos")).await, 200);
    assert!(tagged.log().contains("the registry is unreachable"), "{}", tagged.log());
    drop(tagged);
    let other = format!("{}/todo/other:test", registry.addr);
    let said = run(&other).err().expect("nothing cached for it");
    assert!(said.contains(&other) && said.contains("cannot be reached"), "{said}");
}

#[tokio::test]
#[ignore = "needs the test registry (scripts/test.sh sets TODO_TEST_REGISTRY)"]
async fn credentials_come_from_the_docker_config_file() {
    let _installed = registry();
    let (app, work) = (app_dir(), tempfile::tempdir().unwrap());
    let registry = PrivateRegistry::start(Some("alice:s3cret-pass"));
    let reference = fresh_reference(&registry.addr);
    let out = push(work.path(), app.path(), &reference);
    assert!(!out.status.success(), "an anonymous push is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&reference));

    let docker = work.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:s3cret-pass");
    let config = json!({"auths": {registry.addr.clone(): {"auth": auth}}});
    std::fs::write(docker.join("config.json"), config.to_string()).unwrap();
    let mut push = todo_host(work.path());
    push.env("DOCKER_CONFIG", &docker).args(["registry", "push", &reference, "-f"]).arg(app.path().join("spin.toml"));
    let out = push.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut up = todo_host(work.path());
    up.env("DOCKER_CONFIG", &docker).env("SPIN_VARIABLE_JWT_SECRET", SECRET).args(operator_args(
        &reference,
        &work.path().join("none.toml"),
        &[],
    ));
    let host = start(up).unwrap();
    assert_eq!(status(&host.url("/api/todos")).await, 200);
}

/// skopeo, an independent client, copies `reference` into an OCI layout.
fn skopeo_copy(from: &str, to: &str) {
    let out =
        Command::new("skopeo").args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false", from, to]).output();
    let out = out.expect("skopeo (scripts/image.sh installs it)");
    assert!(out.status.success(), "skopeo copy {from} {to}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The blob of `digest` in an OCI layout.
fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(layout.join("blobs/sha256").join(digest.strip_prefix("sha256:").unwrap())).unwrap()
}

#[tokio::test]
#[ignore = "needs the test registry (scripts/test.sh sets TODO_TEST_REGISTRY)"]
async fn what_we_push_has_the_shape_spins_pull_reads() {
    let (app, work) = (app_dir(), tempfile::tempdir().unwrap());
    let reference = fresh_reference(&registry());
    let digest = pushed(work.path(), app.path(), &reference);
    let layout = work.path().join("layout");
    skopeo_copy(&format!("docker://{reference}"), &format!("oci:{}:app", layout.display()));
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest.as_str(), "the digest push printed");
    let manifest: Value = serde_json::from_slice(&blob(&layout, &digest)).unwrap();
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
    let layers = manifest["layers"].as_array().unwrap();
    let last = layers.last().unwrap();
    assert_eq!(last["mediaType"], "application/vnd.fermyon.spin.application.v1+config", "the lock comes last");
    let layer_digests: Vec<&str> = layers.iter().map(|l| l["digest"].as_str().unwrap()).collect();
    for layer in &layers[..layers.len() - 1] {
        let media = layer["mediaType"].as_str().unwrap();
        assert!(media.ends_with("layer.v1+wasm") || media.ends_with("layer.v1+data"), "{media}");
    }
    // What Spin's OciLoader needs of the lock: a version, sources by digest
    // among the layers, files by digest among them or inline, relative paths.
    let lock: Value = serde_json::from_slice(&blob(&layout, last["digest"].as_str().unwrap())).unwrap();
    assert_eq!(lock["spin_lock_version"], 0);
    assert_eq!(lock["metadata"]["name"], "todo-test");
    for c in lock["components"].as_array().unwrap() {
        assert_eq!(c["source"]["content_type"], "application/wasm");
        assert!(layer_digests.contains(&c["source"]["digest"].as_str().unwrap()), "{c}");
    }
    let task_api = lock["components"].as_array().unwrap().iter().find(|c| c["id"] == "task-api").unwrap();
    assert_eq!(task_api["metadata"]["tool"]["todo"]["sql_databases"], json!(["default"]));
    // Variables as Spin locks them: required ones without a default, a component's as its `config`.
    assert_eq!(lock["variables"]["jwt_secret"], json!({"secret": true}));
    assert_eq!(lock["variables"]["dev_sign_in"], json!({"default": "false"}));
    assert_eq!(task_api["config"], json!({"jwt_secret": "{{ jwt_secret }}"}));
    let migrations = lock["metadata"]["tool"]["todo"]["migrations"].as_array().unwrap();
    let dashboard = lock["components"].as_array().unwrap().iter().find(|c| c["id"] == "static-files").unwrap();
    let files = dashboard["files"].as_array().unwrap();
    assert!(files.iter().any(|f| f["path"] == "assets/app.js"), "{files:?}");
    for file in migrations.iter().chain(files) {
        let path = file["path"].as_str().unwrap();
        assert!(!path.starts_with('/') && !path.contains(".."), "{path}");
        assert!(file.get("inline").is_some() || layer_digests.contains(&file["digest"].as_str().unwrap()), "{file}");
    }
    assert!(migrations.iter().any(|f| f["path"] == "sqlite/0001_init.sql"), "{migrations:?}");
}

/// Writes an OCI layout holding an artifact exactly as `spin registry push`
/// writes one: its lock from Spin's loader (no `tool` tables: Spin drops
/// them; the test component's `jwt_secret` as a variable), sources by digest, a small file inline.
fn spin_pushed_layout(layout: &Path, wasm: &[u8]) {
    use sha2::Digest;
    let put = |bytes: &[u8]| -> (String, usize) {
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
        let dir = layout.join("blobs/sha256");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(digest.strip_prefix("sha256:").unwrap()), bytes).unwrap();
        (digest, bytes.len())
    };
    let (wasm_digest, wasm_size) = put(wasm);
    let lock = json!({
        "spin_lock_version": 0,
        "metadata": {"name": "spin-made", "version": "1.0.0", "authors": ["someone"],
                     "trigger": {"type": "http"}, "triggers": {}},
        "variables": {"jwt_secret": {"secret": true}},
        "triggers": [{"id": "test-guest-http-trigger", "trigger_type": "http",
                      "trigger_config": {"component": "test-guest", "route": "/test/..."}}],
        "components": [{"id": "test-guest",
                        "metadata": {"allowed_outbound_hosts": [], "key_value_stores": ["default"],
                                     "build": {"command": "cargo build"}},
                        "source": {"content_type": "application/wasm", "digest": wasm_digest},
                        "config": {"jwt_secret": "{{ jwt_secret }}"}}]
    });
    let lock_bytes = serde_json::to_vec(&lock).unwrap();
    let (lock_digest, lock_size) = put(&lock_bytes);
    let config = json!({"architecture": "wasm", "os": "wasip1", "config": {"Labels": {"com.fermyon.spin.lockedAppDigest": lock_digest}},
                        "rootfs": {"type": "layers", "diff_ids": []}});
    let (config_digest, config_size) = put(&serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [
            {"mediaType": "application/vnd.wasm.content.layer.v1+wasm", "digest": wasm_digest, "size": wasm_size},
            {"mediaType": "application/vnd.fermyon.spin.application.v1+config", "digest": lock_digest, "size": lock_size}
        ]
    });
    let (manifest_digest, manifest_size) = put(&serde_json::to_vec(&manifest).unwrap());
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest, "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "spin"}}]});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

#[tokio::test]
#[ignore = "needs the test registry (scripts/test.sh sets TODO_TEST_REGISTRY)"]
async fn an_app_in_spins_own_format_runs_here() {
    common::build_components();
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let wasm = std::fs::read(repo().join("target/wasm/wasm32-wasip2/release/test_guest.wasm")).unwrap();
    spin_pushed_layout(&layout, &wasm);
    let reference = fresh_reference(&registry());
    skopeo_copy(&format!("oci:{}:spin", layout.display()), &format!("docker://{reference}"));
    let mut command = todo_host(work.path());
    command
        .args(operator_args(&reference, &work.path().join("none.toml"), &[]))
        .env("SPIN_VARIABLE_JWT_SECRET", SECRET);
    let host = start(command).expect("Spin's artifact runs");
    let version = client("alice").get(host.url("/test/version")).send().await.unwrap();
    assert_eq!(version.status(), 200);
    assert_eq!(status(&host.url("/api/todos")).await, 404, "only what the lock has");
}
