"""The recorder's progress reporter against the real API server, as the recorder's ServiceAccount with a token
bound to its pod (as the kubelet mounts it), under the chart's Role and admission policy."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from pathlib import Path

import aiohttp
import pytest
import yaml
from recording_helpers import (
    CRD_FILE,
    apply,
    apply_rbac,
    channel_id,
    recording_manifest,
    render_chart,
    status_of,
    wait_for,
)

from pandora.recording_api.status import RECORDER_FIELDS, camel_case
from pandora_recorder.report import KubernetesStatusReporter, NoopReporter, Progress, SpeakerTrack, StatusReporter

pytestmark = pytest.mark.timeout(90)

SPEAKERS = [
    SpeakerTrack(id="300000000000000001", name="alice", track=1),
    SpeakerTrack(id="300000000000000002", name="bob", track=2),
]


def _api(kube_cluster, tmp_path: Path) -> tuple[str, Path]:
    config = yaml.safe_load(kube_cluster.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    ca_file = tmp_path / "ca.crt"
    if "certificate-authority-data" in cluster:
        ca_file.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    else:
        ca_file.write_text(Path(cluster["certificate-authority"]).read_text())
    return cluster["server"], ca_file


def _recording_with_pod(kube_cluster, namespace: str, name: str, number: int) -> str:
    """A Recording whose status names pod <name>-rec-0, and that pod (run by KWOK as the recorder account)."""
    apply(kube_cluster, namespace, recording_manifest(name, channel_id(number)))
    pod = f"{name}-rec-0"
    lifecycle = {"phase": "Recording", "pod": pod, "bot": "alpha", "recordingId": str(40 + number)}
    patched = kube_cluster.kubectl(
        "patch", "-n", namespace, "recording", name, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": lifecycle}),
    )
    assert patched.returncode == 0, patched.stderr
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": namespace},
        "spec": {"serviceAccountName": "pandora-recorder", "containers": [{"name": "recorder", "image": "x"}]},
    }
    created = kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    assert created.returncode == 0, created.stderr
    return pod


def _pod_token(kube_cluster, namespace: str, pod: str, tmp_path: Path) -> Path:
    """A recorder token bound to ``pod``, like the one the kubelet projects into the recorder container."""
    wait_for("the pod", lambda: kube_cluster.kubectl("get", "-n", namespace, "pod", pod).returncode == 0)
    created = kube_cluster.kubectl(
        "create", "token", "pandora-recorder", "-n", namespace, "--bound-object-kind=Pod",
        f"--bound-object-name={pod}",
    )
    assert created.returncode == 0, created.stderr
    token_file = tmp_path / f"{pod}.token"
    token_file.write_text(created.stdout.strip())
    return token_file


async def _patch(api_url: str, ca_file: Path, token_file: Path, path: str, body: dict) -> tuple[int, str]:
    """A merge patch as the token's owner; the HTTP status and the API server's message (what a user reads)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    headers = {"Authorization": f"Bearer {token_file.read_text()}", "Content-Type": "application/merge-patch+json"}
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session,
        session.patch(f"{api_url}{path}", data=json.dumps(body), headers=headers) as response,
    ):
        return response.status, json.loads(await response.text()).get("message", "")


async def _patch_status(api_url, ca_file, token_file, namespace: str, name: str, status: dict):
    path = f"/apis/pandora.dev/v1alpha1/namespaces/{namespace}/recordings/{name}/status"
    return await _patch(api_url, ca_file, token_file, path, {"status": status})


async def test_progress_reaches_status_without_touching_lifecycle_fields(
    kube_cluster, namespace, recording_crd, tmp_path
):
    apply_rbac(kube_cluster, namespace)
    pod = _recording_with_pod(kube_cluster, namespace, "meeting", 1)
    before = status_of(kube_cluster, namespace, "meeting")
    api_url, ca_file = _api(kube_cluster, tmp_path)
    reporter = KubernetesStatusReporter(
        api_url=api_url, namespace=namespace, name="meeting",
        token_file=_pod_token(kube_cluster, namespace, pod, tmp_path), ca_file=ca_file, min_interval=60,
    )
    await reporter.report(Progress(duration_seconds=12.7, bytes_written=40960, speakers=SPEAKERS[:1]))
    status = status_of(kube_cluster, namespace, "meeting")
    assert status["duration"] == 12 and status["bytes"] == 40960 and status["speakerCount"] == 1
    assert status["speakers"] == [{"id": "300000000000000001", "name": "alice", "track": 1}]

    # Throttled: the next report waits, and close() delivers the latest one.
    await reporter.report(Progress(duration_seconds=30.2, bytes_written=99999, speakers=SPEAKERS))
    assert status_of(kube_cluster, namespace, "meeting")["bytes"] == 40960
    await reporter.close()
    status = status_of(kube_cluster, namespace, "meeting")
    assert status["bytes"] == 99999 and status["duration"] == 30 and status["speakerCount"] == 2
    assert {key: status[key] for key in ("phase", "pod", "bot", "recordingId")} == {
        key: before[key] for key in ("phase", "pod", "bot", "recordingId")
    }
    columns = kube_cluster.kubectl("get", "-n", namespace, "recording", "meeting")
    assert columns.stdout.split("\n")[0].split() == ["NAME", "CHANNEL", "PHASE", "DURATION", "SPEAKERS", "AGE"]
    assert columns.stdout.split("\n")[1].split()[:5] == ["meeting", channel_id(1), "Recording", "30", "2"]


async def test_a_recorder_may_write_only_its_own_recordings_progress(
    kube_cluster, namespace, recording_crd, tmp_path
):
    apply_rbac(kube_cluster, namespace)
    mine = _recording_with_pod(kube_cluster, namespace, "mine", 1)
    _recording_with_pod(kube_cluster, namespace, "theirs", 2)
    api_url, ca_file = _api(kube_cluster, tmp_path)
    token = _pod_token(kube_cluster, namespace, mine, tmp_path)
    # The API server enforces a new admission policy once it has loaded it, a moment after the apply (seen in CI:
    # the first forged write got through). Dry runs go through admission and store nothing.
    theirs = f"/apis/pandora.dev/v1alpha1/namespaces/{namespace}/recordings/theirs/status?dryRun=All"
    deadline = asyncio.get_running_loop().time() + 30
    while (await _patch(api_url, ca_file, token, theirs, {"status": {"bytes": 1}}))[0] != 422:
        assert asyncio.get_running_loop().time() < deadline, "the admission policy is not enforced"
        await asyncio.sleep(0.2)

    # Admission denials are 422 with the policy's message; RBAC denials are 403.
    code, text = await _patch_status(api_url, ca_file, token, namespace, "theirs", {"bytes": 1})
    assert code == 422, text
    assert 'a recorder may only report on the Recording whose pod it runs in (token pod: "mine-rec-0"' in text
    for lifecycle in ({"phase": "Completed"}, {"observedGeneration": 99},
                      {"conditions": [{"type": "Ready", "status": "True", "reason": "Forged", "message": ""}]}):
        code, text = await _patch_status(api_url, ca_file, token, namespace, "mine", lifecycle)
        assert code == 422, (lifecycle, text)
        assert "the operator owns the lifecycle fields" in text
    assert status_of(kube_cluster, namespace, "mine")["phase"] == "Recording"
    assert "bytes" not in status_of(kube_cluster, namespace, "theirs")

    # A token not bound to a pod is refused too; the spec is out of reach altogether (RBAC).
    unbound = tmp_path / "unbound.token"
    unbound.write_text(kube_cluster.kubectl("create", "token", "pandora-recorder", "-n", namespace).stdout.strip())
    code, text = await _patch_status(api_url, ca_file, unbound, namespace, "mine", {"bytes": 1})
    assert code == 422 and 'token pod: ""' in text, text
    path = f"/apis/pandora.dev/v1alpha1/namespaces/{namespace}/recordings/mine"
    code, text = await _patch(api_url, ca_file, token, path, {"spec": {"stop": True}})
    assert code == 403, text
    stop = kube_cluster.kubectl("get", "-n", namespace, "recording", "mine", "-o", "jsonpath={.spec.stop}")
    assert stop.stdout == "false"


async def test_outside_a_pod_the_reporter_does_nothing():
    reporter = StatusReporter.from_env({})
    assert isinstance(reporter, NoopReporter)
    await reporter.report(Progress(duration_seconds=1, bytes_written=1))
    await reporter.close()


async def test_a_live_recorder_reports_speakers_bytes_and_duration(kube_cluster, namespace, recording_crd, tmp_path):
    """The real recorder, recording simulated speakers, puts its progress on the Recording within seconds."""
    from pandora.discord_connection import DiscordConnection
    from pandora_recorder.commands.record import record
    from pandora_recorder.sinks.local import LocalFolderSink
    from pandora_recorder.voice import RecorderSession, SessionOptions, SessionState
    from pandora_simulator import DiscordSimulator
    from pandora_simulator.testing import wait_for as wait_async

    apply_rbac(kube_cluster, namespace)
    pod = _recording_with_pod(kube_cluster, namespace, "podcast", 3)
    api_url, ca_file = _api(kube_cluster, tmp_path)
    reporter = KubernetesStatusReporter(
        api_url=api_url, namespace=namespace, name="podcast",
        token_file=_pod_token(kube_cluster, namespace, pod, tmp_path), ca_file=ca_file,
    )
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild = sim.create_guild("Guild", bots=[bot])
        voice = guild.create_voice_channel("General")
        alice, bob = guild.add_member("alice"), guild.add_member("bob")
        await alice.join_voice(voice)
        await bob.join_voice(voice)
        env = sim.connection_env(bot)
        sessions: list[RecorderSession] = []
        sink = LocalFolderSink(tmp_path / "out")
        task = asyncio.create_task(record(
            env["PANDORA_TOKEN"], sink, SessionOptions(guild_id=guild.id, channel_id=voice.id),
            connection=DiscordConnection.from_env(env), on_session=sessions.append, handle_signals=False,
            reporter=reporter,
        ))
        await wait_async(lambda: sessions and sessions[0].state is SessionState.RECORDING, timeout=10,
                         what="the recorder to join voice")
        await voice.wait_dave_settled()
        await asyncio.gather(alice.speak(2.0), bob.speak(2.0))

        def reported() -> dict | None:
            status = status_of(kube_cluster, namespace, "podcast")
            return status if status.get("speakerCount") == 2 and status.get("duration", 0) >= 2 else None

        status = await asyncio.to_thread(wait_for, "progress on the Recording", reported, 10.0)
        assert sorted(speaker["name"] for speaker in status["speakers"]) == ["alice", "bob"]
        assert sorted(speaker["track"] for speaker in status["speakers"]) == [1, 2]
        assert status["bytes"] > 2 * 50 * 10  # two speakers, two seconds of 20 ms Opus frames
        sessions[0].request_stop()
        await asyncio.wait_for(task, 20)
        sink.close()
    final = status_of(kube_cluster, namespace, "podcast")
    assert final["bytes"] == sessions[0].writer.stats().bytes_written
    assert final["phase"] == "Recording"  # the recorder reports progress; the operator owns the lifecycle


def test_the_admission_policy_guards_every_status_field_the_recorder_does_not_own(kube_cluster, namespace):
    """A status field added to the CRD is the operator's unless the contract says the recorder reports it."""
    (policy,) = [doc for doc in render_chart(kube_cluster, namespace) if doc["kind"] == "ValidatingAdmissionPolicy"]
    (guard,) = [v["expression"] for v in policy["spec"]["validations"] if "oldObject.?status.?phase" in v["expression"]]
    guarded = {part.split("object.?status.?")[1].split(" ")[0] for part in guard.split("&&")}
    crd = yaml.safe_load(CRD_FILE.read_text())
    (version,) = crd["spec"]["versions"]
    status_fields = set(version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"])
    assert guarded == status_fields - {camel_case(field) for field in RECORDER_FIELDS}
