"""The reconnect backoff our voice connections' poller gets: low at first, doubling while connections do not last,
starting over after one that did; any other discord.py voice client keeps discord.py's own."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import discord.backoff
import discord.voice_state
import pytest

from pandora import discordpy_compat
from pandora.discordpy_compat import FIRST_RETRY_WITHIN, STABLE_AFTER, ReconnectBackoff


def test_delays_double_while_connections_do_not_last_and_start_over_after_one_that_did(
        monkeypatch: pytest.MonkeyPatch) -> None:
    bounds: list[float] = []
    monkeypatch.setattr(discordpy_compat.random, "uniform", lambda low, high: high)  # the bound of each delay
    connection = SimpleNamespace(connected_at=None)
    backoff = ReconnectBackoff(connection)  # type: ignore[arg-type]
    for _ in range(3):  # reconnects that never got a connection up
        bounds.append(backoff.delay())
    connection.connected_at = time.monotonic()  # up, but closed again at once
    bounds.append(backoff.delay())
    connection.connected_at = time.monotonic() - STABLE_AFTER  # up long enough
    bounds.append(backoff.delay())
    bounds.append(backoff.delay())
    first = FIRST_RETRY_WITHIN
    assert bounds == [first, 2 * first, 4 * first, 8 * first, first, 2 * first]
    for _ in range(20):
        backoff.delay()
    assert backoff.delay() == 2 ** 9 * first  # capped


async def test_only_our_connections_pollers_get_it() -> None:
    async def poller_of(connection: object | None) -> object:
        if connection is not None:
            discordpy_compat._POLLING.set(connection)  # type: ignore[arg-type]
        return discord.voice_state.ExponentialBackoff()

    ours = SimpleNamespace(connected_at=None)
    assert isinstance(await asyncio.create_task(poller_of(ours)), ReconnectBackoff)
    assert isinstance(await asyncio.create_task(poller_of(None)), discord.backoff.ExponentialBackoff)
    assert discordpy_compat._POLLING.get() is None  # set in the poller's task only
