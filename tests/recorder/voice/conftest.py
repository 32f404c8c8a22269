from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from recorder_testkit import Scene

from pandora_simulator import DiscordSimulator


@pytest.fixture
async def scene() -> AsyncIterator[Scene]:
    """A local Discord with the Pandora bot, one guild, a voice and a text channel."""
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild = sim.create_guild("Guild", bots=[bot])
        voice = guild.create_voice_channel("General")
        text = guild.create_text_channel("chat")
        yield Scene(sim, bot, guild, voice, text)
