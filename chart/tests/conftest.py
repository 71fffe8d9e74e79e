"""What the chart's tests share: the tools scripts/chart-test.sh built (Helm 4
and 3), rendering the chart, the schemas (Kubernetes' from PyPI's
kubernetes-validate; the CRDs' from spin-operator's, Dapr's and the
Prometheus Operator's module zips), and the real API server's REST API.

scripts/chart-test.sh sets the environment: HELM, HELM3, KUBE_VERSION,
CRD_DIRS (colon-separated directories of CRD files), and for the cluster
tests CONTROL_PLANE (the directory control-plane.sh started), TODO_HOST and
the TODO_TEST_* servers of the contract run.
"""

import base64
import copy
import functools
import json
import os
import pathlib
import subprocess
import time

import jsonschema
import kubernetes_validate
import pytest
import requests
import yaml

# YAML 1.1 makes a bare "=" a "value" node, which PyYAML cannot load; the
# Prometheus Operator's CRDs have one (an enum of label matchers).
yaml.SafeLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "chart"


def env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the chart's tests through scripts/chart-test.sh")
    return value


def helm(*args, binary="HELM", check=True, kubeconfig=None):
    """Runs Helm; returns the CompletedProcess (stdout, stderr as text)."""
    environment = dict(os.environ, HELM_CACHE_HOME="/tmp/helm-cache", HELM_CONFIG_HOME="/tmp/helm-config",
                       HELM_DATA_HOME="/tmp/helm-data")
    if kubeconfig:
        environment["KUBECONFIG"] = kubeconfig
    out = subprocess.run([env(binary), *args], capture_output=True, text=True, env=environment, timeout=300)
    if check and out.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({out.returncode}):\n{out.stderr}\n{out.stdout}")
    return out


def kube_version():
    return env("KUBE_VERSION")


def render(*args, namespace="todo", binary="HELM"):
    """`helm template` of the chart with these value arguments: the objects."""
    out = helm("template", "todo", str(CHART), "--namespace", namespace, "--kube-version", kube_version(), *args,
               binary=binary)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return found


def one(objects, kind, name=None):
    found = by_kind(objects, kind, name)
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in {[(o['kind'], o['metadata']['name']) for o in objects]}"
    return found[0]


# ---- schemas ----

def strict_schema(schema):
    """A CRD's openAPIV3Schema as a JSON schema that rejects unknown fields,
    as the API server does with strict field validation: an object with
    properties gets additionalProperties false, unless the CRD keeps unknown
    fields there (x-kubernetes-preserve-unknown-fields) or says what extra
    properties may be; OpenAPI's int-or-string and nullable are spelt out."""
    if not isinstance(schema, dict):
        return schema
    s = copy.deepcopy(schema)
    if s.pop("x-kubernetes-int-or-string", False):
        s.pop("type", None)
        s = {"anyOf": [{"type": "integer"}, {"type": "string"}], **{k: v for k, v in s.items() if k != "anyOf"}}
    if s.pop("nullable", False) and "type" in s:
        s["type"] = [s["type"], "null"]
    for key in ("properties", "patternProperties"):
        if key in s:
            s[key] = {k: strict_schema(v) for k, v in s[key].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(s.get(key), dict):
            s[key] = strict_schema(s[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in s:
            s[key] = [strict_schema(v) for v in s[key]]
    preserve = s.pop("x-kubernetes-preserve-unknown-fields", False)
    if s.pop("x-kubernetes-embedded-resource", False):
        s.setdefault("properties", {}).update(
            {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}})
    if "properties" in s and "additionalProperties" not in s and not preserve:
        s["additionalProperties"] = False
    return s


@functools.cache
def crd_schemas():
    """(apiVersion, kind) -> the strict JSON schema of that served version."""
    schemas = {}
    for directory in env("CRD_DIRS").split(":"):
        for path in sorted(pathlib.Path(directory).glob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text()):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
                for version in crd["spec"]["versions"]:
                    if version.get("served"):
                        schema = strict_schema(version["schema"]["openAPIV3Schema"])
                        # ObjectMeta is the API server's to check, not the CRD's.
                        schema["properties"]["metadata"] = {"type": "object"}
                        schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def validate(obj):
    """Fails on an object its schema refuses: built-in kinds by Kubernetes'
    own (strict) schemas of KUBE_VERSION, custom resources by their CRD's."""
    group = obj["apiVersion"].rpartition("/")[0]
    if "." in group and not group.endswith(".k8s.io"):
        schema = crd_schemas().get((obj["apiVersion"], obj["kind"]))
        assert schema, f"no CRD for {obj['apiVersion']} {obj['kind']} in CRD_DIRS"
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
        assert not errors, f"{obj['kind']} {obj['metadata']['name']}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
        return
    try:
        kubernetes_validate.validate(obj, kube_version(), strict=True)
    except kubernetes_validate.ValidationError as e:
        pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {'/'.join(map(str, e.path))}: {e.message}")


# ---- the API server ----

class Api:
    """The control plane's REST API, as the admin token (no kubectl here)."""

    def __init__(self, directory):
        self.dir = pathlib.Path(directory)
        self.base = dict(line.split("=", 1) for line in (self.dir / "env").read_text().split())["API"]
        self.session = requests.Session()
        self.session.trust_env = False  # our CA, whatever REQUESTS_CA_BUNDLE says; no proxy
        self.session.verify = str(self.dir / "ca.crt")
        self.session.headers["Authorization"] = f"Bearer {(self.dir / 'token').read_text().strip()}"
        self.kubeconfig = str(self.dir / "kubeconfig")

    def get(self, path):
        """The object at path, or None when there is none (404)."""
        res = self.session.get(self.base + path, timeout=30)
        if res.status_code == 404:
            return None
        res.raise_for_status()
        return res.json()

    def items(self, path):
        return self.get(path)["items"]

    def secret(self, namespace, name, key):
        data = self.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        assert data, f"no Secret {namespace}/{name}"
        return base64.b64decode(data["data"][key]).decode()

    def create_namespace(self, name):
        res = self.session.post(self.base + "/api/v1/namespaces", timeout=30,
                                json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        assert res.status_code in (201, 409), res.text


def eventually(check, what, timeout=30.0):
    """Polls check() until it returns something truthy; fails after timeout
    naming what was awaited (and what check last returned)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {json.dumps(last, default=str)[:500]})")


@pytest.fixture(scope="session")
def api():
    return Api(env("CONTROL_PLANE"))
