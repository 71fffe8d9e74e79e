{{/* todo.singleNode: a single-node dependency, a StatefulSet with its
     volume claim and a Service, hardened like the host (non-root,
     read-only root filesystem with emptyDirs where the server writes
     elsewhere than its data, no capabilities). Parameters (a dict):
       ctx, name (suffix of the chart's name), image, port, args, env,
       dataPath, storage, storageClass, resources, uid, probe (a probe
       handler), writable (paths needing an emptyDir). */}}
{{- define "todo.singleNode" -}}
{{- $ctx := .ctx -}}
{{- $name := printf "%s-%s" (include "todo.fullname" $ctx) .name -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels: {{- include "todo.labels" $ctx | nindent 4 }}
spec:
  selector:
    app.kubernetes.io/instance: {{ $ctx.Release.Name }}
    app.kubernetes.io/component: {{ .name }}
  ports:
    - {name: {{ .name }}, port: {{ .port }}, targetPort: {{ .port }}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $name }}
  labels: {{- include "todo.labels" $ctx | nindent 4 }}
spec:
  replicas: 1
  serviceName: {{ $name }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ $ctx.Release.Name }}
      app.kubernetes.io/component: {{ .name }}
  template:
    metadata:
      labels:
        {{- include "todo.labels" $ctx | nindent 8 }}
        app.kubernetes.io/component: {{ .name }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ .uid }}
        runAsGroup: {{ .uid }}
        fsGroup: {{ .uid }}
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: {{ .name }}
          image: {{ .image | quote }}
          {{- with .args }}
          args: {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .env }}
          env: {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - {name: {{ .name }}, containerPort: {{ .port }}}
          readinessProbe:
            {{- toYaml .probe | nindent 12 }}
            periodSeconds: 5
          livenessProbe:
            {{- toYaml .probe | nindent 12 }}
            initialDelaySeconds: 30
            periodSeconds: 20
          resources: {{- toYaml .resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: data, mountPath: {{ .dataPath }}}
            {{- range $i, $path := .writable }}
            - {name: {{ printf "writable-%d" $i }}, mountPath: {{ $path }}}
            {{- end }}
      {{- with .writable }}
      volumes:
        {{- range $i, $path := . }}
        - {name: {{ printf "writable-%d" $i }}, emptyDir: {}}
        {{- end }}
      {{- end }}
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        {{- with .storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests: {storage: {{ .storage }}}
{{- end -}}
