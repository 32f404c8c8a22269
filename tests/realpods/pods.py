"""Running one pod to completion on the real node and reading what it printed."""

from __future__ import annotations

import json
from typing import Any

from pandora_testenv.cluster import KubeCluster
from pandora_testenv.polling import wait_for

RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def pod_manifest(name: str, image: str, *, command: list[str] | None = None, args: list[str] | None = None,
                 uid: int = 10001) -> dict[str, Any]:
    """A pod as the chart runs Pandora's: non-root, read-only root filesystem, only /tmp writable."""
    container: dict[str, Any] = {
        "name": "main", "image": image, "imagePullPolicy": "Never", "securityContext": RESTRICTED,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if command is not None:
        container["command"] = command
    if args is not None:
        container["args"] = args
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never", "automountServiceAccountToken": False, "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 5,
            "securityContext": {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container], "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def get_pod(cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any] | None:
    result = cluster.kubectl("-n", namespace, "get", "pod", name, "-o", "json")
    return json.loads(result.stdout) if result.returncode == 0 else None


def run_to_completion(cluster: KubeCluster, namespace: str, manifest: dict[str, Any],
                      timeout: float = 90) -> tuple[dict[str, Any], str]:
    """Apply the pod, wait until it Succeeded or Failed; the final pod object and its logs."""
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(manifest), check=True)
    name = manifest["metadata"]["name"]

    def finished() -> dict[str, Any] | None:
        pod = get_pod(cluster, namespace, name)
        return pod if pod and pod["status"].get("phase") in ("Succeeded", "Failed") else None

    pod = wait_for(f"pod {name} to finish", finished, timeout=timeout, interval=0.5)
    logs = cluster.kubectl("-n", namespace, "logs", name).stdout
    return pod, logs


def exit_code(pod: dict[str, Any], container: str = "main") -> int:
    statuses = pod["status"].get("containerStatuses") or []
    (status,) = [status for status in statuses if status["name"] == container]
    return status["state"]["terminated"]["exitCode"]
