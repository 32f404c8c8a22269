"""``KubernetesRecordings`` against an in-memory API: how each status the operator and the recorder write becomes
an outcome, a summary or an announcement."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from fake_recordings_api import FakeRecordingsApi

from pandora_frontdoor.kube.recordings import ANNOUNCED, KubernetesRecordings, recording_name
from pandora_frontdoor.recordings import EndListener, RecordRequest, Requester, Source, StartResult, Summary

GUILD, VOICE, OTHER, TEXT, ALICE = "100000000000000001", "200000000000000001", "200000000000000002", \
    "300000000000000001", "400000000000000001"
NOW = "2026-12-01T10:00:00Z"


def request(key: str = "interaction:500000000000000001", channel: str = VOICE) -> RecordRequest:
    return RecordRequest(key, int(GUILD), int(channel), Requester(Source.SLASH_COMMAND, int(ALICE), "alice"),
                         text_channel_id=int(TEXT))


@contextlib.asynccontextmanager
async def watching(api: FakeRecordingsApi, **options: float) -> AsyncIterator[KubernetesRecordings]:
    recordings = KubernetesRecordings(api, **options)  # type: ignore[arg-type]
    task = asyncio.create_task(recordings.watch())
    await asyncio.wait_for(recordings.synced.wait(), 5)
    try:
        yield recordings
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def operator_starts(api: FakeRecordingsApi, name: str, recording_id: str = "777") -> None:
    while name not in api.objects:
        await asyncio.sleep(0.01)
    api.set_status(name, phase="Starting", recordingId=recording_id, pod=f"{name}-rec-0",
                   location=f"dapr://pandora-recordings/recordings/{recording_id}/")
    await asyncio.sleep(0.05)
    api.set_status(name, phase="Recording", startedAt=NOW)  # the pod runs; the recorder has not reported yet
    await asyncio.sleep(0.05)
    api.set_status(name, progressAt=NOW, duration=0, speakers=[])


def listener(heard: list[Summary]) -> EndListener:
    async def hear(summary: Summary) -> None:
        heard.append(summary)

    return hear


def test_names_are_deterministic_valid_and_short() -> None:
    assert recording_name("interaction:1312345678901234567") == "interaction-1312345678901234567"
    assert recording_name("message:1312345678901234567") == "message-1312345678901234567"
    long = recording_name("pubsub:" + "x" * 100)
    assert len(long) <= 50 and long == recording_name("pubsub:" + "x" * 100) != recording_name("pubsub:" + "y" * 100)
    assert recording_name("Weird Key/ü") == "weird-key"


async def test_start_creates_the_recording_and_answers_once_the_recorder_reports() -> None:
    api = FakeRecordingsApi()
    async with watching(api) as recordings:
        name = "interaction-500000000000000001"
        player = asyncio.create_task(operator_starts(api, name))
        outcome = await recordings.start(request())
        await player
        assert outcome.result is StartResult.STARTED
        assert outcome.recording is not None and outcome.recording.recording_id == "777"
        body = api.objects[name]
        assert body["spec"] == {"guildId": GUILD, "voiceChannelId": VOICE, "textChannelId": TEXT, "stop": False,
                                "requestedBy": {"source": "slash-command", "userId": ALICE, "name": "alice"}}
        assert body["metadata"]["annotations"] == {"pandora.dev/request-key": "interaction:500000000000000001"}
        assert [r.recording_id for r in recordings.active()] == ["777"]
        # The same interaction again (a second delivery, or after a restart): the same Recording, no second one.
        again = await recordings.start(request())
        assert again.result is StartResult.STARTED and again.recording == outcome.recording
        assert api.creates == [name, name] and len(api.objects) == 1


async def test_recording_phase_alone_is_not_capture() -> None:
    api = FakeRecordingsApi()
    async with watching(api, start_timeout=1.0) as recordings:
        name = "interaction-500000000000000001"

        async def pod_runs_but_recorder_never_reports() -> None:
            while name not in api.objects:
                await asyncio.sleep(0.01)
            api.set_status(name, phase="Recording", recordingId="777", message="recording voice channel ...")

        player = asyncio.create_task(pod_runs_but_recorder_never_reports())
        outcome = await recordings.start(request())
        await player
    assert outcome.result is StartResult.FAILED
    assert outcome.reason.startswith("the recorder did not start within 1 s (its status: Recording, recording")
    assert (name, {"spec": {"stop": True}}) in api.patches  # not left to start behind the user's back


async def test_a_channel_claimed_by_another_recording_answers_with_that_one() -> None:
    api = FakeRecordingsApi()
    api.add("standup", {"guildId": GUILD, "voiceChannelId": VOICE, "requestedBy": {"source": "kubectl"}},
            {"phase": "Recording", "recordingId": "111", "progressAt": NOW})
    async with watching(api) as recordings:
        name = "interaction-500000000000000001"

        async def operator_refuses() -> None:
            while name not in api.objects:
                await asyncio.sleep(0.01)
            api.set_status(name, phase="Failed", message=f"voice channel {VOICE} is already being recorded by "
                                                         "Recording test/standup; stop or delete standup first")

        player = asyncio.create_task(operator_refuses())
        outcome = await recordings.start(request())
        await player
    assert outcome.result is StartResult.ALREADY_RECORDING
    assert outcome.recording is not None and outcome.recording.recording_id == "111"


async def test_no_free_bot_in_the_guild_is_guild_busy_and_the_waiting_recording_is_withdrawn() -> None:
    api = FakeRecordingsApi()
    api.add("other", {"guildId": GUILD, "voiceChannelId": OTHER, "requestedBy": {"source": "pubsub"}},
            {"phase": "Recording", "recordingId": "222", "progressAt": NOW})
    async with watching(api) as recordings:
        name = "interaction-500000000000000001"

        async def operator_waits_for_a_bot() -> None:
            while name not in api.objects:
                await asyncio.sleep(0.01)
            api.set_status(name, phase="Pending", message="waiting for a free bot: ... every bot is busy")

        player = asyncio.create_task(operator_waits_for_a_bot())
        outcome = await recordings.start(request())
        await player
    assert outcome.result is StartResult.GUILD_BUSY
    assert outcome.recording is not None and outcome.recording.voice_channel_id == int(OTHER)
    assert (name, {"spec": {"stop": True}}) in api.patches


async def test_a_failed_start_says_what_the_operator_said() -> None:
    api = FakeRecordingsApi()
    async with watching(api) as recordings:
        name = "interaction-500000000000000001"

        async def fails() -> None:
            while name not in api.objects:
                await asyncio.sleep(0.01)
            api.set_status(name, phase="Failed", message="the recorder exited with code 1 five times")

        player = asyncio.create_task(fails())
        outcome = await recordings.start(request())
        await player
    assert (outcome.result, outcome.reason) == (StartResult.FAILED, "the recorder exited with code 1 five times")


async def test_stop_sets_spec_stop_and_returns_the_summary_after_the_listeners() -> None:
    api = FakeRecordingsApi()
    heard: list[Summary] = []
    async with watching(api) as recordings:
        recordings.on_ended(listener(heard))
        player = asyncio.create_task(operator_starts(api, "interaction-500000000000000001"))
        await recordings.start(request())
        await player

        async def operator_completes() -> None:
            while not api.objects["interaction-500000000000000001"]["spec"]["stop"]:
                await asyncio.sleep(0.01)
            api.set_status("interaction-500000000000000001", phase="Stopping")
            api.set_status("interaction-500000000000000001", duration=83, speakerCount=2, speakers=[
                {"id": ALICE, "name": "alice", "track": 1}, {"id": "400000000000000002", "name": "bob", "track": 2}])
            api.set_status("interaction-500000000000000001", phase="Completed", endedAt=NOW,
                           message="stopped because spec.stop was set; recording 777 is kept at dapr://x/777/")

        player = asyncio.create_task(operator_completes())
        summary = await recordings.stop("777")
        await player
        assert summary is not None and heard == [summary]
        assert (summary.completed, summary.duration_seconds, summary.speakers, summary.message) == (
            True, 83.0, ("alice", "bob"), "")
        assert summary.location == "dapr://pandora-recordings/recordings/777/"
        assert recordings.active() == []
        assert await recordings.stop("777") is None
        await asyncio.sleep(0.05)
        assert api.objects["interaction-500000000000000001"]["metadata"]["annotations"][ANNOUNCED] == "true"


async def test_an_ending_by_a_limit_is_announced_with_why() -> None:
    api = FakeRecordingsApi()
    heard: list[Summary] = []
    api.add("standup", {"guildId": GUILD, "voiceChannelId": VOICE, "textChannelId": TEXT, "maxDuration": 60},
            {"phase": "Recording", "recordingId": "111", "progressAt": NOW})
    async with watching(api) as recordings:
        recordings.on_ended(listener(heard))
        api.set_status("standup", phase="Completed", endedAt=NOW, duration=60,
                       message="stopped because maxDuration of 60s was reached; recording 111 is kept at dapr://x/")
        await asyncio.sleep(0.05)
    (summary,) = heard
    assert summary.message == "stopped because maxDuration of 60s was reached"
    assert summary.recording.requested_by.source is Source.KUBECTL


@pytest.mark.parametrize(("ended_ago", "announced"), [(60, True), (7200, False)])
async def test_a_restarted_front_door_announces_endings_it_missed_recently(ended_ago: float, announced: bool) -> None:
    api = FakeRecordingsApi()
    ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - ended_ago))
    api.add("missed", {"guildId": GUILD, "voiceChannelId": VOICE, "textChannelId": TEXT},
            {"phase": "Completed", "recordingId": "333", "endedAt": ended})
    api.add("told", {"guildId": GUILD, "voiceChannelId": OTHER}, {"phase": "Completed", "recordingId": "444",
                                                                  "endedAt": ended}, **{ANNOUNCED: "true"})
    heard: list[Summary] = []
    recordings = KubernetesRecordings(api)  # type: ignore[arg-type]
    recordings.on_ended(listener(heard))
    task = asyncio.create_task(recordings.watch())
    await asyncio.wait_for(recordings.synced.wait(), 5)
    task.cancel()
    assert [s.recording.recording_id for s in heard] == (["333"] if announced else [])
