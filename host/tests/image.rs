//! The container image, as `scripts/image.sh` builds it without a daemon:
//! its configuration (entrypoint, command, non-root user), its files, a
//! todo-host that needs nothing but them (static: it runs in an empty root
//! holding only the image's files, serving the app the image carries), the
//! docker-archive tarball, and the push to the test registry. Ignored
//! without that registry (`TODO_TEST_REGISTRY`, set by scripts/test.sh).

mod common;

use common::{client, repo, SECRET};
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json_blob(layout: &Path, digest: &str) -> Value {
    let path = layout.join("blobs/sha256").join(digest.strip_prefix("sha256:").unwrap());
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The image config of tag `todo-host` in an OCI layout.
fn image_config(layout: &Path) -> Value {
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entry = index["manifests"].as_array().unwrap().iter();
    let entry = entry.clone().find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "todo-host").unwrap();
    let manifest = json_blob(layout, entry["digest"].as_str().unwrap());
    json_blob(layout, manifest["config"]["digest"].as_str().unwrap())
}

#[tokio::test]
#[ignore = "needs the test registry (scripts/test.sh sets TODO_TEST_REGISTRY)"]
async fn the_image_carries_a_static_host_and_the_app() {
    let registry = std::env::var("TODO_TEST_REGISTRY").expect("TODO_TEST_REGISTRY");
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    run(Command::new(repo().join("scripts/image.sh"))
        .args(["--push", &registry])
        .arg(out.path())
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS"));
    let tarball = std::fs::metadata(out.path().join("todo-host.tar")).unwrap().len();
    eprintln!("scripts/image.sh took {:?}; docker-archive {:.1} MiB", started.elapsed(), tarball as f64 / 1048576.0);

    // The configuration: todo-host as the entrypoint (spin-operator keeps it
    // and passes `up ...` as the arguments), a non-root user.
    let config = image_config(&out.path().join("oci"))["config"].clone();
    assert_eq!(config["Entrypoint"], serde_json::json!(["/usr/local/bin/todo-host"]));
    assert_eq!(config["Cmd"], serde_json::json!(["up", "--listen", "0.0.0.0:3000", "-f", "/app/spin.toml"]));
    assert_eq!(config["User"], "65532:65532");
    let inspected = run(Command::new("skopeo")
        .arg("inspect")
        .arg("--config")
        .arg(format!("docker-archive:{}", out.path().join("todo-host.tar").display())));
    assert!(inspected.contains("/usr/local/bin/todo-host"), "{inspected}");
    let pushed = run(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--config"])
        .arg(format!("docker://{registry}/todo-host:latest")));
    assert!(pushed.contains("65532:65532"), "{pushed}");

    // The files, unpacked as a runtime would.
    let bundle = out.path().join("bundle");
    run(Command::new("umoci").arg("unpack").arg("--image").arg(out.path().join("oci:todo-host")).arg(&bundle));
    let root = bundle.join("rootfs");
    for file in [
        "usr/local/bin/todo-host",
        "app/spin.toml",
        "app/migrations/sqlite/0001_init.sql",
        "app/target/wasm/wasm32-wasip2/release/task_api.wasm",
        "etc/ssl/certs/ca-certificates.crt",
        "etc/passwd",
    ] {
        assert!(root.join(file).is_file(), "{file} is in the image");
    }
    assert!(!root.join("bin/sh").exists(), "no shell");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(root.join("data")).unwrap().uid(), 65532, "/data belongs to the user");
    let ldd = Command::new("ldd").arg(root.join("usr/local/bin/todo-host")).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&ldd.stdout), String::from_utf8_lossy(&ldd.stderr));
    assert!(said.contains("not a dynamic executable") || said.contains("statically linked"), "{said}");

    serves_the_carried_app_in_an_empty_root(&root).await;
}

/// Runs the image's todo-host in a root holding only the image's files (a
/// chroot, as the image's user), serving the app under /app on loopback.
async fn serves_the_carried_app_in_an_empty_root(root: &Path) {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "chroot needs root (CI and scripts/test.sh run as root)");
    let mut child = Command::new("/usr/sbin/chroot")
        .args(["--userspec=65532:65532"])
        .arg(root)
        .args(["/usr/local/bin/todo-host", "up", "--listen", "127.0.0.1:0", "-f", "/app/spin.toml"])
        .env_clear()
        .env("TODO_DATA_DIR", "/data")
        .env("HOME", "/data")
        .env("TODO_JWT_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("todo-host listening on ") {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let base = rx.recv_timeout(Duration::from_secs(120));
    let result = async {
        let base = base.expect("the image's todo-host serves its app");
        assert_eq!(reqwest::get(format!("{base}/readyz")).await.unwrap().status(), 200);
        let created =
            client("alice").post(format!("{base}/api/todos")).json(&serde_json::json!({"title": "in the image"}));
        assert_eq!(created.send().await.unwrap().status(), 201);
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}
