"""Small synchronous helpers for operator tests: kubectl JSON reads, waiting, Recording manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pandora_testenv.cluster import KubeCluster
from pandora_testenv.polling import wait_for

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "pandora"
CRD_FILE = REPO / "crds" / "recordings.pandora.dev.yaml"

GUILD = "100000000000000001"


def channel_id(number: int) -> str:
    return str(200000000000000000 + number)


def recording_manifest(name: str, channel: str, guild: str = GUILD, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "pandora.dev/v1alpha1",
        "kind": "Recording",
        "metadata": {"name": name},
        "spec": {"guildId": guild, "voiceChannelId": channel, "requestedBy": {"source": "kubectl"}, **spec},
    }


def apply(cluster: KubeCluster, namespace: str, manifest: dict[str, Any] | str):
    text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
    return cluster.kubectl("apply", "-n", namespace, "-f", "-", input=text)


def get_json(cluster: KubeCluster, namespace: str, *what: str) -> dict[str, Any] | None:
    result = cluster.kubectl("get", "-n", namespace, *what, "-o", "json")
    if result.returncode != 0:
        if "NotFound" in result.stderr:
            return None
        raise AssertionError(result.stderr)
    return json.loads(result.stdout)


def recording(cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any] | None:
    return get_json(cluster, namespace, "recording", name)


def status_of(cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any]:
    body = recording(cluster, namespace, name)
    return (body or {}).get("status") or {}


def pods(cluster: KubeCluster, namespace: str) -> list[dict[str, Any]]:
    listing = get_json(cluster, namespace, "pods", "-l", "app.kubernetes.io/managed-by=pandora-operator")
    return (listing or {}).get("items", [])


def live_pods(cluster: KubeCluster, namespace: str) -> list[dict[str, Any]]:
    """Recorder pods that are not finished and not being deleted."""
    return [
        pod
        for pod in pods(cluster, namespace)
        if not pod["metadata"].get("deletionTimestamp")
        and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    ]


def events(cluster: KubeCluster, namespace: str, name: str | None = None) -> list[dict[str, Any]]:
    listing = get_json(cluster, namespace, "events")
    items = (listing or {}).get("items", [])
    return [e for e in items if name is None or e["involvedObject"].get("name") == name]


def event_reasons(cluster: KubeCluster, namespace: str, name: str) -> list[str]:
    return [e["reason"] for e in events(cluster, namespace, name) if e["involvedObject"].get("kind") == "Recording"]


def wait_phase(cluster: KubeCluster, namespace: str, name: str, phase: str, timeout: float = 30.0):
    def probe() -> dict[str, Any] | None:
        status = status_of(cluster, namespace, name)
        return status if status.get("phase") == phase else None

    try:
        return wait_for(f"Recording {name} phase {phase}", probe, timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}; status now: {status_of(cluster, namespace, name)}") from None


def exit_pod(cluster: KubeCluster, namespace: str, pod: str, code: int) -> None:
    """Make KWOK end the pod's container with ``code`` (the testenv's stand-in for a process exit)."""
    result = cluster.kubectl(
        "annotate", "-n", namespace, "pod", pod, f"pandora.dev/exit-code={code}", "--overwrite"
    )
    assert result.returncode == 0, result.stderr


def render_chart(
    kube_cluster: KubeCluster, namespace: str, *values: str, strings: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """`helm template` of charts/pandora into ``namespace``; the manifests as dicts. ``strings`` go through
    --set-string (Discord ids: --set would make a number of them, which the schema refuses)."""
    result = kube_cluster.helm(
        "template", "pandora", str(CHART), "--namespace", namespace,
        *(f"--set={v}" for v in values), *(f"--set-string={v}" for v in strings),
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def apply_rbac(kube_cluster: KubeCluster, namespace: str, *values: str) -> list[dict[str, Any]]:
    """The chart's ServiceAccounts, (Cluster)Roles and bindings, released into ``namespace``."""
    rbac = [
        doc
        for doc in render_chart(kube_cluster, namespace, *values)
        if doc["kind"]
        in (
            "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
            "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
        )
    ]
    result = kube_cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac))
    assert result.returncode == 0, result.stderr
    return rbac


def service_account_kubeconfig(kube_cluster: KubeCluster, namespace: str, account: str, path: Path) -> Path:
    created = kube_cluster.kubectl("create", "token", account, "-n", namespace, "--duration=2h")
    assert created.returncode == 0, created.stderr
    return kube_cluster.token_kubeconfig(created.stdout.strip(), path)
