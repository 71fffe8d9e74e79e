// Command daprd is the Dapr sidecar for the todo system's distributed
// backend: Dapr's own runtime, command line and HTTP/gRPC APIs, linked with
// only the components that backend uses, so that it builds in a fraction of
// the time of the stock daprd (which links every component Dapr ships).
//
// Built by scripts/services/daprd.sh at the Dapr version pinned in
// scripts/services/versions.env. Unlike the stock daprd it registers no name
// resolver (service invocation is not used; self-hosted mode would otherwise
// announce the app over mDNS) and does not restart its runtime on SIGHUP.
package main

import (
	"context"
	"fmt"
	"os"

	"go.opencensus.io/stats/view"

	"github.com/dapr/components-contrib/bindings/cron"
	"github.com/dapr/components-contrib/pubsub/kafka"
	k8ssecrets "github.com/dapr/components-contrib/secretstores/kubernetes"
	filesecrets "github.com/dapr/components-contrib/secretstores/local/file"
	"github.com/dapr/components-contrib/state/redis"
	"github.com/dapr/dapr/cmd/daprd/options"
	"github.com/dapr/dapr/pkg/buildinfo"
	bindingsreg "github.com/dapr/dapr/pkg/components/bindings"
	pubsubreg "github.com/dapr/dapr/pkg/components/pubsub"
	secretsreg "github.com/dapr/dapr/pkg/components/secretstores"
	statereg "github.com/dapr/dapr/pkg/components/state"
	"github.com/dapr/dapr/pkg/healthz"
	"github.com/dapr/dapr/pkg/metrics"
	"github.com/dapr/dapr/pkg/modes"
	"github.com/dapr/dapr/pkg/runtime"
	"github.com/dapr/dapr/pkg/runtime/registry"
	"github.com/dapr/dapr/pkg/security"
	"github.com/dapr/kit/concurrency"
	"github.com/dapr/kit/logger"
	"github.com/dapr/kit/signals"
)

var log = logger.NewLogger("dapr.runtime")

// The component types a resources file may name (spec.type "<kind>.<name>").
func registerComponents() {
	contrib := logger.NewLogger("dapr.contrib")
	pubsubreg.DefaultRegistry.Logger = contrib
	statereg.DefaultRegistry.Logger = contrib
	bindingsreg.DefaultRegistry.Logger = contrib
	secretsreg.DefaultRegistry.Logger = contrib

	pubsubreg.DefaultRegistry.RegisterComponent(kafka.NewKafka, "kafka")                            // pubsub.kafka
	statereg.DefaultRegistry.RegisterComponent(redis.NewRedisStateStore, "redis")                   // state.redis
	bindingsreg.DefaultRegistry.RegisterInputBinding(cron.NewCron, "cron")                          // bindings.cron
	secretsreg.DefaultRegistry.RegisterComponent(k8ssecrets.NewKubernetesSecretStore, "kubernetes") // secretstores.kubernetes
	secretsreg.DefaultRegistry.RegisterComponent(filesecrets.NewLocalSecretStore, "local.file")     // secretstores.local.file (local overlay)
}

func main() {
	opts, err := options.New(os.Args[1:])
	if err != nil {
		log.Fatalf("invalid arguments: %v", err)
	}
	switch {
	case opts.RuntimeVersion:
		fmt.Println(buildinfo.Version())
		return
	case opts.BuildInfo:
		fmt.Printf("Version: %s\nComponents: pubsub.kafka state.redis bindings.cron secretstores.kubernetes secretstores.local.file\n", buildinfo.Version())
		return
	case opts.WaitCommand:
		runtime.WaitUntilDaprOutboundReady(opts.DaprHTTPPort)
		return
	}

	opts.Logger.SetAppID(opts.AppID)
	if err := logger.ApplyOptionsToLoggers(&opts.Logger); err != nil {
		log.Fatal(err)
	}
	registerComponents()
	log.Infof("Starting Dapr Runtime (todo-system build) -- version %s", buildinfo.Version())

	// SIGINT/SIGTERM cancel ctx; the runtime then shuts down gracefully.
	if err := serve(signals.Context(), opts); err != nil {
		log.Fatalf("runtime failed: %v", err)
	}
	log.Info("Daprd shutdown gracefully")
}

// serve runs the security provider (mTLS certificates, a no-op without
// Sentry) and the Dapr runtime built from the parsed flags until ctx ends.
func serve(ctx context.Context, o *options.Options) error {
	health := healthz.New()
	sec, err := security.New(ctx, security.Options{
		SentryAddress:           o.SentryAddress,
		ControlPlaneTrustDomain: o.ControlPlaneTrustDomain,
		ControlPlaneNamespace:   o.ControlPlaneNamespace,
		TrustAnchors:            o.TrustAnchors,
		AppID:                   o.AppID,
		MTLSEnabled:             o.EnableMTLS,
		Mode:                    modes.DaprMode(o.Mode),
		Healthz:                 health,
		JwtAudiences:            o.SentryRequestJwtAudiences,
	})
	if err != nil {
		return err
	}

	runDapr := func(ctx context.Context) error {
		handler, err := sec.Handler(ctx)
		if err != nil {
			return err
		}
		cfg := runtimeConfig(o)
		cfg.Registry = registry.NewOptions() // the default registries filled above
		cfg.Security = handler
		cfg.Healthz = health
		cfg.Metrics = metrics.Options{
			Enabled:       o.Metrics.Enabled(),
			Log:           log,
			Port:          o.Metrics.Port(),
			Namespace:     metrics.DefaultMetricNamespace,
			Healthz:       health,
			ListenAddress: o.Metrics.ListenAddress(),
			Meter:         view.NewMeter(),
		}
		rt, err := runtime.FromConfig(ctx, cfg)
		if err != nil {
			return err
		}
		return rt.Run(ctx)
	}
	return concurrency.NewRunnerManager(sec.Run, runDapr).Run(ctx)
}

// runtimeConfig carries every daprd flag over to the runtime, so that this
// binary takes the same command line as the stock daprd.
func runtimeConfig(o *options.Options) *runtime.Config {
	return &runtime.Config{
		AppID:                         o.AppID,
		ControlPlaneAddress:           o.ControlPlaneAddress,
		SentryAddress:                 o.SentryAddress,
		AllowedOrigins:                o.AllowedOrigins,
		EnableProfiling:               o.EnableProfiling,
		AppMaxConcurrency:             o.AppMaxConcurrency,
		EnableMTLS:                    o.EnableMTLS,
		AppSSL:                        o.AppSSL,
		MaxRequestSize:                o.MaxRequestSize,
		ResourcesPath:                 o.ResourcesPath,
		ComponentsPath:                o.ComponentsPath,
		AppProtocol:                   o.AppProtocol,
		EnableAPILogging:              o.EnableAPILogging,
		DaprHTTPPort:                  o.DaprHTTPPort,
		DaprAPIGRPCPort:               o.DaprAPIGRPCPort,
		ProfilePort:                   o.ProfilePort,
		DaprInternalGRPCPort:          o.DaprInternalGRPCPort,
		DaprInternalGRPCListenAddress: o.DaprInternalGRPCListenAddress,
		DaprPublicPort:                o.DaprPublicPort,
		DaprPublicListenAddress:       o.DaprPublicListenAddress,
		ApplicationPort:               o.AppPort,
		DaprGracefulShutdownSeconds:   o.DaprGracefulShutdownSeconds,
		DaprBlockShutdownDuration:     o.DaprBlockShutdownDuration,
		ActorsService:                 o.ActorsService,
		ActorsDisseminationTimeout:    o.ActorsDisseminationTimeout,
		RemindersService:              o.RemindersService,
		SchedulerAddress:              o.SchedulerAddress,
		SchedulerStreams:              o.SchedulerJobStreams,
		DaprAPIListenAddresses:        o.DaprAPIListenAddresses,
		AppHealthProbeInterval:        o.AppHealthProbeInterval,
		AppHealthProbeTimeout:         o.AppHealthProbeTimeout,
		AppHealthThreshold:            o.AppHealthThreshold,
		EnableAppHealthCheck:          o.EnableAppHealthCheck,
		Mode:                          o.Mode,
		Config:                        o.Config,
		UnixDomainSocket:              o.UnixDomainSocket,
		ReadBufferSize:                o.ReadBufferSize,
		DisableBuiltinK8sSecretStore:  o.DisableBuiltinK8sSecretStore,
		AppHealthCheckPath:            o.AppHealthCheckPath,
		AppChannelAddress:             o.AppChannelAddress,
		DisableInitEndpoints:          o.DisableInitEndpoints,
		HotReloadReconcileInterval:    o.HotReloadReconcileInterval,
	}
}
