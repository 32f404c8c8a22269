"""An unmodified discord.py client against the simulator's REST API and main gateway."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from discord import app_commands
from sim_clients import running_client

from pandora.discord_connection import DiscordConnection
from pandora_simulator import DiscordSimulator, SimBot
from pandora_simulator.permissions import CHANGE_NICKNAME, SEND_MESSAGES
from pandora_simulator.testing import small_world, wait_for


async def test_login_fetches_the_bot_user_and_caches_the_guild(sim: DiscordSimulator) -> None:
    bot = sim.create_bot("Pandora")
    guild = sim.create_guild("Guild", bots=[bot])
    voice = guild.create_voice_channel("General")
    alice = guild.add_member("alice")
    await alice.join_voice(voice)
    async with running_client(sim, bot, [guild]) as client:
        assert client.user is not None and client.user.id == bot.id and client.user.bot
        cached = client.get_guild(guild.id)
        assert cached is not None and cached.name == "Guild"
        assert cached.member_count == 3  # the owner, the bot, alice (without the members intent only some are cached)
        assert cached.get_channel(voice.id).type is discord.ChannelType.voice
        # voice states arrive with GUILD_CREATE: alice is already in General
        assert [m.name for m in cached.get_channel(voice.id).members] == ["alice"]


async def test_slash_command_is_synced_and_answered(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice")
    bot, guild, text, (alice,) = world.bot, world.guild, world.text, world.members
    client = discord.Client(intents=discord.Intents.default(), **_contract(sim, bot))
    tree = app_commands.CommandTree(client)

    @tree.command(name="record", description="start recording")
    async def record(interaction: discord.Interaction, note: str = "") -> None:
        await interaction.response.send_message(f"Recording started with id 42 {note}".strip())
        await interaction.followup.send("follow-up")
        await interaction.edit_original_response(content="Recording started with id 42 (edited)")

    async with running_client(sim, bot, [guild], client=client):
        synced = await tree.sync()
        assert [c.name for c in synced] == ["record"]
        interaction = await alice.invoke_slash_command(bot, "record", {"note": "hi"}, channel=text)
        first = await interaction.wait_response()
        assert first.action == "callback" and first.type == 4
        assert first.content == "Recording started with id 42 hi"
        await wait_for(lambda: len(interaction.responses) == 3, what="follow-up and edit")
        assert [r.action for r in interaction.responses] == ["callback", "followup", "edit_original"]
        history = [m["content"] for m in sim.channel_messages(text.id)]
        assert history == ["Recording started with id 42 (edited)", "follow-up"]


async def test_unknown_command_cannot_be_invoked(sim: DiscordSimulator) -> None:
    bot = sim.create_bot("Pandora")
    guild = sim.create_guild("Guild", bots=[bot])
    alice = guild.add_member("alice")
    with pytest.raises(LookupError):
        await alice.invoke_slash_command(bot, "record", channel=guild.create_text_channel("chat"))


async def test_text_message_reaches_the_bot_and_its_reply_is_logged(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice")
    bot, guild, text, (alice,) = world.bot, world.guild, world.text, world.members
    received: asyncio.Queue[discord.Message] = asyncio.Queue()
    async with running_client(sim, bot, [guild]) as client:
        client.event(_queue_messages(received))
        await alice.send_message(text, "!record")
        message = await asyncio.wait_for(received.get(), 5)
        assert (message.content, message.author.name, message.channel.id) == ("!record", "alice", text.id)
        sent = await message.reply("Recording started with id 7")
        assert sent.reference is not None and sent.reference.message_id == message.id
        await sent.edit(content="Recording started with id 7, now recording")
        assert [(m.action, m.content, m.reply_to) for m in sim.messages] == [
            ("create", "Recording started with id 7", message.id),
            ("edit", "Recording started with id 7, now recording", None),
        ]
        assert [g.id async for g in client.fetch_guilds()] == [guild.id]


async def test_message_content_needs_the_intent(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice")
    bot, guild, text, (alice,) = world.bot, world.guild, world.text, world.members
    received: asyncio.Queue[discord.Message] = asyncio.Queue()
    async with running_client(sim, bot, [guild], message_content=False) as client:
        client.event(_queue_messages(received))
        await alice.send_message(text, "!record")
        assert (await asyncio.wait_for(received.get(), 5)).content == ""
        await alice.send_message(text, f"<@{bot.id}> record")
        assert (await asyncio.wait_for(received.get(), 5)).content == f"<@{bot.id}> record"


async def test_fetches_and_discord_shaped_errors(sim: DiscordSimulator) -> None:
    bot = sim.create_bot("Pandora")
    guild = sim.create_guild("Guild", bots=[bot])
    other = sim.create_guild("Elsewhere")
    text = guild.create_text_channel("chat")
    locked = guild.create_text_channel("announcements")
    locked.bot_denied = SEND_MESSAGES
    alice = guild.add_member("alice")
    async with running_client(sim, bot, [guild]) as client:
        assert (await client.fetch_channel(text.id)).name == "chat"
        assert (await client.fetch_guild(guild.id)).name == "Guild"
        fetched = await (await client.fetch_guild(guild.id)).fetch_member(alice.id)
        assert fetched.name == "alice"
        with pytest.raises(discord.NotFound) as unknown:
            await client.fetch_channel(12345)
        assert (unknown.value.status, unknown.value.code, unknown.value.text) == (404, 10003, "Unknown Channel")
        with pytest.raises(discord.Forbidden) as denied:
            await client.get_channel(locked.id).send("hello")
        assert (denied.value.code, denied.value.text) == (50013, "Missing Permissions")
        with pytest.raises(discord.Forbidden) as foreign:
            await client.fetch_guild(other.id)
        assert foreign.value.code == 50001


async def test_bot_changes_its_nickname_unless_forbidden(sim: DiscordSimulator) -> None:
    bot = sim.create_bot("Pandora")
    guild = sim.create_guild("Guild", bots=[bot])
    async with running_client(sim, bot, [guild]) as client:
        me = client.get_guild(guild.id).me
        await me.edit(nick="Pandora (recording)")
        assert guild.bot_nickname(bot) == "Pandora (recording)"
        await wait_for(lambda: client.get_guild(guild.id).me.nick == "Pandora (recording)", what="member update")
        guild.bot_permissions &= ~CHANGE_NICKNAME
        with pytest.raises(discord.Forbidden):
            await me.edit(nick="nope")
        assert guild.bot_nickname(bot) == "Pandora (recording)"


async def test_wrong_token_is_rejected(sim: DiscordSimulator) -> None:
    bot = sim.create_bot("Pandora")
    bot_token = bot.token
    client = discord.Client(intents=discord.Intents.default(), **_contract(sim, bot))
    with pytest.raises(discord.LoginFailure):
        await client.login(bot_token[:-3] + "xyz")
    await client.close()


async def test_two_bots_in_two_guilds_at_once(sim: DiscordSimulator) -> None:
    first, second = sim.create_bot("Pandora A"), sim.create_bot("Pandora B")
    guild_a = sim.create_guild("A", bots=[first])
    guild_b = sim.create_guild("B", bots=[second])
    text_a, text_b = guild_a.create_text_channel("chat"), guild_b.create_text_channel("chat")
    alice, bob = guild_a.add_member("alice"), guild_b.add_member("bob")
    inbox_a: asyncio.Queue[discord.Message] = asyncio.Queue()
    inbox_b: asyncio.Queue[discord.Message] = asyncio.Queue()
    async with running_client(sim, first, [guild_a]) as client_a, running_client(sim, second, [guild_b]) as client_b:
        assert [g.id for g in client_a.guilds] == [guild_a.id]
        assert [g.id for g in client_b.guilds] == [guild_b.id]
        client_a.event(_queue_messages(inbox_a))
        client_b.event(_queue_messages(inbox_b))
        await alice.send_message(text_a, "hello A")
        await bob.send_message(text_b, "hello B")
        assert (await asyncio.wait_for(inbox_a.get(), 5)).content == "hello A"
        assert (await asyncio.wait_for(inbox_b.get(), 5)).content == "hello B"
        assert inbox_a.empty() and inbox_b.empty()


def _contract(sim: DiscordSimulator, bot: SimBot) -> dict[str, Any]:
    """discord.Client keyword arguments from the connection contract, as every Pandora client gets them."""
    return DiscordConnection.from_env(sim.connection_env(bot)).apply()


def _queue_messages(queue: asyncio.Queue[discord.Message]):  # type: ignore[no-untyped-def]
    async def on_message(message: discord.Message) -> None:
        await queue.put(message)

    return on_message


async def test_gateway_resume_replays_what_was_missed(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice")
    bot, guild, text, (alice,) = world.bot, world.guild, world.text, world.members
    received: asyncio.Queue[discord.Message] = asyncio.Queue()
    async with running_client(sim, bot, [guild], reconnect=True) as client:
        client.event(_queue_messages(received))
        resumed = asyncio.Event()
        client.event(_set_on_resumed(resumed))
        session_id = client.ws.session_id
        await sim.close_gateway_socket(bot, code=4000)
        await alice.send_message(text, "sent while the bot was away")
        await asyncio.wait_for(resumed.wait(), 10)
        assert client.ws.session_id == session_id
        assert (await asyncio.wait_for(received.get(), 5)).content == "sent while the bot was away"
        await alice.send_message(text, "and after")
        assert (await asyncio.wait_for(received.get(), 5)).content == "and after"
        assert received.empty()


def _set_on_resumed(event: asyncio.Event):  # type: ignore[no-untyped-def]
    async def on_resumed() -> None:
        event.set()

    return on_resumed


async def test_raw_gateway_zlib_stream_and_session_end_clears_voice_state(sim: DiscordSimulator) -> None:
    """A hand-rolled gateway client: zlib-stream frames, op 4 answered by both voice events, and a client-side
    close (1000) ends the session, which takes the bot out of voice like Discord does."""
    import json
    import zlib

    import aiohttp

    bot = sim.create_bot("Pandora")
    guild = sim.create_guild("Guild", bots=[bot])
    voice = guild.create_voice_channel("General")
    inflate = zlib.decompressobj()
    buffer = bytearray()

    async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, object]:
        while True:
            message = await asyncio.wait_for(ws.receive(), 5)
            buffer.extend(message.data)
            if buffer.endswith(b"\x00\x00\xff\xff"):
                data = json.loads(inflate.decompress(bytes(buffer)))
                buffer.clear()
                return data

    async with aiohttp.ClientSession() as session, \
            session.ws_connect(sim.gateway_url + "?v=10&encoding=json&compress=zlib-stream") as ws:
        assert (await receive(ws))["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": bot.token, "intents": 1 | 1 << 7, "properties": {}}})
        ready, created = await receive(ws), await receive(ws)
        assert (ready["t"], created["t"]) == ("READY", "GUILD_CREATE")
        await ws.send_json({"op": 4, "d": {"guild_id": str(guild.id), "channel_id": str(voice.id),
                                           "self_mute": False, "self_deaf": True}})
        events = [await receive(ws), await receive(ws)]
        assert [e["t"] for e in events] == ["VOICE_STATE_UPDATE", "VOICE_SERVER_UPDATE"]
        assert events[1]["d"]["endpoint"] == sim.voice_endpoint  # type: ignore[index]
        assert guild.voice_channel_of(bot.id) == voice.id
        assert sim.voice_state_log[-1].self_deaf
    await wait_for(lambda: guild.voice_channel_of(bot.id) is None, what="the session's voice state to go")


async def test_auto_sharded_client_gets_one_shard(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    client = discord.AutoShardedClient(intents=discord.Intents.default(), **_contract(sim, world.bot))
    async with running_client(sim, world.bot, [world.guild], client=client):
        assert client.shard_count == 1 and client.get_guild(world.guild.id).shard_id == 0
