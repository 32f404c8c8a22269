"""The Kubernetes front door on the local control plane: ``pandora frontdoor`` as its ServiceAccount, the operator,
and recorder pods that KWOK starts, whose recorder this kit runs from the pod's own arguments and environment."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from bot_testkit import commands_synced
from recording_helpers import apply_rbac, service_account_kubeconfig

from pandora.cli import parse_command
from pandora.discord_connection import DiscordConnection
from pandora.recording_api.recorder import RecorderArgs, RecorderEnv
from pandora_recorder.commands.record import record
from pandora_recorder.report import KubernetesStatusReporter
from pandora_recorder.sinks.local import LocalFolderSink
from pandora_recorder.voice import RecorderSession, SessionOptions, StopReason
from pandora_simulator import DiscordSimulator, SimBot, SimInteraction
from pandora_simulator.opcodes import Intent
from pandora_simulator.testing import World, small_world, wait_for
from pandora_testenv.cluster import KubeCluster

FRONT_DOOR_ACCOUNT = "pandora-frontdoor"


def bot_pool(cluster: KubeCluster, namespace: str, bot: SimBot) -> None:
    """The bot pool Secret with the simulator's bot as ``alpha``."""
    manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pandora-bots", "namespace": namespace},
                "stringData": {"alpha": bot.token}}
    result = cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    assert result.returncode == 0, result.stderr


def recordings(cluster: KubeCluster, namespace: str) -> list[dict[str, Any]]:
    result = cluster.kubectl("get", "recordings", "-n", namespace, "-o", "json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout)["items"])


@dataclass
class FrontDoorProcess:
    env: dict[str, str]
    namespace: str
    log: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    async def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as output:
            output.write(f"\n==== front door start {self.starts} ====\n".encode())
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pandora.cli", "frontdoor", "--namespace", self.namespace, env=self.env,
                stdout=output, stderr=output)
        await wait_for(lambda: self.text().count("front door ready") == self.starts or self.exited(), timeout=60,
                       what="the front door to get ready")
        assert not self.exited(), self.text()[-3000:]

    def exited(self) -> bool:
        return self.process is not None and self.process.returncode is not None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@contextlib.asynccontextmanager
async def front_door(cluster: KubeCluster, namespace: str, sim: DiscordSimulator, bot: SimBot, tmp_path: Path,
                     **env: str) -> AsyncIterator[FrontDoorProcess]:
    """``pandora frontdoor`` with the token of ``bot``, logged in to the API server as the chart's front-door
    ServiceAccount (so every test is also a test of its Role)."""
    apply_rbac(cluster, namespace)
    kubeconfig = service_account_kubeconfig(cluster, namespace, FRONT_DOOR_ACCOUNT, tmp_path / "frontdoor.kubeconfig")
    full_env = {**os.environ, **sim.connection_env(bot), "KUBECONFIG": str(kubeconfig), **env}
    full_env.pop("KUBERNETES_SERVICE_HOST", None)
    process = FrontDoorProcess(full_env, namespace, tmp_path / "frontdoor.log")
    await process.start()
    try:
        yield process
    finally:
        await process.stop()
        assert "Traceback" not in process.text(), process.text()[-4000:]


@dataclass
class RecorderPods:
    """Stands in for the kubelet: each recorder pod KWOK runs gets its recorder, run in this process from the pod's
    own ``args`` (parsed by ``pandora record``'s parser) and environment, its progress reported with a token bound to
    the pod; deleting the pod stops it, as SIGTERM would. Files go to ``out`` instead of the Dapr binding."""

    cluster: KubeCluster
    namespace: str
    sim: DiscordSimulator
    bot: SimBot
    out: Path
    termination_delay: str = "4s"  # how long a deleted pod stays Terminating (its grace period, as KWOK plays it)
    sessions: dict[str, RecorderSession] = field(default_factory=dict)
    running_seen: dict[str, float] = field(default_factory=dict)  # pod -> time.perf_counter() it was seen Running
    tasks: dict[str, asyncio.Task[StopReason]] = field(default_factory=dict)
    _sinks: list[LocalFolderSink] = field(default_factory=list)

    def _pods(self) -> list[dict[str, Any]]:
        result = self.cluster.kubectl("get", "pods", "-n", self.namespace, "-l",
                                      "app.kubernetes.io/managed-by=pandora-operator", "-o", "json")
        return list(json.loads(result.stdout)["items"]) if result.returncode == 0 else []

    async def run(self) -> None:
        while True:
            pods = await asyncio.to_thread(self._pods)
            for pod in pods:
                name = pod["metadata"]["name"]
                deleting = bool(pod["metadata"].get("deletionTimestamp"))
                if name not in self.tasks and pod.get("status", {}).get("phase") == "Running" and not deleting:
                    await self._start(pod)
                elif name in self.sessions and deleting:
                    self.sessions[name].request_stop(StopReason.SIGNAL)
            present = {pod["metadata"]["name"] for pod in pods}
            for name, session in self.sessions.items():
                if name not in present:
                    session.request_stop(StopReason.SIGNAL)  # the pod is gone (a forced delete)
            await asyncio.sleep(0.2)

    async def _start(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        self.running_seen[name] = time.perf_counter()
        # A grace period KWOK honours: the pod stays Terminating while "the recorder" flushes.
        await asyncio.to_thread(self.cluster.kubectl, "annotate", "-n", self.namespace, "pod", name,
                                f"pandora.dev/termination-delay={self.termination_delay}", "--overwrite")
        (container,) = pod["spec"]["containers"]
        _, parsed = parse_command(container["args"])
        args = RecorderArgs.from_namespace(parsed)
        environ = {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}
        recorder_env = RecorderEnv.from_environ(environ)
        assert recorder_env.recording_name and recorder_env.recording_namespace == self.namespace
        reporter = await asyncio.to_thread(self._reporter, name, recorder_env.recording_name)
        sink = LocalFolderSink(self.out)
        self._sinks.append(sink)
        options = SessionOptions(guild_id=args.guild, channel_id=args.channel, recording_id=args.recording_id,
                                 max_duration=args.max_duration, requester_id=args.requester,
                                 text_channel_id=args.text_channel)
        env = self.sim.connection_env(self.bot)
        self.tasks[name] = asyncio.create_task(record(
            env["PANDORA_TOKEN"], sink, options, connection=DiscordConnection.from_env(env),
            on_session=lambda session: self.sessions.__setitem__(name, session), handle_signals=False,
            reporter=reporter))

    def _reporter(self, pod: str, recording: str) -> KubernetesStatusReporter:
        created = self.cluster.kubectl("create", "token", "pandora-recorder", "-n", self.namespace,
                                       "--bound-object-kind=Pod", f"--bound-object-name={pod}")
        assert created.returncode == 0, created.stderr
        token_file, ca_file = self.out.parent / f"{pod}.token", self.out.parent / "ca.crt"
        token_file.write_text(created.stdout.strip())
        config = yaml.safe_load(self.cluster.kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        if "certificate-authority-data" in cluster:
            ca_file.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        else:
            ca_file.write_text(Path(cluster["certificate-authority"]).read_text())
        return KubernetesStatusReporter(api_url=cluster["server"], namespace=self.namespace, name=recording,
                                        token_file=token_file, ca_file=ca_file)

    async def close(self) -> None:
        for session in self.sessions.values():
            session.request_stop(StopReason.SIGNAL)
        for task in self.tasks.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 20)
        for sink in self._sinks:
            sink.close()


@contextlib.asynccontextmanager
async def recorder_pods(cluster: KubeCluster, namespace: str, sim: DiscordSimulator, bot: SimBot,
                        out: Path, termination_delay: str = "4s") -> AsyncIterator[RecorderPods]:
    pods = RecorderPods(cluster, namespace, sim, bot, out, termination_delay)
    runner = asyncio.create_task(pods.run())
    try:
        yield pods
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await pods.close()


async def deliver_again(sim: DiscordSimulator, interaction: SimInteraction) -> None:
    """Discord delivering the same INTERACTION_CREATE a second time (to every gateway session of the bot).

    Uses the simulator's own payload builder: it has no public "deliver twice" yet."""
    commands = sim.world.commands_of(interaction.bot, None)
    command = next(c for c in commands if c["name"] == interaction.command)
    payload = sim.interactions._create_payload(interaction, command)
    await sim.sessions.to_bot(interaction.bot.id, "INTERACTION_CREATE", payload)


@dataclass
class KubeScene:
    sim: DiscordSimulator
    world: World
    door: FrontDoorProcess
    pods: RecorderPods


@contextlib.asynccontextmanager
async def kube_scene(cluster: KubeCluster, namespace: str, tmp_path: Path, *, message_content: bool = True,
                     **env: str) -> AsyncIterator[KubeScene]:
    """The simulator with alice (the guild's owner) in voice, the bot pool holding its bot, the front door running
    (the operator is the test's fixture) and recorder pods coming to life; recorders write to tmp_path/recorder-out.
    ``message_content=False``: the bot's application has not enabled that privileged intent."""
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        world.guild.owner_id = world.members[0].id  # the owner has every permission, Manage Server included
        if not message_content:
            world.bot.privileged_intents &= ~Intent.MESSAGE_CONTENT
        bot_pool(cluster, namespace, world.bot)
        async with front_door(cluster, namespace, sim, world.bot, tmp_path, **env) as door, \
                recorder_pods(cluster, namespace, sim, world.bot, tmp_path / "recorder-out") as pods:
            await commands_synced(world.bot)
            yield KubeScene(sim, world, door, pods)
