"""Helpers for tests and demos that drive the simulator: waiting on a condition, and the usual small scene."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pandora_simulator.model import SimBot, SimChannel, SimGuild, SimMember
from pandora_simulator.simulator import DiscordSimulator


async def wait_for(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``condition`` every 20 ms; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class World:
    """The usual test scene: bot "Pandora" in guild "Guild" with voice "General", text "chat" and members."""

    bot: SimBot
    guild: SimGuild
    voice: SimChannel
    text: SimChannel
    members: list[SimMember]


async def small_world(sim: DiscordSimulator, *names: str, in_voice: int = 0) -> World:
    """Members are created in order; the first ``in_voice`` of them join the voice channel."""
    bot = sim.create_bot("Pandora")
    guild = sim.create_guild("Guild", bots=[bot])
    voice, text = guild.create_voice_channel("General"), guild.create_text_channel("chat")
    members = [guild.add_member(name) for name in names]
    for member in members[:in_voice]:
        await member.join_voice(voice)
    return World(bot, guild, voice, text, members)
