"""Waiting for a voice connection state misses no state change, however quickly two come one after the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import discord
import pytest
from discord.voice_state import ConnectionFlowState, VoiceConnectionState

from pandora.discordpy_compat import HookedVoiceClient


@pytest.fixture
async def voice() -> AsyncIterator[HookedVoiceClient]:
    client = discord.Client(intents=discord.Intents.none())
    created = HookedVoiceClient(client, SimpleNamespace(id=1, guild=None), transport_modes=())  # type: ignore[arg-type]
    yield created
    created._connection._socket_reader.stop()


async def _both_updates_at_once(connection: VoiceConnectionState) -> None:
    """VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE handled in one go, as the gateway reader does with two buffered
    events, right after the connect began to wait."""
    waiting = asyncio.create_task(connection._wait_for_state(ConnectionFlowState.got_both_voice_updates, timeout=2))
    await asyncio.sleep(0)  # the wait has started
    connection.state = ConnectionFlowState.got_voice_state_update
    connection.state = ConnectionFlowState.got_both_voice_updates
    await waiting


async def test_two_state_changes_at_once_end_the_wait(voice: HookedVoiceClient) -> None:
    await _both_updates_at_once(voice._connection)


async def test_discord_py_alone_misses_them(voice: HookedVoiceClient) -> None:
    """Why the wait is ours: discord.py's waits on the state event in a task of its own that had not started, and
    the event is set and cleared at each change, so the connect hung until its timeout (seen: a recorder that took
    30 s and then gave up on a loaded machine)."""
    connection = voice._connection
    connection._wait_for_state = VoiceConnectionState._wait_for_state.__get__(connection)  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        await _both_updates_at_once(connection)
