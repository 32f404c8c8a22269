"""Discord's REST rate limits: 429s on message create, interaction callbacks and reply edits are waited out, and
every answer still arrives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot_testkit import bot_texts, commands_synced, final_reply, running_bot, started_id

from pandora_simulator import DiscordSimulator
from pandora_simulator.rate_limits import INTERACTION_CALLBACK, MESSAGE_CREATE, WEBHOOK_MESSAGE_EDIT
from pandora_simulator.testing import small_world, wait_for


async def test_429s_are_waited_out_and_no_reply_is_lost(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        world.guild.owner_id = alice.id
        # Unannounced limits (spent by another process on the token): clients learn them only from the 429.
        sim.rate_limit(MESSAGE_CREATE, every=2, retry_after=0.3)
        sim.rate_limit(INTERACTION_CALLBACK, every=2, retry_after=0.2)
        sim.rate_limit(WEBHOOK_MESSAGE_EDIT, every=2, retry_after=0.2)
        async with running_bot(sim, world.bot, tmp_path, COMMAND_PREFIX="!"):
            await commands_synced(world.bot)
            for _ in range(4):
                await alice.send_message(world.text, "!status")
            await wait_for(lambda: len(bot_texts(sim, world.bot, world.text)) >= 4, timeout=20,
                           what="four answers")
            interactions = [await alice.invoke_slash_command(world.bot, "status", channel=world.text)
                            for _ in range(2)]
            answers = [await final_reply(interaction) for interaction in interactions]
            record = await alice.invoke_slash_command(world.bot, "record", channel=world.text)
            started = await final_reply(record)
            end = await alice.invoke_slash_command(world.bot, "end", channel=world.text)
            ended = await final_reply(end)
            await asyncio.sleep(0.3)
        assert bot_texts(sim, world.bot, world.text)[:4] == ["Nothing is being recorded in this server."] * 4
        assert [answer.content for answer in answers] == ["Nothing is being recorded in this server."] * 2
        recording_id = started_id(started.content)
        assert ended.content.startswith(f"Recording {recording_id} ended after ")
        routes = {hit.route for hit in sim.rate_limited}
        assert {MESSAGE_CREATE, INTERACTION_CALLBACK, WEBHOOK_MESSAGE_EDIT} <= routes  # each was refused at least once
