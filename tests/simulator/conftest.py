"""Fixtures for the simulator tests (helpers for discord.py clients live in sim_clients.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pandora_simulator import DiscordSimulator


@pytest.fixture
async def sim() -> AsyncIterator[DiscordSimulator]:
    async with DiscordSimulator() as simulator:
        yield simulator
