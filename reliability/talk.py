"""Simulated members talking like people in a call: bursts of 1-4 s with pauses of 0.3-1.5 s, each member on its
own schedule (so they overlap), every frame logged with its RTP timestamp and when it went out."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

from measure import Speech
from pandora_simulator import DiscordSimulator, SimMember

BURST_SECONDS = (1.0, 4.0)
PAUSE_SECONDS = (0.3, 1.5)


class Talk:
    """`start()` sets every member talking until `stop()`; `speeches` has what each one sent."""

    def __init__(self, sim: DiscordSimulator, members: list[SimMember], seed: int) -> None:
        self.sim = sim
        self.members = members
        self.speeches = {member.id: Speech(member.id, member.name) for member in members}
        self._random = random.Random(seed)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._talk(member, random.Random(self._random.random())))
                       for member in self.members]

    async def stop(self) -> None:
        """Let every member finish the burst they are in (frames mid-burst are what the figures count)."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)

    async def _talk(self, member: SimMember, rng: random.Random) -> None:
        speech = self.speeches[member.id]
        while not self._stopping.is_set():
            seat = self.sim.voice.seat_of(member)
            if seat is None:
                raise RuntimeError(f"{member.name} is not in voice")
            first_timestamp = seat[1].timestamp
            frames = await member.speak(seconds=rng.uniform(*BURST_SECONDS), realtime=True)
            speech.add_burst(first_timestamp, frames, time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), rng.uniform(*PAUSE_SECONDS))
