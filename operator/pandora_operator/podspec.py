"""The recorder pod for one attempt of one Recording.

Shutdown ordering (why the recorder's final flush always completes before Dapr goes away):

* ``dapr.io/enable-native-sidecar: "true"`` makes daprd a Kubernetes native sidecar (a restartable init
  container). Kubernetes sends SIGTERM to the main container first and stops sidecars only after every main
  container has exited, so the recorder can still write through Dapr while it flushes.
* The recorder handles SIGTERM itself (Python as PID 1 ignores unhandled signals) and exits 0 after its flush.
* ``terminationGracePeriodSeconds`` (``stop_grace_seconds``) is the flush budget; it covers both the recorder
  and the sidecar's own shutdown, so it is set well above the recorder's at-most-one-second flush interval.

The bot token reaches the pod only as ``secretKeyRef`` into the bot pool Secret: it never appears in the pod spec.
"""

from __future__ import annotations

from typing import Any

from pandora.logging import ENV_MODE, PRODUCTION
from pandora.recording_api.recorder import ENV_TOKEN, RecorderArgs, RecorderEnv
from pandora.recording_api.resource import RecordingSpec
from pandora_operator.config import OperatorConfig
from pandora_operator.model import (
    LABEL_ATTEMPT,
    LABEL_BOT,
    LABEL_CHANNEL,
    LABEL_COMPONENT,
    LABEL_GUILD,
    LABEL_MANAGED_BY,
    LABEL_RECORDING,
    MANAGED_BY,
    pod_name,
)

RECORDER_UID = 10001


def recorder_labels(recording: str, attempt: int, spec: RecordingSpec, bot: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "pandora",
        LABEL_COMPONENT: "recorder",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_RECORDING: recording,
        LABEL_ATTEMPT: str(attempt),
        LABEL_BOT: bot,
        LABEL_GUILD: spec.guild_id,
        LABEL_CHANNEL: spec.voice_channel_id,
    }


def recorder_args(spec: RecordingSpec, recording_id: str) -> RecorderArgs:
    return RecorderArgs(
        guild=int(spec.guild_id),
        channel=int(spec.voice_channel_id),
        recording_id=int(recording_id),
        # Dapr storage explicitly: a pod whose sidecar is missing must fail (and be retried), not fall back to
        # its ephemeral filesystem.
        storage="dapr",
        max_duration=float(spec.max_duration) if spec.max_duration else None,
        text_channel=int(notices) if (notices := spec.recorder_notice_channel()) else None,
        requester=int(spec.requested_by.user_id) if spec.requested_by and spec.requested_by.user_id else None,
    )


def recorder_env(recording: str, namespace: str, spec: RecordingSpec, config: OperatorConfig) -> RecorderEnv:
    return RecorderEnv(
        recording_name=recording,
        recording_namespace=namespace,
        storage_binding=spec.storage_binding or config.storage_binding,
        storage_prefix=spec.storage_prefix or config.storage_prefix,
    )


def build_recorder_pod(
    *,
    recording: str,
    namespace: str,
    spec: RecordingSpec,
    recording_id: str,
    attempt: int,
    bot: str,
    config: OperatorConfig,
) -> dict[str, Any]:
    """The pod manifest (without ownerReferences: the caller adopts it)."""
    values = {
        **recorder_env(recording, namespace, spec, config).to_environ(),
        ENV_MODE: PRODUCTION,
        **dict(sorted(config.recorder_env.items())),
    }
    env: list[dict[str, Any]] = [
        {"name": ENV_TOKEN, "valueFrom": {"secretKeyRef": {"name": config.bot_secret, "key": bot}}},
        *({"name": name, "value": value} for name, value in values.items()),
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(recording, attempt),
            "namespace": namespace,
            "labels": recorder_labels(recording, attempt, spec, bot),
            "annotations": {
                "dapr.io/enabled": "true",
                "dapr.io/app-id": config.dapr_app_id,
                "dapr.io/config": config.dapr_config,
                "dapr.io/enable-native-sidecar": "true",
                # The whole files written when the recording ends are one binding request each.
                "dapr.io/max-body-size": config.dapr_max_body_size,
                "pandora.dev/recording-id": recording_id,
            },
        },
        "spec": {
            # A crashed recorder is replaced by the operator with the next attempt (same recording id), so the
            # restart is counted and visible; the kubelet does not restart it in place. Measured on a real node
            # (tests/realpods/crash_gap.py; `pytest tests/realpods -s -k killed` prints it), SIGKILL -> recording
            # again: a new pod 5.1-9.3 s (created 1.4-1.7 s after the kill, its recorder running 2.5-4.0 s after),
            # in place (restartPolicy OnFailure) 2.9-6.2 s for a first crash, but 14-16 s for a second one: the
            # kubelet's CrashLoopBackOff waits 10 s, 20 s ... 5 min between restarts within 10 min, a setting of
            # the node, not of the pod. And every start is a Discord login: the per-bot 24 h start budget and
            # max_restarts count the pods the operator creates, while a kubelet restart happens without asking
            # it (it could only count it afterwards, and stop it only by deleting the pod). A new pod may also
            # land on another node when the node was the trouble.
            "restartPolicy": "Never",
            "serviceAccountName": config.recorder_service_account,
            # The recorder reports progress to its Recording's status subresource (see pandora_recorder.report).
            "automountServiceAccountToken": True,
            "terminationGracePeriodSeconds": config.stop_grace_seconds,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RECORDER_UID,
                "runAsGroup": RECORDER_UID,
                "fsGroup": RECORDER_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "recorder",
                    "image": config.recorder_image,
                    "imagePullPolicy": config.image_pull_policy,
                    "args": recorder_args(spec, recording_id).to_argv(),
                    "env": env,
                    "resources": dict(config.resources),
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "privileged": False,
                        "runAsNonRoot": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
        },
    }
