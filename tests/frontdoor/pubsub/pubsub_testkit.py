"""A backend on the pub/sub, as the original Pandora's users run one: it publishes straight to its own daprd's HTTP
publish API and receives the acks through that sidecar (the Dapr SDK's streaming subscription), all on the same
Redis as the bridge's sidecar. And the cooking server's way of reading a recording out of S3."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse

from pandora_frontdoor.pubsub import topics
from pandora_simulator import DiscordSimulator, SimBot, SimChannel, SimGuild, SimMember
from pandora_simulator.testing import wait_for
from pandora_testenv.processes import free_port
from pandora_testenv.services import PUBSUB, Daprd, RedisServer, S3Server

ACK_TOPICS = (topics.STARTED, topics.STOPPED, topics.INFO)
ALL_TOPICS = (topics.START, topics.STOP, *ACK_TOPICS)


def forget_topics(redis_server: RedisServer) -> None:
    """Delete the topics' Redis streams (and their consumer groups): a new subscriber's group would otherwise read
    each stream from its beginning, earlier tests' messages included."""
    redis.Redis(host=redis_server.host, port=redis_server.port).delete(*ALL_TOPICS)


@dataclass
class Received:
    topic: str
    data: Any
    at: float  # time.perf_counter()


@dataclass
class Backend:
    sidecar: Daprd
    received: list[Received] = field(default_factory=list)
    # Called with each stoppedRecordingDiscord payload as it arrives (before it is recorded as received), e.g. to
    # look into the bucket at that moment, as an autocooking server would; what it returns is kept.
    on_stopped: Callable[[Any], Any] | None = None
    seen_on_stopped: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self, topic: str) -> Callable[[Any], TopicEventResponse]:
        def handle(message: Any) -> TopicEventResponse:
            data = message.data()
            if topic == topics.STOPPED and self.on_stopped is not None:
                self.seen_on_stopped.append(self.on_stopped(data))
            with self._lock:
                self.received.append(Received(topic, data, time.perf_counter()))
            return TopicEventResponse("success")

        return handle

    def of(self, topic: str) -> list[Any]:
        with self._lock:
            return [item.data for item in self.received if item.topic == topic]

    def infos(self) -> list[str]:
        return [item["data"] for item in self.of(topics.INFO)]

    async def wait(self, topic: str, count: int = 1, timeout: float = 30) -> list[Any]:
        await wait_for(lambda: len(self.of(topic)) >= count, timeout=timeout, what=f"{count} message(s) on {topic}")
        return self.of(topic)

    async def publish(self, topic: str, body: bytes | str, content_type: str = "application/json") -> int:
        """``POST /v1.0/publish/<pubsub>/<topic>`` on the backend's daprd, as ``curl`` or any backend does."""
        url = f"{self.sidecar.http_endpoint}/v1.0/publish/{PUBSUB}/{topic}"
        async with aiohttp.ClientSession() as session, session.post(
                url, data=body, headers={"Content-Type": content_type}) as response:
            assert response.status in (200, 204), await response.text()
            return response.status

    async def publish_json(self, topic: str, data: Any) -> float:
        """Publish ``data`` as JSON; returns when (perf_counter) the publish was sent."""
        sent = time.perf_counter()
        await self.publish(topic, json.dumps(data))
        return sent

    async def publish_cloud_event(self, topic: str, event_id: str, data: Any, time: str | None = None) -> None:
        """A CloudEvent with its own id (as a redelivery carries it) and, if given, its own publishing time (the
        sidecar passes both through)."""
        event = {"specversion": "1.0", "id": event_id, "source": "backend", "type": "com.example.start",
                 "datacontenttype": "application/json", "data": data, **({"time": time} if time else {})}
        await self.publish(topic, json.dumps(event), "application/cloudevents+json")


@contextlib.contextmanager
def backend(daprd_factory: Callable[..., Daprd], monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    """A backend app with its own sidecar (its own consumer group), subscribed to the three ack topics."""
    sidecar = daprd_factory(f"backend-{uuid.uuid4().hex[:8]}")
    result = Backend(sidecar)
    for key, value in sidecar.env().items():  # the SDK finds its sidecar (and health-checks it) from these
        monkeypatch.setenv(key, value)
    client = DaprClient()
    closers = [client.subscribe_with_handler(PUBSUB, topic, result.handler(topic)) for topic in ACK_TOPICS]
    try:
        yield result
    finally:
        for close in closers:
            close()
        client.close()


async def bridge_subscribed(sidecar: Daprd, timeout: float = 60) -> None:
    """Until the bridge's sidecar reports healthy: its app listens and it has subscribed."""
    async def healthy() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(
                    f"{sidecar.http_endpoint}/v1.0/healthz", timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status in (200, 204)
        except (aiohttp.ClientError, TimeoutError):
            return False

    deadline = time.monotonic() + timeout
    while not await healthy():
        assert time.monotonic() < deadline, "the bridge's sidecar did not get healthy"
        await asyncio.sleep(0.3)
    # daprd reports healthy once the app channel is up; the subscriptions follow right after.
    await asyncio.sleep(1.0)


def cooking_server_download(s3: S3Server, recording_id: str, folder: Path) -> list[str]:
    """What the original cooking server does: list the bucket root with the prefix ``String(id)`` and save each
    key as a file name. Returns the keys."""
    client = s3.client()
    folder.mkdir(parents=True, exist_ok=True)
    keys = [item["Key"] for item in client.list_objects(Bucket=s3.bucket, Prefix=recording_id).get("Contents", ())]
    for key in keys:
        (folder / key).write_bytes(client.get_object(Bucket=s3.bucket, Key=key)["Body"].read())
    return sorted(keys)


Scene = tuple[SimGuild, SimChannel, SimChannel, SimMember]


async def guilds_in_voice(sim: DiscordSimulator, bot: SimBot, *names: str) -> list[Scene]:
    """One guild of ``bot`` per name, each with a voice and a text channel and its owner (every permission, Manage
    Server too) in voice: the bot records one channel per guild, so several recordings need several guilds."""
    scenes = []
    for name in names:
        guild = sim.create_guild(name, bots=[bot])
        voice, text = guild.create_voice_channel("General"), guild.create_text_channel("chat")
        member = guild.add_member(f"owner-of-{name}")
        guild.owner_id = member.id
        await member.join_voice(voice)
        scenes.append((guild, voice, text, member))
    return scenes


def listed_keys(s3: S3Server, recording_id: str) -> list[str]:
    return sorted(item["Key"] for item in
                  s3.client().list_objects(Bucket=s3.bucket, Prefix=recording_id).get("Contents", ()))


@dataclass
class BridgeProcess:
    """A front door process (``pandora bot`` or ``pandora frontdoor``) with the bridge on, and its sidecar."""

    process: asyncio.subprocess.Process
    sidecar: Daprd
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def answered(self, status: str) -> int:
        """How many deliveries the bridge answered with ``status`` (its log says each)."""
        return sum(1 for line in self.text().splitlines()
                   if "pub/sub delivery answered" in line and f"status={status}" in line)


def bridge_sidecar(daprd_factory: Callable[..., Daprd], app_id: str) -> tuple[Daprd, dict[str, str]]:
    """The bridge's own daprd (its app port chosen here), and the environment that points the bridge at it."""
    app_port = free_port()
    sidecar = daprd_factory(app_id, app_port, wait_for_app=False)
    return sidecar, {**sidecar.env(), "PUBSUB_NAME": PUBSUB, "DAPR_SERVER_PORT": str(app_port)}


@contextlib.asynccontextmanager
async def bridge_process(command: list[str], env: dict[str, str], sidecar: Daprd,
                         log: Path) -> AsyncIterator[BridgeProcess]:
    """``pandora <command>`` with exactly ``env``, until its sidecar has subscribed; SIGTERM at the end."""
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "pandora.cli", *command, env=env,
                                                       stdout=output, stderr=output)
    running = BridgeProcess(process, sidecar, log)
    try:
        await wait_for(lambda: "pub/sub bridge listening" in running.text() or process.returncode is not None,
                       timeout=60, what="the bridge to listen")
        assert process.returncode is None, running.text()[-3000:]
        await bridge_subscribed(sidecar)
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
    assert "Traceback" not in running.text(), running.text()[-4000:]
