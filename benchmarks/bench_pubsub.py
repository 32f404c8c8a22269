"""Benchmark: publish -> ack latency of the pub/sub bridge in `pandora bot`, through real daprd sidecars and Redis.

A backend (its own daprd, subscribed to the ack topics with the Dapr SDK) publishes `startRecordingDiscord` straight
to its sidecar's HTTP API; the clock stops when `startedRecordingDiscord` arrives (the bot has joined voice and
audio is being captured). Then `stopRecordingDiscord`, timed until `stoppedRecordingDiscord` (the files are
complete; with --object-store, the five whole files are in S3 too). `pandora bot` runs as a child process with its
own daprd; the simulator, Redis and moto's S3 server run here. Prints p50, p90 and max over the rounds.

    .venv/bin/python benchmarks/bench_pubsub.py [--rounds 20] [--object-store]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse

from pandora_frontdoor.pubsub import topics
from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world, wait_for
from pandora_testenv.processes import free_port, stop
from pandora_testenv.services import (
    OBJECT_STORE,
    PUBSUB,
    STATE_STORE,
    render_components,
    start_daprd,
    start_redis,
    start_s3,
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Acks:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[str, Any, float]] = []

    def handler(self, topic: str) -> Any:
        def handle(message: Any) -> TopicEventResponse:
            with self.lock:
                self.items.append((topic, message.data(), time.perf_counter()))
            return TopicEventResponse("success")

        return handle

    def count(self, topic: str) -> int:
        with self.lock:
            return sum(1 for item in self.items if item[0] == topic)

    def last(self, topic: str) -> tuple[Any, float]:
        with self.lock:
            data, at = next((item[1], item[2]) for item in reversed(self.items) if item[0] == topic)
            return data, at


def publish(endpoint: str, topic: str, data: Any) -> float:
    request = urllib.request.Request(f"{endpoint}/v1.0/publish/{PUBSUB}/{topic}", data=json.dumps(data).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    sent = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10):
        return sent


async def main(rounds: int, object_store: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="pandora-bench-pubsub-") as folder:
        run = Path(folder)
        redis, s3 = start_redis(run), start_s3(run)
        components = render_components(run / "components", redis, s3, run / "objects")
        backend = start_daprd(run, components, f"backend-{uuid.uuid4().hex[:6]}")
        app_port = free_port()
        bridge = start_daprd(run, components, f"pandora-{uuid.uuid4().hex[:6]}", app_port, wait_for_app=False)
        acks = Acks()
        os.environ.update(backend.env())
        client = DaprClient()
        closers = [client.subscribe_with_handler(PUBSUB, topic, acks.handler(topic))
                   for topic in (topics.STARTED, topics.STOPPED)]
        log = run / "bot.log"
        starts: list[float] = []
        stops: list[float] = []
        try:
            async with DiscordSimulator() as sim:
                world = await small_world(sim, "alice", in_voice=1)
                (alice,) = world.members
                env = {**os.environ, **bridge.env(), **sim.connection_env(world.bot), "PUBSUB_NAME": PUBSUB,
                       "DAPR_SERVER_PORT": str(app_port)}
                if object_store:
                    env |= {"OBJECT_STORE_NAME": OBJECT_STORE, "STORE_NAME": STATE_STORE}
                with log.open("wb") as output:
                    bot = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "pandora.cli", "bot", "--out", str(run / "recordings"), env=env,
                        stdout=output, stderr=output)
                try:
                    await wait_for(lambda: "pub/sub bridge listening" in log.read_text(), timeout=60,
                                   what="the bridge to listen")
                    await asyncio.to_thread(_healthy, bridge.http_endpoint)
                    await asyncio.sleep(1.0)
                    for round_number in range(rounds):
                        sent = await asyncio.to_thread(publish, backend.http_endpoint, topics.START,
                                                       {"voiceChannelId": str(world.voice.id)})
                        await wait_for(lambda n=round_number: acks.count(topics.STARTED) > n, timeout=60,
                                       what="startedRecordingDiscord")
                        starts.append(acks.last(topics.STARTED)[1] - sent)
                        await world.voice.wait_dave_settled()
                        await alice.speak(seconds=0.2)
                        sent = await asyncio.to_thread(publish, backend.http_endpoint, topics.STOP, {})
                        await wait_for(lambda n=round_number: acks.count(topics.STOPPED) > n, timeout=60,
                                       what="stoppedRecordingDiscord")
                        stops.append(acks.last(topics.STOPPED)[1] - sent)
                        await wait_for(lambda: world.guild.voice_channel_of(world.bot.id) is None, timeout=20,
                                       what="the bot to leave voice")
                finally:
                    bot.terminate()
                    await bot.wait()
        finally:
            for close in closers:
                close()
            client.close()
            bridge.stop()
            backend.stop()
            stop(s3.process)
            stop(redis.process)
    storage = "S3 through the Dapr binding, whole files" if object_store else "a local folder"
    print(f"pandora bot + daprd 1.18 + Redis pub/sub, recordings to {storage}")
    for label, values in (("publish start -> startedRecordingDiscord", starts),
                          ("publish stop -> stoppedRecordingDiscord", stops)):
        print(f"{label:42s} p50 {statistics.median(values) * 1000:7.1f} ms   p90 {percentile(values, 0.9) * 1000:7.1f}"
              f" ms   max {max(values) * 1000:7.1f} ms   ({len(values)} rounds)")


def _healthy(endpoint: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/v1.0/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("the bridge's sidecar did not get healthy")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--object-store", action="store_true", help="record to S3 through the Dapr binding")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.object_store))
