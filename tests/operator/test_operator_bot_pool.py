"""The bot pool (one recording per guild per bot) and one active recording per voice channel."""

from __future__ import annotations

import pytest
from recording_helpers import (
    apply,
    channel_id,
    event_reasons,
    events,
    live_pods,
    recording_manifest,
    status_of,
    wait_for,
    wait_phase,
)

pytestmark = pytest.mark.timeout(120)


def test_three_recordings_in_one_guild_with_two_bots(kube_cluster, namespace, operator, bot_pool_factory):
    bot_pool_factory("alpha", "beta")
    for number in (1, 2, 3):
        apply(kube_cluster, namespace, recording_manifest(f"room-{number}", channel_id(number)))

    def settled():
        phases = {n: status_of(kube_cluster, namespace, f"room-{n}").get("phase") for n in (1, 2, 3)}
        return phases if sorted(map(str, phases.values())) == ["Pending", "Recording", "Recording"] else None

    phases = wait_for("two Recording and one Pending", settled)
    (waiting,) = [n for n, phase in phases.items() if phase == "Pending"]
    running = [n for n in phases if n != waiting]
    bots = {status_of(kube_cluster, namespace, f"room-{n}")["bot"] for n in running}
    assert bots == {"alpha", "beta"}
    pending = status_of(kube_cluster, namespace, f"room-{waiting}")
    assert "waiting for a free bot" in pending["message"]
    assert "one recording per guild per bot" in pending["message"]
    assert "100000000000000001" in pending["message"]
    assert "bot" not in pending
    assert len(live_pods(kube_cluster, namespace)) == 2
    assert "Pending" in event_reasons(kube_cluster, namespace, f"room-{waiting}")

    freed = status_of(kube_cluster, namespace, f"room-{running[0]}")["bot"]
    kube_cluster.kubectl(
        "patch", "-n", namespace, "recording", f"room-{running[0]}", "--type=merge", "-p", '{"spec":{"stop":true}}'
    )
    wait_phase(kube_cluster, namespace, f"room-{running[0]}", "Completed")
    status = wait_phase(kube_cluster, namespace, f"room-{waiting}", "Recording", timeout=30)
    assert status["bot"] == freed
    assert len(live_pods(kube_cluster, namespace)) == 2


def test_a_bot_is_reused_across_guilds(kube_cluster, namespace, operator, bot_pool_factory):
    bot_pool_factory("alpha")
    apply(kube_cluster, namespace, recording_manifest("guild-a", channel_id(1), guild="100000000000000001"))
    apply(kube_cluster, namespace, recording_manifest("guild-b", channel_id(2), guild="100000000000000002"))
    assert wait_phase(kube_cluster, namespace, "guild-a", "Recording")["bot"] == "alpha"
    assert wait_phase(kube_cluster, namespace, "guild-b", "Recording")["bot"] == "alpha"


def test_second_recording_of_a_channel_fails_naming_the_first(
    kube_cluster, namespace, operator, bot_pool_factory
):
    bot_pool_factory("alpha", "beta")
    apply(kube_cluster, namespace, recording_manifest("first", channel_id(7)))
    wait_phase(kube_cluster, namespace, "first", "Recording")
    apply(kube_cluster, namespace, recording_manifest("second", channel_id(7)))
    status = wait_phase(kube_cluster, namespace, "second", "Failed")
    assert status["message"] == (
        f"voice channel {channel_id(7)} is already being recorded by Recording {namespace}/first; "
        "stop or delete first first, or wait until it completes"
    )
    assert "Failed" in event_reasons(kube_cluster, namespace, "second")
    assert [p["metadata"]["name"] for p in live_pods(kube_cluster, namespace)] == ["first-rec-0"]
    assert status_of(kube_cluster, namespace, "first")["phase"] == "Recording"


def test_pinned_bot_missing_from_the_pool_waits_with_a_reason(kube_cluster, namespace, operator, bot_pool_factory):
    bot_pool_factory("alpha")
    apply(kube_cluster, namespace, recording_manifest("pinned", channel_id(8), bot={"name": "gamma"}))
    status = wait_phase(kube_cluster, namespace, "pinned", "Pending")
    assert status["message"] == f"bot 'gamma' is not in the pool Secret {namespace}/pandora-bots"
    bot_pool_factory("alpha", "gamma")
    assert wait_phase(kube_cluster, namespace, "pinned", "Recording", timeout=30)["bot"] == "gamma"


def test_deleting_a_pending_recording_ends_it_with_nothing_recorded(
    kube_cluster, namespace, operator, bot_pool_factory
):
    bot_pool_factory("alpha")
    apply(kube_cluster, namespace, recording_manifest("busy", channel_id(1)))
    wait_phase(kube_cluster, namespace, "busy", "Recording")
    apply(kube_cluster, namespace, recording_manifest("waiting", channel_id(2)))
    wait_phase(kube_cluster, namespace, "waiting", "Pending")
    deleted = kube_cluster.kubectl("delete", "-n", namespace, "recording", "waiting", "--timeout=30s")
    assert deleted.returncode == 0, deleted.stderr
    stopped = [e for e in events(kube_cluster, namespace, "waiting") if e["reason"] == "Stopped"]
    assert stopped and "nothing was recorded" in stopped[-1]["message"]
    assert [p["metadata"]["name"] for p in live_pods(kube_cluster, namespace)] == ["busy-rec-0"]
