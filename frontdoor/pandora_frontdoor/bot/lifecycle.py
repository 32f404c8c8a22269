"""Log the front door's client in, keep it connected until asked to stop, and tell the caller when it is ready."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

import discord

from pandora.identify.limits import IdentifyBudgetReserved
from pandora.logging import get_logger
from pandora_frontdoor.bot.client import MESSAGE_CONTENT_NEEDED, FrontDoorClient
from pandora_frontdoor.config import FrontDoorConfig

log = get_logger(__name__)

READY_TIMEOUT = 60.0


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event, enabled: bool = True) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (Python as PID 1 would otherwise ignore SIGTERM)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if enabled else ()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        yield None
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


async def run_client(client: FrontDoorClient, token: str, stop: asyncio.Event, *,
                     when_ready: Callable[[], Awaitable[None]], before_close: Callable[[], Awaitable[None]]) -> None:
    """Connected until ``stop`` is set (or the gateway gives up, whose error is raised). ``when_ready`` runs once the
    guilds are cached; ``before_close`` runs before the client disconnects."""
    async with client:
        await client.login(token)
        await client.wait_for_first_identify()
        gateway = asyncio.create_task(client.connect(reconnect=True))
        ready = asyncio.create_task(client.wait_until_ready())
        await asyncio.wait({ready, gateway}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            if gateway.done():
                gateway.result()  # raises what the gateway raised
            raise TimeoutError(f"the Discord gateway did not get ready within {READY_TIMEOUT:.0f} s")
        log.info("front door ready", user=str(client.user), guilds=len(client.guilds),
                 text_commands=bool(client.config.prefix), slash_commands=client.config.interactions)
        await when_ready()
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({stopping, gateway}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        await before_close()
        if gateway.done() and not gateway.cancelled() and (error := gateway.exception()) is not None:
            raise error


TEXT_COMMANDS_OFF = "text commands are off until then; slash commands are answered"


async def answer_commands(config: FrontDoorConfig, serve: Callable[[FrontDoorConfig], Awaitable[None]]) -> None:
    """``serve(config)``; when Discord refuses the Message Content intent that text commands need (close 4014),
    ``serve`` again with slash commands only.

    Falling back rather than exiting: slash commands need no privileged intent and keep working, and an exit is a
    crash loop (the Deployment, or the bot's restart policy, starts it again and again) in which every start spends
    an IDENTIFY of the day's 1000 that the recorders of the same token share; running out resets the token and ends
    every recording. The log says what to fix at every start. With slash commands disabled too, nothing would be
    answered: then the refusal is raised, and the process exits 1 with the same message."""
    try:
        await serve(config)
    except discord.PrivilegedIntentsRequired:
        if not config.interactions or not config.prefix:
            raise
        log.error(MESSAGE_CONTENT_NEEDED, fallback=TEXT_COMMANDS_OFF)
        await serve(dataclasses.replace(config, prefix=None))


def exit_code(main: Coroutine[Any, Any, None]) -> int:
    """Run a front door's main coroutine to its end: 0, or 1 with a log line saying why it could not start."""
    try:
        asyncio.run(main)
    except discord.LoginFailure as error:
        log.error("Discord refused the bot token", error=str(error))
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error(MESSAGE_CONTENT_NEEDED)
        return 1
    except (TimeoutError, IdentifyBudgetReserved) as error:
        log.error("front door could not start", error=str(error))
        return 1
    return 0
