"""Recorder crashes, lost pods, refused pods, and the operator itself stopping between two writes."""

from __future__ import annotations

import pytest
from reconcile_world import OperatorKilled, World, channel

from pandora.recording_api.resource import Phase
from pandora_operator.kube import ApiError


async def test_a_crashed_recorder_is_replaced_by_the_next_attempt_on_the_same_recording_id():
    world = World()
    await world.recording("standup")
    first = world.status("standup")
    world.exit_pod("standup-rec-0", 137, "OOMKilled")

    assert await world.reconcile("standup") is Phase.STARTING
    status = world.status("standup")
    assert (status.pod, status.restarts, status.bot) == ("standup-rec-1", 1, "alpha")
    assert status.recording_id == first.recording_id and status.location == first.location
    assert status.message == (
        f"the recorder crashed (exit code 137, OOMKilled); restarted as pod standup-rec-1, continuing recording "
        f"{first.recording_id}"
    )
    args = world.pod("standup-rec-1")["spec"]["containers"][0]["args"]
    assert args[args.index("--id") + 1] == first.recording_id
    assert world.events("standup")[-1] == ("Warning", "Restarted")

    world.run_pod("standup-rec-1")
    assert await world.reconcile("standup") is Phase.RECORDING
    assert world.kube.deleted_pods == ["standup-rec-0"]  # the old attempt is cleaned up
    assert world.status("standup").started_at == first.started_at  # one recording, not a new one


async def test_the_next_attempt_starts_when_the_recorder_dies_not_when_its_sidecar_has_stopped_too():
    world = World()
    await world.recording("standup")
    world.exit_pod("standup-rec-0", 137, sidecar_stopping=True)

    assert await world.reconcile("standup") is Phase.STARTING
    assert world.status("standup").message.startswith("the recorder crashed (exit code 137); restarted as pod "
                                                      "standup-rec-1")


async def test_a_recorder_that_exited_0_has_finished_while_its_sidecar_stops():
    world = World()
    await world.recording("standup")
    world.exit_pod("standup-rec-0", 0, sidecar_stopping=True)
    assert await world.reconcile("standup") is Phase.COMPLETED
    assert world.status("standup").message.startswith("the recorder finished on its own")

    await world.recording("retro", voice_channel=channel())
    world.edit_spec("retro", stop=True)
    assert await world.reconcile("retro") is Phase.STOPPING
    world.exit_pod("retro-rec-0", 0, sidecar_stopping=True)  # flushed and exited on SIGTERM
    assert await world.reconcile("retro") is Phase.COMPLETED


async def test_a_lost_pod_is_replaced_too():
    world = World()
    await world.recording("standup")
    world.remove_pod("standup-rec-0")  # evicted, or deleted by someone else

    assert await world.reconcile("standup") is Phase.STARTING
    assert world.status("standup").message.startswith(
        "the recorder was lost (deleted or evicted); restarted as pod standup-rec-1"
    )
    assert world.pod_names() == ["standup-rec-1"]


async def test_repeated_crashes_fail_the_recording_after_max_restarts():
    world = World(max_restarts=2)
    await world.recording("standup")
    for attempt in range(2):
        world.exit_pod(f"standup-rec-{attempt}", 1)
        assert await world.reconcile("standup") is Phase.STARTING
    world.exit_pod("standup-rec-2", 1)

    assert await world.reconcile("standup") is Phase.FAILED
    status = world.status("standup")
    assert status.message == (
        f"the recorder crashed (exit code 1) after 2 restarts; giving up. Files so far are kept at {status.location}"
    )
    assert world.pod_names(live_only=True) == []
    assert [reason for _, reason in world.events("standup")].count("Restarted") == 2
    assert world.events("standup")[-1] == ("Warning", "Failed")
    assert await world.reconcile("standup") is Phase.FAILED  # and stays so


async def test_a_refused_pod_leaves_it_pending_with_the_api_servers_reason_until_it_is_accepted():
    world = World()
    world.create("standup")
    world.kube.refuse_pods = ApiError(403, 'pods "standup-rec-0" is forbidden: serviceaccount "pandora-recorder" '
                                           "not found")
    assert await world.reconcile("standup") is Phase.PENDING
    assert world.status("standup").message == (
        'cannot create pod standup-rec-0: pods "standup-rec-0" is forbidden: serviceaccount "pandora-recorder" '
        "not found; retrying"
    )
    assert await world.reconcile("standup") is Phase.PENDING
    assert world.events("standup") == [("Warning", "Pending")]  # said once

    world.kube.refuse_pods = None
    assert await world.reconcile("standup") is Phase.STARTING
    assert world.pod_names() == ["standup-rec-0"]


async def test_an_unexpected_refusal_is_raised_for_kopf_to_retry():
    world = World()
    world.create("standup")
    world.kube.refuse_pods = ApiError(400, "the request is malformed")  # a bug of ours, not the cluster's state
    with pytest.raises(ApiError):
        await world.reconcile("standup")


async def test_a_pod_the_index_has_not_seen_yet_is_read_not_recreated():
    world = World()
    world.create("standup")
    await world.reconcile("standup")
    world.run_pod("standup-rec-0")

    assert await world.reconcile("standup", pods=[]) is Phase.RECORDING  # the pod watch lags behind
    assert world.pod_names() == ["standup-rec-0"] and world.status("standup").restarts == 0


async def test_a_stale_view_of_the_recording_does_not_start_a_second_pod():
    world = World()
    world.create("standup")
    before = world.view("standup")  # no status yet
    await world.reconcile("standup")

    assert await world.reconcile("standup", view=before) is Phase.STARTING  # our own patch not seen yet
    assert world.pod_names() == ["standup-rec-0"]
    assert len(world.kube.status_patches) == 1


async def test_a_restarted_operator_changes_nothing_that_is_settled():
    world = World()
    await world.recording("standup")
    patches, events = len(world.kube.status_patches), len(world.kube.events)

    world.restart_operator()
    assert await world.settle("standup") is Phase.RECORDING
    assert (len(world.kube.status_patches), len(world.kube.events)) == (patches, events)
    assert world.pod_names() == ["standup-rec-0"]


async def test_operator_killed_between_creating_the_pod_and_naming_it_in_the_status():
    """The cause of `KeyError: 'restarts'` in the operator-restart cluster test: a pod was created, the operator
    died before the status write, and its successor adopted the running pod without the Starting fields."""
    world = World()
    world.create("standup")
    world.kube.lose_status_patches = True
    with pytest.raises(OperatorKilled):
        await world.reconcile("standup")
    assert world.pod_names() == ["standup-rec-0"] and world.raw_status("standup") == {}

    world.kube.lose_status_patches = False
    world.restart_operator()
    world.run_pod("standup-rec-0")
    assert await world.settle("standup") is Phase.RECORDING

    status = world.raw_status("standup")
    assert status["restarts"] == 0
    assert (status["pod"], status["bot"]) == ("standup-rec-0", "alpha")
    assert status["location"] == f"dapr://pandora-recordings/recordings/{status['recordingId']}/"
    assert status["message"].endswith("with bot alpha")
    assert world.pod_names() == ["standup-rec-0"]


async def test_operator_killed_between_creating_a_replacement_pod_and_counting_the_restart():
    world = World()
    await world.recording("standup")
    world.exit_pod("standup-rec-0", 1)
    world.kube.lose_status_patches = True
    with pytest.raises(OperatorKilled):
        await world.reconcile("standup")

    world.kube.lose_status_patches = False
    world.restart_operator()
    assert await world.reconcile("standup") is Phase.STARTING
    assert world.pod_names() == ["standup-rec-0", "standup-rec-1"]  # no third pod
    assert world.status("standup").restarts == 1
    assert [reason for _, reason in world.events("standup")].count("Restarted") == 1


async def test_a_bot_in_use_by_a_pod_the_status_does_not_name_yet_is_not_given_away_after_a_restart():
    world = World(bots=("alpha",))
    world.create("first")
    world.kube.lose_status_patches = True
    with pytest.raises(OperatorKilled):
        await world.reconcile("first")  # its pod runs as alpha; the status does not say so
    world.kube.lose_status_patches = False
    world.create("second")  # same guild: alpha can record only one of them

    world.restart_operator()
    assert await world.reconcile("second") is Phase.PENDING
    assert "alpha (ns/first)" in world.status("second").message
    world.run_pod("first-rec-0")
    assert await world.settle("first") is Phase.RECORDING
    assert world.pod_names() == ["first-rec-0"]
