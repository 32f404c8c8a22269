"""The operator's side of the chaos run: a local control plane (`pandora_testenv.controlplane`: etcd,
kube-apiserver, KWOK's fake node), the chart's CRD and RBAC, `pandora operator` as a child process logged in as
its ServiceAccount, and a bot pool Secret holding the simulator's bot.

`OnCluster` is the stage's `Launcher` there: the scenario's recording is a `Recording` resource; when KWOK runs its
recorder pod, `pandora record` starts as a child process here with the pod's own arguments (`--id` is the
operator's choice), writing to a local folder (the pod would write through Dapr; the scenarios here are about
the control plane). A pod being deleted gets its recorder SIGTERMed; a recorder that exits by itself ends its pod's
container with that code (KWOK's exit-code annotation), so the operator sees what a kubelet would show it. A
recorder outside a pod reports no progress to the Recording's status (no service account token to do it with).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pandora.cli import parse_command
from pandora.recording_api.recorder import RecorderArgs
from pandora_testenv.cluster import KubeCluster
from pandora_testenv.controlplane import ControlPlane, down, restart_apiserver, up
from recorder import RecorderProcess

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "operator"))
from recording_helpers import CRD_FILE, apply_rbac, service_account_kubeconfig  # noqa: E402

NAMESPACE = "chaos"
BOT_POOL = "pandora-bots"
TERMINATION_DELAY = "5s"  # how long a deleted recorder pod stays Terminating (its grace period, as KWOK plays it)
POLL_SECONDS = 0.3
LABEL_RECORDING = "pandora.dev/recording"  # the operator's label naming a pod's Recording


def _operator_process_class() -> Any:
    """`OperatorProcess` of the operator tests' fixtures (a conftest, so not importable by name)."""
    spec = importlib.util.spec_from_file_location("operator_fixtures", REPO / "tests" / "operator" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.OperatorProcess


def recording_manifest(name: str, guild: int, channel: int) -> dict[str, Any]:
    return {"apiVersion": "pandora.dev/v1alpha1", "kind": "Recording", "metadata": {"name": name},
            "spec": {"guildId": str(guild), "voiceChannelId": str(channel), "requestedBy": {"source": "kubectl"}}}


class ControlPlaneWorld:
    """The control plane, the CRD, the namespace with the chart's RBAC, and the operator (blocking calls)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.plane: ControlPlane = up(folder / "controlplane", tie_to_parent=True)
        try:
            self.cluster = KubeCluster(self.plane.kubeconfig, "local", self.plane)
            self.cluster.kubectl("apply", "-f", str(CRD_FILE), check=True)
            self.cluster.kubectl("wait", "--for=condition=Established", "crd/recordings.pandora.dev",
                                 "--timeout=60s", check=True)
            self.cluster.kubectl("create", "namespace", NAMESPACE, check=True)
            apply_rbac(self.cluster, NAMESPACE)
            kubeconfig = service_account_kubeconfig(self.cluster, NAMESPACE, "pandora-operator",
                                                    folder / "operator.kubeconfig")
            self.operator = _operator_process_class()(NAMESPACE, kubeconfig, folder / "operator.log")
            self.operator.start()
        except BaseException:
            down(self.plane.directory)
            raise

    def kubectl(self, *args: str, input: str | None = None) -> Any:
        return self.cluster.kubectl(*args, input=input)

    def get(self, *what: str) -> dict[str, Any]:
        result = self.kubectl("get", "-n", NAMESPACE, *what, "-o", "json")
        return json.loads(result.stdout) if result.returncode == 0 else {}

    def bot_pool(self, token: str) -> None:
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": BOT_POOL, "namespace": NAMESPACE},
                  "stringData": {"alpha": token}}
        result = self.kubectl("apply", "-f", "-", input=json.dumps(secret))
        assert result.returncode == 0, result.stderr

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        listing = {"apiVersion": "v1", "kind": "List", "items": manifests}
        result = self.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump(listing))
        assert result.returncode == 0, result.stderr

    def phases(self) -> dict[str, str | None]:
        return {item["metadata"]["name"]: (item.get("status") or {}).get("phase")
                for item in self.get("recordings").get("items", [])}

    def statuses(self) -> dict[str, dict[str, Any]]:
        return {item["metadata"]["name"]: item.get("status") or {} for item in self.get("recordings").get("items", [])}

    def pods(self) -> list[dict[str, Any]]:
        return list(self.get("pods", "-l", "app.kubernetes.io/managed-by=pandora-operator").get("items", []))

    def stop_all(self) -> None:
        for name in self.phases():
            self.kubectl("patch", "-n", NAMESPACE, "recording", name, "--type=merge", "-p", '{"spec":{"stop":true}}')

    def restart_apiserver(self, down_seconds: float) -> float:
        return restart_apiserver(self.plane, down_seconds, tie_to_parent=True)

    def dump(self) -> None:
        """What a cluster admin can read, for the token scan: Recordings (status), events, pods (the Secret is
        not dumped: it holds the token by design)."""
        for kind in ("recordings", "events", "pods"):
            result = self.kubectl("get", "-n", NAMESPACE, kind, "-o", "yaml")
            (self.folder / f"{kind}.yaml").write_text(result.stdout + result.stderr)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.operator.stop()
        for name in self.phases():  # let the namespace go without an operator to clear finalizers
            self.kubectl("patch", "-n", NAMESPACE, "recording", name, "--type=merge", "-p",
                         '{"metadata":{"finalizers":null}}')
        down(self.plane.directory)


@dataclass
class OnCluster:
    """The stage's `Launcher` on the control plane: `recordings` Recordings applied at once (a burst), each in a
    guild of its own; the first is the stage's channel, whose pod gets a real recorder."""

    world: ControlPlaneWorld
    recordings: int = 1
    name_prefix: str = "rec"
    started_at: float = 0.0
    notes: list[str] = field(default_factory=list)
    pod_lives: dict[str, int] = field(default_factory=dict)  # recorder pod -> its recorder life (index)
    terminated: set[str] = field(default_factory=set)  # pods whose recorder got its SIGTERM
    _watcher: asyncio.Task[None] | None = None

    @property
    def watched(self) -> str:
        return f"{self.name_prefix}-0"

    async def start(self, recorder: RecorderProcess) -> None:
        await asyncio.to_thread(self.world.bot_pool, recorder.bot.token)
        manifests = [recording_manifest(self.watched, recorder.guild.id, recorder.voice.id)]
        for number in range(1, self.recordings):
            guild = recorder.sim.create_guild(f"Guild {number}", bots=[recorder.bot])
            manifests.append(recording_manifest(f"{self.name_prefix}-{number}", guild.id,
                                                guild.create_voice_channel("General").id))
        self.started_at = time.monotonic()
        await asyncio.to_thread(self.world.apply, manifests)
        self._watcher = asyncio.create_task(self._watch(recorder))
        deadline = time.monotonic() + 120
        while not recorder.lives:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no recorder pod of {self.watched} ran within 120 s")
            if self._watcher.done():
                self._watcher.result()
            await asyncio.sleep(POLL_SECONDS)
        await recorder.wait_recording()

    async def _watch(self, recorder: RecorderProcess) -> None:
        """Be the kubelet of the watched Recording's pods."""
        while True:
            pods = [pod for pod in await asyncio.to_thread(self.world.pods)
                    if pod["metadata"].get("labels", {}).get(LABEL_RECORDING) == self.watched]
            for pod in pods:
                name = pod["metadata"]["name"]
                deleting = bool(pod["metadata"].get("deletionTimestamp"))
                running = pod.get("status", {}).get("phase") == "Running"
                if name not in self.pod_lives and running and not deleting:
                    await self._run(recorder, pod)
                elif name in self.pod_lives:
                    life = recorder.lives[self.pod_lives[name]]
                    alive = life.process.returncode is None
                    if deleting and alive and name not in self.terminated:
                        self.terminated.add(name)
                        life.process.terminate()  # one SIGTERM, as a kubelet sends on delete
                    elif not alive and running and not deleting and not pod["metadata"].get(
                            "annotations", {}).get("pandora.dev/exit-code"):
                        code = life.process.returncode
                        assert code is not None
                        self.notes.append(f"{name}: recorder exited {code} by itself")
                        await asyncio.to_thread(self.world.kubectl, "annotate", "-n", NAMESPACE, "pod", name,
                                                f"pandora.dev/exit-code={128 - code if code < 0 else code}",
                                                "--overwrite")
            await asyncio.sleep(POLL_SECONDS)

    async def _run(self, recorder: RecorderProcess, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        await asyncio.to_thread(self.world.kubectl, "annotate", "-n", NAMESPACE, "pod", name,
                                f"pandora.dev/termination-delay={TERMINATION_DELAY}", "--overwrite")
        (container,) = pod["spec"]["containers"]
        _, parsed = parse_command(container["args"])
        args = RecorderArgs.from_namespace(parsed)
        assert (args.guild, args.channel) == (recorder.guild.id, recorder.voice.id), args
        assert args.recording_id is not None, "the operator renders --id"
        if recorder.lives and args.recording_id != recorder.recording_id:
            self.notes.append(f"{name}: a new recording id {args.recording_id} (was {recorder.recording_id})")
        recorder.recording_id = args.recording_id
        # The pod's own arguments, but for its storage: a local folder here (RecorderProcess adds --id and where).
        out = Path(recorder.args[recorder.args.index("--out") + 1])
        recorder.args = dataclasses.replace(args, storage="local", out=out).to_argv()[1:]
        if len(recorder.lives) and recorder.current.process.returncode is None:
            recorder.current.process.terminate()  # never two recorders on one channel here
            await recorder.current.process.wait()
        await recorder.start()
        self.pod_lives[name] = len(recorder.lives) - 1

    async def stop(self, recorder: RecorderProcess) -> None:
        """`spec.stop` on every Recording; the recorder gets its SIGTERM when its pod is deleted."""
        await asyncio.to_thread(self.world.stop_all)
        life = recorder.current
        try:
            await asyncio.wait_for(life.process.wait(), 90)
        except TimeoutError:
            self.notes.append("the recorder pod was not deleted within 90 s of spec.stop: SIGTERM by the harness")
        await recorder.stop()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    def private(self) -> list[Path]:
        return [self.world.plane.directory / "etcd"]
