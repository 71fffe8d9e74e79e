{{/* Names, labels and the pieces both modes share: one definition each. */}}

{{- define "todo.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "todo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The host's pods, in either mode (SpinKube copies podLabels onto them). */}}
{{- define "todo.hostSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: host
{{- end -}}

{{- define "todo.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* One Dapr resource file of dapr/ (the repo's, through the chart's
     symlink), parsed. */}}
{{- define "todo.daprFile" -}}
{{- $text := .ctx.Files.Get .path -}}
{{- if not $text -}}{{- fail (printf "chart/%s is missing: chart/dapr must link to the repo's dapr/" .path) -}}{{- end -}}
{{- $text -}}
{{- end -}}

{{- define "todo.daprName" -}}
{{- (include "todo.daprFile" (dict "ctx" .ctx "path" .path) | fromYaml).metadata.name -}}
{{- end -}}

{{/* The secrets: each names a Secret and its key. */}}
{{- define "todo.authSecret" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "todo.fullname" .)) -}}
{{- end -}}
{{- define "todo.runtimeConfigSecret" -}}
{{- printf "%s-runtime-config" (include "todo.fullname" .) -}}
{{- end -}}
{{/* The Redis password's Secret is the one dapr/components/statestore.yaml
     names, unless an external Redis brings its own. */}}
{{- define "todo.redisSecret" -}}
{{- if .Values.redis.enabled -}}
{{- (include "todo.daprFile" (dict "ctx" . "path" "dapr/components/statestore.yaml") | fromYaml).spec.metadata | include "todo.secretRefOf" -}}
{{- else -}}
{{- required "redis.external.existingSecret is required when redis.enabled is false" .Values.redis.external.existingSecret -}}
{{- end -}}
{{- end -}}
{{- define "todo.secretRefOf" -}}
{{- range . }}{{ if .secretKeyRef }}{{ .secretKeyRef.name }}{{ end }}{{ end -}}
{{- end -}}
{{- define "todo.redisSecretKey" -}}
{{- if .Values.redis.enabled -}}password{{- else -}}{{ .Values.redis.external.passwordKey }}{{- end -}}
{{- end -}}

{{/* secretValue: a Secret's value, base64 as in .data: the one already in
     the cluster (so upgrades keep passwords), else a new random one. */}}
{{- define "todo.secretValue" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .secret -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- randAlphaNum 32 | b64enc -}}
{{- end -}}
{{- end -}}

{{/* Where the dependencies are. */}}
{{- define "todo.kafkaBrokers" -}}
{{- if .Values.kafka.redpanda.enabled -}}
{{- printf "%s-redpanda.%s.svc.cluster.local:9092" (include "todo.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- required "kafka.external.brokers is required when kafka.redpanda.enabled is false" .Values.kafka.external.brokers -}}
{{- end -}}
{{- end -}}

{{- define "todo.redisHost" -}}
{{- if .Values.redis.enabled -}}
{{- printf "%s-redis.%s.svc.cluster.local:6379" (include "todo.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- required "redis.external.host is required when redis.enabled is false" .Values.redis.external.host -}}
{{- end -}}
{{- end -}}

{{/* The pod annotations Dapr's injector reads: the sidecar, its budget, and
     the environment the components' envRef entries name. */}}
{{- define "todo.daprAnnotations" -}}
dapr.io/enabled: "true"
dapr.io/app-id: {{ .Values.dapr.appId | quote }}
dapr.io/app-port: {{ .Values.dapr.appPort | quote }}
dapr.io/app-protocol: http
dapr.io/config: {{ include "todo.daprName" (dict "ctx" . "path" "dapr/config.yaml") | quote }}
dapr.io/enable-metrics: {{ .Values.dapr.enableMetrics | quote }}
dapr.io/metrics-port: {{ .Values.dapr.metricsPort | quote }}
dapr.io/log-level: {{ .Values.dapr.logLevel | quote }}
dapr.io/sidecar-cpu-request: {{ .Values.dapr.sidecar.cpuRequest | quote }}
dapr.io/sidecar-cpu-limit: {{ .Values.dapr.sidecar.cpuLimit | quote }}
dapr.io/sidecar-memory-request: {{ .Values.dapr.sidecar.memoryRequest | quote }}
dapr.io/sidecar-memory-limit: {{ .Values.dapr.sidecar.memoryLimit | quote }}
dapr.io/env: {{ printf "KAFKA_BROKERS=%s,REDIS_HOST=%s" (include "todo.kafkaBrokers" .) (include "todo.redisHost" .) | quote }}
{{- end -}}

{{/* The host's container, as spin-operator builds it for a spinImage
     executor (internal/controller/spinapp_controller.go and deployment.go):
     Deployment mode runs exactly this, so both modes run one contract. */}}
{{- define "todo.hostArgs" -}}
- up
- --listen
- 0.0.0.0:80
- -f
- {{ .Values.app.reference | quote }}
- --runtime-config-file
- /runtime-config.toml
{{- range .Values.app.components }}
- --component-id
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Spin variables (SPIN_VARIABLE_<NAME> in the environment). */}}
{{- define "todo.variables" -}}
- name: jwt_secret
  valueFrom:
    secretKeyRef: {name: {{ include "todo.authSecret" . | quote }}, key: jwt-secret}
- name: admin_token
  valueFrom:
    secretKeyRef: {name: {{ include "todo.authSecret" . | quote }}, key: admin-token}
{{- end -}}

{{/* The writable volumes (the root filesystem is read-only). */}}
{{- define "todo.hostVolumes" -}}
- name: data
  emptyDir: {sizeLimit: {{ .Values.app.dataSizeLimit | quote }}}
- name: tmp
  emptyDir: {sizeLimit: 64Mi}
{{- end -}}
{{- define "todo.hostVolumeMounts" -}}
- {name: data, mountPath: {{ .Values.app.dataDir | quote }}}
- {name: tmp, mountPath: /tmp}
{{- end -}}

{{/* The host's runtime configuration (README "The host"): PostgreSQL for
     sql, the sidecar for state, pubsub and cron, under the names the Dapr
     resources of dapr/ give their components. The sidecar's HTTP port
     comes from DAPR_HTTP_PORT, which Dapr's injector sets. */}}
{{- define "todo.runtimeConfig" -}}
{{- $ctx := .ctx -}}
[sql]
type = "postgres"
url = {{ .sqlUrl | quote }}
pool_size = {{ $ctx.Values.app.sqlPoolSize }}

[state]
type = "dapr"
store = {{ include "todo.daprName" (dict "ctx" $ctx "path" "dapr/components/statestore.yaml") | quote }}

[pubsub]
type = "dapr"
component = {{ include "todo.daprName" (dict "ctx" $ctx "path" "dapr/components/pubsub.yaml") | quote }}
replica_component = {{ include "todo.daprName" (dict "ctx" $ctx "path" "dapr/components/pubsub-replica.yaml") | quote }}

[cron]
type = "dapr"

[dapr]
http_url = "http://127.0.0.1:3500"
app_listen = "127.0.0.1:{{ $ctx.Values.dapr.appPort }}"
{{ end -}}

{{/* Changes with the runtime configuration (its URL stands in by its
     source: the password itself is random under `helm template`), so
     that pods restart to read a new one. */}}
{{- define "todo.runtimeConfigChecksum" -}}
{{- $source := ternary "in-chart" (toJson .Values.postgresql.external) .Values.postgresql.enabled -}}
{{- include "todo.runtimeConfig" (dict "ctx" . "sqlUrl" $source) | sha256sum | trunc 16 -}}
{{- end -}}
