"""End to end on real pods, as a user runs Pandora: `helm install` of our chart, the operator pod from our image,
`kubectl apply` of a Recording for a simulated guild, a recorder pod with a real daprd sidecar (injected by Dapr's
control plane, Components loaded from the cluster) recording two speakers into S3, `kubectl patch` to stop, then
`pandora fetch` and `pandora cook` on the chunks: each speaker's frames exactly as sent; all of it under the chart's
recorder NetworkPolicy, which the real node enforces (what the policy forbids is refused, and opens without it).
Also the recorder pod deleted (SIGTERM) and its container SIGKILLed mid-recording: the same recording id continues,
nothing flushed is lost.

Timings are printed (`pytest -s`), not asserted."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from crash_gap import PodClock, measure_in_place_restart, recorder_running
from reachability import Attempt, check_enforced
from recorder_testkit import recorded_tracks
from release import (
    PodWatch,
    chart_values,
    explain,
    fetch_recording,
    install,
    pandora,
    recording_manifest,
    run,
    status_of,
    until,
)

from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world
from pandora_testenv.realnode.host import GATEWAY

pytestmark = pytest.mark.timeout(900)
NAME = "standup"


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def _world(sim: DiscordSimulator):
    world = await small_world(sim, "alice", "bob", in_voice=2)
    return (world.bot, world.guild, world.voice, *world.members)


def _connected(sim: DiscordSimulator, voice, bot, other_than: object = None) -> object:
    """The recorder's voice connection once complete (protocol selected: from here on it receives audio), and
    not `other_than` (the connection of the recorder before it)."""
    connection = sim.voice.room(voice.id).clients.get(bot.id)
    return connection if connection is not None and connection is not other_than else None


async def _install_and_start(real_cluster, namespace, sim, bot, guild, voice, redis, s3, tmp_path, timings):
    cluster = real_cluster.cluster
    started = time.monotonic()
    installed = await run(install, cluster, namespace, chart_values(real_cluster, sim, bot, redis, s3), tmp_path, s3)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    timings["helm install --wait (operator pod ready)"] = time.monotonic() - started
    operator = (await run(cluster.kubectl, "-n", namespace, "get", "pods", "-l",
                          "app.kubernetes.io/component=operator", "-o", "json", check=True)).stdout
    assert real_cluster.images["operator"].ref in operator and real_cluster.node.name in operator

    started = time.monotonic()
    applied = await run(cluster.kubectl, "-n", namespace, "apply", "-f", "-",
                        input=recording_manifest(NAME, guild.id, voice.id))
    assert applied.returncode == 0, applied.stderr
    status = await until("the Recording to be recording",
                         lambda: (s := status_of(cluster, namespace, NAME)).get("phase") == "Recording" and s, 180,
                         explain=explain(cluster, namespace))
    await until("the recorder connected to voice", lambda: _connected(sim, voice, bot), 60,
                explain=explain(cluster, namespace))
    await voice.wait_dave_settled()
    timings["kubectl apply -> recording (voice connected, DAVE settled)"] = time.monotonic() - started
    return status


async def _stop(cluster, namespace, timings) -> dict:
    started = time.monotonic()
    patched = await run(cluster.kubectl, "-n", namespace, "patch", "recording", NAME, "--type=merge",
                        "-p", '{"spec":{"stop":true}}')
    assert patched.returncode == 0, patched.stderr
    status = await until("the Recording to complete",
                         lambda: (s := status_of(cluster, namespace, NAME)).get("phase") in ("Completed", "Failed")
                         and s, 120, explain=explain(cluster, namespace))
    timings["kubectl patch stop -> Completed"] = time.monotonic() - started
    assert status["phase"] == "Completed", status
    return status


def _fetch_and_cook(s3, status: dict, tmp_path: Path) -> dict[int, list[bytes]]:
    recording_id = status["recordingId"]
    keys, raw = fetch_recording(s3, status, tmp_path)
    # Streamed while recording (a flush at least every second), not written once at the end.
    assert sum(".ogg.data." in key for key in keys) >= 2, keys
    cooked = pandora("cook", str(recording_id), "--dir", str(raw), "--out", str(tmp_path / "cooked"),
                     "--format", "wav")
    assert cooked.returncode == 0, cooked.stderr
    assert len(list((tmp_path / "cooked").glob("*.wav"))) == 2, cooked.stdout
    return recorded_tracks(raw, int(recording_id))


def _print(timings: dict[str, float]) -> None:
    for what, seconds in timings.items():
        print(f"real pods: {what}: {seconds:.1f} s")


async def test_helm_install_record_two_speakers_stop_fetch_cook(real_cluster, real_namespace, bridge_redis,
                                                                 bridge_s3, tmp_path):
    cluster, timings = real_cluster.cluster, {}
    async with DiscordSimulator(host=GATEWAY) as sim:
        bot, guild, voice, alice, bob = await _world(sim)
        status = await _install_and_start(real_cluster, real_namespace, sim, bot, guild, voice, bridge_redis,
                                          bridge_s3, tmp_path, timings)
        tested = await run(cluster.helm, "test", "pandora", "--namespace", real_namespace, timeout=180)
        assert tested.returncode == 0 and "Phase:          Succeeded" in tested.stdout, tested.stdout + tested.stderr

        pod_name = status["pod"]
        pod = json.loads((await run(cluster.kubectl, "-n", real_namespace, "get", "pod", pod_name, "-o", "json",
                                    check=True)).stdout)
        # Dapr's injector added daprd as a native sidecar (a restartable init container) to the operator's pod.
        (sidecar_spec,) = [c for c in pod["spec"].get("initContainers", []) if c["name"] == "daprd"]
        assert sidecar_spec["restartPolicy"] == "Always"
        assert sidecar_spec["image"] == real_cluster.images["dapr-daprd"].ref
        sidecar_log = (await run(cluster.kubectl, "-n", real_namespace, "logs", pod_name, "-c", "daprd")).stdout
        assert "pandora-recordings (bindings.aws.s3/v1)" in sidecar_log, sidecar_log[-3000:]
        assert "pandora-statestore (state.redis/v1)" in sidecar_log, sidecar_log[-3000:]
        await run(_check_network_policy, cluster, real_namespace, pod)
        timings["network policy: allowed/forbidden, without it, back"] = await run(
            _check_network_policy_enforced, cluster, real_namespace, pod, {
                "Discord REST and gateway (the simulator)": sim.port, "Discord voice websocket": sim.voice_port,
                "Redis": bridge_redis.port, "S3": urlsplit(bridge_s3.endpoint).port})

        await alice.speak(seconds=1.0)
        await bob.speak(seconds=1.0)
        await alice.speak(seconds=0.5)
        watch = PodWatch(cluster, real_namespace, pod_name)
        try:
            status = await _stop(cluster, real_namespace, timings)
            recorder = await until("the recorder's exit", lambda: watch.terminated("recorder"), 30)
            sidecar = await until("the sidecar's exit", lambda: watch.terminated("daprd"), 30)
        finally:
            watch.close()
    assert recorder["exitCode"] == 0, recorder
    # Shutdown order: daprd stops only after the recorder flushed its last chunk through it and exited.
    assert _time(sidecar["finishedAt"]) >= _time(recorder["finishedAt"])
    last_chunk = max(item["LastModified"] for item in bridge_s3.client().list_objects(
        Bucket=bridge_s3.bucket, Prefix=f"recordings/{status['recordingId']}/")["Contents"])
    assert last_chunk.replace(microsecond=0) <= _time(sidecar["finishedAt"])
    # The recorder reported who spoke (through the API server, from inside the pod).
    assert sorted(speaker["name"] for speaker in status["speakers"]) == ["alice", "bob"]
    tracks = await run(_fetch_and_cook, bridge_s3, status, tmp_path)
    assert tracks[alice.id] == alice.sent_frames
    assert tracks[bob.id] == bob.sent_frames
    _print(timings)


def _check_network_policy(cluster, namespace: str, pod: dict) -> None:
    """The chart's NetworkPolicy covers this recorder pod and the ports its sidecar dials in Dapr's control plane
    (the Services' target ports)."""
    policy = json.loads(cluster.kubectl("-n", namespace, "get", "networkpolicy", "pandora-recorder", "-o", "json",
                                        check=True).stdout)
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (dapr_rule,) = [rule for rule in policy["spec"]["egress"] if "to" in rule]
    services = json.loads(cluster.kubectl("-n", "dapr-system", "get", "service", "dapr-api", "dapr-sentry", "-o",
                                          "json", check=True).stdout)["items"]
    targets = {port["targetPort"] for service in services for port in service["spec"]["ports"]}
    assert targets and targets <= {port["port"] for port in dapr_rule["ports"]}, targets


def _check_network_policy_enforced(cluster, namespace: str, recorder: dict, on_the_node: dict[str, int]) -> float:
    """The real node enforces the policy (kube-router). From the recorder pod's own network namespace (which its
    daprd shares), new connections to what a recording needs open: `on_the_node` (name -> port of a service on
    the node's address), the API server through the `kubernetes` Service, Dapr's sentry and operator. Ports the
    policy does not list are refused: the kubelet's API on that same node address, sentry's health port (a Dapr
    control plane port daprd does not dial); and nothing connects to the recorder (the operator's pod to daprd's
    health port). Each refused one opens once the policy is deleted."""
    started = time.monotonic()
    operator = _pod(cluster, namespace, "app.kubernetes.io/component=operator")["metadata"]["name"]
    sentry, dapr_operator = (_pod(cluster, "dapr-system", f"app={app}")["status"]["podIP"]
                             for app in ("dapr-sentry", "dapr-operator"))
    name = recorder["metadata"]["name"]
    allowed = {what: Attempt(name, "recorder", GATEWAY, port) for what, port in on_the_node.items()}
    allowed |= {"API server (kubernetes Service)": Attempt(name, "recorder", "kubernetes.default.svc", 443),
                "dapr-sentry": Attempt(name, "recorder", sentry, 50001),
                "dapr-operator": Attempt(name, "recorder", dapr_operator, 6500)}
    check_enforced(cluster, namespace, allowed, {
        "recorder -> kubelet API on its node": Attempt(name, "recorder", GATEWAY, 10250),
        "recorder -> dapr-sentry's health port": Attempt(name, "recorder", sentry, 8080),
        "operator pod -> recorder's daprd health port": Attempt(operator, "operator", recorder["status"]["podIP"],
                                                                3501),
    })
    return time.monotonic() - started


def _pod(cluster, namespace: str, selector: str) -> dict:
    (pod,) = json.loads(cluster.kubectl("-n", namespace, "get", "pods", "-l", selector, "-o", "json",
                                        check=True).stdout)["items"]
    return pod


def _recorder_container_id(cluster, namespace: str, pod: str) -> str | None:
    result = cluster.kubectl("-n", namespace, "get", "pod", pod, "-o", "json")
    if result.returncode != 0:
        return None
    for entry in json.loads(result.stdout)["status"].get("containerStatuses") or []:
        if entry["name"] == "recorder" and "running" in entry.get("state", {}):
            return entry["containerID"].removeprefix("containerd://")
    return None


async def _recording_again(cluster, namespace: str, restarts: int, sim, bot, voice, before: object) -> dict:
    """The operator's next attempt records: status Recording with that many restarts, and a new voice connection
    (not `before`, the one of the recorder it replaces) with DAVE settled."""
    status = await until(f"attempt {restarts} recording", lambda: (s := status_of(cluster, namespace, NAME)).get(
        "phase") == "Recording" and s.get("restarts") == restarts and s, 180, explain=explain(cluster, namespace))
    await until("a new recorder connected to voice", lambda: _connected(sim, voice, bot, other_than=before), 60,
                explain=explain(cluster, namespace))
    await voice.wait_dave_settled()
    return status


async def test_a_deleted_or_killed_recorder_pod_continues_the_same_recording(real_cluster, real_namespace,
                                                                            bridge_redis, bridge_s3, tmp_path):
    cluster, timings = real_cluster.cluster, {}
    async with DiscordSimulator(host=GATEWAY) as sim:
        bot, guild, voice, alice, bob = await _world(sim)
        first = await _install_and_start(real_cluster, real_namespace, sim, bot, guild, voice, bridge_redis,
                                         bridge_s3, tmp_path, timings)
        recording_id = first["recordingId"]
        await alice.speak(seconds=1.0)
        await asyncio.sleep(1.5)  # longer than the flush interval: everything said is stored

        # `kubectl delete pod`: SIGTERM, the recorder flushes and exits 0; the operator starts the next attempt.
        connection = _connected(sim, voice, bot)
        watch = PodWatch(cluster, real_namespace, first["pod"])
        started = time.monotonic()
        try:
            deleted = await run(cluster.kubectl, "-n", real_namespace, "delete", "pod", first["pod"], "--wait=true",
                                timeout=90)
            assert deleted.returncode == 0, deleted.stderr
            timings["kubectl delete pod (SIGTERM) -> pod gone"] = time.monotonic() - started
            terminated = await until("the recorder's exit", lambda: watch.terminated("recorder"), 10)
        finally:
            watch.close()
        assert terminated["exitCode"] == 0, terminated
        second = await _recording_again(cluster, real_namespace, 1, sim, bot, voice, connection)
        timings["kubectl delete pod -> recording again"] = time.monotonic() - started
        assert second["recordingId"] == recording_id

        await bob.speak(seconds=1.0)
        await asyncio.sleep(1.5)
        # SIGKILL of the recorder's process (no flush, no goodbye): the pod fails, the operator replaces it.
        container = await until("the recorder container", lambda: _recorder_container_id(
            cluster, real_namespace, second["pod"]), 30)
        connection = _connected(sim, voice, bot)
        next_pod = f"{NAME}-rec-2"
        clock = PodClock(cluster, real_namespace, {
            "SIGKILL -> next pod created": lambda pod: pod["metadata"]["name"] == next_pod,
            "SIGKILL -> next pod's recorder container running": lambda pod: recorder_running(pod, next_pod),
        })
        killed = await run(real_cluster.node.ctr, "tasks", "kill", "--signal", "SIGKILL", container, check=False)
        assert killed.returncode == 0, killed.stderr
        third = await _recording_again(cluster, real_namespace, 2, sim, bot, voice, connection)
        timings["SIGKILL -> recording again (the gap)"] = time.monotonic() - clock.started
        timings.update(clock.close())
        assert third["recordingId"] == recording_id

        await alice.speak(seconds=1.0)
        status = await _stop(cluster, real_namespace, timings)
        # The other way back, for comparison: the kubelet restarting the recorder in place (podspec.py says why
        # the operator creates a new pod instead).
        timings.update(await measure_in_place_restart(real_cluster, real_namespace, sim, bot, guild, voice, _connected,
                                                      tmp_path))
    assert status["recordingId"] == recording_id and status["restarts"] == 2
    tracks = await run(_fetch_and_cook, bridge_s3, status, tmp_path)
    # Nothing that was flushed before the SIGTERM or the SIGKILL is missing, nothing is doubled.
    assert tracks[alice.id] == alice.sent_frames
    assert tracks[bob.id] == bob.sent_frames
    _print(timings)
