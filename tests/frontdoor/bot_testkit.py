"""``pandora bot`` against the simulator: run it, type commands as members, read what the bot answered."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pandora_frontdoor.commands.bot import serve
from pandora_frontdoor.config import FrontDoorConfig
from pandora_frontdoor.local.recordings import LocalRecordings
from pandora_simulator import DiscordSimulator, SimBot, SimChannel, SimMember
from pandora_simulator.interactions import SimInteraction
from pandora_simulator.testing import World, wait_for

STARTED = re.compile(r"^Recording started with id (\d+)$", re.MULTILINE)


@dataclass
class RunningBot:
    task: asyncio.Task[None]
    stop: asyncio.Event
    recordings: LocalRecordings


@contextlib.asynccontextmanager
async def running_bot(sim: DiscordSimulator, bot: SimBot, out: Path, **env: str) -> AsyncIterator[RunningBot]:
    """``pandora bot``'s own code path (minus signal handlers) with ``env`` on top of the connection contract."""
    full_env = {**sim.connection_env(bot), **env}
    stop = asyncio.Event()
    ready: list[LocalRecordings] = []
    task = asyncio.create_task(serve(full_env, FrontDoorConfig.from_env(full_env), out, stop=stop,
                                     on_ready=ready.append))
    try:
        await wait_for(lambda: task.done() or bool(ready), timeout=20, what="the bot to get ready")
        if task.done():
            task.result()
        yield RunningBot(task, stop, ready[0])
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)


def bot_texts(sim: DiscordSimulator, bot: SimBot, channel: SimChannel) -> list[str]:
    """What the bot posted in a channel (its messages as they read now), oldest first."""
    return [m["content"] for m in sim.channel_messages(channel.id) if m["author"]["id"] == str(bot.id)]


async def next_bot_text(sim: DiscordSimulator, bot: SimBot, channel: SimChannel, seen: int,
                        timeout: float = 20) -> str:
    """The first message the bot posts in ``channel`` after the ``seen`` it had posted before."""
    await wait_for(lambda: len(bot_texts(sim, bot, channel)) > seen, timeout=timeout, what="the bot's reply")
    return bot_texts(sim, bot, channel)[seen]


def started_id(text: str) -> int:
    first_line = text.splitlines()[0]
    match = STARTED.match(first_line)
    assert match is not None, f"not a start reply: {text!r}"
    return int(match.group(1))


async def final_reply(interaction: SimInteraction, timeout: float = 20) -> Any:
    """The interaction's answer once it is not the deferral any more: the edited reply or a follow-up."""
    await wait_for(lambda: any(r.action in ("edit_original", "followup") or (r.action == "callback" and r.type == 4)
                               for r in interaction.responses), timeout=timeout, what="the interaction's answer")
    return next(r for r in interaction.responses
                if r.action in ("edit_original", "followup") or (r.action == "callback" and r.type == 4))


async def commands_synced(bot: SimBot) -> None:
    await wait_for(lambda: {c["name"] for c in bot.commands} >= {"record", "end", "status"}, timeout=10,
                   what="the slash commands to be registered")


async def bot_text_starting(sim: DiscordSimulator, bot: SimBot, channel: SimChannel, prefix: str,
                            timeout: float = 20) -> str:
    """The bot's message in ``channel`` that starts with ``prefix`` (other bot messages may come in between)."""
    def found() -> list[str]:
        return [text for text in bot_texts(sim, bot, channel) if text.startswith(prefix)]

    await wait_for(lambda: bool(found()), timeout=timeout, what=f"a bot message starting {prefix!r}")
    return found()[0]


async def start_bot_process(env: dict[str, str], out: Path, log: Path) -> asyncio.subprocess.Process:
    """``pandora bot --out OUT`` as a child process with exactly ``env``; its output appended to ``log``."""
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "pandora.cli", "bot", "--out", str(out),
                                                    env=env, stdout=output, stderr=output)


async def restart_speak_and_end(sim: DiscordSimulator, world: World, env: dict[str, str], out: Path,
                                log: Path) -> tuple[str, str]:
    """Start the bot again after it was stopped mid-recording; once it is back in voice the first member speaks
    and types ``!end``. Returns (the bot's notice after the restart, its end summary)."""
    speaker = world.members[0]
    seen = len(bot_texts(sim, world.bot, world.text))
    bot = await start_bot_process(env, out, log)
    try:
        resumed = await next_bot_text(sim, world.bot, world.text, seen, timeout=40)
        await wait_for(lambda: world.guild.voice_channel_of(world.bot.id) == world.voice.id, timeout=20,
                       what="the bot back in voice")
        await world.voice.wait_dave_settled()
        await speaker.speak(seconds=0.6)
        await asyncio.sleep(0.2)
        await speaker.send_message(world.text, "!end")
        summary = await next_bot_text(sim, world.bot, world.text, seen + 1)
    finally:
        bot.send_signal(signal.SIGTERM)
        await asyncio.wait_for(bot.wait(), 30)
    return resumed, summary


async def type_command(sim: DiscordSimulator, bot: SimBot, member: SimMember, channel: SimChannel, content: str,
                       timeout: float = 20) -> str:
    """``member`` types ``content`` in ``channel``; the bot's next message there."""
    seen = len(bot_texts(sim, bot, channel))
    await member.send_message(channel, content)
    return await next_bot_text(sim, bot, channel, seen, timeout)
