"""How fast the simulator's SFU moves DAVE-encrypted audio to a real discord.py client.

Prints, for 1, 3 and 8 simulated speakers talking at once (not paced): packets delivered per second of wall time
and how many seconds of audio per wall second that is; then, paced in real time, how late the last frame of a 3 s
utterance was. Run: .venv/bin/python benchmarks/simulator_sfu.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "simulator"))

from sim_clients import TappedVoiceClient, running_client, wait_for

from pandora_simulator import DiscordSimulator


async def measure(speakers: int, seconds: float, realtime: bool) -> tuple[float, int]:
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Bench")
        guild = sim.create_guild("Bench", bots=[bot])
        voice = guild.create_voice_channel("General")
        members = [guild.add_member(f"m{i}") for i in range(speakers)]
        for member in members:
            await member.join_voice(voice)
        async with running_client(sim, bot, [guild]) as client:
            vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
            await voice.wait_dave_settled()
            start = time.perf_counter()
            await asyncio.gather(*(m.speak(seconds=seconds, realtime=realtime) for m in members))
            expected = speakers * round(seconds / 0.02)
            await wait_for(lambda: len(vc.datagrams) >= expected, timeout=60, what="all packets")
            return time.perf_counter() - start, len(vc.datagrams)


async def main() -> None:
    for speakers in (1, 3, 8):
        elapsed, packets = await measure(speakers, 2.0, realtime=False)
        audio = speakers * 2.0
        print(f"unpaced  speakers={speakers}: {packets} packets in {elapsed:.3f} s = {packets / elapsed:,.0f} "
              f"packets/s ({audio / elapsed:.1f} s of audio per wall second)")
    for speakers in (1, 3):
        elapsed, packets = await measure(speakers, 3.0, realtime=True)
        print(f"realtime speakers={speakers}: 3.0 s utterance delivered in {elapsed:.3f} s "
              f"(late by {1000 * (elapsed - 3.0):.0f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
