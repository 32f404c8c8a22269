"""Every refusal a member can meet with ``pandora bot`` on the simulator, each with the text they read."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot_testkit import bot_texts, commands_synced, final_reply, next_bot_text, running_bot, started_id, type_command

from pandora_simulator import DiscordSimulator
from pandora_simulator.permissions import CONNECT, MANAGE_GUILD, SEND_MESSAGES
from pandora_simulator.testing import small_world


async def test_only_manage_server_or_the_access_role_may_record_and_the_others_are_told_why(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "bob", "mo", "rita", in_voice=3)
        bob, mo, rita = world.members
        mods = world.guild.create_role("Moderators", permissions=MANAGE_GUILD)
        recorders = world.guild.create_role("Recorders")  # no permission at all: it counts because it is configured
        mo.add_role(mods)
        rita.add_role(recorders)
        async with running_bot(sim, world.bot, tmp_path, COMMAND_PREFIX="!", PANDORA_ACCESS_ROLES=str(recorders.id)):
            await commands_synced(world.bot)
            text = await type_command(sim, world.bot, bob, world.text, "!record")
            interaction = await bob.invoke_slash_command(world.bot, "record", channel=world.text)
            reply = await final_reply(interaction)
            assert sim.voice_state_log == []  # never tried to join
            by_manager = started_id(await type_command(sim, world.bot, mo, world.text, "!record"))
            not_bob = await type_command(sim, world.bot, bob, world.text, "!end")
            # The access role may end someone else's recording, and start one.
            ended = await type_command(sim, world.bot, rita, world.text, "!end")
            assert ended.startswith(f"Recording {by_manager} ended")
            started_id(await type_command(sim, world.bot, rita, world.text, "!record"))
        refusal = f"You need the **Manage Server** permission or the <@&{recorders.id}> role to start a recording."
        assert text == refusal
        assert (reply.action, reply.type, reply.ephemeral, reply.content) == ("callback", 4, True, refusal)
        assert not_bob == (f"Only <@{mo.id}>, who started it, or a member with the **Manage Server** permission or "
                           f"the <@&{recorders.id}> role can end recording {by_manager}.")


async def test_a_bot_denied_connect_says_so_before_joining(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        world.guild.owner_id = world.members[0].id
        world.voice.set_permissions(world.bot, deny=CONNECT)
        async with running_bot(sim, world.bot, tmp_path, COMMAND_PREFIX="!"):
            await world.members[0].send_message(world.text, "!record")
            text = await next_bot_text(sim, world.bot, world.text, 0)
        assert text == (f"I can't record <#{world.voice.id}>: I am missing the **Connect** permission there. "
                        "Ask a server admin to give them to me (channel settings, Permissions).")
        assert sim.voice_state_log == []


async def test_not_in_voice_and_nothing_to_end(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice")
        (alice,) = world.members
        world.guild.owner_id = alice.id
        async with running_bot(sim, world.bot, tmp_path, COMMAND_PREFIX="!"):
            await commands_synced(world.bot)
            await alice.send_message(world.text, "!record")
            not_in_voice = await next_bot_text(sim, world.bot, world.text, 0)
            await alice.send_message(world.text, "!end")
            nothing = await next_bot_text(sim, world.bot, world.text, 1)
            ending = await alice.invoke_slash_command(world.bot, "end", channel=world.text)
            slash_nothing = await final_reply(ending)
        assert not_in_voice == "Join a voice channel first, or name the channel to record: `!record #channel`."
        assert nothing == "There is no recording to end in this server."
        assert (slash_nothing.type, slash_nothing.ephemeral, slash_nothing.content) == (
            4, True, "There is no recording to end in this server.")


async def test_a_second_channel_in_the_same_guild_is_refused_with_the_running_id(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", "bob", in_voice=1)
        alice, bob = world.members
        world.guild.owner_id = alice.id
        other = world.guild.create_voice_channel("Other")
        await bob.join_voice(other)
        async with running_bot(sim, world.bot, tmp_path, COMMAND_PREFIX="!", PANDORA_ACCESS="everyone"):
            await alice.send_message(world.text, "!record")
            recording_id = started_id(await next_bot_text(sim, world.bot, world.text, 0))
            await bob.send_message(world.text, "!record")
            busy = await next_bot_text(sim, world.bot, world.text, 1)
            await bob.send_message(world.text, f"!record <#{world.voice.id}>")
            same = await next_bot_text(sim, world.bot, world.text, 2)
            await bob.send_message(world.text, "!end")
            not_his = await next_bot_text(sim, world.bot, world.text, 3)
        assert busy == (f"I am already recording <#{world.voice.id}> in this server (id {recording_id}), and I can "
                        "be in only one voice channel per server. End that recording first with `!end`.")
        assert same == f"<#{world.voice.id}> is already being recorded, id {recording_id}."
        assert not_his == (f"Only <@{alice.id}>, who started it, or a member with the **Manage Server** permission "
                           f"can end recording {recording_id}.")
        assert len([r for r in sim.voice_state_log if r.channel_id is not None]) == 1  # one join only
        assert len(bot_texts(sim, world.bot, world.text)) == 4


async def test_a_slash_refusal_after_the_deferral_replaces_it_with_an_ephemeral_answer(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        world.guild.owner_id = alice.id
        other = world.guild.create_voice_channel("Other")
        async with running_bot(sim, world.bot, tmp_path):
            await commands_synced(world.bot)
            named = await alice.invoke_slash_command(world.bot, "record", {"channel": other.id}, channel=world.text)
            recording_id = started_id((await final_reply(named)).content)
            assert world.guild.voice_channel_of(world.bot.id) == other.id  # the named channel, not alice's
            busy = await alice.invoke_slash_command(world.bot, "record", channel=world.text)
            reply = await final_reply(busy)
            await asyncio.sleep(0.3)
            left_over = [m for m in sim.channel_messages(world.text.id)
                         if (m.get("interaction_metadata") or {}).get("id") == str(busy.id)]
        assert [(r.action, r.type) for r in busy.responses] == [("callback", 5), ("followup", None)]
        assert (reply.ephemeral, reply.content) == (True, (
            f"I am already recording <#{other.id}> in this server (id {recording_id}), and I can be in only one "
            "voice channel per server. End that recording first with `/end`."))
        assert [m["flags"] & 64 for m in left_over] == [64]  # only the ephemeral answer; the "thinking" one is gone


async def test_a_slash_command_where_the_bot_cannot_post_says_which_permission_is_missing(tmp_path: Path) -> None:
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        world.guild.owner_id = alice.id
        world.text.set_permissions(world.bot, deny=SEND_MESSAGES)
        async with running_bot(sim, world.bot, tmp_path):
            await commands_synced(world.bot)
            interaction = await alice.invoke_slash_command(world.bot, "record", channel=world.text)
            reply = await final_reply(interaction)
        assert (reply.type, reply.ephemeral, reply.content) == (4, True, (
            f"I need the **Send Messages** permission in <#{world.text.id}> to post about the recording there. "
            "Ask a server admin to give it to me, or use the command in another channel."))
        assert sim.voice_state_log == []
