"""A bot whose application has not enabled the Message Content intent, with ``COMMAND_PREFIX`` set: Discord closes
its gateway with 4014, and ``pandora bot`` says what to fix instead of a traceback or a crash loop."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from bot_testkit import commands_synced, final_reply, start_bot_process, started_id

from pandora_frontdoor.bot.client import MESSAGE_CONTENT_NEEDED
from pandora_frontdoor.bot.lifecycle import TEXT_COMMANDS_OFF
from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world, wait_for


def output(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


async def test_without_message_content_the_bot_says_what_to_enable_and_answers_slash_commands(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        world.guild.owner_id = alice.id
        world.bot.privileged_intents = 0  # Message Content not enabled in the Developer Portal
        env = {**os.environ, **sim.connection_env(world.bot), "COMMAND_PREFIX": "!"}
        bot = await start_bot_process(env, tmp_path / "rec", log)
        try:
            await wait_for(lambda: "front door ready" in output(log) or bot.returncode is not None, timeout=30,
                           what="the bot to get ready")
            assert MESSAGE_CONTENT_NEEDED in output(log)
            await commands_synced(world.bot)
            interaction = await alice.invoke_slash_command(world.bot, "record", channel=world.text)
            started = started_id((await final_reply(interaction, timeout=30)).content)
            ending = await alice.invoke_slash_command(world.bot, "end", channel=world.text)
            summary = await final_reply(ending, timeout=30)
            assert bot.returncode is None  # still up: no crash loop
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 30)
    text = output(log)
    assert summary.content.startswith(f"Recording {started} ended after ")
    assert text.count(MESSAGE_CONTENT_NEEDED) == 1 and TEXT_COMMANDS_OFF in text
    assert "Traceback" not in text
    # Logged in twice (refused, then without the intent), the second time paced: no op 9.
    limit = sim.session_start_limit(world.bot)
    assert limit.total - limit.remaining == 2 and sim.invalid_sessions == []


async def test_without_message_content_and_slash_commands_disabled_the_bot_exits_saying_what_to_enable(
    tmp_path: Path,
) -> None:
    log = tmp_path / "bot.log"
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice")
        world.bot.privileged_intents = 0
        env = {**os.environ, **sim.connection_env(world.bot), "COMMAND_PREFIX": "!", "DISABLE_INTERACTION": ""}
        bot = await start_bot_process(env, tmp_path / "rec", log)
        code = await asyncio.wait_for(bot.wait(), 40)
    text = output(log)
    assert code == 1  # nothing would answer: exit, saying why
    assert MESSAGE_CONTENT_NEEDED in text and TEXT_COMMANDS_OFF not in text
    assert "Traceback" not in text
