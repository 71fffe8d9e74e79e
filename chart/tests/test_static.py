"""The chart without a cluster: lint, render, schemas, and what the rendered
objects must say (the host's contract, Dapr's files, the topics, the
monitoring, the hardening)."""

import json
import pathlib
import re

import pytest
import yaml

from conftest import CHART, REPO, by_kind, helm, one, render, validate

# The value sets the chart is rendered and linted with.
SCENARIOS = {
    "spinkube": [],
    "deployment": ["--set", "mode=deployment"],
    "minimal": ["-f", str(CHART / "values-minimal.yaml")],
    "external": ["-f", str(CHART / "tests/values-external.yaml")],
    "everything": ["-f", str(CHART / "tests/values-everything.yaml")],
    "everything-deployment": ["-f", str(CHART / "tests/values-everything.yaml"), "-f",
                              str(CHART / "tests/values-external.yaml"), "--set", "mode=deployment"],
}


@pytest.mark.parametrize("binary", ["HELM", "HELM3"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_strict(scenario, binary):
    out = helm("lint", "--strict", str(CHART), "--kube-version", "1.36.0", *SCENARIOS[scenario], binary=binary)
    assert "0 chart(s) failed" in out.stdout, out.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_object_fits_its_schema(scenario):
    objects = render(*SCENARIOS[scenario])
    assert len(objects) > 10
    for obj in objects:
        validate(obj)


@pytest.mark.parametrize("kind, path", [
    ("SpinApp", ["spec", "checks", "readiness", "httpGet"]),   # a CRD's nested object
    ("Component", ["spec", "metadata", 0]),                    # Dapr's
    ("StatefulSet", ["spec", "template", "spec", "containers", 0]),  # a built-in kind
])
def test_the_schemas_refuse_an_unknown_field(kind, path):
    obj = by_kind(render(), kind)[0]
    target = obj
    for key in path:
        target = target[key]
    target["notAField"] = True
    with pytest.raises((AssertionError, pytest.fail.Exception), match="notAField"):
        validate(obj)


def test_helm_3_renders_what_helm_4_does():
    def stable(objects):
        # Random passwords differ between renders: compare everything else.
        for o in objects:
            if o["kind"] == "Secret":
                o["data"] = sorted(o["data"])
        return objects

    for scenario in ("spinkube", "external"):
        assert stable(render(*SCENARIOS[scenario], binary="HELM3")) == stable(render(*SCENARIOS[scenario]))


@pytest.mark.parametrize("values, message", [
    (["--set", "mode=kube"], "mode"),
    (["--set", "app.replicas=two"], "replicas"),
    (["--set", "app.replica=2"], "replica"),
    (["--set", "dapr.sidecar.cpuLimit=lots"], "cpuLimit"),
    (["--set", "kafka.redpanda.enabled=false"], "kafka.external.brokers is required"),
    (["--set", "ingress.sse.readTimeoutSeconds=0"], "readTimeoutSeconds"),
])
def test_a_wrong_value_fails_with_a_message(values, message):
    out = helm("template", "todo", str(CHART), *values, check=False)
    assert out.returncode != 0, out.stdout[:300]
    assert message in out.stderr, out.stderr


def dapr_file_docs():
    """Every resource of the repo's dapr/ files (the local overlay aside)."""
    docs = []
    for path in sorted((REPO / "dapr/components").glob("*.yaml")) + [
            REPO / "dapr" / n for n in ("subscriptions.yaml", "resiliency.yaml", "config.yaml")]:
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_the_dapr_resources_are_the_repos_dapr_files():
    assert (CHART / "dapr").resolve() == (REPO / "dapr").resolve(), "chart/dapr must link to the repo's dapr/"
    rendered = [o for o in render() if o["apiVersion"].startswith("dapr.io/")]
    expected = dapr_file_docs()
    assert len(rendered) == len(expected) >= 9
    for want in expected:
        got = one(rendered, want["kind"], want["metadata"]["name"])
        assert got["apiVersion"] == want["apiVersion"]
        if want["kind"] == "Configuration":
            # The two fields Dapr's CRD requires, which the file lacks.
            assert got["spec"]["mtls"].pop("controlPlaneTrustDomain") == "cluster.local"
            assert got["spec"]["mtls"].pop("sentryAddress") == "dapr-sentry.dapr-system.svc.cluster.local:443"
        if want["kind"] == "Component" and "metadata" not in want["spec"]:
            assert got["spec"].pop("metadata") == [], "Dapr's CRD requires the list"
        got = {k: v for k, v in got.items() if k != "metadata"}
        assert got == {k: v for k, v in want.items() if k != "metadata"}, want["metadata"]["name"]
    kinds = {(o["kind"], o["apiVersion"]) for o in rendered}
    assert {("Subscription", "dapr.io/v2alpha1"), ("Configuration", "dapr.io/v1alpha1"),
            ("Resiliency", "dapr.io/v1alpha1"), ("Component", "dapr.io/v1alpha1")} <= kinds
    assert all(s["spec"]["deadLetterTopic"] for s in by_kind(rendered, "Subscription"))


def test_external_dependencies_change_only_what_they_must():
    rendered = {(o["kind"], o["metadata"]["name"]): o for o in render(*SCENARIOS["external"])
                if o["apiVersion"].startswith("dapr.io/")}
    for want in dapr_file_docs():
        got = rendered[(want["kind"], want["metadata"]["name"])]
        if want.get("spec", {}).get("type") == "pubsub.kafka":
            meta = {m["name"]: m for m in got["spec"]["metadata"]}
            assert meta["authType"]["value"] == "password" and meta["disableTls"]["value"] == "false"
            assert meta["saslMechanism"]["value"] == "SHA-256" and meta["saslUsername"]["value"] == "todo"
            assert meta["saslPassword"]["secretKeyRef"] == {"name": "redpanda-cloud", "key": "password"}
            assert got["auth"] == {"secretStore": "secretstore"}
            # Everything else as in the file.
            for m in want["spec"]["metadata"]:
                if m["name"] not in ("authType", "disableTls"):
                    assert meta[m["name"]] == m
        elif want.get("spec", {}).get("type") == "state.redis":
            meta = {m["name"]: m for m in got["spec"]["metadata"]}
            assert meta["redisPassword"]["secretKeyRef"] == {"name": "redis-external", "key": "secret"}
        elif want["kind"] != "Configuration" and "metadata" in want.get("spec", {}):
            assert {k: v for k, v in got.items() if k != "metadata"} == {k: v for k, v in want.items() if k != "metadata"}
    objects = render(*SCENARIOS["external"])
    assert not by_kind(objects, "StatefulSet"), "no in-chart dependency when all are external"
    annotations = one(objects, "SpinApp")["spec"]["podAnnotations"]
    assert annotations["dapr.io/env"] == (
        "KAFKA_BROKERS=seed-1.redpanda.example:9092,seed-2.redpanda.example:9092,REDIS_HOST=redis.example:6379")
    job = one(objects, "Job")["spec"]["template"]["spec"]["containers"][0]
    assert "tls.enabled=true" in job["args"][0] and "SCRAM-$SASL_MECHANISM" in job["args"][0]


SIDECAR_BUDGET = {"dapr.io/sidecar-cpu-request": "100m", "dapr.io/sidecar-cpu-limit": "300m",
                  "dapr.io/sidecar-memory-request": "128Mi", "dapr.io/sidecar-memory-limit": "256Mi"}


def dapr_annotations_ok(annotations, namespace="todo"):
    assert annotations["dapr.io/enabled"] == "true"
    assert annotations["dapr.io/app-id"] == "todo"
    assert annotations["dapr.io/app-port"] == "3100", "the host's Dapr app listener, not the public port"
    assert annotations["dapr.io/config"] == "todo"
    assert annotations["dapr.io/enable-metrics"] == "true"
    assert SIDECAR_BUDGET.items() <= annotations.items()
    assert annotations["dapr.io/env"] == (f"KAFKA_BROKERS=todo-redpanda.{namespace}.svc.cluster.local:9092,"
                                          f"REDIS_HOST=todo-redis.{namespace}.svc.cluster.local:6379")


def test_spinkube_mode_asks_the_operator_for_our_contract():
    objects = render()
    executor = one(objects, "SpinAppExecutor")
    assert executor["spec"] == {"createDeployment": True, "deploymentConfig": {"spinImage": "todo-host:0.1.0"}}
    app = one(objects, "SpinApp")["spec"]
    assert app["executor"] == "todo" and app["image"] == "registry.todo.svc.cluster.local:5000/todo:0.1.0"
    assert app["replicas"] == 2 and "enableAutoscaling" not in app and "components" not in app
    assert app["checks"]["readiness"]["httpGet"]["path"] == "/readyz"
    assert app["checks"]["liveness"]["httpGet"]["path"] == "/healthz"
    assert app["runtimeConfig"] == {"loadFromSecret": "todo-runtime-config"}
    assert app["variables"] == [
        {"name": "jwt_secret", "valueFrom": {"secretKeyRef": {"name": "todo-auth", "key": "jwt-secret"}}},
        {"name": "admin_token", "valueFrom": {"secretKeyRef": {"name": "todo-auth", "key": "admin-token"}}}]
    assert app["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    assert {"name": "data", "mountPath": "/data"} in app["volumeMounts"]
    dapr_annotations_ok(app["podAnnotations"])
    assert not by_kind(objects, "Deployment"), "the operator makes the Deployment"
    everything = one(render(*SCENARIOS["everything"]), "SpinApp")["spec"]
    assert everything["enableAutoscaling"] is True and "replicas" not in everything
    assert everything["components"] == ["task-api", "recurring-handler"]


def test_deployment_mode_runs_the_same_container_hardened():
    objects = render("--set", "mode=deployment")
    assert not by_kind(objects, "SpinApp") and not by_kind(objects, "SpinAppExecutor")
    pod = one(objects, "Deployment", "todo")["spec"]["template"]
    dapr_annotations_ok(pod["metadata"]["annotations"])
    container = pod["spec"]["containers"][0]
    assert container["image"] == "todo-host:0.1.0"
    assert container["args"] == ["up", "--listen", "0.0.0.0:80", "-f", "registry.todo.svc.cluster.local:5000/todo:0.1.0",
                                 "--runtime-config-file", "/runtime-config.toml"]
    env = {e["name"]: e for e in container["env"]}
    assert env["SPIN_VARIABLE_JWT_SECRET"]["valueFrom"] == {"secretKeyRef": {"name": "todo-auth", "key": "jwt-secret"}}
    assert env["SPIN_VARIABLE_ADMIN_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "todo-auth", "key": "admin-token"}}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    service = one(objects, "Service", "todo")
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http-app", "protocol": "TCP"}]


@pytest.mark.parametrize("scenario", ["deployment", "minimal"])
def test_every_container_is_hardened_and_budgeted(scenario):
    for obj in render(*SCENARIOS[scenario]):
        spec = obj.get("spec", {}).get("template", {}).get("spec")
        if not spec:
            continue
        assert spec["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        for c in spec["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
            assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}, c["name"]
            assert c["resources"]["requests"] and c["resources"]["limits"], c["name"]


def test_the_runtime_configuration_points_at_the_dependencies():
    import base64
    import tomllib
    secret = one(render(), "Secret", "todo-runtime-config")
    config = tomllib.loads(base64.b64decode(secret["data"]["runtime-config.toml"]).decode())
    password = base64.b64decode(secret["data"]["postgres-password"]).decode()
    assert config["sql"] == {"type": "postgres", "pool_size": 16,
                             "url": f"postgres://todo:{password}@todo-postgresql.todo.svc.cluster.local:5432/todo"}
    assert config["state"] == {"type": "dapr", "store": "statestore"}
    assert config["pubsub"] == {"type": "dapr", "component": "pubsub", "replica_component": "pubsub-replica"}
    assert config["cron"] == {"type": "dapr"}
    assert config["dapr"]["app_listen"] == "127.0.0.1:3100"


def test_the_topics_are_the_seeds_on_the_namespaced_names():
    kafka_sh = (REPO / "scripts/services/kafka.sh").read_text()
    seed = dict(spec.split(":") for spec in re.search(r'^seed_topics="([^"]+)"', kafka_sh, re.M).group(1).split())
    assert seed == {"task-events": "3", "reminders": "1", "task-updates": "3"}
    retention = re.search(r"^seed_retention_ms=(\d+)", kafka_sh, re.M).group(1)
    values = yaml.safe_load((CHART / "values.yaml").read_text())["kafka"]
    chart_topics = {t["name"]: str(t["partitions"]) for t in values["topics"]}
    assert seed.items() <= chart_topics.items(), "chart/values.yaml and kafka.sh disagree on the seed's topics"
    assert str(values["retentionMs"]) == retention == str(7 * 24 * 3600 * 1000)
    job = one(render(namespace="prod"), "Job")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in job["env"]}
    assert env["NAMESPACE"] == "prod", "Dapr names the topics <namespace><topic>"
    assert "task-events:3" in env["TOPICS"].split() and "reminders:1" in env["TOPICS"].split()


def test_the_ingress_is_safe_for_sse():
    ingress = one(render(), "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    paths = {p["path"]: p["backend"]["service"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {"/": {"name": "todo", "port": {"number": 80}}, "/api": {"name": "todo", "port": {"number": 80}}}


def registered_metrics():
    """The metric families host/src/metrics.rs registers, with their
    exposition suffixes."""
    source = (REPO / "host/src/metrics.rs").read_text()
    names = set()
    for name, kind in re.findall(r'registry\.register\(\s*"(\w+)",[^;]*?m\.(\w+)\.clone\(\)', source, re.S):
        names.add(f"todo_{name}")
    assert len(names) >= 10, names
    return names


def metric_names(expr):
    return set(re.findall(r"\btodo_\w+", expr))


def known(metric, registered):
    base = re.sub(r"_(total|bucket|sum|count)$", "", metric)
    return base in registered or metric in registered


def test_alerts_and_dashboard_use_metrics_the_host_exports():
    registered = registered_metrics()
    objects = render("--set", "monitoring.enabled=true")
    rules = one(objects, "PrometheusRule")["spec"]["groups"][0]["rules"]
    alerts = {r["alert"]: r for r in rules}
    assert set(alerts) == {"TodoConsumerLagHigh", "TodoEventsDeadLettered", "TodoReplicasNotReady", "TodoHttp5xxRate"}
    assert alerts["TodoConsumerLagHigh"]["expr"].endswith("> 10") and alerts["TodoConsumerLagHigh"]["labels"]["severity"] == "warning"
    assert alerts["TodoEventsDeadLettered"]["expr"].endswith("> 0") and alerts["TodoEventsDeadLettered"]["labels"]["severity"] == "critical"
    used = set()
    for r in rules:
        used |= metric_names(r["expr"])
    dashboard_map = one(objects, "ConfigMap", "todo-dashboard")
    assert dashboard_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(dashboard_map["data"]["todo.json"])
    titles = [p["title"] for p in dashboard["panels"]]
    for wanted in ("Pub/sub throughput", "Consumer lag", "Event-processing latency", "Open SSE streams", "Request latency"):
        assert any(t.startswith(wanted) for t in titles), titles
    for p in dashboard["panels"]:
        for t in p["targets"]:
            used |= metric_names(t["expr"])
    unknown = sorted(m for m in used if not known(m, registered))
    assert not unknown, f"not exported by host/src/metrics.rs: {unknown}"
    monitor = one(objects, "PodMonitor")["spec"]
    assert [e["port"] for e in monitor["podMetricsEndpoints"]] == ["http-app", "dapr-metrics"]
    assert monitor["podMetricsEndpoints"][0]["path"] == "/metrics"


def test_notes_say_how_to_reach_the_dashboard():
    out = helm("install", "todo", str(CHART), "--dry-run=client", "--namespace", "todo").stdout
    assert "http://todo.local/" in out and "jwt-secret" in out


def test_the_packaged_chart_carries_the_dapr_files_and_nothing_else_of_the_repo(tmp_path):
    import tarfile
    helm("package", str(CHART), "--destination", str(tmp_path))
    (archive,) = tmp_path.glob("todo-*.tgz")
    names = set(tarfile.open(archive).getnames())
    assert "todo/dapr/components/pubsub.yaml" in names and "todo/dapr/subscriptions.yaml" in names
    assert not [n for n in names if n.startswith(("todo/dapr/daprd", "todo/dapr/local", "todo/tests"))], sorted(names)
