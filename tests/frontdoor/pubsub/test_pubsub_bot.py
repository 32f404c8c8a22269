"""``pandora bot`` with a Dapr sidecar and ``PUBSUB_NAME`` (one machine, as the original's docker-compose runs it):
a backend publishes to its own daprd's HTTP API and reads the acks; real daprd, Redis pub/sub and S3."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from pubsub_testkit import (
    backend,
    bridge_process,
    bridge_sidecar,
    cooking_server_download,
    forget_topics,
    listed_keys,
)
from recorder_testkit import recorded_tracks

from pandora_frontdoor.pubsub import topics
from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world, wait_for
from pandora_testenv.services import OBJECT_STORE, STATE_STORE

pytestmark = [pytest.mark.timeout(180), pytest.mark.dapr]

WHOLE_FILES = ("data", "header1", "header2", "info", "users")


async def test_a_start_published_to_daprd_records_and_the_stop_is_acked_once_the_whole_files_are_in_s3(
    daprd_factory, redis_server, s3_server, monkeypatch, tmp_path: Path
) -> None:
    forget_topics(redis_server)
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        with backend(daprd_factory, monkeypatch) as shop:
            shop.on_stopped = lambda data: {rid: listed_keys(s3_server, rid) for rid in data["ids"]}
            sidecar, bridge_env = await asyncio.to_thread(bridge_sidecar, daprd_factory,
                                                          f"pandora-{uuid.uuid4().hex[:6]}")
            env = {**os.environ, **bridge_env, **sim.connection_env(world.bot), "OBJECT_STORE_NAME": OBJECT_STORE,
                   "STORE_NAME": STATE_STORE, "PANDORA_STORAGE_PREFIX": f"pubsub-{uuid.uuid4().hex[:8]}/"}
            command = ["bot", "--out", str(tmp_path / "rec")]
            async with bridge_process(command, env, sidecar, tmp_path / "bot.log") as bot:
                start = {"voiceChannelId": str(world.voice.id), "textChannelId": str(world.text.id),
                         "ticket": "T-1"}
                # Dapr delivers at least once: the same message (one CloudEvent id) twice.
                await shop.publish_cloud_event(topics.START, "start-1", start)
                await shop.publish_cloud_event(topics.START, "start-1", start)
                (started,) = await shop.wait(topics.STARTED)
                recording_id = started["recordingId"]
                assert started == {**start, "recordingId": recording_id} and recording_id.isdigit()
                await world.voice.wait_dave_settled()
                await alice.speak(seconds=0.8)
                await asyncio.sleep(0.3)
                await shop.publish_json(topics.STOP, {"voiceChannelId": str(world.voice.id)})
                (stopped,) = await shop.wait(topics.STOPPED)
                await wait_for(lambda: bot.answered("SUCCESS") >= 3, timeout=20, what="every delivery answered")
            assert len(shop.of(topics.STARTED)) == 1  # one ack for the two deliveries
    assert stopped == {"ids": [recording_id]}
    # When the ack arrived, the five whole files were at the bucket root already.
    expected = [f"{recording_id}.ogg.{kind}" for kind in sorted(WHOLE_FILES)]
    assert shop.seen_on_stopped == [{recording_id: expected}]
    infos = shop.infos()
    assert f"Recording started with id {recording_id}" in infos
    assert any(text.startswith(f"Recording {recording_id} ended after ") for text in infos)
    # The original cooking server's way in: list String(id), save each key as a file; the frames are the same.
    assert cooking_server_download(s3_server, recording_id, tmp_path / "cook") == expected
    assert recorded_tracks(tmp_path / "cook", int(recording_id)) == {alice.id: alice.sent_frames}
    assert json.loads((tmp_path / "cook" / f"{recording_id}.ogg.info").read_text())["channel"]
