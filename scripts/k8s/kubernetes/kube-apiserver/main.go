// Command kube-apiserver is Kubernetes' API server, as its own main package
// builds it (k8s.io/kubernetes/cmd/kube-apiserver), from our wrapper module:
// `go install k8s.io/kubernetes/cmd/kube-apiserver@v` refuses a module with
// replace directives.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics on /metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // the version metric
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
