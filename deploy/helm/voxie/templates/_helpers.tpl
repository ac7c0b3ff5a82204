{{/* Names, labels and the pieces every platform pod shares. */}}

{{- define "voxie.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "voxie.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include "voxie.selector" (list $ "spawner") */}}
{{- define "voxie.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* PLATFORM_ENV: the value, else <namespace>-<release>; a slug either way. */}}
{{- define "voxie.platformEnv" -}}
{{- $env := .Values.platformEnv | default (printf "%s-%s" .Release.Namespace .Release.Name) -}}
{{- if not (regexMatch "^[a-z0-9]+(-[a-z0-9]+)*$" $env) -}}
{{- fail (printf "platformEnv %q: lowercase letters, digits and single hyphens only" $env) -}}
{{- end -}}
{{- $env -}}
{{- end -}}

{{- define "voxie.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-secrets" .Release.Name) -}}
{{- end -}}

{{- define "voxie.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "voxie.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "voxie.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
The environment of every platform container: the release's identity and LiveKit, then the
non-secret `config`. Secrets come from the referenced Secret (voxie.envFrom); `env` wins over it.
*/}}
{{- define "voxie.env" -}}
{{- $managed := list "PLATFORM_ENV" "LIVEKIT_URL" "LIVEKIT_PUBLIC_URL" "BACKEND_HOST" "BACKEND_PORT" "WORKER_HTTP_PORT" "WORKER_PROMETHEUS_PORT" "WORKER_DRAIN_TIMEOUT_S" "WORKER_LOAD_CPU" "SPOOL_DIR" -}}
- name: PLATFORM_ENV
  value: {{ include "voxie.platformEnv" . | quote }}
- name: LIVEKIT_URL
  value: {{ required "livekit.url is required (wss://<project>.livekit.cloud)" .Values.livekit.url | quote }}
{{- with .Values.livekit.publicUrl }}
- name: LIVEKIT_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- if not (hasKey .Values.config "LOG_FORMAT") }}
- name: LOG_FORMAT
  value: json
{{- end }}
{{- range $name, $value := .Values.config }}
{{- if regexMatch "SECRET|PASSWORD|TOKEN|API_KEY|DATABASE_URL|SERVICE_ROLE" $name }}
{{- fail (printf "config.%s looks like a secret: put it in the Secret %q instead" $name (include "voxie.secretName" $)) }}
{{- end }}
{{- if has $name $managed }}
{{- fail (printf "config.%s is set by the chart: use its own value (values.yaml)" $name) }}
{{- end }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "voxie.envFrom" -}}
- secretRef:
    name: {{ include "voxie.secretName" . }}
{{- end -}}
