{{/* Names and labels. */}}
{{- define "faceproof.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "faceproof.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "faceproof.selectorLabels" -}}
app.kubernetes.io/name: {{ include "faceproof.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "faceproof.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "faceproof.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "faceproof.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "faceproof.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "faceproof.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding the deployment key files, or "" when pods make their own. */}}
{{- define "faceproof.keysSecret" -}}
{{- if .Values.deploymentKey.existingSecret }}
{{- .Values.deploymentKey.existingSecret }}
{{- else if .Values.deploymentKey.files }}
{{- printf "%s-keys" (include "faceproof.fullname" .) }}
{{- end }}
{{- end }}

{{/* The chart's own Secret (inline URLs and token), or "" when nothing is inline. */}}
{{- define "faceproof.hasInlineSecret" -}}
{{- if or .Values.redis.url .Values.postgresql.url .Values.metrics.token }}true{{ end }}
{{- end }}

{{/* An env entry read from a Secret: (dict "name" ENV "cfg" .Values.x "key" inlineKey "ctx" $). */}}
{{- define "faceproof.secretEnv" -}}
{{- if .cfg.existingSecret }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .cfg.existingSecret }}
      key: {{ .cfg.existingSecretKey }}
{{- else if index .cfg .inline }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "faceproof.fullname" .ctx }}
      key: {{ .key }}
{{- end }}
{{- end }}

{{/* Several pods share state only through Redis, PostgreSQL and one deployment key. */}}
{{- define "faceproof.validate" -}}
{{- $pods := .Values.replicaCount | int }}
{{- if .Values.autoscaling.enabled }}
{{- $pods = .Values.autoscaling.maxReplicas | int }}
{{- if lt (.Values.autoscaling.maxReplicas | int) (.Values.autoscaling.minReplicas | int) }}
{{- fail "autoscaling.maxReplicas must be at least autoscaling.minReplicas" }}
{{- end }}
{{- end }}
{{- if gt $pods 1 }}
{{- if not (or .Values.redis.url .Values.redis.existingSecret) }}
{{- fail "more than one pod can run: set redis.url or redis.existingSecret (nonces and challenges must be shared, or a replayed capture is accepted by another pod)" }}
{{- end }}
{{- if not (or .Values.postgresql.url .Values.postgresql.existingSecret) }}
{{- fail "more than one pod can run: set postgresql.url or postgresql.existingSecret (the ledger and galleries must be shared)" }}
{{- end }}
{{- if not (include "faceproof.keysSecret" .) }}
{{- fail "more than one pod can run: set deploymentKey.existingSecret or deploymentKey.files (every pod must hold the same deployment key; docs/deployment.md)" }}
{{- end }}
{{- if and .Values.persistence.enabled (has "ReadWriteOnce" .Values.persistence.accessModes) }}
{{- fail "persistence with ReadWriteOnce is for a single pod; with Redis and PostgreSQL the data dir needs no volume claim" }}
{{- end }}
{{- end }}
{{- end }}
