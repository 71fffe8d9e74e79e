// Command etcd is etcd's server (what go.etcd.io/etcd's own main runs),
// built from our wrapper module because etcd's go.mod has replace directives.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
