"""The recorder's progress reporter against the real API server, as the recorder's ServiceAccount."""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path

import aiohttp
import pytest
import yaml
from recording_helpers import apply, apply_rbac, channel_id, recording_manifest, status_of

from pandora_recorder.report import KubernetesStatusReporter, NoopReporter, Progress, SpeakerTrack, StatusReporter

pytestmark = pytest.mark.timeout(60)


def _api(kube_cluster, tmp_path: Path) -> tuple[str, Path]:
    config = yaml.safe_load(kube_cluster.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    ca_file = tmp_path / "ca.crt"
    if "certificate-authority-data" in cluster:
        ca_file.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    else:
        ca_file.write_text(Path(cluster["certificate-authority"]).read_text())
    return cluster["server"], ca_file


def _recorder_token(kube_cluster, namespace: str, tmp_path: Path) -> Path:
    created = kube_cluster.kubectl("create", "token", "pandora-recorder", "-n", namespace)
    assert created.returncode == 0, created.stderr
    token_file = tmp_path / "token"
    token_file.write_text(created.stdout.strip())
    return token_file


async def test_progress_reaches_status_without_touching_lifecycle_fields(
    kube_cluster, namespace, recording_crd, tmp_path
):
    apply_rbac(kube_cluster, namespace)
    apply(kube_cluster, namespace, recording_manifest("meeting", channel_id(1)))
    lifecycle = {"phase": "Recording", "pod": "meeting-rec-0", "bot": "alpha", "recordingId": "42"}
    patched = kube_cluster.kubectl(
        "patch", "-n", namespace, "recording", "meeting", "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": lifecycle}),
    )
    assert patched.returncode == 0, patched.stderr
    api_url, ca_file = _api(kube_cluster, tmp_path)
    reporter = KubernetesStatusReporter(
        api_url=api_url, namespace=namespace, name="meeting",
        token_file=_recorder_token(kube_cluster, namespace, tmp_path), ca_file=ca_file, min_interval=60,
    )
    speakers = [SpeakerTrack(id="300000000000000001", name="alice", track=1),
                SpeakerTrack(id="300000000000000002", name="bob", track=2)]
    await reporter.report(Progress(duration_seconds=12.7, bytes_written=40960, speakers=speakers[:1]))
    status = status_of(kube_cluster, namespace, "meeting")
    assert status["duration"] == 12 and status["bytes"] == 40960 and status["speakerCount"] == 1
    assert status["speakers"] == [{"id": "300000000000000001", "name": "alice", "track": 1}]

    # Throttled: the next report waits, and close() delivers the latest one.
    await reporter.report(Progress(duration_seconds=30.2, bytes_written=99999, speakers=speakers))
    assert status_of(kube_cluster, namespace, "meeting")["bytes"] == 40960
    await reporter.close()
    status = status_of(kube_cluster, namespace, "meeting")
    assert status["bytes"] == 99999 and status["duration"] == 30 and status["speakerCount"] == 2
    assert {key: status[key] for key in lifecycle} == lifecycle
    columns = kube_cluster.kubectl("get", "-n", namespace, "recording", "meeting")
    assert columns.stdout.split("\n")[0].split() == ["NAME", "CHANNEL", "PHASE", "DURATION", "SPEAKERS", "AGE"]
    assert columns.stdout.split("\n")[1].split()[:5] == ["meeting", channel_id(1), "Recording", "30", "2"]


async def test_recorder_token_cannot_change_the_spec(kube_cluster, namespace, recording_crd, tmp_path):
    apply_rbac(kube_cluster, namespace)
    apply(kube_cluster, namespace, recording_manifest("meeting", channel_id(1)))
    api_url, ca_file = _api(kube_cluster, tmp_path)
    token = _recorder_token(kube_cluster, namespace, tmp_path).read_text()
    url = f"{api_url}/apis/pandora.dev/v1alpha1/namespaces/{namespace}/recordings/meeting"
    context = ssl.create_default_context(cafile=str(ca_file))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session, session.patch(
        url, data=json.dumps({"spec": {"stop": True}}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/merge-patch+json"},
    ) as response:
        assert response.status == 403
    stop = kube_cluster.kubectl("get", "-n", namespace, "recording", "meeting", "-o", "jsonpath={.spec.stop}")
    assert stop.stdout == "false"


async def test_outside_a_pod_the_reporter_does_nothing():
    reporter = StatusReporter.from_env({})
    assert isinstance(reporter, NoopReporter)
    await reporter.report(Progress(duration_seconds=1, bytes_written=1))
    await reporter.close()
