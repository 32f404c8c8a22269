"""Recorder and operator pods are admitted under the `restricted` Pod Security Standard, enforced by the real API
server's PodSecurity admission on a labelled namespace."""

from __future__ import annotations

import json

import pytest
from recording_helpers import CHART, apply, channel_id, pods, recording_manifest, wait_for, wait_phase

pytestmark = pytest.mark.timeout(120)

# enforce refuses pods; warn is what checks a Deployment's pod template (workloads are never refused).
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
}


@pytest.fixture
def restricted(kube_cluster, namespace) -> str:
    labels = [f"{key}={value}" for key, value in RESTRICTED.items()]
    result = kube_cluster.kubectl("label", "namespace", namespace, "--overwrite", *labels)
    assert result.returncode == 0, result.stderr
    return namespace


def test_the_namespace_really_refuses_what_restricted_forbids(kube_cluster, restricted):
    loose = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "loose"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    refused = kube_cluster.kubectl("apply", "-n", restricted, "-f", "-", input=json.dumps(loose))
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr


def test_recorder_pod_is_admitted_under_restricted(kube_cluster, restricted, operator, bot_pool_factory):
    bot_pool_factory("alpha")
    assert apply(kube_cluster, restricted, recording_manifest("secure", channel_id(7))).returncode == 0
    pod = wait_for("the recorder pod", lambda: (found := pods(kube_cluster, restricted)) and found[0])
    assert pod["metadata"]["name"] == "secure-rec-0"
    wait_phase(kube_cluster, restricted, "secure", "Recording")


def test_operator_deployment_from_the_chart_is_admitted_under_restricted(kube_cluster, restricted):
    rendered = kube_cluster.helm(
        "template", "pandora", str(CHART), "--namespace", restricted,
        "--show-only", "templates/operator-deployment.yaml",
    )
    assert rendered.returncode == 0, rendered.stderr
    admitted = kube_cluster.kubectl("apply", "-n", restricted, "--dry-run=server", "-f", "-", input=rendered.stdout)
    assert admitted.returncode == 0, admitted.stderr
    assert "would violate PodSecurity" not in admitted.stderr
