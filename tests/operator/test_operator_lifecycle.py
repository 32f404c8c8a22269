"""The whole life of a Recording on the real control plane, pod states driven by KWOK."""

from __future__ import annotations

import json

import pytest
from recording_helpers import (
    apply,
    channel_id,
    event_reasons,
    events,
    exit_pod,
    live_pods,
    pods,
    recording,
    recording_manifest,
    status_of,
    wait_for,
    wait_phase,
)

pytestmark = pytest.mark.timeout(120)


def _only_pod(kube_cluster, namespace):
    return wait_for("one recorder pod", lambda: (found := pods(kube_cluster, namespace)) and found[0])


def test_create_runs_a_locked_down_dapr_pod_and_stop_completes_with_location(
    kube_cluster, namespace, operator, bot_pool_factory
):
    pool = bot_pool_factory("alpha")
    result = apply(kube_cluster, namespace, recording_manifest("standup", channel_id(1), maxDuration=3600))
    assert result.returncode == 0, result.stderr

    pod = _only_pod(kube_cluster, namespace)
    body = recording(kube_cluster, namespace, "standup")
    assert pod["metadata"]["name"] == "standup-rec-0"
    assert pod["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "pandora.dev/v1alpha1",
            "kind": "Recording",
            "name": "standup",
            "uid": body["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    annotations = pod["metadata"]["annotations"]
    assert annotations["dapr.io/enabled"] == "true"
    assert annotations["dapr.io/app-id"] == "pandora-recorder"
    assert annotations["dapr.io/config"] == "pandora"
    assert annotations["dapr.io/enable-native-sidecar"] == "true"
    assert annotations["dapr.io/max-body-size"] == "64Mi"  # whole files at the end: one request each
    spec = pod["spec"]
    assert spec["terminationGracePeriodSeconds"] == 5
    assert spec["restartPolicy"] == "Never"
    assert spec["serviceAccountName"] == "pandora-recorder"
    assert spec["securityContext"]["runAsNonRoot"] is True
    (container,) = spec["containers"]
    assert container["image"] == "pandora-recorder:test"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert container["resources"]["limits"]["memory"] == "512Mi"
    env = {entry["name"]: entry for entry in container["env"]}
    assert env["PANDORA_TOKEN"] == {
        "name": "PANDORA_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "pandora-bots", "key": "alpha"}},
    }

    status = wait_phase(kube_cluster, namespace, "standup", "Recording")
    recording_id = status["recordingId"]
    assert recording_id.isdigit()
    assert container["args"] == [
        "record", "--guild", "100000000000000001", "--channel", channel_id(1), "--id", recording_id,
        "--storage", "dapr", "--max-duration", "3600",
    ]
    assert status["pod"] == "standup-rec-0"
    assert status["bot"] == "alpha"
    assert status["restarts"] == 0
    assert status["startedAt"]
    assert status["conditions"][0]["type"] == "Recording" and status["conditions"][0]["status"] == "True"
    wait_for("a Started event", lambda: "Started" in event_reasons(kube_cluster, namespace, "standup"))

    stopped = kube_cluster.kubectl(
        "patch", "-n", namespace, "recording", "standup", "--type=merge", "-p", '{"spec":{"stop":true}}'
    )
    assert stopped.returncode == 0, stopped.stderr
    status = wait_phase(kube_cluster, namespace, "standup", "Completed")
    assert status["location"] == f"dapr://pandora-recordings/recordings/{recording_id}/"
    assert status["endedAt"]
    assert "stopped because spec.stop was set" in status["message"]
    assert status["location"] in status["message"]
    wait_for("the recorder pod to be gone", lambda: not pods(kube_cluster, namespace))
    wait_for("a Stopped event", lambda: "Stopped" in event_reasons(kube_cluster, namespace, "standup"))

    # The token is only ever referenced: not in the pod, the status, the events or the operator's log.
    visible = "\n".join(
        [
            json.dumps(pod),
            json.dumps(recording(kube_cluster, namespace, "standup")),
            json.dumps(events(kube_cluster, namespace)),
            operator.log(),
        ]
    )
    assert pool.tokens["alpha"] not in visible
    assert "Stopped" in event_reasons(kube_cluster, namespace, "standup")


def test_delete_stops_gracefully_then_the_finalizer_lets_go_and_data_location_is_reported(
    kube_cluster, namespace, operator, bot_pool_factory
):
    bot_pool_factory("alpha")
    apply(kube_cluster, namespace, recording_manifest("retro", channel_id(2)))
    status = wait_phase(kube_cluster, namespace, "retro", "Recording")
    body = recording(kube_cluster, namespace, "retro")
    assert body["metadata"]["finalizers"] == ["pandora.dev/recording"]

    deleted = kube_cluster.kubectl("delete", "-n", namespace, "recording", "retro", "--timeout=60s")
    assert deleted.returncode == 0, deleted.stderr
    assert recording(kube_cluster, namespace, "retro") is None
    assert not pods(kube_cluster, namespace)
    stopped = [e for e in events(kube_cluster, namespace, "retro") if e["reason"] == "Stopped"]
    assert stopped, event_reasons(kube_cluster, namespace, "retro")
    # Deleting a Recording never deletes what it recorded: the last word says where the files are kept.
    assert "the Recording was deleted" in stopped[-1]["message"]
    assert f"kept at dapr://pandora-recordings/recordings/{status['recordingId']}/" in stopped[-1]["message"]


def test_max_duration_stops_the_recording(kube_cluster, namespace, operator, bot_pool_factory):
    bot_pool_factory("alpha")
    apply(kube_cluster, namespace, recording_manifest("short", channel_id(3), maxDuration=3))
    wait_phase(kube_cluster, namespace, "short", "Recording")
    status = wait_phase(kube_cluster, namespace, "short", "Completed", timeout=20)
    assert "maxDuration of 3s was reached" in status["message"]
    assert status["duration"] >= 3
    assert status["location"]
    wait_for("the pod to be gone", lambda: not pods(kube_cluster, namespace))


def test_crashed_recorder_is_restarted_and_continues_the_same_recording(
    kube_cluster, namespace, operator, bot_pool_factory
):
    bot_pool_factory("alpha")
    apply(kube_cluster, namespace, recording_manifest("crashy", channel_id(4)))
    first = wait_phase(kube_cluster, namespace, "crashy", "Recording")
    first_args = _only_pod(kube_cluster, namespace)["spec"]["containers"][0]["args"]

    exit_pod(kube_cluster, namespace, "crashy-rec-0", 1)
    wait_for(
        "the replacement pod",
        lambda: [p for p in live_pods(kube_cluster, namespace) if p["metadata"]["name"] == "crashy-rec-1"],
    )
    status = wait_phase(kube_cluster, namespace, "crashy", "Recording")
    assert status["restarts"] == 1
    assert status["pod"] == "crashy-rec-1"
    assert status["recordingId"] == first["recordingId"]
    assert status["startedAt"] == first["startedAt"]
    (pod,) = wait_for("only the new pod left", lambda: (p := pods(kube_cluster, namespace)) and len(p) == 1 and p)
    assert pod["spec"]["containers"][0]["args"] == first_args  # same --id: the recorder resumes
    restarted = [e for e in events(kube_cluster, namespace, "crashy") if e["reason"] == "Restarted"]
    assert len(restarted) == 1
    assert "exit code 1" in restarted[0]["message"]
    assert restarted[0]["type"] == "Warning"


def test_recorder_that_finishes_on_its_own_completes(kube_cluster, namespace, operator, bot_pool_factory):
    bot_pool_factory("alpha")
    apply(kube_cluster, namespace, recording_manifest("quiet", channel_id(5)))
    wait_phase(kube_cluster, namespace, "quiet", "Recording")
    exit_pod(kube_cluster, namespace, "quiet-rec-0", 0)
    status = wait_phase(kube_cluster, namespace, "quiet", "Completed")
    assert "finished on its own" in status["message"]
    assert status_of(kube_cluster, namespace, "quiet")["restarts"] == 0


def test_repeated_crashes_end_failed_with_the_reason(kube_cluster, namespace, operator, bot_pool_factory):
    bot_pool_factory("alpha")
    apply(kube_cluster, namespace, recording_manifest("doomed", channel_id(6)))
    for attempt in range(6):
        wait_for(
            f"pod attempt {attempt} running",
            lambda a=attempt: [
                p for p in live_pods(kube_cluster, namespace)
                if p["metadata"]["name"] == f"doomed-rec-{a}" and p.get("status", {}).get("phase") == "Running"
            ],
        )
        exit_pod(kube_cluster, namespace, f"doomed-rec-{attempt}", 2)
    status = wait_phase(kube_cluster, namespace, "doomed", "Failed")
    assert "after 5 restarts" in status["message"] and "exit code 2" in status["message"]
    assert "Failed" in event_reasons(kube_cluster, namespace, "doomed")


def test_cluster_wide_operator_records_in_any_namespace(kube_cluster, namespace, operator_factory, bot_pool_factory):
    """`pandora operator --all-namespaces` with the chart's ClusterRole (operator.clusterWide=true)."""
    operator_factory(cluster_wide=True)
    bot_pool_factory("alpha")
    apply(kube_cluster, namespace, recording_manifest("anywhere", channel_id(9)))
    assert wait_phase(kube_cluster, namespace, "anywhere", "Recording")["pod"] == "anywhere-rec-0"
    kube_cluster.kubectl(
        "patch", "-n", namespace, "recording", "anywhere", "--type=merge", "-p", '{"spec":{"stop":true}}'
    )
    assert wait_phase(kube_cluster, namespace, "anywhere", "Completed")["location"]


def test_a_pod_that_cannot_be_scheduled_says_why_in_the_status(
    kube_cluster, namespace, operator_factory, bot_pool_factory
):
    operator_factory(env={"PANDORA_RECORDER_RESOURCES": json.dumps({"requests": {"cpu": "500", "memory": "1Gi"}})})
    bot_pool_factory("alpha")
    apply(kube_cluster, namespace, recording_manifest("huge", channel_id(10)))

    def explained():
        status = status_of(kube_cluster, namespace, "huge")
        return status if "Unschedulable" in status.get("message", "") else None

    status = wait_for("the scheduler's reason in the status", explained)
    assert status["phase"] == "Starting"
    assert status["message"].startswith("waiting for pod huge-rec-0 to run: Unschedulable: 0/")
    assert "Insufficient cpu" in status["message"]
