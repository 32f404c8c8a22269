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

{{/* Cluster-scoped objects carry the release and its namespace: two releases must not share (or overwrite) one. */}}
{{- define "pandora.clusterScoped" -}}
{{- printf "%s-%s-%s" .root.Release.Name .name .root.Release.Namespace | trunc 253 | trimSuffix "-" -}}
{{- end -}}

{{- define "pandora.operatorImage" -}}
{{ .Values.operator.image.repository }}:{{ .Values.operator.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "pandora.recorderImage" -}}
{{ .Values.recorder.image.repository }}:{{ .Values.recorder.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
Dapr is a prerequisite when the chart renders the recorder's Dapr Components: without Dapr's CRDs the install
would fail with a bare "no matches for kind Component". Checked against a live cluster only: an offline render
(helm template, helm lint) knows API group versions but no kinds, so the built-in "v1/Pod" tells them apart.
*/}}
{{- define "pandora.requireDapr" -}}
{{- $live := .Capabilities.APIVersions.Has "v1/Pod" -}}
{{- if and .Values.dapr.components $live (not (.Capabilities.APIVersions.Has "dapr.io/v1alpha1/Component")) -}}
{{- fail (printf "\n\nDapr is not installed on this cluster (it has no dapr.io/v1alpha1 Component kind), and this chart creates the recorder's Dapr components (dapr.components=true).\nInstall Dapr first:\n  helm repo add dapr https://dapr.github.io/helm-charts\n  helm install dapr dapr/dapr --namespace dapr-system --create-namespace --wait --set dapr_sidecar_injector.allowedServiceAccounts=%s:%s\n(the operator creates recorder pods itself, and Dapr's injector only gives a sidecar to pods from accounts it allows)\nthen install this chart again; or set dapr.components=false and create the components yourself (see the chart's README)." .Release.Namespace .Values.operator.serviceAccount) -}}
{{- end -}}
{{- end -}}
