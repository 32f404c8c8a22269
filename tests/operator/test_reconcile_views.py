"""What the reconciler sees of Recordings and recorder pods (the snapshots kopf's indexes keep)."""

from __future__ import annotations

import datetime

from pandora.recording_api.resource import Phase, Requester
from pandora_operator.model import FINALIZER
from pandora_operator.views import PodView, RecordingView

OWNER = {"apiVersion": "pandora.dev/v1alpha1", "kind": "Recording", "name": "standup", "uid": "u-1"}


def pod(status: dict, **metadata) -> dict:
    return {
        "metadata": {"name": "standup-rec-2", "labels": {"pandora.dev/attempt": "2", "pandora.dev/bot": "alpha"},
                     "ownerReferences": [OWNER], **metadata},
        "status": status,
    }


def test_a_running_pod():
    view = PodView.from_body(pod({"phase": "Running", "containerStatuses": [
        {"name": "daprd", "state": {"running": {"startedAt": "2026-01-01T11:00:00Z"}}},
        {"name": "recorder", "state": {"running": {"startedAt": "2026-01-01T12:00:00Z"}}},
    ]}))
    assert (view.name, view.attempt, view.owner_uid, view.bot) == ("standup-rec-2", 2, "u-1", "alpha")
    assert view.phase == "Running" and not view.finished and not view.deleting
    assert view.started_at == datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)  # the recorder's, not Dapr's


def test_a_crashed_pod_has_its_exit_code_and_reason():
    view = PodView.from_body(pod({"phase": "Failed", "containerStatuses": [
        {"name": "recorder", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}))
    assert view.finished and (view.exit_code, view.reason) == (137, "OOMKilled")


def test_an_evicted_pod_has_the_kubelets_reason():
    view = PodView.from_body(pod({"phase": "Failed", "reason": "Evicted"}))
    assert view.finished and (view.exit_code, view.reason) == (None, "Evicted")


def test_a_waiting_pod_says_why():
    image = PodView.from_body(pod({"phase": "Pending", "containerStatuses": [{"name": "recorder", "state": {
        "waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "recorder:9"'}}}]}))
    assert image.waiting == 'ImagePullBackOff: Back-off pulling image "recorder:9"'
    unscheduled = PodView.from_body(pod({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "no nodes"}]}))
    assert unscheduled.waiting == "Unschedulable: no nodes"
    assert PodView.from_body(pod({})).phase == "Pending" and PodView.from_body(pod({})).waiting == ""


def test_a_pod_being_deleted_and_one_of_nobody():
    assert PodView.from_body(pod({"phase": "Running"}, deletionTimestamp="2026-01-01T12:00:00Z")).deleting
    assert PodView.from_body(pod({}, ownerReferences=[])).owner_uid is None


def test_a_recording_view_reads_spec_status_and_finalizers():
    body = {
        "metadata": {"namespace": "ns", "name": "standup", "uid": "u-1", "generation": 3,
                     "finalizers": ["other/keep", FINALIZER], "deletionTimestamp": "2026-01-01T12:00:00Z"},
        "spec": {"guildId": "100000000000000001", "voiceChannelId": "200000000000000001", "maxDuration": 60,
                 "requestedBy": {"source": "slash-command", "userId": "300000000000000001"}},
        "status": {"phase": "Recording", "restarts": 1, "startedAt": "2026-01-01T11:00:00Z"},
    }
    view = RecordingView.from_body(body)
    assert (str(view.key), view.uid, view.generation) == ("ns/standup", "u-1", 3)
    assert view.deleting and view.has_finalizers and view.finalizer_index == 1
    assert view.spec.max_duration == 60
    assert view.spec.requested_by == Requester("slash-command", "300000000000000001")
    assert (view.status.phase, view.status.restarts) == (Phase.RECORDING, 1)
    assert view.reference()["metadata"] == {"name": "standup", "namespace": "ns", "uid": "u-1"}

    fresh = RecordingView.from_body({**body, "metadata": {"namespace": "ns", "name": "standup", "uid": "u-2"}})
    assert fresh.finalizer_index is None and not fresh.has_finalizers and not fresh.deleting
    assert fresh.generation == 0
