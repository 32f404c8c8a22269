"""``pandora frontdoor`` with the bridge on the local control plane with the operator: a start published to daprd
becomes a ``Recording`` (``requestedBy.source: pubsub``, named from the message), its status drives the acks, and a
stop without payload ends every Recording of the namespace, ``kubectl apply``'d ones included."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from bot_testkit import commands_synced, final_reply, started_id
from kube_testkit import bot_pool, front_door, recorder_pods, recordings
from pubsub_testkit import backend, bridge_sidecar, bridge_subscribed, forget_topics, guilds_in_voice
from recorder_testkit import recorded_tracks
from recording_helpers import apply, recording_manifest, wait_phase

from pandora_frontdoor.pubsub import topics
from pandora_simulator import DiscordSimulator
from pandora_testenv.services import STATE_STORE

pytestmark = [pytest.mark.timeout(240), pytest.mark.dapr]


async def test_a_published_start_becomes_a_recording_whose_status_drives_the_acks(
    kube_cluster, namespace, operator, daprd_factory, redis_server, monkeypatch, tmp_path: Path
) -> None:
    forget_topics(redis_server)
    out = tmp_path / "recorder-out"
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        scenes = await guilds_in_voice(sim, bot, "PubSub", "Slash", "Kubectl")
        (_, voice, _, speaker), (_, _, slash_text, slash_member), (kubectl_guild, kubectl_voice, _, _) = scenes
        bot_pool(kube_cluster, namespace, bot)
        with backend(daprd_factory, monkeypatch) as shop:
            sidecar, bridge_env = await asyncio.to_thread(bridge_sidecar, daprd_factory,
                                                          f"pandora-frontdoor-{uuid.uuid4().hex[:6]}")
            async with front_door(kube_cluster, namespace, sim, bot, tmp_path, **bridge_env,
                                  PANDORA_STATE_STORE=STATE_STORE) as door, \
                    recorder_pods(kube_cluster, namespace, sim, bot, out):
                await bridge_subscribed(sidecar)
                await commands_synced(bot)
                start = {"voiceChannelId": str(voice.id), "maxDuration": 600}
                await shop.publish_cloud_event(topics.START, "kube-start-1", start)
                await shop.publish_cloud_event(topics.START, "kube-start-1", start)  # delivered twice
                (started,) = await shop.wait(topics.STARTED, timeout=90)
                (created,) = await asyncio.to_thread(recordings, kube_cluster, namespace)
                assert created["metadata"]["name"] == "pubsub-kube-start-1"
                assert created["spec"]["requestedBy"] == {"source": "pubsub", "name": "pubsub"}
                assert created["spec"]["maxDuration"] == 600
                assert created["status"]["phase"] == "Recording"
                assert started == {**start, "recordingId": created["status"]["recordingId"]}
                await voice.wait_dave_settled()
                await speaker.speak(seconds=0.8)

                interaction = await slash_member.invoke_slash_command(bot, "record", channel=slash_text)
                slash_id = str(started_id((await final_reply(interaction, timeout=90)).content))
                applied = apply(kube_cluster, namespace, recording_manifest(
                    "by-kubectl", str(kubectl_voice.id), str(kubectl_guild.id)))
                assert applied.returncode == 0, applied.stderr
                kubectl_id = (await asyncio.to_thread(wait_phase, kube_cluster, namespace, "by-kubectl",
                                                      "Recording", 90))["recordingId"]
                await asyncio.sleep(2.5)  # a progress report with the speaker in it

                await shop.publish(topics.STOP, b"")  # every recording of the namespace
                acks = await shop.wait(topics.STOPPED, count=3, timeout=120)
                ended = await asyncio.to_thread(recordings, kube_cluster, namespace)
            assert "IDENTIFY slots shared with the recorder pods" in door.text()
    assert sorted(ack["ids"][0] for ack in acks) == sorted([started["recordingId"], slash_id, kubectl_id])
    assert {item["status"]["phase"] for item in ended} == {"Completed"}
    assert len(shop.of(topics.STARTED)) == 1
    assert recorded_tracks(out, int(started["recordingId"])) == {speaker.id: speaker.sent_frames}
