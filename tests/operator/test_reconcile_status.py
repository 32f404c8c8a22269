"""The operator's status writer: only what changed, a condition that follows the phase, its own latest word."""

from __future__ import annotations

import datetime

from reconcile_world import World

from pandora.recording_api.resource import Phase
from pandora.recording_api.status import RecordingStatus
from pandora_operator.status import StatusWriter, elapsed_seconds


async def test_only_the_fields_that_differ_are_patched_and_nothing_when_none_does():
    world = World()
    world.create("standup")
    writer = StatusWriter(world.kube)
    view = world.view("standup")

    assert await writer.write(view, RecordingStatus(phase=Phase.PENDING, message="waiting"))
    assert not await writer.write(view, RecordingStatus(phase=Phase.PENDING, message="waiting"))
    assert await writer.write(view, RecordingStatus(phase=Phase.PENDING, message="waiting", bot="alpha"))
    assert [patch for _, patch in world.kube.status_patches][1] == {"bot": "alpha", "observedGeneration": 1}


async def test_the_recording_condition_follows_phase_and_message_with_the_generation():
    world = World()
    world.create("standup")
    world.edit_spec("standup", maxDuration=60)
    writer = StatusWriter(world.kube)
    view = world.view("standup")

    await writer.write(view, RecordingStatus(phase=Phase.STARTING, message="waiting for pod"))
    await writer.write(view, RecordingStatus(phase=Phase.RECORDING, message="recording"))
    (condition,) = world.status("standup").conditions
    assert (condition.type, condition.status, condition.reason, condition.message) == (
        "Recording", "True", "Recording", "recording"
    )
    assert condition.observed_generation == 2 and world.status("standup").observed_generation == 2
    await writer.write(view, RecordingStatus(message="still recording"))
    assert world.status("standup").conditions[0].message == "still recording"
    await writer.write(view, RecordingStatus(phase=Phase.STOPPING))
    assert world.status("standup").conditions[0].message == "still recording"
    assert world.status("standup").conditions[0].status == "False"


async def test_its_own_writes_count_before_the_watch_shows_them_until_forgotten():
    world = World()
    world.create("standup")
    writer = StatusWriter(world.kube)
    stale = world.view("standup")

    await writer.write(stale, RecordingStatus(phase=Phase.STARTING, pod="standup-rec-0"))
    assert writer.effective(stale).pod == "standup-rec-0"
    assert not await writer.write(stale, RecordingStatus(phase=Phase.STARTING))
    writer.forget(stale.uid)
    assert writer.effective(stale) == RecordingStatus()


async def test_progress_the_recorder_wrote_is_left_alone():
    world = World()
    world.create("standup")
    world.kube.recordings["standup"]["status"] = {"phase": "Recording", "bytes": 4096, "speakerCount": 2}
    writer = StatusWriter(world.kube)

    await writer.write(world.view("standup"), RecordingStatus(phase=Phase.STOPPING))
    assert set(world.kube.status_patches[0][1]) == {"phase", "conditions", "observedGeneration"}


def test_elapsed_seconds_since_started_at():
    started = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
    assert elapsed_seconds(RecordingStatus(started_at=started), started + datetime.timedelta(seconds=90.7)) == 90
    assert elapsed_seconds(RecordingStatus(started_at=started), started - datetime.timedelta(seconds=5)) == 0
    assert elapsed_seconds(RecordingStatus(), started) is None
