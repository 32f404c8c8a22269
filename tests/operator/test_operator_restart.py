"""The operator killed (SIGKILL) and restarted mid-lifecycle: no duplicate or orphan pods, statuses converge."""

from __future__ import annotations

import collections

import pytest
from recording_helpers import (
    apply,
    channel_id,
    events,
    exit_pod,
    live_pods,
    pods,
    recording_manifest,
    status_of,
    wait_for,
    wait_phase,
)

pytestmark = pytest.mark.timeout(180)


def test_operator_restart_converges_without_duplicates(kube_cluster, namespace, operator, bot_pool_factory):
    bot_pool_factory("alpha", "beta", "gamma")
    for name, number in (("keep", 1), ("stopme", 2), ("crashme", 3)):
        apply(kube_cluster, namespace, recording_manifest(name, channel_id(number)))
    for name in ("keep", "stopme", "crashme"):
        wait_phase(kube_cluster, namespace, name, "Recording")
    ids = {name: status_of(kube_cluster, namespace, name)["recordingId"] for name in ("keep", "stopme", "crashme")}
    # All three bots are busy in this guild: this one waits, and must still wait after the restart.
    apply(kube_cluster, namespace, recording_manifest("queued", channel_id(4)))
    wait_phase(kube_cluster, namespace, "queued", "Pending")

    operator.kill()
    # While no operator runs: a stop request, a crash, a new Recording and a duplicate of a busy channel.
    kube_cluster.kubectl(
        "patch", "-n", namespace, "recording", "stopme", "--type=merge", "-p", '{"spec":{"stop":true}}'
    )
    exit_pod(kube_cluster, namespace, "crashme-rec-0", 137)
    apply(kube_cluster, namespace, recording_manifest("late", channel_id(5), guild="100000000000000002"))
    apply(kube_cluster, namespace, recording_manifest("copycat", channel_id(1)))
    wait_for(
        "KWOK to fail the crashed pod",
        lambda: [p for p in pods(kube_cluster, namespace) if p["status"].get("phase") == "Failed"],
    )

    operator.start()
    wait_phase(kube_cluster, namespace, "stopme", "Completed")
    assert wait_phase(kube_cluster, namespace, "crashme", "Recording")["restarts"] == 1
    wait_phase(kube_cluster, namespace, "late", "Recording")
    assert "already being recorded by Recording" in wait_phase(kube_cluster, namespace, "copycat", "Failed")["message"]
    # stopme's bot went to the queued Recording.
    wait_phase(kube_cluster, namespace, "queued", "Recording", timeout=30)

    def converged():
        names = sorted(p["metadata"]["name"] for p in live_pods(kube_cluster, namespace))
        return names if names == ["crashme-rec-1", "keep-rec-0", "late-rec-0", "queued-rec-0"] else None

    wait_for("exactly one live pod per active Recording", converged)
    all_pods = [p["metadata"]["name"] for p in pods(kube_cluster, namespace)]
    assert sorted(all_pods) == ["crashme-rec-1", "keep-rec-0", "late-rec-0", "queued-rec-0"]
    assert {name: status_of(kube_cluster, namespace, name)["recordingId"] for name in ids} == ids

    # Bots: never two Recordings of one guild on one bot.
    guild_bots = collections.Counter(
        status_of(kube_cluster, namespace, name)["bot"] for name in ("keep", "crashme", "queued")
    )
    assert max(guild_bots.values()) == 1, guild_bots

    # Restarting again changes nothing: no new pods, no extra restarts, no new Restarted events.
    restarted_before = [e for e in events(kube_cluster, namespace, "crashme") if e["reason"] == "Restarted"]
    operator.kill()
    operator.start()
    wait_for("a settled second restart", converged)
    assert status_of(kube_cluster, namespace, "crashme")["restarts"] == 1
    assert sorted(p["metadata"]["name"] for p in pods(kube_cluster, namespace)) == sorted(all_pods)
    restarted_after = [e for e in events(kube_cluster, namespace, "crashme") if e["reason"] == "Restarted"]
    assert sum(e.get("count", 1) for e in restarted_after) == sum(e.get("count", 1) for e in restarted_before)



def test_operator_killed_during_a_burst_leaves_exactly_one_pod_each(
    kube_cluster, namespace, operator, bot_pool_factory
):
    bot_pool_factory("alpha")
    count = 30
    manifests = [
        recording_manifest(f"burst-{n}", channel_id(100 + n), guild=str(100000000000001000 + n)) for n in range(count)
    ]
    assert apply(kube_cluster, namespace, {"apiVersion": "v1", "kind": "List", "items": manifests}).returncode == 0
    wait_for("the first pods of the burst", lambda: pods(kube_cluster, namespace), timeout=30, interval=0.05)
    operator.kill()
    operator.start()

    def all_recording():
        phases = [status_of(kube_cluster, namespace, f"burst-{n}").get("phase") for n in range(count)]
        return phases.count("Recording") == count

    wait_for(f"all {count} Recordings recording", all_recording, timeout=90, interval=1)
    names = sorted(p["metadata"]["name"] for p in pods(kube_cluster, namespace))
    assert names == sorted(f"burst-{n}-rec-0" for n in range(count))
    assert {status_of(kube_cluster, namespace, f"burst-{n}")["restarts"] for n in range(count)} == {0}
