"""The reconciler's happy paths against the fake API server: start, run, stop, maxDuration, delete, finish."""

from __future__ import annotations

import datetime

from reconcile_world import NAMESPACE, World

from pandora.recording_api.resource import Phase
from pandora.recording_api.status import utcnow
from pandora_operator.model import FINALIZER, recording_id_for


def args_of(world: World, pod: str) -> list[str]:
    return world.pod(pod)["spec"]["containers"][0]["args"]


async def test_a_new_recording_gets_its_pod_a_finalizer_and_a_starting_status():
    world = World()
    world.create("standup")
    assert await world.reconcile("standup") is Phase.STARTING

    uid = world.kube.recordings["standup"]["metadata"]["uid"]
    recording_id = recording_id_for(uid)
    assert world.pod_names() == ["standup-rec-0"]
    pod = world.pod("standup-rec-0")
    assert pod["metadata"]["ownerReferences"][0]["uid"] == uid
    assert pod["metadata"]["labels"]["pandora.dev/bot"] == "alpha"
    assert ["--id", recording_id] == args_of(world, "standup-rec-0")[5:7]
    assert world.kube.recordings["standup"]["metadata"]["finalizers"] == [FINALIZER]
    status = world.status("standup")
    assert (status.phase, status.pod, status.bot, status.restarts) == (Phase.STARTING, "standup-rec-0", "alpha", 0)
    assert status.recording_id == recording_id
    assert status.location == f"dapr://pandora-recordings/recordings/{recording_id}/"
    assert status.message == "waiting for pod standup-rec-0 to run"
    assert status.conditions and status.conditions[0].status == "False"


async def test_a_running_pod_makes_it_recording_with_one_started_event():
    world = World()
    world.create("standup")
    await world.reconcile("standup")
    started = utcnow() - datetime.timedelta(seconds=3)
    world.run_pod("standup-rec-0", started)

    assert await world.reconcile("standup") is Phase.RECORDING
    status = world.status("standup")
    assert status.started_at == started
    assert status.message.startswith("recording voice channel") and status.message.endswith("with bot alpha")
    assert status.conditions[0].status == "True"
    patches = len(world.kube.status_patches)
    assert await world.reconcile("standup") is Phase.RECORDING
    assert len(world.kube.status_patches) == patches  # nothing new to say
    assert world.events("standup") == [("Normal", "Started")]


async def test_a_pod_that_cannot_be_scheduled_says_why_in_the_status():
    world = World()
    world.create("standup")
    await world.reconcile("standup")
    world.pod("standup-rec-0")["status"] = {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/1 nodes are available: 1 Insufficient memory."}]}

    assert await world.reconcile("standup") is Phase.STARTING
    assert world.status("standup").message == (
        "waiting for pod standup-rec-0 to run: Unschedulable: 0/1 nodes are available: 1 Insufficient memory."
    )


async def test_stop_deletes_the_pod_and_completes_once_the_recorder_has_flushed():
    world = World()
    await world.recording("standup", utcnow() - datetime.timedelta(seconds=42))

    world.edit_spec("standup", stop=True)
    assert await world.reconcile("standup") is Phase.STOPPING
    assert world.kube.deleted_pods == ["standup-rec-0"]
    assert world.status("standup").message == (
        "stopping because spec.stop was set; waiting for the recorder's final flush"
    )
    assert await world.reconcile("standup") is Phase.STOPPING
    assert world.kube.deleted_pods == ["standup-rec-0"]  # asked once; SIGTERM is on its way

    world.exit_pod("standup-rec-0", 0)
    assert await world.reconcile("standup") is Phase.COMPLETED
    status = world.status("standup")
    assert status.message == (
        f"stopped because spec.stop was set; recording {status.recording_id} is kept at {status.location}"
    )
    assert status.ended_at is not None and status.duration is not None and status.duration >= 42
    assert world.events("standup") == [("Normal", "Started"), ("Normal", "Stopping"), ("Normal", "Stopped")]
    # Terminal: nothing runs any more, so the finalizer goes.
    assert await world.reconcile("standup") is Phase.COMPLETED
    assert world.kube.recordings["standup"]["metadata"]["finalizers"] == []


async def test_the_duration_the_recorder_reported_is_kept():
    world = World()
    await world.recording("standup", utcnow() - datetime.timedelta(seconds=42))
    world.kube.recordings["standup"]["status"]["duration"] = 40  # the recorder's own progress report
    world.edit_spec("standup", stop=True)
    await world.reconcile("standup")
    world.exit_pod("standup-rec-0", 0)
    await world.reconcile("standup")
    assert world.status("standup").duration == 40


async def test_stopped_before_a_bot_was_free_completes_with_nothing_recorded():
    world = World(bots=())
    world.create("standup")
    assert await world.reconcile("standup") is Phase.PENDING
    world.edit_spec("standup", stop=True)
    assert await world.reconcile("standup") is Phase.COMPLETED
    assert world.status("standup").message == (
        "stopped before recording began, because spec.stop was set; nothing was recorded"
    )
    assert world.pod_names() == []


async def test_max_duration_stops_the_recording():
    world = World()
    world.create("standup", max_duration=60)
    await world.reconcile("standup")
    assert args_of(world, "standup-rec-0")[-2:] == ["--max-duration", "60"]  # the recorder stops itself too
    world.run_pod("standup-rec-0", utcnow() - datetime.timedelta(seconds=61))
    assert await world.reconcile("standup") is Phase.RECORDING  # first sight of it running: startedAt

    assert await world.reconcile("standup") is Phase.STOPPING
    assert world.kube.deleted_pods == ["standup-rec-0"]
    world.exit_pod("standup-rec-0", 0)
    assert await world.reconcile("standup") is Phase.COMPLETED
    assert world.status("standup").message.startswith("stopped because maxDuration of 60s was reached;")


async def test_within_max_duration_it_keeps_recording():
    world = World()
    world.create("standup", max_duration=60)
    await world.reconcile("standup")
    world.run_pod("standup-rec-0", utcnow() - datetime.timedelta(seconds=50))
    assert await world.settle("standup") is Phase.RECORDING
    assert world.kube.deleted_pods == []


async def test_delete_stops_gracefully_then_lets_the_recording_go():
    world = World()
    await world.recording("standup")

    world.delete("standup")
    assert world.exists("standup")  # held by the finalizer while the recorder flushes
    assert await world.reconcile("standup") is Phase.STOPPING
    assert world.kube.deleted_pods == ["standup-rec-0"]
    world.exit_pod("standup-rec-0", 0)
    assert await world.reconcile("standup") is Phase.COMPLETED
    assert world.status("standup").message.startswith("stopped because the Recording was deleted;")
    await world.reconcile("standup")
    assert not world.exists("standup")


async def test_a_recorder_that_finishes_on_its_own_completes_the_recording():
    world = World()
    await world.recording("standup")
    world.exit_pod("standup-rec-0", 0)

    assert await world.reconcile("standup") is Phase.COMPLETED
    assert world.status("standup").message.startswith(
        "the recorder finished on its own (time limit or empty channel); recording"
    )
    assert world.pod_names() == ["standup-rec-0"]  # no restart


async def test_a_recorder_that_fails_while_stopping_fails_the_recording_and_keeps_the_files():
    world = World()
    await world.recording("standup")
    world.edit_spec("standup", stop=True)
    await world.reconcile("standup")
    world.exit_pod("standup-rec-0", 1, "Error")

    assert await world.reconcile("standup") is Phase.FAILED
    status = world.status("standup")
    assert status.message == (
        f"the recorder exit code 1, Error while stopping; files written so far are kept at {status.location}"
    )
    assert world.events("standup")[-1] == ("Warning", "Failed")


async def test_the_pod_carries_the_recordings_spec():
    world = World()
    world.create("standup", text_channel_id="300000000000000001", storage_binding="archive", storage_prefix="a/")
    await world.reconcile("standup")
    pod = world.pod("standup-rec-0")
    assert pod["metadata"]["namespace"] == NAMESPACE
    assert args_of(world, "standup-rec-0")[-2:] == ["--text-channel", "300000000000000001"]
    assert world.status("standup").location.startswith("dapr://archive/a/")
