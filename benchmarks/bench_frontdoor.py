"""Benchmark: `/record` -> "Recording started with id <ID>" latency of `pandora bot` (standalone), and `/end` ->
the summary, on the local Discord simulator.

`pandora bot` runs as a child process (its own interpreter, as in production) with the real recorder; the
simulator runs here. Each round a member invokes /record; the clock stops when the deferred reply is edited to
"Recording started with id ..." (the bot has joined voice and audio is being captured). Then /end, timed until
the summary. Prints the deferral time, the start and the end latencies (p50, p90, max) over the rounds.

    .venv/bin/python benchmarks/bench_frontdoor.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pandora_simulator import DiscordSimulator
from pandora_simulator.interactions import SimInteraction
from pandora_simulator.testing import small_world, wait_for


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def timed_answer(interaction: SimInteraction, started: float, prefix: str) -> tuple[float, float]:
    """(seconds to the first callback, seconds to the edited reply starting with ``prefix``)."""
    await interaction.wait_response(timeout=30)
    deferred = time.perf_counter() - started
    await wait_for(lambda: any(r.action == "edit_original" and r.content.startswith(prefix)
                               for r in interaction.responses), timeout=60, what=f"a reply starting {prefix!r}")
    return deferred, time.perf_counter() - started


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="pandora-bench-bot-") as folder:
        log = Path(folder) / "bot.log"
        async with DiscordSimulator() as sim:
            world = await small_world(sim, "alice", in_voice=1)
            (alice,) = world.members
            world.guild.owner_id = alice.id
            env = {**os.environ, **sim.connection_env(world.bot)}
            with log.open("wb") as output:
                bot = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "pandora.cli", "bot", "--out", str(Path(folder) / "recordings"),
                    env=env, stdout=output, stderr=output)
            try:
                await wait_for(lambda: "front door ready" in log.read_text(), timeout=60, what="the bot to get ready")
                deferrals, starts, ends = [], [], []
                for _ in range(rounds):
                    began = time.perf_counter()
                    record = await alice.invoke_slash_command(world.bot, "record", channel=world.text)
                    deferred, started = await timed_answer(record, began, "Recording started with id ")
                    await world.voice.wait_dave_settled()
                    await alice.speak(seconds=0.2)
                    began = time.perf_counter()
                    end = await alice.invoke_slash_command(world.bot, "end", channel=world.text)
                    _, ended = await timed_answer(end, began, "Recording ")
                    await wait_for(lambda: world.guild.voice_channel_of(world.bot.id) is None, timeout=20,
                                   what="the bot to leave voice")
                    deferrals.append(deferred)
                    starts.append(started)
                    ends.append(ended)
            finally:
                bot.terminate()
                await bot.wait()
    for label, values in (("/record deferred", deferrals), ("/record -> Recording started", starts),
                          ("/end -> summary", ends)):
        print(f"{label:32s} p50 {statistics.median(values) * 1000:7.1f} ms   p90 {percentile(values, 0.9) * 1000:7.1f}"
              f" ms   max {max(values) * 1000:7.1f} ms   ({len(values)} rounds)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(parser.parse_args().rounds))
