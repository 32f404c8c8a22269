"""``pandora frontdoor`` on the local control plane with the operator: commands become ``Recording`` resources, and
the replies follow their status, as the recorder pod reports it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bot_testkit import bot_text_starting, bot_texts, final_reply, started_id
from kube_testkit import deliver_again, kube_scene, recordings
from recorder_testkit import recorded_tracks

from pandora_frontdoor.bot.client import MESSAGE_CONTENT_NEEDED
from pandora_frontdoor.bot.lifecycle import TEXT_COMMANDS_OFF

pytestmark = [pytest.mark.timeout(240)]


async def test_slash_record_creates_one_recording_and_replies_once_the_recorder_reports(
    kube_cluster, namespace, operator, tmp_path: Path
) -> None:
    out = tmp_path / "recorder-out"
    async with kube_scene(kube_cluster, namespace, tmp_path) as scene:
        world, (alice,) = scene.world, scene.world.members
        interaction = await alice.invoke_slash_command(world.bot, "record", channel=world.text)
        assert (await interaction.wait_response()).type == 5  # deferred at once
        reply = await final_reply(interaction, timeout=60)
        (created,) = await asyncio.to_thread(recordings, kube_cluster, namespace)
        assert created["metadata"]["name"] == f"interaction-{interaction.id}"
        assert created["spec"] == {
            "guildId": str(world.guild.id), "voiceChannelId": str(world.voice.id),
            "textChannelId": str(world.text.id), "stop": False,
            "requestedBy": {"source": "slash-command", "userId": str(alice.id), "name": "alice"},
        }
        status = created["status"]
        assert status["phase"] == "Recording" and status.get("progressAt")  # the recorder had reported
        recording_id = started_id(reply.content)
        assert str(recording_id) == status["recordingId"]
        await world.voice.wait_dave_settled()
        await alice.speak(seconds=0.8)
        await asyncio.sleep(2.5)  # one progress report (every 2 s) with alice in it
        ending = await alice.invoke_slash_command(world.bot, "end", channel=world.text)
        summary = await final_reply(ending, timeout=60)
        (ended,) = await asyncio.to_thread(recordings, kube_cluster, namespace)
        await asyncio.wait_for(asyncio.gather(*scene.pods.tasks.values()), 30)  # the recorder has left and exited
        ended_messages = [text for text in bot_texts(scene.sim, world.bot, world.text) if " ended" in text]
    assert ended["spec"]["stop"] is True and ended["status"]["phase"] == "Completed"
    location = ended["status"]["location"]
    assert summary.action == "edit_original"
    assert summary.content.splitlines()[0].startswith(f"Recording {recording_id} ended after ")
    assert summary.content.splitlines()[0].endswith(", 1 speaker: alice.")
    assert summary.content.splitlines()[1].startswith(f"Files: `{location}`. Get them with `pandora fetch ")
    assert ended_messages == [summary.content]  # the /end reply is the one end message in the channel
    assert recorded_tracks(out, recording_id) == {alice.id: alice.sent_frames}


async def test_a_second_delivery_makes_no_second_recording_and_a_killed_front_door_still_ends_it(
    kube_cluster, namespace, operator, tmp_path: Path
) -> None:
    out = tmp_path / "recorder-out"
    async with kube_scene(kube_cluster, namespace, tmp_path, COMMAND_PREFIX="!") as scene:
        sim, world, door, pods = scene.sim, scene.world, scene.door, scene.pods
        (alice,) = world.members
        interaction = await alice.invoke_slash_command(world.bot, "record", channel=world.text)
        await deliver_again(sim, interaction)
        reply = await final_reply(interaction, timeout=60)
        recording_id = started_id(reply.content)
        # The recorder pod's own gateway session (same token) got both deliveries too, and answered neither.
        assert len(sim.sessions.of(world.bot.id)) == 2
        await deliver_again(sim, interaction)
        await asyncio.sleep(1.0)
        assert [r.type for r in interaction.responses if r.action == "callback"] == [5]
        assert len(await asyncio.to_thread(recordings, kube_cluster, namespace)) == 1
        assert "another process answered this interaction" not in door.text()

        await door.kill()  # mid-recording; the recording goes on
        await world.voice.wait_dave_settled()
        await alice.speak(seconds=0.6)
        await door.start()
        await asyncio.sleep(2.5)
        await alice.send_message(world.text, "!end")
        summary = await bot_text_starting(sim, world.bot, world.text, f"Recording {recording_id} ended after ",
                                          timeout=60)
        await asyncio.wait_for(asyncio.gather(*pods.tasks.values()), 30)  # the recorder has left and exited
        ended_messages = [text for text in bot_texts(sim, world.bot, world.text) if " ended" in text]
    assert summary.splitlines()[0].endswith(", 1 speaker: alice.")
    assert ended_messages == [summary]  # one end message: the front door's, not also the recorder's own notice
    (ended,) = await asyncio.to_thread(recordings, kube_cluster, namespace)
    assert ended["status"]["phase"] == "Completed"
    assert list(pods.sessions) == [ended["status"]["pod"]]  # one recorder pod, never restarted
    assert recorded_tracks(out, recording_id) == {alice.id: alice.sent_frames}


async def test_without_message_content_the_front_door_says_what_to_enable_and_answers_slash_commands(
    kube_cluster, namespace, tmp_path: Path
) -> None:
    async with kube_scene(kube_cluster, namespace, tmp_path, message_content=False, COMMAND_PREFIX="!") as scene:
        (alice,) = scene.world.members
        status = await alice.invoke_slash_command(scene.world.bot, "status", channel=scene.world.text)
        answer = await final_reply(status)
        log = scene.door.text()
        assert not scene.door.exited()  # still up after the refusal: no crash loop
    assert answer.content == "Nothing is being recorded in this server."
    assert log.count(MESSAGE_CONTENT_NEEDED) == 1 and TEXT_COMMANDS_OFF in log
