{{- define "pandora.labels" -}}
app.kubernetes.io/name: pandora
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pandora.botSecret" -}}
{{- .Values.discord.existingSecret | default .Values.botSecret -}}
{{- end -}}

{{- define "pandora.recorderNamespaces" -}}
{{- $namespaces := list .Release.Namespace -}}
{{- range .Values.recorder.recorderNamespaces }}{{ $namespaces = append $namespaces . }}{{ end -}}
{{- $namespaces | uniq | toJson -}}
{{- end -}}
