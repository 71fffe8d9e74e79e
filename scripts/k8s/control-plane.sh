#!/usr/bin/env bash
# A real Kubernetes control plane for the chart's tests: etcd and
# kube-apiserver (scripts/k8s/build.sh builds them), and optionally
# spin-operator against it, all on loopback ports, everything (keys,
# certificates, token, data) under DIR. No controller-manager, scheduler or
# kubelet: objects are stored and validated, controllers we run (the
# operator) act on them, no pod runs.
#   control-plane.sh start DIR      etcd + kube-apiserver; writes
#                                   DIR/kubeconfig, DIR/ca.crt, DIR/token,
#                                   DIR/env (API=https://127.0.0.1:PORT)
#   control-plane.sh operator DIR   spin-operator (webhooks off) against it,
#                                   after its CRDs (from its module) are in
#   control-plane.sh stop DIR       stop whatever of the above runs
set -euo pipefail
# shellcheck source=../services/common.sh
. "$(dirname "$0")/../services/common.sh"
build="$(cd "$(dirname "$0")" && pwd)/build.sh"

# api PATH [CURL ARGS...]: a request to the API server as the admin token.
api() {
    local path=$1; shift
    # shellcheck source=/dev/null
    . "$dir/env"
    # (a user agent of our own: the API server pretty-prints JSON for curl's)
    curl -sS --fail-with-body -A control-plane.sh --cacert "$dir/ca.crt" -H "Authorization: Bearer $(cat "$dir/token")" "$@" "$API$path"
}

# A CA, the API server's certificate for 127.0.0.1, the service-account
# signing key, and a token with the system:masters group (AlwaysAllow
# authorizes everything anyway; the group keeps Helm's checks happy).
credentials() {
    local d=$dir/pki
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=todo-test-ca \
        -keyout "$d/ca.key" -out "$dir/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
        -keyout "$d/apiserver.key" -out "$d/apiserver.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/san.ext"
    openssl x509 -req -days 2 -in "$d/apiserver.csr" -CA "$dir/ca.crt" -CAkey "$d/ca.key" \
        -CAcreateserial -extfile "$d/san.ext" -out "$d/apiserver.crt" 2>/dev/null
    openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
    openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
    openssl rand -hex 24 >"$dir/token"
    echo "$(cat "$dir/token"),admin,admin,system:masters" >"$d/tokens.csv"
    chmod 600 "$d"/*.key "$d/tokens.csv" "$dir/token"
}

start() {
    build_install etcd kube-apiserver
    mkdir -p "$dir"
    credentials
    local etcd_port etcd_peer api_port
    etcd_port=$(free_port); etcd_peer=$(free_port); api_port=$(free_port)
    # fsync off: the store is thrown away with DIR.
    "$("$build" path etcd)" --name test --data-dir "$dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
        --initial-cluster "test=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync --log-level warn \
        >"$dir/etcd.log" 2>&1 &
    echo $! >"$dir/etcd.pid"
    wait_for 30 "etcd on 127.0.0.1:$etcd_port (see $dir/etcd.log)" curl -sf "http://127.0.0.1:$etcd_port/health"
    "$("$build" path kube-apiserver)" \
        --etcd-servers "http://127.0.0.1:$etcd_port" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
        --cert-dir "$dir/pki" --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
        --token-auth-file "$dir/pki/tokens.csv" --authorization-mode AlwaysAllow \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
        --service-cluster-ip-range 10.96.0.0/24 --profiling=false \
        >"$dir/kube-apiserver.log" 2>&1 &
    echo $! >"$dir/kube-apiserver.pid"
    echo "API=https://127.0.0.1:$api_port" >"$dir/env"
    cat >"$dir/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: "$dir/ca.crt"}
users:
  - name: admin
    user: {tokenFile: "$dir/token"}
contexts:
  - name: test
    context: {cluster: test, user: admin}
current-context: test
KUBECONFIG
    chmod 600 "$dir/kubeconfig"
    # Ready: every post-start hook has run (the default namespace exists, ...).
    wait_for 90 "kube-apiserver on 127.0.0.1:$api_port (see $dir/kube-apiserver.log)" api /readyz
    wait_for 30 "the default namespace" api /api/v1/namespaces/default
}

# apply_crds FILE...: create each CustomResourceDefinition (one a file, as
# spin-operator's and Dapr's are; the API server takes YAML) and wait until
# it is established, i.e. served.
apply_crds() {
    local file name
    for file; do
        name=$(api /apis/apiextensions.k8s.io/v1/customresourcedefinitions -X POST \
            -H 'content-type: application/yaml' --data-binary "@$file" |
            grep -o '"name":"[^"]*"' | head -1 | cut -d'"' -f4) || die "creating the CRD of $file failed"
        wait_for 30 "CRD $name established" crd_established "$name"
    done
}
crd_established() {
    api "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$1" | grep -q '"type":"Established","status":"True"'
}

operator() {
    build_install spin-operator
    local crds metrics probe
    crds="$("$build" module-dir "github.com/spinkube/spin-operator@$SPIN_OPERATOR_VERSION")/config/crd/bases"
    apply_crds "$crds"/core.spinkube.dev_spinapps.yaml "$crds"/core.spinkube.dev_spinappexecutors.yaml
    metrics=$(free_port); probe=$(free_port)
    KUBECONFIG="$dir/kubeconfig" "$("$build" path spin-operator)" --enable-webhooks=false --leader-elect=false \
        --metrics-bind-address "127.0.0.1:$metrics" --metrics-secure=false \
        --health-probe-bind-address "127.0.0.1:$probe" >"$dir/spin-operator.log" 2>&1 &
    echo $! >"$dir/spin-operator.pid"
    wait_for 60 "spin-operator (see $dir/spin-operator.log)" curl -sf "http://127.0.0.1:$probe/readyz"
}

build_install() { "$build" install "$@"; }

stop() {
    stop_pid "$dir/spin-operator.pid"
    stop_pid "$dir/kube-apiserver.pid"
    stop_pid "$dir/etcd.pid"
}

[ $# -ge 2 ] || die "usage: $0 start DIR | operator DIR | crds DIR FILE... | stop DIR"
cmd=$1 dir=$2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
shift 2
case $cmd in
    start) [ $# = 0 ] || die "usage: $0 start DIR"; start ;;
    operator) operator ;;
    crds) apply_crds "$@" ;;
    stop) stop ;;
    *) die "usage: $0 start DIR | operator DIR | crds DIR FILE... | stop DIR" ;;
esac
