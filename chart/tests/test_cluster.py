"""The chart on a real control plane (etcd, kube-apiserver) with the real
spin-operator: install with strict server-side field validation, what the
operator makes of our SpinApp, the same contract in deployment mode, the
contract run of todo-host with that Deployment's container, then upgrade,
rollback and uninstall. The tests run in file order: each goes on from the
state the one before left."""

import base64
import hashlib
import hmac
import json
import os
import pathlib
import subprocess
import time
import tomllib
import uuid

import pytest
import requests

from conftest import CHART, REPO, env, eventually, helm

SPINKUBE, DEPLOYMENT = "spinkube", "deployment"  # namespaces, one release "todo" in each
IMAGE = "registry.test/todo-host:contract"
# The application, which scripts/chart-test.sh pushed to a loopback registry:
# the SpinApp names it, so the Deployment's `-f` is one the host can pull.
REFERENCE = env("APP_REFERENCE")
FIRST = ["--set", f"image.repository={IMAGE.rsplit(':', 1)[0]}", "--set", "image.tag=contract",
         "--set", f"app.reference={REFERENCE}", "--set", "app.replicas=1", "--set", "monitoring.enabled=true"]


def install(api, namespace, *values):
    return helm("install", "todo", str(CHART), "--namespace", namespace, "--create-namespace", "--server-side=true",
                *FIRST, *values, kubeconfig=api.kubeconfig)


def operator_deployment(api, replicas=None):
    """The Deployment spin-operator made of SpinApp todo (with that many
    replicas, if given)."""
    def made():
        d = api.get(f"/apis/apps/v1/namespaces/{SPINKUBE}/deployments/todo")
        return d if d and (replicas is None or d["spec"].get("replicas") == replicas) else None
    return eventually(made, f"spin-operator's Deployment todo{f' with {replicas} replicas' if replicas else ''}")


def container(deployment):
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_install_with_strict_server_side_validation(api):
    out = install(api, SPINKUBE)
    assert "STATUS: deployed" in out.stdout, out.stdout
    spinapp = api.get(f"/apis/core.spinkube.dev/v1alpha1/namespaces/{SPINKUBE}/spinapps/todo")
    assert spinapp["spec"]["replicas"] == 1
    names = {o["metadata"]["name"] for o in api.items(f"/apis/dapr.io/v1alpha1/namespaces/{SPINKUBE}/components")}
    assert names == {"pubsub", "pubsub-replica", "statestore", "reminder-checker-cron", "secretstore"}
    assert len(api.items(f"/apis/dapr.io/v2alpha1/namespaces/{SPINKUBE}/subscriptions")) == 3
    assert api.get(f"/apis/monitoring.coreos.com/v1/namespaces/{SPINKUBE}/prometheusrules/todo")


def test_strict_validation_refuses_an_unknown_field(api, tmp_path):
    # The chart plus one object with a field no schema has: Helm 4 applies
    # server-side with strict field validation, so the install fails rather
    # than dropping the field (a copy of the chart: dapr/ resolved).
    import shutil
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart, ignore=shutil.ignore_patterns("tests"))
    (chart / "templates/unknown-field.yaml").write_text(
        "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata: {name: unknown-field}\n"
        "spec: {createDeployment: false, notAField: true}\n")
    bad = helm("install", "todo", str(chart), "--namespace", "bad", "--create-namespace", "--server-side=true",
               *FIRST, kubeconfig=api.kubeconfig, check=False)
    assert bad.returncode != 0, bad.stdout
    assert ".spec.notAField: field not declared in schema" in bad.stderr, bad.stderr
    helm("uninstall", "todo", "--namespace", "bad", kubeconfig=api.kubeconfig, check=False)


def test_the_operator_makes_our_deployment_service_and_mounts_our_runtime_config(api):
    deployment = operator_deployment(api)
    spinapp = api.get(f"/apis/core.spinkube.dev/v1alpha1/namespaces/{SPINKUBE}/spinapps/todo")
    assert deployment["metadata"]["ownerReferences"][0]["uid"] == spinapp["metadata"]["uid"]
    pod = deployment["spec"]["template"]
    c = container(deployment)
    assert c["image"] == IMAGE
    assert c["args"] == ["up", "--listen", "0.0.0.0:80", "-f", REFERENCE, "--runtime-config-file", "/runtime-config.toml"]
    env_ = {e["name"]: e for e in c["env"]}
    assert env_["SPIN_VARIABLE_JWT_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "todo-auth", "key": "jwt-secret"}
    assert env_["SPIN_VARIABLE_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "todo-auth", "key": "admin-token"}
    assert env_["SPIN_HTTP_LISTEN_ADDR"]["value"] == "0.0.0.0:80"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["readinessProbe"]["httpGet"]["port"] == 80
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    annotations = pod["metadata"]["annotations"]
    assert annotations["dapr.io/enabled"] == "true" and annotations["dapr.io/app-id"] == "todo"
    assert annotations["dapr.io/app-port"] == "3100" and annotations["dapr.io/config"] == "todo"
    assert annotations["dapr.io/sidecar-cpu-limit"] == "300m" and annotations["dapr.io/sidecar-memory-limit"] == "256Mi"
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "host"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["spin-runtime-config"]["secret"]["secretName"] == "todo-runtime-config"
    assert {"name": "spin-runtime-config", "mountPath": "/runtime-config.toml", "subPath": "runtime-config.toml",
            "readOnly": True} in c["volumeMounts"]
    assert {"name": "data", "mountPath": "/data"} in c["volumeMounts"]
    service = eventually(lambda: api.get(f"/api/v1/namespaces/{SPINKUBE}/services/todo"), "the operator's Service")
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, "http-app")]
    config = tomllib.loads(api.secret(SPINKUBE, "todo-runtime-config", "runtime-config.toml"))
    password = api.secret(SPINKUBE, "todo-runtime-config", "postgres-password")
    assert config["sql"]["url"] == f"postgres://todo:{password}@todo-postgresql.{SPINKUBE}.svc.cluster.local:5432/todo"
    assert config["pubsub"]["type"] == config["state"]["type"] == config["cron"]["type"] == "dapr"


def test_deployment_mode_runs_what_the_operator_runs(api):
    install(api, DEPLOYMENT, "--set", "mode=deployment")
    ours = container(api.get(f"/apis/apps/v1/namespaces/{DEPLOYMENT}/deployments/todo"))
    theirs = container(operator_deployment(api))
    # Both stored by the same API server, so defaulted alike; the names of
    # the namespaces differ only inside the Dapr environment annotation.
    for field in ("image", "args", "env", "resources", "readinessProbe", "livenessProbe", "volumeMounts"):
        key = (lambda x: json.dumps(x, sort_keys=True))
        got, want = ours[field], theirs[field]
        if isinstance(got, list):
            got, want = sorted(got, key=key), sorted(want, key=key)
        assert got == want, field
    ports = [(p["name"], p["containerPort"]) for p in ours["ports"]]
    assert ports == [(p["name"], p["containerPort"]) for p in theirs["ports"]] == [("http-app", 80)]
    assert ours["securityContext"]["readOnlyRootFilesystem"] is True, "the hardening only deployment mode can add"


def hs256(secret, user):
    """A JWT for `user`, signed as the host verifies them (HS256)."""
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": user, "exp": int(time.time()) + 3600}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


GIVEN_PORTS = set()


def free_port():
    """A loopback port nothing listens on, not handed out before, below
    Linux's ephemeral range (as scripts/services/common.sh picks them), so
    that no outgoing connection takes it before the server binds it."""
    import random
    import socket
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in GIVEN_PORTS:
            GIVEN_PORTS.add(port)
            return port


def resolve_env(api, namespace, entries):
    """The container's environment with each secretKeyRef read from its Secret."""
    resolved = {}
    for e in entries:
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        resolved[e["name"]] = api.secret(namespace, ref["name"], ref["key"]) if ref else e["value"]
    return resolved


# The image's own environment (scripts/image.sh sets it in the image's
# config; the container's env comes on top): the data volume /data is the
# host's --data-dir and HOME (the cache of pulled applications).
def image_environment(data_dir):
    return {"TODO_DATA_DIR": data_dir, "HOME": data_dir}


def test_the_host_runs_with_the_deployments_container_and_the_charts_runtime_config(api, tmp_path):
    c = container(operator_deployment(api))
    environment = resolve_env(api, SPINKUBE, c["env"])
    config = tomllib.loads(api.secret(SPINKUBE, "todo-runtime-config", "runtime-config.toml"))
    annotations = operator_deployment(api)["spec"]["template"]["metadata"]["annotations"]
    work = tmp_path  # the host's and daprd's logs stay there (pytest keeps the last runs')
    http_port, app_port, dapr_http = free_port(), free_port(), free_port()
    namespace = f"c{uuid.uuid4().hex[:10]}-"

    # The chart's runtime configuration, its servers swapped for the test's:
    # a fresh database on the test PostgreSQL, the test daprd.
    server = env("TODO_TEST_POSTGRES_URL")
    database = f"contract_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", server, "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {database}"], check=True)
    assert config["sql"]["type"] == "postgres"
    text = api.secret(SPINKUBE, "todo-runtime-config", "runtime-config.toml")
    text = text.replace(config["sql"]["url"], f"{server.rsplit('/', 1)[0]}/{database}")
    text = text.replace(config["dapr"]["http_url"], f"http://127.0.0.1:{dapr_http}")
    text = text.replace(config["dapr"]["app_listen"], f"127.0.0.1:{app_port}")
    (work / "runtime-config.toml").write_text(text)

    # The sidecar, as the annotations ask (app id, app port), on the dapr/
    # files with the local overlay (the chart's Dapr resources are those
    # files: test_static checks it).
    subprocess.run([str(REPO / "scripts/services/daprd.sh"), "local", str(work / "dapr")], check=True)
    sidecar_env = dict(os.environ, KAFKA_BROKERS=env("TODO_TEST_KAFKA"), REDIS_HOST=env("TODO_TEST_REDIS"),
                       NAMESPACE=namespace, POD_NAME="contract-0", TODO_REPLICA_INITIAL_OFFSET="oldest")
    assert annotations["dapr.io/app-port"] == config["dapr"]["app_listen"].rsplit(":", 1)[1]
    processes = []
    daprd = subprocess.Popen(
        [env("TODO_TEST_DAPRD"), "--app-id", annotations["dapr.io/app-id"], "--app-port", str(app_port),
         "--dapr-http-port", str(dapr_http), "--dapr-listen-addresses", "127.0.0.1",
         "--dapr-grpc-port", str(free_port()), "--dapr-internal-grpc-port", str(free_port()),
         "--dapr-internal-grpc-listen-address", "127.0.0.1", "--metrics-port", str(free_port()),
         "--metrics-listen-address", "127.0.0.1", "--resources-path", str(work / "dapr/resources"),
         "--log-level", "warn"],
        cwd=work / "dapr", env=sidecar_env, stdout=open(work / "daprd.log", "w"), stderr=subprocess.STDOUT)
    processes.append(daprd)
    try:
        run_the_contract(c, environment, work, http_port, processes)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def run_the_contract(c, environment, work, http_port, processes):
    """The host, started as the Deployment's container, against the sidecar
    started above: serves the Task API, and an event reaches a handler."""
    # The container's arguments, with the pod's address and path swapped
    # for the test's: the public address for a loopback port, the mounted
    # runtime configuration for the file above. `-f` stays: the
    # application's reference, pulled from the loopback registry.
    swap = {"0.0.0.0:80": f"127.0.0.1:{http_port}", "/runtime-config.toml": str(work / "runtime-config.toml")}
    args = [swap.get(a, a) for a in c["args"]]
    assert args[:2] == ["up", "--listen"] and swap.keys() <= set(c["args"]) and REFERENCE in args
    (work / "data").mkdir()
    environment = {**image_environment(str(work / "data")), **environment}
    # Nothing of ours leaks in (TODO_JWT_SECRET would stand in for the
    # chart's secret): the host sees PATH, the image's and the container's.
    host = subprocess.Popen([env("TODO_HOST"), *args], env={"PATH": os.environ["PATH"], "RUST_LOG": "info", **environment},
                            stdout=open(work / "host.log", "w"), stderr=subprocess.STDOUT)
    processes.append(host)
    base = f"http://127.0.0.1:{http_port}"
    def ready():
        assert host.poll() is None, f"todo-host exited: {(work / 'host.log').read_text()[-3000:]}"
        try:
            return requests.get(base + "/readyz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False
    eventually(ready, f"todo-host ready (logs in {work})", timeout=180)
    # The chart's JWT secret is the one in effect: the development
    # sign-in is off, and a token signed with the secret is accepted.
    assert requests.post(base + "/auth/dev/sign-in", json={"user_id": "x"}, timeout=5).status_code == 404
    assert requests.get(base + "/api/todos", timeout=5).status_code == 401
    auth = {"Authorization": f"Bearer {hs256(environment['SPIN_VARIABLE_JWT_SECRET'], 'carol')}"}
    res = requests.post(base + "/api/todos", headers=auth, timeout=10,
                        json={"title": "water the plants", "recurrence_pattern": {"frequency": "daily"}})
    assert res.status_code == 201, res.text
    task = res.json()
    res = requests.patch(base + f"/api/todos/{task['id']}/complete", headers=auth, json={}, timeout=10)
    assert res.status_code == 200 and res.json()["completed"] is True, res.text

    # The task.completed event went through the outbox, the sidecar and
    # Kafka to the recurring handler, which made the next occurrence.
    def next_occurrence():
        items = requests.get(base + "/api/todos?limit=100", headers=auth, timeout=10).json()["items"]
        return [t for t in items if t["parent_task_id"] == task["id"]]
    children = eventually(next_occurrence, "the recurring task's next occurrence", timeout=60)
    assert len(children) == 1 and children[0]["title"] == "water the plants"


def test_upgrade_scales_and_changes_a_value(api):
    secret_before = api.secret(SPINKUBE, "todo-auth", "jwt-secret")
    password_before = api.secret(SPINKUBE, "todo-runtime-config", "postgres-password")
    helm("upgrade", "todo", str(CHART), "--namespace", SPINKUBE, "--reuse-values", "--set", "app.replicas=2",
         "--set", "dapr.logLevel=debug", kubeconfig=api.kubeconfig)
    deployment = operator_deployment(api, replicas=2)
    eventually(lambda: operator_deployment(api)["spec"]["template"]["metadata"]["annotations"]["dapr.io/log-level"] == "debug",
               "the operator's Deployment with the sidecar's log level debug")
    assert deployment["spec"]["replicas"] == 2
    # Upgrades keep the generated secrets.
    assert api.secret(SPINKUBE, "todo-auth", "jwt-secret") == secret_before
    assert api.secret(SPINKUBE, "todo-runtime-config", "postgres-password") == password_before
    jobs = {j["metadata"]["name"] for j in api.items(f"/apis/batch/v1/namespaces/{SPINKUBE}/jobs")}
    assert "todo-topics-2" in jobs and "todo-topics-1" not in jobs, jobs


def test_rollback_restores_the_first_release(api):
    helm("rollback", "todo", "1", "--namespace", SPINKUBE, kubeconfig=api.kubeconfig)
    operator_deployment(api, replicas=1)
    eventually(lambda: operator_deployment(api)["spec"]["template"]["metadata"]["annotations"]["dapr.io/log-level"] == "info",
               "the operator's Deployment back to log level info")
    history = helm("history", "todo", "--namespace", SPINKUBE, "-o", "json", kubeconfig=api.kubeconfig).stdout
    assert [r["status"] for r in json.loads(history)] == ["superseded", "superseded", "deployed"]


def test_uninstall_removes_what_the_chart_made(api):
    uid = api.get(f"/apis/core.spinkube.dev/v1alpha1/namespaces/{SPINKUBE}/spinapps/todo")["metadata"]["uid"]
    for namespace in (SPINKUBE, DEPLOYMENT):
        helm("uninstall", "todo", "--namespace", namespace, kubeconfig=api.kubeconfig)
    for namespace in (SPINKUBE, DEPLOYMENT):
        for path in (f"/apis/core.spinkube.dev/v1alpha1/namespaces/{namespace}/spinapps",
                     f"/apis/core.spinkube.dev/v1alpha1/namespaces/{namespace}/spinappexecutors",
                     f"/apis/dapr.io/v1alpha1/namespaces/{namespace}/components",
                     f"/apis/dapr.io/v2alpha1/namespaces/{namespace}/subscriptions",
                     f"/apis/apps/v1/namespaces/{namespace}/statefulsets",
                     f"/apis/monitoring.coreos.com/v1/namespaces/{namespace}/prometheusrules"):
            assert api.items(path) == [], path
        secrets = {s["metadata"]["name"] for s in api.items(f"/api/v1/namespaces/{namespace}/secrets")}
        assert not secrets & {"todo-auth", "todo-runtime-config", "todo-redis"}, secrets
    assert api.get(f"/apis/apps/v1/namespaces/{DEPLOYMENT}/deployments/todo") is None
    # What spin-operator made belongs to the SpinApp: the garbage collector
    # (kube-controller-manager, not run here) deletes it with its owner.
    left = api.get(f"/apis/apps/v1/namespaces/{SPINKUBE}/deployments/todo")
    if left is not None:
        assert left["metadata"]["ownerReferences"][0]["uid"] == uid
