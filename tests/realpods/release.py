"""charts/pandora installed on the real node against a simulated Discord, and what the tests read back."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

from pandora_simulator import DiscordSimulator, SimBot
from pandora_testenv.cluster import KubeCluster, tool
from pandora_testenv.realnode.cluster import RealNodeCluster
from pandora_testenv.services import RedisServer, S3Server

CHART = Path(__file__).resolve().parents[2] / "charts" / "pandora"
T = TypeVar("T")


def chart_values(real: RealNodeCluster, sim: DiscordSimulator, bot: SimBot, redis: RedisServer,
                 s3: S3Server, *, frontdoor: bool = False) -> dict[str, Any]:
    """Values a user would write for this cluster: our images, the bot, storage and the connection contract; the
    command front door only when ``frontdoor`` (flows that start recordings with kubectl leave it out)."""
    operator, recorder = real.images["operator"], real.images["recorder"]
    # The connection contract, as environment only (the pod has no file the CA could be in).
    connection = {
        "PANDORA_DISCORD_API_URL": sim.api_url,
        "PANDORA_DISCORD_GATEWAY_URL": sim.gateway_url,
        "PANDORA_DISCORD_CA_PEM": Path(sim.ca_file).read_text(),
    }
    operator_image = {"repository": operator.repository, "tag": operator.tag, "pullPolicy": "Never"}
    return {
        "discord": {"token": bot.token},
        "operator": {"image": operator_image},
        "recorder": {
            "image": {"repository": recorder.repository, "tag": recorder.tag, "pullPolicy": "Never"},
            "stopGraceSeconds": 30,
            "env": connection,
        },
        "storage": {"s3": {"bucket": s3.bucket, "region": s3.region, "endpoint": s3.endpoint,
                           "forcePathStyle": True, "disableSSL": True}},
        # The recorder NetworkPolicy opened for this cluster as a user would: the simulator's ports for Discord,
        # the API server's own (the stores' ports follow from storage and stateStore).
        "networkPolicy": {"recorder": {
            "enabled": True,
            "discordTcpPorts": [sim.port, sim.voice_port],
            "apiServerPorts": [urlsplit(real.plane.server).port or 443],
        }},
        "stateStore": {"redis": {"host": redis.address, "passwordSecret": None}},
        # The front door's image is the operator's (it carries the front door).
        "frontdoor": {"enabled": True, "image": operator_image, "env": connection} if frontdoor else {"enabled": False},
    }


async def run(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A blocking call (kubectl, helm) off the event loop, so the simulator keeps serving meanwhile."""
    return await asyncio.to_thread(call, *args, **kwargs)


async def until(what: str, probe: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.2,
                explain: Callable[[], str] | None = None) -> T:
    """Poll a blocking probe off the event loop until it returns something truthy; on timeout, say what was
    awaited, the last value, and `explain()` (e.g. the cluster's side of the story)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await run(probe)
        if last:
            return last
        await asyncio.sleep(interval)
    story = await run(explain) if explain else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last seen: {last!r}\n{story}")


def explain(cluster: KubeCluster, namespace: str) -> Callable[[], str]:
    """What a user would look at when a recording does not come: the Recordings, pods, events and logs."""

    def story() -> str:
        parts = []
        for args in (("get", "recordings", "-o", "yaml"), ("get", "pods", "-o", "wide"),
                     ("get", "events", "--sort-by=.lastTimestamp")):
            parts.append(f"$ kubectl {' '.join(args)}\n" + cluster.kubectl("-n", namespace, *args).stdout[-4000:])
        pods = json.loads(cluster.kubectl("-n", namespace, "get", "pods", "-o", "json").stdout or '{"items": []}')
        for pod in pods["items"]:
            restarted = any(status.get("restartCount") for status in pod["status"].get("containerStatuses") or [])
            for container in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
                for previous in ("--previous",) * restarted + ("",):
                    args = ["logs", pod["metadata"]["name"], "-c", container["name"], *filter(None, [previous])]
                    logs = cluster.kubectl("-n", namespace, *args)
                    parts.append(f"$ kubectl {' '.join(args)}\n" + (logs.stdout + logs.stderr)[-3000:])
        return "\n".join(parts)

    return story


def install(cluster: KubeCluster, namespace: str, values: dict[str, Any], directory: Path,
            s3: S3Server) -> subprocess.CompletedProcess[str]:
    """The S3 credentials Secret the chart references, then `helm install --wait` with a values file."""
    cluster.kubectl("-n", namespace, "create", "secret", "generic", "pandora-s3",
                    f"--from-literal=access-key={s3.access_key}", f"--from-literal=secret-key={s3.secret_key}",
                    check=True)
    values_file = directory / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    return cluster.helm("install", "pandora", str(CHART), "--namespace", namespace, "--values", str(values_file),
                        "--wait", "--timeout=180s", timeout=240)


def recording_manifest(name: str, guild_id: int, channel_id: int) -> str:
    return json.dumps({
        "apiVersion": "pandora.dev/v1alpha1", "kind": "Recording", "metadata": {"name": name},
        "spec": {"guildId": str(guild_id), "voiceChannelId": str(channel_id), "requestedBy": {"source": "kubectl"}},
    })


def status_of(cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any]:
    result = cluster.kubectl("-n", namespace, "get", "recording", name, "-o", "json")
    return json.loads(result.stdout).get("status", {}) if result.returncode == 0 else {}


@dataclass
class PodWatch:
    """Every version of one pod as `kubectl get -w` streams it, so a status that lasts a moment (a container's
    termination just before the pod object goes) is still seen."""

    cluster: KubeCluster
    namespace: str
    name: str
    versions: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._process = subprocess.Popen(
            [tool("kubectl"), f"--kubeconfig={self.cluster.kubeconfig}", "-n", self.namespace, "get", "pod",
             self.name, "--watch", "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        decoder, buffer = json.JSONDecoder(), ""
        for line in self._process.stdout:
            buffer += line
            while buffer.strip():
                try:
                    version, end = decoder.raw_decode(buffer.lstrip())
                except ValueError:
                    break
                self.versions.append(version)
                buffer = buffer.lstrip()[end:]

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)

    def terminated(self, container: str) -> dict[str, Any] | None:
        """The last seen terminated state of a container (init containers included)."""
        for version in reversed(self.versions):
            status = version.get("status", {})
            for entry in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
                if entry["name"] == container and "terminated" in entry.get("state", {}):
                    return entry["state"]["terminated"]
        return None


def fetch_recording(s3: S3Server, status: dict[str, Any], folder: Path) -> tuple[list[str], Path]:
    """The Completed status's chunks from S3, joined by `pandora fetch` as a user would: (the object keys, the
    folder with the raw files)."""
    recording_id = status["recordingId"]
    assert status["location"] == f"dapr://pandora-recordings/recordings/{recording_id}/"
    keys = download_chunks(s3, f"recordings/{recording_id}/", folder / "chunks")
    fetched = pandora("fetch", str(recording_id), "--chunks", str(folder / "chunks"), "--out", str(folder / "raw"))
    assert fetched.returncode == 0, fetched.stderr
    return keys, folder / "raw"


def download_chunks(s3: S3Server, prefix: str, folder: Path) -> list[str]:
    """Every object under `prefix`, saved under its base name (<id>.ogg.<kind>.<n>), as `aws s3 cp` would."""
    client = s3.client()
    folder.mkdir(parents=True, exist_ok=True)
    keys = sorted(item["Key"] for item in client.list_objects(Bucket=s3.bucket, Prefix=prefix).get("Contents", ()))
    for key in keys:
        (folder / key.rsplit("/", 1)[1]).write_bytes(client.get_object(Bucket=s3.bucket, Key=key)["Body"].read())
    return keys


def pandora(*args: str) -> subprocess.CompletedProcess[str]:
    """The user's own `pandora` command (fetch, cook) on this machine."""
    import sys

    return subprocess.run([sys.executable, "-m", "pandora.cli", *args], capture_output=True, text=True, timeout=120)
