"""``pandora bot`` in several guilds at once, with commands typed twice, and with slash commands disabled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot_testkit import bot_texts, next_bot_text, running_bot, started_id
from recorder_testkit import recorded_tracks

from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import wait_for


async def test_two_guilds_record_at_once_and_end_separately(tmp_path: Path) -> None:
    out = tmp_path / "recordings"
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        scenes = []
        for name in ("One", "Two"):
            guild = sim.create_guild(name, bots=[bot])
            voice, text = guild.create_voice_channel("General"), guild.create_text_channel("chat")
            member = guild.add_member(f"member-of-{name}")
            guild.owner_id = member.id
            await member.join_voice(voice)
            scenes.append((guild, voice, text, member))
        async with running_bot(sim, bot, out, COMMAND_PREFIX="!"):
            ids = []
            for _guild, _voice, text, member in scenes:
                await member.send_message(text, "!record")
                ids.append(started_id(await next_bot_text(sim, bot, text, 0)))
            for _guild, voice, _text, _member in scenes:
                await voice.wait_dave_settled()
            await asyncio.gather(*(member.speak(seconds=0.6) for *_, member in scenes))
            await asyncio.sleep(0.2)
            (_, _, first_text, first_member), (second_guild, _, second_text, _) = scenes
            await first_member.send_message(first_text, "!end")
            assert (await next_bot_text(sim, bot, first_text, 1)).startswith(f"Recording {ids[0]} ended")
            assert second_guild.voice_channel_of(bot.id) is not None  # the other guild still records
            assert len(bot_texts(sim, bot, second_text)) == 1  # only its start reply
            _, _, _, second_member = scenes[1]
            await second_member.send_message(second_text, "!end")
            assert (await next_bot_text(sim, bot, second_text, 1)).startswith(f"Recording {ids[1]} ended")
        assert ids[0] != ids[1]
        for recording_id, (*_, member) in zip(ids, scenes, strict=True):
            assert recorded_tracks(out, recording_id) == {member.id: member.sent_frames}


async def test_record_typed_twice_starts_one_recording(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild = sim.create_guild("Guild", bots=[bot])
        voice, text = guild.create_voice_channel("General"), guild.create_text_channel("chat")
        alice = guild.add_member("alice")
        guild.owner_id = alice.id
        await alice.join_voice(voice)
        async with running_bot(sim, bot, tmp_path, COMMAND_PREFIX="!"):
            await alice.send_message(text, "!record")
            await alice.send_message(text, "!record")
            await wait_for(lambda: len(bot_texts(sim, bot, text)) == 2, timeout=20, what="two answers")
            first, second = bot_texts(sim, bot, text)
        recording_id = started_id(first)
        assert second == f"<#{voice.id}> is already being recorded, id {recording_id}."
        assert len([r for r in sim.voice_state_log if r.channel_id is not None]) == 1


async def test_disable_interaction_removes_the_registered_slash_commands(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild = sim.create_guild("Guild", bots=[bot])
        text = guild.create_text_channel("chat")
        alice = guild.add_member("alice")
        # What an earlier run with slash commands left registered.
        bot.commands[:] = [{"id": "1", "name": "record", "type": 1}, {"id": "2", "name": "end", "type": 1}]
        async with running_bot(sim, bot, tmp_path, COMMAND_PREFIX="!", DISABLE_INTERACTION=""):
            await wait_for(lambda: bot.commands == [], timeout=10, what="the stale commands to be removed")
            await alice.send_message(text, "!status")  # text commands still answer
            assert await next_bot_text(sim, bot, text, 0) == "Nothing is being recorded in this server."


async def test_record_from_the_voice_channels_own_chat(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild = sim.create_guild("Guild", bots=[bot])
        voice = guild.create_voice_channel("General")
        alice = guild.add_member("alice")
        guild.owner_id = alice.id
        await alice.join_voice(voice)
        async with running_bot(sim, bot, tmp_path, COMMAND_PREFIX="!"):
            await alice.send_message(voice, "!record")
            recording_id = started_id(await next_bot_text(sim, bot, voice, 0))
            await alice.send_message(voice, "!end")
            assert (await next_bot_text(sim, bot, voice, 1)).startswith(f"Recording {recording_id} ended after ")


async def test_commands_in_configured_guilds_only_and_stale_global_ones_removed(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild, other = sim.create_guild("Guild", bots=[bot]), sim.create_guild("Other", bots=[bot])
        text = guild.create_text_channel("chat")
        alice = guild.add_member("alice")
        bot.commands[:] = [{"id": "1", "name": "record", "type": 1}]  # a global command from an earlier run
        async with running_bot(sim, bot, tmp_path, PANDORA_COMMAND_GUILDS=str(guild.id)):
            await wait_for(lambda: {c["name"] for c in sim.world.commands_of(bot, guild)} == {"record", "end",
                                                                                               "status"},
                           timeout=10, what="the guild's commands")
            assert bot.commands == []
            assert sim.world.commands_of(bot, other) == []
            interaction = await alice.invoke_slash_command(bot, "status", channel=text)
            assert (await interaction.wait_response()).content == "Nothing is being recorded in this server."
