#!/usr/bin/env bash
# The Helm chart's whole verification (chart/): lint and render it with
# Helm 4 and Helm 3, validate every object against Kubernetes' schemas and
# the CRDs', then install it on a real control plane (etcd, kube-apiserver)
# with the real spin-operator, check what the operator made, run todo-host
# with that Deployment's container against the test's servers, and upgrade,
# roll back and uninstall it. Ends with pytest's "N passed" line.
#
# Builds what it needs into ~/.cache/todo-system (scripts/k8s/build.sh;
# cold, about 12 minutes on 2 cores, see chart/README.md), and a Python
# virtualenv with chart/tests/requirements.txt.
#
# The contract run needs PostgreSQL, Redis, Kafka and daprd: given as
# TODO_TEST_POSTGRES_URL, TODO_TEST_REDIS, TODO_TEST_KAFKA, TODO_TEST_DAPRD
# (what scripts/test.sh passes its distributed tests), else started here
# with scripts/services/. TODO_HOST: the todo-host binary (default
# target/debug/todo-host, which scripts/test.sh has built; the components
# too), which pushes the application to a loopback registry
# (scripts/services/registry.sh): the chart's SpinApp names that reference.
# CHART_TEST_KEEP=1 keeps the temp dir (logs).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=services/common.sh
. scripts/services/common.sh

k8s=scripts/k8s
"$k8s/build.sh" install etcd kube-apiserver spin-operator helm helm3

# The Python side, in a virtualenv named by the requirements' hash.
venv="$CACHE/chart-venv-$(sha256sum chart/tests/requirements.txt | cut -c1-12)"
if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" || { apt_install python3-venv && python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q -r chart/tests/requirements.txt
    touch "$venv/.complete"
fi

tmp=$(mktemp -d)
chmod 755 "$tmp" # the postgres user must reach $tmp/pg
cleanup() {
    "$k8s/control-plane.sh" stop "$tmp/cp" || true
    scripts/services/registry.sh stop "$tmp/registry" || true
    if [ -n "${own_servers:-}" ]; then
        scripts/services/kafka.sh stop "$tmp/kafka" || true
        scripts/services/redis.sh stop "$tmp/redis" || true
        scripts/services/postgres.sh stop "$tmp/pg" || true
    fi
    if [ -z "${CHART_TEST_KEEP:-}" ]; then rm -rf "$tmp"; else echo "chart-test.sh: logs kept in $tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${TODO_TEST_KAFKA:-}" ]; then
    own_servers=1
    scripts/services/daprd.sh install
    pg_port=$(free_port) redis_port=$(free_port) kafka_port=$(free_port) kafka_cport=$(free_port)
    scripts/services/postgres.sh start "$tmp/pg" "$pg_port"
    scripts/services/redis.sh start "$tmp/redis" "$redis_port"
    scripts/services/kafka.sh start "$tmp/kafka" "$kafka_port" "$kafka_cport"
    TODO_TEST_DAPRD=$(scripts/services/daprd.sh path)
    export TODO_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/todo" \
        TODO_TEST_REDIS="127.0.0.1:$redis_port" TODO_TEST_KAFKA="127.0.0.1:$kafka_port" TODO_TEST_DAPRD
fi
export TODO_HOST="${TODO_HOST:-$PWD/target/debug/todo-host}"
[ -x "$TODO_HOST" ] || die "$TODO_HOST is missing (cargo build -p todo-host, and components/build.sh for each component)"

# The application, pushed as `todo-host registry push` does for a cluster.
registry_port=$(free_port)
scripts/services/registry.sh start "$tmp/registry" "$registry_port"
export APP_REFERENCE="127.0.0.1:$registry_port/todo:chart-test"
"$TODO_HOST" registry push "$APP_REFERENCE" -f spin.toml >"$tmp/push.log" 2>&1 ||
    { cat "$tmp/push.log" >&2; die "todo-host registry push failed"; }

# The CRDs, from the module zips of the versions the cluster would run.
spin_crds="$("$k8s/build.sh" module-dir "github.com/spinkube/spin-operator@$SPIN_OPERATOR_VERSION")/config/crd/bases"
dapr_crds="$("$k8s/build.sh" module-dir "github.com/dapr/dapr@$DAPR_VERSION")/charts/dapr/crds"
monitoring_crds="$("$k8s/build.sh" module-dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")/example/prometheus-operator-crd"

"$k8s/control-plane.sh" start "$tmp/cp"
"$k8s/control-plane.sh" crds "$tmp/cp" "$dapr_crds"/{components,configuration,resiliency,subscription}.yaml \
    "$monitoring_crds"/monitoring.coreos.com_{podmonitors,prometheusrules}.yaml
"$k8s/control-plane.sh" operator "$tmp/cp"

# Kubernetes' schemas of the minor version the control plane runs (a
# Minikube of that release ships it; kubernetes-validate has .0 schemas).
minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f1-2)
HELM=$("$k8s/build.sh" path helm) HELM3=$("$k8s/build.sh" path helm3)
export HELM HELM3 KUBE_VERSION="${minor#v}.0" CONTROL_PLANE="$tmp/cp" \
    CRD_DIRS="$spin_crds:$dapr_crds:$monitoring_crds"
status=0
(cd chart/tests && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider -q test_static.py test_cluster.py) || status=$?
[ "$status" = 0 ] || CHART_TEST_KEEP=1
exit "$status"
