"""``pandora bot`` with a Dapr sidecar and ``PUBSUB_NAME`` (one machine, as the original's docker-compose runs it):
a backend publishes to its own daprd's HTTP API and reads the acks; real daprd, Redis pub/sub and S3."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from bot_testkit import commands_synced, final_reply, started_id, type_command
from pubsub_testkit import (
    backend,
    bridge_process,
    bridge_sidecar,
    cooking_server_download,
    forget_topics,
    guilds_in_voice,
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


async def test_a_stop_without_payload_stops_pubsub_slash_and_text_recordings_and_acks_each(
    daprd_factory, redis_server, monkeypatch, tmp_path: Path
) -> None:
    forget_topics(redis_server)
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        scenes = await guilds_in_voice(sim, bot, "PubSub", "Slash", "Text")
        (_, pubsub_voice, _, _), (_, _, slash_text, slash_member), (_, _, text, text_member) = scenes
        with backend(daprd_factory, monkeypatch) as shop:
            sidecar, bridge_env = await asyncio.to_thread(bridge_sidecar, daprd_factory,
                                                          f"pandora-{uuid.uuid4().hex[:6]}")
            env = {**os.environ, **bridge_env, **sim.connection_env(bot), "COMMAND_PREFIX": "!"}
            async with bridge_process(["bot", "--out", str(tmp_path / "rec")], env, sidecar, tmp_path / "bot.log"):
                await commands_synced(bot)
                # A `!record` recording ended by `!end` is acked too (the original acked only pub/sub starts).
                first_text_id = started_id(await type_command(sim, bot, text_member, text, "!record"))
                await type_command(sim, bot, text_member, text, "!end")
                assert (await shop.wait(topics.STOPPED)) == [{"ids": [str(first_text_id)]}]

                await shop.publish_json(topics.START, {"voiceChannelId": str(pubsub_voice.id)})
                (started,) = await shop.wait(topics.STARTED)
                interaction = await slash_member.invoke_slash_command(bot, "record", channel=slash_text)
                slash_id = started_id((await final_reply(interaction, timeout=30)).content)
                text_id = started_id(await type_command(sim, bot, text_member, text, "!record"))
                running = {started["recordingId"], str(slash_id), str(text_id)}
                assert len(running) == 3

                await shop.publish(topics.STOP, b"")  # no payload: every recording
                acks = await shop.wait(topics.STOPPED, count=4, timeout=60)
                for guild, *_ in scenes:
                    await wait_for(lambda g=guild: g.voice_channel_of(bot.id) is None, timeout=20,
                                   what="the bot out of voice")
    assert sorted(ack["ids"][0] for ack in acks[1:]) == sorted(running)
    assert all(len(ack["ids"]) == 1 for ack in acks)
    assert len(shop.of(topics.STARTED)) == 1  # only the pub/sub start is acked on startedRecordingDiscord


def malformed_starts(voice: str, text: str, other_guild: str) -> list[tuple[bytes, str]]:
    """20 start payloads a backend could get wrong, as published bodies, each with a word its answer must say."""
    def body(value: object) -> bytes:
        return json.dumps(value).encode()

    return [
        (b"null", "empty"),
        (body({}), "empty"),
        (body({"channel": voice}), "missing"),
        (body({"voiceChannelId": ""}), "empty"),
        (body({"voiceChannelId": int(voice)}), "JSON number"),
        (body({"voiceChannelId": "general"}), "not a Discord id"),
        (body({"voiceChannelId": "12345"}), "not a Discord id"),
        (body({"voiceChannelId": "9" * 5000}), "not a Discord id"),
        (body({"voiceChannelId": {"id": voice}}), "an object"),
        (body({"voiceChannelId": [voice]}), "an array"),
        (body({"voiceChannelId": True}), "true"),
        (body({"voiceChannelId": None}), "null"),
        (body([voice]), "an array"),
        (body(42), "a number"),
        (body({"voiceChannelId": voice, "note": "x" * 20_000}), "larger than"),
        (body({"voiceChannelId": "123456789012345678"}), "cannot see a channel"),
        (body({"voiceChannelId": text}), "not a voice channel"),
        (body({"voiceChannelId": voice, "guildId": other_guild}), "not in guildId"),
        (body({"voiceChannelId": voice, "maxDuration": "60"}), "maxDuration"),
        (body({"voiceChannelId": voice, "textChannelId": int(text)}), "JSON number"),
    ]


async def test_malformed_starts_each_get_an_info_message_and_are_dropped_and_the_bridge_keeps_serving(
    daprd_factory, redis_server, monkeypatch, tmp_path: Path
) -> None:
    forget_topics(redis_server)
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        other = sim.create_guild("Other", bots=[world.bot])
        bad = malformed_starts(str(world.voice.id), str(world.text.id), str(other.id))
        assert len(bad) == 20
        with backend(daprd_factory, monkeypatch) as shop:
            sidecar, bridge_env = await asyncio.to_thread(bridge_sidecar, daprd_factory,
                                                          f"pandora-{uuid.uuid4().hex[:6]}")
            env = {**os.environ, **bridge_env, **sim.connection_env(world.bot)}
            async with bridge_process(["bot", "--out", str(tmp_path / "rec")], env, sidecar,
                                      tmp_path / "bot.log") as bot:
                for published, _ in bad:
                    await shop.publish(topics.START, published)
                # And a start published hours ago, as a new subscriber is handed a Redis stream from its beginning.
                await shop.publish_cloud_event(topics.START, "stale", {"voiceChannelId": str(world.voice.id)},
                                               time="2026-01-01T00:00:00Z")
                infos = await shop.wait(topics.INFO, count=len(bad) + 1, timeout=60)
                await wait_for(lambda: bot.answered("DROP") == len(bad) + 1, timeout=20,
                               what="every delivery dropped")
                assert world.guild.voice_channel_of(world.bot.id) is None  # nothing was started
                # Still serving: a good start records.
                await shop.publish_json(topics.START, {"voiceChannelId": str(world.voice.id)})
                (started,) = await shop.wait(topics.STARTED)
                await shop.publish_json(topics.STOP, {})
                await shop.wait(topics.STOPPED)
            assert bot.answered("RETRY") == 0
    texts = [info["data"] for info in infos[: len(bad) + 1]]
    assert all(text.startswith("Couldn't start recording") for text in texts)
    assert any("the request was published" in text for text in texts)
    for _, word in bad:  # each one says what was wrong (deliveries may be answered in any order)
        assert any(word in text for text in texts), (word, texts)
    assert started["recordingId"].isdigit()
