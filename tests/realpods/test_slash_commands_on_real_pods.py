"""The command front door on real pods, as a Discord user meets it: `helm install` with the front door enabled (its
pod runs our operator image), `/record` from a member in voice -> one Recording -> a recorder pod with its daprd
sidecar -> the deferred reply edited to "Recording started with id <ID>" once the pod reports Recording; `/end` ->
the summary once the Recording is Completed, the one end message in the channel; the audio fetched from S3 is
what the member said.

Timings are printed (`pytest -s`), not asserted."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from bot_testkit import bot_texts, commands_synced, final_reply, started_id
from recorder_testkit import recorded_tracks
from release import chart_values, explain, fetch_recording, install, run, until

from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world
from pandora_testenv.realnode.host import GATEWAY

pytestmark = pytest.mark.timeout(600)


def _recordings(cluster, namespace: str) -> list[dict]:
    result = cluster.kubectl("-n", namespace, "get", "recordings", "-o", "json", check=True)
    return list(json.loads(result.stdout)["items"])


def _front_door_log(cluster, namespace: str) -> str:
    result = cluster.kubectl("-n", namespace, "logs", "deployment/pandora-frontdoor", "-c", "frontdoor")
    return result.stdout + result.stderr


async def test_slash_record_and_end_through_the_front_door_pod(real_cluster, real_namespace, bridge_redis,
                                                               bridge_s3, tmp_path):
    cluster, timings = real_cluster.cluster, {}
    async with DiscordSimulator(host=GATEWAY) as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        world.guild.owner_id = alice.id  # the owner has every permission, Manage Server included
        started = time.monotonic()
        values = chart_values(real_cluster, sim, world.bot, bridge_redis, bridge_s3, frontdoor=True)
        installed = await run(install, cluster, real_namespace, values, tmp_path, bridge_s3)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        await until("the front door pod ready for commands",
                    lambda: "front door ready" in _front_door_log(cluster, real_namespace), 120,
                    explain=explain(cluster, real_namespace))
        await commands_synced(world.bot)
        timings["helm install -> front door answering"] = time.monotonic() - started
        pods = (await run(cluster.kubectl, "-n", real_namespace, "get", "pods", "-l",
                          "app.kubernetes.io/component=frontdoor", "-o", "json", check=True)).stdout
        assert real_cluster.images["operator"].ref in pods and real_cluster.node.name in pods
        # A front door that has been up a while, as users meet it: the recorder pod's IDENTIFY would otherwise come
        # within Discord's 5 s of the front door's own and wait out an op 9 (the front door's IDENTIFY slots are
        # its own, not the pods' in the state store).
        await asyncio.sleep(5.0)

        began = time.perf_counter()
        interaction = await alice.invoke_slash_command(world.bot, "record", channel=world.text)
        assert (await interaction.wait_response()).type == 5  # deferred at once
        reply = await final_reply(interaction, timeout=180)
        timings["/record -> 'Recording started' (recorder pod reported Recording)"] = time.perf_counter() - began
        recording_id = started_id(reply.content)
        (created,) = await run(_recordings, cluster, real_namespace)
        assert created["metadata"]["name"] == f"interaction-{interaction.id}"
        assert created["spec"]["requestedBy"] == {"source": "slash-command", "userId": str(alice.id), "name": "alice"}
        status = created["status"]
        assert status["phase"] == "Recording" and status.get("progressAt")  # the recorder pod had reported
        assert status["recordingId"] == str(recording_id)

        await world.voice.wait_dave_settled()
        await alice.speak(seconds=1.0)
        await asyncio.sleep(2.5)  # one progress report (every 2 s) with alice in it
        began = time.perf_counter()
        ending = await alice.invoke_slash_command(world.bot, "end", channel=world.text)
        summary = await final_reply(ending, timeout=180)
        timings["/end -> the summary (Recording Completed)"] = time.perf_counter() - began
        await until("the recorder pod to finish", lambda: all(
            pod["status"].get("phase") in ("Succeeded", "Failed") for pod in json.loads(cluster.kubectl(
                "-n", real_namespace, "get", "pods", "-l", "app.kubernetes.io/component=recorder", "-o", "json",
            ).stdout)["items"]), 60, explain=explain(cluster, real_namespace))
        ended_messages = [text for text in bot_texts(sim, world.bot, world.text) if " ended" in text]
        (ended,) = await run(_recordings, cluster, real_namespace)
    status = ended["status"]
    assert status["phase"] == "Completed", status
    head, files = summary.content.splitlines()[:2]
    assert head.startswith(f"Recording {recording_id} ended after ") and head.endswith(", 1 speaker: alice.")
    assert files.startswith(f"Files: `{status['location']}`. Get them with `pandora fetch ")
    assert ended_messages == [summary.content]  # the front door's summary, no second notice from the recorder
    assert sim.invalid_sessions == []  # the front door and the recorder pod logged in without an op 9
    _, raw = await run(fetch_recording, bridge_s3, status, tmp_path)
    assert recorded_tracks(raw, recording_id) == {alice.id: alice.sent_frames}
    for what, seconds in timings.items():
        print(f"real pods: {what}: {seconds:.1f} s")
