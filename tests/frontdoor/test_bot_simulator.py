"""``pandora bot`` with the real recorder against the simulator: commands in, the same frames in the files."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from bot_testkit import bot_texts, commands_synced, final_reply, next_bot_text, running_bot, started_id
from recorder_testkit import recorded_tracks

from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world


async def test_text_record_then_end_records_every_frame_and_names_the_files(tmp_path: Path) -> None:
    out = tmp_path / "recordings"
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", "bob", in_voice=2)
        alice, bob = world.members
        world.guild.owner_id = alice.id  # the owner has every permission, Manage Server included
        async with running_bot(sim, world.bot, out, COMMAND_PREFIX="!"):
            await alice.send_message(world.text, "!record")
            reply = await next_bot_text(sim, world.bot, world.text, 0)
            recording_id = started_id(reply)
            assert reply.splitlines()[1] == f"Recording <#{world.voice.id}>. `!end` stops it."
            await world.voice.wait_dave_settled()
            await alice.speak(seconds=0.6)
            await bob.speak(seconds=0.6)
            await asyncio.sleep(0.2)
            await alice.send_message(world.text, "!end")
            summary = await next_bot_text(sim, world.bot, world.text, 1)
        head, files = summary.splitlines()
        assert re.fullmatch(rf"Recording {recording_id} ended after \d s, 2 speakers: alice, bob\.", head)
        assert files == f"Files: `{out.resolve()}`. Cook them with `pandora cook {recording_id} --dir {out.resolve()}`."
        tracks = recorded_tracks(out, recording_id)
        assert tracks[alice.id] == alice.sent_frames
        assert tracks[bob.id] == bob.sent_frames
        assert world.guild.voice_channel_of(world.bot.id) is None  # left voice
        assert len(bot_texts(sim, world.bot, world.text)) == 2  # the start and the summary, nothing else


async def test_slash_record_is_deferred_then_edited_and_end_summarises(tmp_path: Path) -> None:
    out = tmp_path / "recordings"
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        world.guild.owner_id = alice.id
        async with running_bot(sim, world.bot, out):
            await commands_synced(world.bot)
            interaction = await alice.invoke_slash_command(world.bot, "record", channel=world.text)
            first = await interaction.wait_response()
            assert (first.action, first.type, first.ephemeral) == ("callback", 5, False)  # deferred, public
            reply = await final_reply(interaction)
            assert reply.action == "edit_original"
            recording_id = started_id(reply.content)
            assert reply.content.splitlines()[1] == f"Recording <#{world.voice.id}>. `/end` stops it."
            await world.voice.wait_dave_settled()
            await alice.speak(seconds=0.8)
            await asyncio.sleep(0.2)
            ending = await alice.invoke_slash_command(world.bot, "end", channel=world.text)
            assert (await ending.wait_response()).type == 5
            summary = await final_reply(ending)
        assert summary.action == "edit_original"
        assert summary.content.startswith(f"Recording {recording_id} ended after ")
        assert ", 1 speaker: alice." in summary.content
        assert f"pandora cook {recording_id} --dir {out.resolve()}" in summary.content
        assert recorded_tracks(out, recording_id)[alice.id] == alice.sent_frames
