"""``pandora bot`` logs in through the same pacing rule as the recorders (``pandora.identify``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bot_testkit import running_bot

from pandora.identify.limits import IdentifyBudgetReserved
from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world

ENV = {"COMMAND_PREFIX": "!", "DISABLE_INTERACTIONS": "1"}


async def test_a_bot_restarted_at_once_waits_for_its_identify_slot_instead_of_being_refused(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice")
        for _ in range(2):  # the second start is within Discord's 5 s of the first IDENTIFY
            async with running_bot(sim, world.bot, tmp_path, **ENV):
                pass
        limit = sim.session_start_limit(world.bot)
        assert limit.total - limit.remaining == 2
        assert sim.invalid_sessions == []


async def test_a_bot_does_not_log_in_into_the_front_doors_reserve(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice")
        limit = sim.session_start_limit(world.bot)
        limit.remaining = 20  # 2 % of 1000
        with pytest.raises(IdentifyBudgetReserved, match="20 of the bot's 1000 IDENTIFYs per 24 h remain"):
            async with running_bot(sim, world.bot, tmp_path, **ENV):
                pass
        assert limit.remaining == 20 and sim.token_resets == []
