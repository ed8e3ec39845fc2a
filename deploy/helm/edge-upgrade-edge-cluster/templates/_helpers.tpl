{{- define "edge-upgrade-edge-cluster.labels" -}}
app.kubernetes.io/managed-by: edge-upgrade
app.kubernetes.io/part-of: edge-upgrade
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
