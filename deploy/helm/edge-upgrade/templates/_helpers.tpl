{{/* The objects' base name: <release>-worker (edge-upgrade-worker for the release edge-upgrade), or the release name when it ends in -worker. */}}
{{- define "edge-upgrade.fullname" -}}
{{- $name := .Release.Name | trunc 56 | trimSuffix "-" -}}
{{- if hasSuffix "-worker" $name -}}
{{- $name -}}
{{- else -}}
{{- printf "%s-worker" $name -}}
{{- end -}}
{{- end -}}

{{- define "edge-upgrade.selectorLabels" -}}
app.kubernetes.io/name: edge-upgrade-worker
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "edge-upgrade.labels" -}}
{{ include "edge-upgrade.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "edge-upgrade.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The Secret holding a cluster's token and ca.crt: its existingSecret, or the one the chart makes. */}}
{{- define "edge-upgrade.clusterSecret" -}}
{{- if .cluster.existingSecret -}}
{{ .cluster.existingSecret }}
{{- else -}}
{{ include "edge-upgrade.fullname" .root }}-cluster-{{ .cluster.id }}
{{- end -}}
{{- end -}}

{{/* The worker's config.yaml (docs/configuration.md): no credential, only where the mounted files are. */}}
{{- define "edge-upgrade.config" -}}
{{- $t := .Values.temporal -}}
{{- $temporal := dict "address" $t.address "namespace" $t.namespace -}}
{{- if $t.tls.existingSecret -}}
{{- $tls := dict "certFile" "/etc/edge-upgrade/temporal/tls/tls.crt" "keyFile" "/etc/edge-upgrade/temporal/tls/tls.key" -}}
{{- if $t.tls.caKey -}}{{- $_ := set $tls "caFile" (printf "/etc/edge-upgrade/temporal/tls/%s" $t.tls.caKey) -}}{{- end -}}
{{- if $t.tls.serverName -}}{{- $_ := set $tls "serverName" $t.tls.serverName -}}{{- end -}}
{{- $_ := set $temporal "tls" $tls -}}
{{- end -}}
{{- if $t.apiKey.existingSecret -}}
{{- $_ := set $temporal "apiKeyFile" (printf "/etc/edge-upgrade/temporal/api-key/%s" $t.apiKey.key) -}}
{{- end -}}
{{- $cfg := dict "temporal" $temporal "upgradeImage" .Values.upgradeImage "allowedImages" .Values.allowedImages "allowTaggedImages" .Values.allowTaggedImages -}}
{{- $_ := set $cfg "metricsAddress" (printf "0.0.0.0:%v" .Values.metrics.port) -}}
{{- $_ := set $cfg "healthAddress" (printf "0.0.0.0:%v" .Values.health.port) -}}
{{- if hasKey .Values "cloudNodeLabel" -}}{{- $_ := set $cfg "cloudNodeLabel" .Values.cloudNodeLabel -}}{{- end -}}
{{- if .Values.healthChecks -}}{{- $_ := set $cfg "healthChecks" .Values.healthChecks -}}{{- end -}}
{{- if .Values.versions -}}{{- $_ := set $cfg "versions" .Values.versions -}}{{- end -}}
{{- $clusters := list -}}
{{- range .Values.clusters -}}
{{- $c := dict "id" .id "kubeconfig" (printf "/etc/edge-upgrade/config/kubeconfig-%s" .id) -}}
{{- $own := omit . "id" "server" "existingSecret" "token" "caCert" -}}
{{- $clusters = append $clusters (merge $c $own) -}}
{{- end -}}
{{- $_ := set $cfg "clusters" $clusters -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* A cluster's kubeconfig: the server, and the CA and token files of its mounted Secret. */}}
{{- define "edge-upgrade.kubeconfig" -}}
apiVersion: v1
kind: Config
clusters:
  - name: {{ .id }}
    cluster:
      server: {{ .server }}
      certificate-authority: /etc/edge-upgrade/clusters/{{ .id }}/ca.crt
users:
  - name: edge-upgrade
    user:
      tokenFile: /etc/edge-upgrade/clusters/{{ .id }}/token
contexts:
  - name: {{ .id }}
    context: { cluster: {{ .id }}, user: edge-upgrade }
current-context: {{ .id }}
{{- end -}}
