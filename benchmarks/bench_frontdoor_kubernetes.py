"""Benchmark: `/record` -> "Recording started with id <ID>" latency of the Kubernetes front door, and `/end` ->
the summary, on the local control plane with the operator.

Everything is real except the node: the local control plane (kube-apiserver, etcd, KWOK's fake node), the
operator and `pandora frontdoor` as child processes under their chart ServiceAccounts, the simulator here. KWOK
"runs" each recorder pod; the recorder itself runs in this process from the pod's own args and env, reporting
progress with a token bound to the pod (the same kit as tests/frontdoor/test_frontdoor_kubernetes.py, imported from
there). The clock stops when the deferred reply says "Recording started with id ...": the Recording was created,
the operator made a pod, the recorder joined voice and its first progress report reached the status, and the front
door saw it. A stopped pod stays Terminating 1 s (its grace period). Prints p50, p90, max over the rounds, and how
much of the start went by before the kit saw the recorder pod Running (API server, operator, KWOK, and the kit's
polling of pods every 0.2 s through kubectl).

Every recorder pod logs in to the gateway with the same token as the front door, and Discord (the simulator too)
admits one IDENTIFY per 5 s per token: a pod that logs in sooner gets op 9 and discord.py tries again 5 s later.
`--gap` (default 6 s) waits that long between a round's end and the next /record, as recordings normally are
spaced; `--gap 0` shows the cost of back-to-back starts. The op 9 count is printed.

    .venv/bin/python benchmarks/bench_frontdoor_kubernetes.py [--rounds 10] [--gap 6]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for folder in ("tests/frontdoor", "tests/operator", "tests/recorder/voice"):
    sys.path.insert(0, str(REPO / folder))

# The test kits (outside any package), importable once their folders are on the path.
from bot_testkit import commands_synced  # noqa: E402
from kube_testkit import bot_pool, front_door, recorder_pods  # noqa: E402
from recording_helpers import CRD_FILE, apply_rbac, service_account_kubeconfig  # noqa: E402

from pandora_simulator import DiscordSimulator  # noqa: E402
from pandora_simulator.testing import small_world, wait_for  # noqa: E402
from pandora_testenv.cluster import KubeCluster  # noqa: E402
from pandora_testenv.controlplane import down, up  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def main(rounds: int, gap: float, folder: Path) -> None:
    spec = importlib.util.spec_from_file_location("operator_fixtures", REPO / "tests" / "operator" / "conftest.py")
    assert spec is not None and spec.loader is not None
    fixtures = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = fixtures
    spec.loader.exec_module(fixtures)

    plane = up(folder / "controlplane")
    try:
        cluster = KubeCluster(plane.kubeconfig, "local", plane)
        cluster.kubectl("apply", "-f", str(CRD_FILE), check=True)
        cluster.kubectl("wait", "--for=condition=Established", "crd/recordings.pandora.dev", "--timeout=60s",
                        check=True)
        namespace = "bench"
        cluster.kubectl("create", "namespace", namespace, check=True)
        apply_rbac(cluster, namespace)
        operator = fixtures.OperatorProcess(
            namespace, service_account_kubeconfig(cluster, namespace, "pandora-operator",
                                                  folder / "operator.kubeconfig"), folder / "operator.log")
        operator.start()
        try:
            starts, pod_running, ends, invalid = await rounds_on(cluster, namespace, folder, rounds, gap)
        finally:
            operator.stop()
    finally:
        down(folder / "controlplane")
    print(f"gap between rounds {gap:.0f} s; IDENTIFYs refused with op 9: {invalid}")
    for label, values in (("/record -> Recording started", starts), ("  of which until the pod ran", pod_running),
                          ("/end -> summary", ends)):
        print(f"{label:32s} p50 {statistics.median(values) * 1000:7.1f} ms   p90 {percentile(values, 0.9) * 1000:7.1f}"
              f" ms   max {max(values) * 1000:7.1f} ms   ({len(values)} rounds)")


async def rounds_on(cluster: KubeCluster, namespace: str, folder: Path, rounds: int, gap: float
                    ) -> tuple[list[float], list[float], list[float], int]:
    starts: list[float] = []
    ends: list[float] = []
    pod_running: list[float] = []
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        world.guild.owner_id = alice.id
        bot_pool(cluster, namespace, world.bot)
        async with front_door(cluster, namespace, sim, world.bot, folder), \
                recorder_pods(cluster, namespace, sim, world.bot, folder / "out", termination_delay="1s") as pods:
            await commands_synced(world.bot)
            await asyncio.sleep(gap)  # the front door's own IDENTIFY
            for _ in range(rounds):
                began = time.perf_counter()
                record = await alice.invoke_slash_command(world.bot, "record", channel=world.text)
                await wait_for(lambda r=record: any(x.action == "edit_original" and
                                                    x.content.startswith("Recording started with id ")
                                                    for x in r.responses), timeout=120, what="the start reply")
                starts.append(time.perf_counter() - began)
                pod_running.append(pods.running_seen[f"interaction-{record.id}-rec-0"] - began)
                await world.voice.wait_dave_settled()
                await alice.speak(seconds=0.2)
                began = time.perf_counter()
                end = await alice.invoke_slash_command(world.bot, "end", channel=world.text)
                await wait_for(lambda e=end: any(x.action == "edit_original" and " ended after " in x.content
                                                 for x in e.responses), timeout=120, what="the summary")
                ends.append(time.perf_counter() - began)
                await wait_for(lambda: world.guild.voice_channel_of(world.bot.id) is None, timeout=30,
                               what="the recorder to leave voice")
                await asyncio.sleep(gap)
        invalid = len(sim.invalid_sessions)
    return starts, pod_running, ends, invalid


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--gap", type=float, default=6.0, help="seconds between rounds (IDENTIFY pacing)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pandora-bench-frontdoor-") as directory:
        asyncio.run(main(options.rounds, options.gap, Path(directory)))
