#!/usr/bin/env bash
# The Kubernetes tools the chart's tests run, built from source through the
# Go module proxy (no registry here ships their binaries) at the versions
# pinned in scripts/services/versions.env, into the cache outside the clone.
# One Go build at a time: kube-apiserver alone peaks at 2.2 GB and takes
# both cores for minutes.
#   build.sh install NAME...  build NAME (etcd, kube-apiserver, spin-operator,
#                             helm, helm3) if missing or if its wrapper
#                             module changed; `all` for every one
#   build.sh path NAME        print NAME's binary
# Cold builds measured on 2 cores (empty Go caches, modules downloaded
# meanwhile): see chart/README.md ("What the tests take").
set -euo pipefail
# shellcheck source=../services/common.sh
. "$(dirname "$0")/../services/common.sh"

k8s="$(cd "$(dirname "$0")" && pwd)"

# The binary of each tool, in a directory named by its version.
path() {
    case $1 in
        etcd) echo "$CACHE/etcd-$ETCD_VERSION/etcd" ;;
        kube-apiserver) echo "$CACHE/kubernetes-$KUBERNETES_VERSION/kube-apiserver" ;;
        spin-operator) echo "$CACHE/spin-operator-$SPIN_OPERATOR_VERSION/spin-operator" ;;
        helm) echo "$CACHE/helm-$HELM_VERSION/helm" ;;
        helm3) echo "$CACHE/helm-$HELM3_VERSION/helm" ;;
        *) die "unknown tool $1 (etcd, kube-apiserver, spin-operator, helm, helm3)" ;;
    esac
}

# What a binary is built from: a wrapper module's files, or the module
# path and version `go install` takes. A change rebuilds.
recipe() {
    case $1 in
        etcd) cat "$k8s/etcd"/go.* "$k8s/etcd"/*.go ;;
        kube-apiserver) cat "$k8s/kubernetes"/go.* "$k8s/kubernetes/kube-apiserver"/*.go ;;
        spin-operator) cat "$k8s/spin-operator"/go.* ;;
        helm) echo "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" ;;
        helm3) echo "helm.sh/helm/v3/cmd/helm@$HELM3_VERSION" ;;
    esac | sha256sum | cut -d' ' -f1
}

# wrapper_build DIR PKG OUT [LDFLAGS]: build PKG inside the wrapper module
# DIR (whose go.mod repeats the replace directives), checking first that
# DIR/go.mod requires the version versions.env pins.
wrapper_build() {
    local dir=$1 pkg=$2 out=$3 ldflags=${4:-}
    (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out" "$pkg")
}

# gobin_install MODULE@VERSION OUT: `go install` into a scratch GOBIN (the
# binary is named after the package's last path element), then move it.
gobin_install() {
    local target=$1 out=$2 ldflags=${3:-} bin
    bin=$(mktemp -d)
    GOBIN=$bin go install -trimpath -ldflags "-s -w $ldflags" "$target"
    mv "$bin"/* "$out"
    rmdir "$bin"
}

install_one() {
    local name=$1 bin
    bin=$(path "$name")
    [ -x "$bin" ] && [ "$(cat "$bin.source" 2>/dev/null)" = "$(recipe "$name")" ] && return 0
    command -v go >/dev/null || die "go not found (Go >= 1.26 builds these)"
    # The same module and build caches as daprd (scripts/services/daprd.sh):
    # shared downloads, one `rm -rf` of the cache root clears everything.
    # GOTOOLCHAIN=local: never try to download another Go (etcd's go.mod
    # suggests a newer patch release). CGO off: static binaries.
    export GOMODCACHE="$CACHE/go-mod" GOCACHE="$CACHE/go-build" CGO_ENABLED=0 GOTOOLCHAIN=local
    export GOFLAGS="-modcacherw -buildvcs=false"
    mkdir -p "$(dirname "$bin")"
    echo "build.sh: building $name (cached under $(dirname "$bin") afterwards)" >&2
    local started=$SECONDS
    case $name in
        etcd)
            grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION\$" "$k8s/etcd/go.mod" ||
                die "scripts/k8s/etcd/go.mod does not require etcd $ETCD_VERSION (versions.env)"
            GOFLAGS="$GOFLAGS -mod=readonly" wrapper_build "$k8s/etcd" . "$bin.tmp"
            ;;
        kube-apiserver)
            grep -q "k8s.io/kubernetes $KUBERNETES_VERSION\$" "$k8s/kubernetes/go.mod" ||
                die "scripts/k8s/kubernetes/go.mod does not require k8s.io/kubernetes $KUBERNETES_VERSION (versions.env)"
            # Without these the server reports v0.0.0-master+$Format:%H$,
            # which clients (Helm's kubeVersion checks among them) cannot parse.
            local v=$KUBERNETES_VERSION minor
            minor=$(echo "$v" | cut -d. -f2)
            GOFLAGS="$GOFLAGS -mod=readonly" wrapper_build "$k8s/kubernetes" ./kube-apiserver "$bin.tmp" \
                "-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$v"
            ;;
        spin-operator)
            grep -qE "github.com/spinkube/spin-operator $SPIN_OPERATOR_VERSION( |\$)" "$k8s/spin-operator/go.mod" ||
                die "scripts/k8s/spin-operator/go.mod does not require spin-operator $SPIN_OPERATOR_VERSION (versions.env)"
            GOFLAGS="$GOFLAGS -mod=readonly" wrapper_build "$k8s/spin-operator" github.com/spinkube/spin-operator/cmd "$bin.tmp"
            ;;
        helm) gobin_install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" "$bin.tmp" "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" ;;
        helm3) gobin_install "helm.sh/helm/v3/cmd/helm@$HELM3_VERSION" "$bin.tmp" "-X helm.sh/helm/v3/internal/version.version=$HELM3_VERSION" ;;
    esac || die "building $name failed"
    mv "$bin.tmp" "$bin"
    recipe "$name" >"$bin.source"
    echo "build.sh: built $name in $((SECONDS - started)) s" >&2
}

# module_dir MODULE@VERSION: where the module's files are (downloaded into
# the shared module cache if missing): the CRDs come from these zips.
module_dir() {
    GOMODCACHE="$CACHE/go-mod" GOFLAGS=-modcacherw GOTOOLCHAIN=local \
        go mod download -json "$1" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p'
}

case "${1:-}" in
    install)
        shift
        [ $# -gt 0 ] || die "usage: $0 install NAME... | all"
        [ "$1" != all ] || set -- etcd kube-apiserver spin-operator helm helm3
        for name; do install_one "$name"; done
        ;;
    path) [ $# = 2 ] || die "usage: $0 path NAME"; path "$2" ;;
    module-dir) [ $# = 2 ] || die "usage: $0 module-dir MODULE@VERSION"; module_dir "$2" ;;
    *) die "usage: $0 install NAME...|all | path NAME | module-dir MODULE@VERSION" ;;
esac
