"""The sweeper: what time alone changes (a bot freed for a Pending Recording, maxDuration reached)."""

from __future__ import annotations

import datetime

from reconcile_world import World

from pandora.recording_api.resource import Phase
from pandora.recording_api.status import RecordingStatus, utcnow
from pandora_operator.kube import ApiError
from pandora_operator.sweeper import sweep, time_can_change

OTHER_GUILD = "100000000000000002"


async def sweep_once(world: World) -> None:
    """One pass, over the indexes as kopf holds them now."""
    world.ctx.recording_views, world.ctx.recorder_pods = world.recording_index(), world.pod_index()  # type: ignore[assignment]
    await sweep(world.ctx)


def test_only_waiting_or_time_limited_recordings_need_the_sweeper():
    assert time_can_change(RecordingStatus(phase=Phase.PENDING), None)
    assert time_can_change(RecordingStatus(phase=Phase.RECORDING), 60)
    assert time_can_change(RecordingStatus(phase=Phase.STARTING), 60)
    assert not time_can_change(RecordingStatus(phase=Phase.RECORDING), None)
    assert not time_can_change(RecordingStatus(phase=Phase.STOPPING), 60)
    assert not time_can_change(RecordingStatus(phase=Phase.COMPLETED), 60)
    assert not time_can_change(RecordingStatus(), 60)


async def test_a_sweep_stops_a_recording_past_its_max_duration_and_leaves_the_others_alone():
    world = World(bots=("alpha", "beta"))
    await world.recording("limited", utcnow() - datetime.timedelta(seconds=61), max_duration=60)
    await world.recording("open", utcnow() - datetime.timedelta(seconds=3600))
    patches = len(world.kube.status_patches)

    await sweep_once(world)
    assert world.status("limited").phase is Phase.STOPPING
    assert world.status("open").phase is Phase.RECORDING
    assert [name for name, _ in world.kube.status_patches[patches:]] == ["limited"]


async def test_a_sweep_starts_a_pending_recording_once_the_pool_secret_exists():
    world = World()
    world.kube.secrets.clear()
    world.create("standup")
    await world.reconcile("standup")
    world.kube.secrets["pandora-bots"] = ["alpha"]

    await sweep_once(world)
    assert world.status("standup").phase is Phase.STARTING


async def test_a_recording_that_cannot_be_reconciled_does_not_hold_up_the_others():
    world = World()
    world.kube.secrets.clear()
    world.create("broken")
    world.create("fine", guild=OTHER_GUILD)
    for name in ("broken", "fine"):
        assert await world.reconcile(name) is Phase.PENDING
    world.kube.secrets["pandora-bots"] = ["alpha"]
    # An answer the reconciler does not expect, so it raises (kopf would retry a handler).
    world.kube.refuse_pods, world.kube.refuse_pod_names = ApiError(400, "malformed"), {"broken-rec-0"}

    await sweep_once(world)
    assert world.status("fine").phase is Phase.STARTING
