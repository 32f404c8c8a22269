"""The Dapr control plane on the real node, installed the way users install it: Dapr's own Helm chart, from the
pinned dapr module (the same v1.18.1 daprd is built from), with the images built locally from that build.

It runs as pods, not host processes: the sidecar injector is a webhook the API server calls through its Service,
sentry validates pods' service-account tokens, and the operator serves Components to sidecars, all as in a real
cluster, so the chart's Components reach daprd exactly as they would there. Placement and scheduler (actors,
jobs, workflows) are off: the recorder uses none of them, and the scheduler needs persistent volumes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from pandora_testenv.build import go_binary
from pandora_testenv.processes import StartError
from pandora_testenv.realnode.images import DAPR_REGISTRY, DAPR_TAG
from pandora_testenv.versions import COMPONENTS

NAMESPACE = "dapr-system"
RELEASE = "dapr"
CHART_VALUES = {
    "global.registry": DAPR_REGISTRY,
    "global.tag": DAPR_TAG,
    "global.imagePullPolicy": "Never",
    "dapr_sidecar_injector.sidecarImagePullPolicy": "Never",
    "global.actors.enabled": "false",
    "global.scheduler.enabled": "false",
    "global.prometheus.enabled": "false",
    "global.ha.enabled": "false",
    # Dapr's injector only injects into pods created by controllers it knows (ReplicaSets, Jobs, ...) or by
    # accounts it is told about: Pandora's operator creates recorder pods itself. Every test namespace's operator.
    "dapr_sidecar_injector.allowedServiceAccounts": "*:pandora-operator",
}


class DaprInstallError(StartError):
    pass


def dapr_chart() -> Path:
    """charts/dapr of the pinned dapr module in the Go module cache (downloaded if it is not there)."""
    component = COMPONENTS["daprd"]
    result = subprocess.run(
        [go_binary(), "mod", "download", "-json", f"{component.module}@{component.version}"],
        capture_output=True, text=True, timeout=600, cwd="/",
    )
    info = json.loads(result.stdout or "{}")
    if result.returncode != 0 or "Dir" not in info:
        reason = info.get("Error") or result.stderr
        raise DaprInstallError(f"cannot get {component.module}@{component.version}: {reason}")
    chart = Path(info["Dir"]) / "charts" / "dapr"
    if not (chart / "Chart.yaml").is_file():
        raise DaprInstallError(f"no Dapr chart at {chart}")
    return chart


def install_dapr(cluster, timeout: float = 300.0) -> None:
    """`helm install dapr` into dapr-system, its pods on the real node; returns when they are all ready."""
    from pandora_testenv.realnode.node import prefer_real_node

    cluster.kubectl("create", "namespace", NAMESPACE)
    prefer_real_node(cluster.kubectl, NAMESPACE)
    values = [f"--set={key}={value}" for key, value in CHART_VALUES.items()]
    install = cluster.helm("install", RELEASE, str(dapr_chart()), "--namespace", NAMESPACE, *values,
                           "--wait", f"--timeout={int(timeout)}s", timeout=timeout + 30)
    if install.returncode != 0:
        pods = cluster.kubectl("-n", NAMESPACE, "get", "pods", "-o", "wide").stdout
        raise DaprInstallError(f"helm install dapr failed: {install.stderr.strip()}\n{pods}")
