"""Roles, member roles and channel overwrites reach an unmodified discord.py as Discord sends them, so its own
permission computation gives the right answers; REST and voice enforce the same permissions."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from sim_clients import running_client

from pandora.discord_connection import DiscordConnection
from pandora_simulator import DiscordSimulator, SimBot
from pandora_simulator.permissions import CONNECT, MANAGE_GUILD, SEND_MESSAGES, VIEW_CHANNEL
from pandora_simulator.testing import small_world, wait_for


async def test_member_without_manage_server_and_an_access_role(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice", "bob", "carol")
    alice, bob, carol = world.members
    moderators = world.guild.create_role("Moderators", permissions=MANAGE_GUILD)
    access = world.guild.create_role("Recorder access")
    alice.add_role(moderators)
    async with running_client(sim, world.bot, [world.guild]) as client:
        guild = client.get_guild(world.guild.id)
        assert {role.name for role in guild.roles} == {"@everyone", "Moderators", "Recorder access"}
        bob.add_role(access)  # while connected: GUILD_MEMBER_UPDATE (and the fetch below reads it back)
        fetched = {m.id: await guild.fetch_member(m.id) for m in world.members}
        assert fetched[alice.id].guild_permissions.manage_guild
        assert not fetched[bob.id].guild_permissions.manage_guild
        assert [role.name for role in fetched[bob.id].roles] == ["@everyone", "Recorder access"]
        assert not fetched[carol.id].guild_permissions.manage_guild and len(fetched[carol.id].roles) == 1
        world.guild.edit_role(access, permissions=MANAGE_GUILD)  # GUILD_ROLE_UPDATE
        await wait_for(lambda: guild.get_role(access.id).permissions.manage_guild, what="the role update")
        assert (await guild.fetch_member(bob.id)).guild_permissions.manage_guild


async def test_channel_overwrites_for_roles_and_members_as_discordpy_computes_them(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice", "bob")
    alice, bob = world.members
    access = world.guild.create_role("Recorder access")
    alice.add_role(access)
    private = world.guild.create_text_channel("private")
    private.set_permissions(world.guild.everyone, deny=VIEW_CHANNEL)
    private.set_permissions(access, allow=VIEW_CHANNEL)
    private.set_permissions(world.bot, allow=VIEW_CHANNEL, deny=SEND_MESSAGES)
    async with running_client(sim, world.bot, [world.guild]) as client:
        guild = client.get_guild(world.guild.id)
        channel = guild.get_channel(private.id)
        for member in world.members:
            seen = channel.permissions_for(await guild.fetch_member(member.id))
            assert seen.value == private.permissions_of(member.id), member.name  # the same computation
        assert channel.permissions_for(await guild.fetch_member(alice.id)).view_channel
        assert not channel.permissions_for(await guild.fetch_member(bob.id)).view_channel
        me = channel.permissions_for(guild.me)
        assert me.view_channel and not me.send_messages
        with pytest.raises(discord.Forbidden) as denied:
            await channel.send("hello")
        assert denied.value.code == 50013
        private.clear_permissions(world.bot)  # CHANNEL_UPDATE: now the bot is hidden like bob
        await wait_for(lambda: not guild.get_channel(private.id).permissions_for(guild.me).view_channel,
                       what="the channel update")
        with pytest.raises(discord.Forbidden) as hidden:
            await client.fetch_channel(private.id)
        assert hidden.value.code == 50001


async def test_a_bot_denied_connect_gets_no_answer_to_its_op_4(sim: DiscordSimulator) -> None:
    """Discord does not refuse a voice join it will not allow, it ignores it: discord.py's connect() times out."""
    world = await small_world(sim)
    world.voice.set_permissions(world.bot, deny=CONNECT)
    async with running_client(sim, world.bot, [world.guild]) as client:
        channel = client.get_channel(world.voice.id)
        assert not channel.permissions_for(channel.guild.me).connect
        assert channel.permissions_for(channel.guild.me).value == world.voice.permissions_of(world.bot.id)
        with pytest.raises(asyncio.TimeoutError):
            await channel.connect(timeout=1.0, reconnect=False)
    assert [entry.refused for entry in sim.voice_state_log][:1] == ["missing Connect"]
    assert world.guild.voice_channel_of(world.bot.id) is None


async def test_an_interaction_carries_the_members_and_the_apps_permissions(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice")
    alice = world.members[0]
    alice.add_role(world.guild.create_role("Moderators", permissions=MANAGE_GUILD))
    world.text.set_permissions(world.bot, deny=SEND_MESSAGES)
    client = discord.Client(intents=discord.Intents.default(), **_contract(sim, world.bot))
    tree = discord.app_commands.CommandTree(client)
    seen: list[tuple[bool, bool]] = []

    @tree.command(name="record", description="start recording")
    async def record(interaction: discord.Interaction) -> None:
        seen.append((interaction.permissions.manage_guild, interaction.app_permissions.send_messages))
        await interaction.response.send_message("ok")

    async with running_client(sim, world.bot, [world.guild], client=client):
        await tree.sync()
        await (await alice.invoke_slash_command(world.bot, "record", channel=world.text)).wait_response()
    assert seen == [(True, False)]


def _contract(sim: DiscordSimulator, bot: SimBot) -> dict[str, Any]:
    return DiscordConnection.from_env(sim.connection_env(bot)).apply()
