"""The Kubernetes crash gap, measured both ways a killed recorder can come back on the same recording id:

* a new pod (what the operator does): the killed pod fails, the operator creates the next attempt, which needs a
  sandbox, a fresh daprd sidecar (certificate from sentry, Components from Dapr's operator) and then the recorder;
* in place (`restartPolicy: OnFailure`): the kubelet starts the recorder container again in the same pod, beside
  the daprd that kept running.

Each is timed from the SIGKILL to the first moment a pod state is seen (polled every 0.1 s) and to "recording
again": a new voice connection, DAVE settled. Printed, not asserted (timings here depend on a shared 2-core host).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from release import run, until

from pandora.recording_api.resource import RecordingSpec
from pandora_operator.config import OperatorConfig
from pandora_operator.model import LABEL_MANAGED_BY
from pandora_operator.podspec import build_recorder_pod
from pandora_testenv.cluster import KubeCluster, tool

IN_PLACE_ID = "872660674"


class PodClock:
    """Polls the namespace's pods from a thread and notes when each named moment is first seen."""

    def __init__(self, cluster: KubeCluster, namespace: str, moments: dict[str, Any], interval: float = 0.1):
        self.cluster, self.namespace, self.moments, self.interval = cluster, namespace, moments, interval
        self.started = time.monotonic()
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set() and len(self.seen) < len(self.moments):
            listed = self.cluster.kubectl("-n", self.namespace, "get", "pods", "-o", "json")
            now = time.monotonic() - self.started
            pods = json.loads(listed.stdout)["items"] if listed.returncode == 0 else []
            for name, probe in self.moments.items():
                if name not in self.seen and any(probe(pod) for pod in pods):
                    self.seen[name] = now
            self._stop.wait(self.interval)

    def close(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(10)
        return self.seen


def container_state(pod: dict[str, Any], container: str) -> dict[str, Any]:
    statuses = pod["status"].get("containerStatuses") or []
    return next((entry for entry in statuses if entry["name"] == container), {})


def recorder_running(pod: dict[str, Any], name: str, restarts: int = 0) -> bool:
    state = container_state(pod, "recorder")
    return (pod["metadata"]["name"] == name and "running" in state.get("state", {})
            and state.get("restartCount", 0) >= restarts)


def operator_config(cluster: KubeCluster, namespace: str) -> OperatorConfig:
    """The configuration the chart gave the operator (its Deployment's environment)."""
    deployment = json.loads(cluster.kubectl("-n", namespace, "get", "deployment", "pandora-operator", "-o", "json",
                                            check=True).stdout)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return OperatorConfig.from_env({entry["name"]: entry["value"] for entry in container["env"] if "value" in entry})


def in_place_pod(cluster: KubeCluster, namespace: str, guild_id: int, channel_id: int) -> dict[str, Any]:
    """The operator's own recorder pod for a new recording id, restarted in place by the kubelet instead, and
    labelled so the operator leaves it alone (it belongs to no Recording)."""
    spec = RecordingSpec(str(guild_id), str(channel_id))
    pod = build_recorder_pod(recording="in-place", namespace=namespace, spec=spec, recording_id=IN_PLACE_ID,
                             attempt=0, bot="pandora", config=operator_config(cluster, namespace))
    pod["spec"]["restartPolicy"] = "OnFailure"
    pod["metadata"]["labels"][LABEL_MANAGED_BY] = "pandora-crash-gap-test"
    return pod


def create_as_operator(cluster: KubeCluster, namespace: str, manifest: dict[str, Any], directory: Path) -> None:
    """Created with the operator's account, as the operator would: Dapr's injector gives a sidecar only to pods
    from the accounts it allows."""
    token = cluster.kubectl("-n", namespace, "create", "token", "pandora-operator", check=True).stdout.strip()
    kubeconfig = cluster.token_kubeconfig(token, directory / "operator.kubeconfig")
    subprocess.run([tool("kubectl"), f"--kubeconfig={kubeconfig}", "-n", namespace, "create", "-f", "-"],
                   input=json.dumps(manifest), capture_output=True, text=True, timeout=60, check=True)


def recorder_container_id(pod: dict[str, Any]) -> str | None:
    state = container_state(pod, "recorder")
    if "running" in state.get("state", {}):
        return str(state["containerID"]).removeprefix("containerd://")
    return None


async def measure_in_place_restart(real_cluster, namespace: str, sim, bot, guild, voice, connected,
                                   directory: Path, kills: int = 2) -> dict[str, float]:
    """Start the in-place pod, let it record, SIGKILL its recorder `kills` times (each once it records again);
    the timings of each return. The second shows the kubelet's own back-off (CrashLoopBackOff)."""
    cluster = real_cluster.cluster
    manifest = in_place_pod(cluster, namespace, guild.id, voice.id)
    name = manifest["metadata"]["name"]
    await run(create_as_operator, cluster, namespace, manifest, directory)

    def pod() -> dict[str, Any] | None:
        found = cluster.kubectl("-n", namespace, "get", "pod", name, "-o", "json")
        return json.loads(found.stdout) if found.returncode == 0 else None

    await until("the in-place recorder connected to voice", lambda: connected(sim, voice, bot), 120)
    await voice.wait_dave_settled()
    first = await until("the in-place recorder container", lambda: (p := pod()) and recorder_container_id(p) and p)
    timings: dict[str, float] = {}
    for kill in range(1, kills + 1):
        # As long as the operator-made attempt ran before its kill, so both restarts wait the same for their login.
        await asyncio.sleep(2.5)
        container = await until("the running recorder container", lambda: (p := pod()) and recorder_container_id(p))
        before = connected(sim, voice, bot)
        clock = PodClock(cluster, namespace, {
            f"SIGKILL {kill} -> recorder container running again (same pod)":
                lambda p, kill=kill: recorder_running(p, name, kill),
        })
        killed = await run(real_cluster.node.ctr, "tasks", "kill", "--signal", "SIGKILL", container, check=False)
        assert killed.returncode == 0, killed.stderr
        await until("the restarted recorder connected to voice",
                    lambda before=before: connected(sim, voice, bot, other_than=before), 120)
        await voice.wait_dave_settled()
        gap = time.monotonic() - clock.started
        timings.update(clock.close())
        timings[f"SIGKILL {kill} -> recording again (in place)"] = gap
    after = pod()
    # The same pod (no new sandbox, no new sidecar), its recorder restarted in place, resuming the same recording.
    assert after is not None and after["metadata"]["uid"] == first["metadata"]["uid"]
    assert container_state(after, "recorder")["restartCount"] == kills
    logs = cluster.kubectl("-n", namespace, "logs", name, "-c", "recorder").stdout
    assert "recording resumed" in logs and IN_PLACE_ID in logs, logs[-2000:]
    await run(cluster.kubectl, "-n", namespace, "delete", "pod", name, "--wait=true", timeout=90)
    return timings
