"""Several gateway sessions on one bot token, as Discord runs them: every session gets every dispatch, an
interaction is acknowledged once, voice belongs to the session that asked for it, and IDENTIFY is limited."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands
from sim_clients import RawGateway, running_client

from pandora.discord_connection import DiscordConnection
from pandora_simulator import DiscordSimulator
from pandora_simulator.opcodes import Intent
from pandora_simulator.testing import World, small_world, wait_for

pytestmark = pytest.mark.timeout(60)


def _unpaced(sim: DiscordSimulator, *bots: object) -> None:
    """Let sessions of these bots IDENTIFY back to back (pacing has its own tests below)."""
    for bot in bots:
        sim.session_start_limit(bot).window_seconds = 0  # type: ignore[arg-type]


async def test_every_session_gets_the_interaction_and_only_the_first_ack_counts(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice")
    bot, guild, text, (alice,) = world.bot, world.guild, world.text, world.members
    _unpaced(sim, bot)
    kwargs = DiscordConnection.from_env(sim.connection_env(bot)).apply()
    first = discord.Client(intents=discord.Intents.default(), **kwargs)
    tree = app_commands.CommandTree(first)

    @tree.command(name="record", description="start recording")
    async def record(interaction: discord.Interaction) -> None:
        pass  # answered by the listeners below, so both processes race as two real front doors would

    outcomes: dict[str, list[object]] = {"first": [], "second": []}

    def answer(name: str):  # type: ignore[no-untyped-def]
        async def on_interaction(interaction: discord.Interaction) -> None:
            try:
                await interaction.response.send_message(f"answered by {name}")
                outcomes[name].append(interaction.id)
            except discord.HTTPException as error:
                outcomes[name].append(error)

        return on_interaction

    async with running_client(sim, bot, [guild], client=first), running_client(sim, bot, [guild]) as second:
        await tree.sync()
        first.event(answer("first"))
        second.event(answer("second"))
        interaction = await alice.invoke_slash_command(bot, "record", channel=text)
        await wait_for(lambda: all(outcomes.values()), what="both sessions to try to answer")
        results = outcomes["first"] + outcomes["second"]
        assert results.count(interaction.id) == 1
        (refused,) = [r for r in results if isinstance(r, discord.HTTPException)]
        assert (refused.status, refused.code, refused.text) == (400, 40060,
                                                                "Interaction has already been acknowledged.")
        assert len(interaction.responses) == 1 and interaction.responses[0].content.startswith("answered by ")


async def test_every_session_of_a_token_gets_every_dispatch(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice")
    _unpaced(sim, world.bot)
    inboxes: list[asyncio.Queue[str]] = [asyncio.Queue(), asyncio.Queue()]
    async with running_client(sim, world.bot, [world.guild]) as one, \
            running_client(sim, world.bot, [world.guild]) as two:
        for client, inbox in zip((one, two), inboxes, strict=True):
            client.event(_queue_content(inbox))
        await world.members[0].send_message(world.text, "!record")
        assert [await asyncio.wait_for(inbox.get(), 5) for inbox in inboxes] == ["!record", "!record"]
        assert one.ws.session_id != two.ws.session_id


def _queue_content(inbox: asyncio.Queue[str]):  # type: ignore[no-untyped-def]
    async def on_message(message: discord.Message) -> None:
        await inbox.put(message.content)

    return on_message


async def test_a_second_identify_within_5_s_gets_op_9_and_discordpy_waits_it_out(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    async with running_client(sim, world.bot, [world.guild]) as one, \
            running_client(sim, world.bot, [world.guild]) as two:
        assert one.ws.session_id != two.ws.session_id
    assert [entry.reason for entry in sim.invalid_sessions] == ["identify_too_soon"]
    assert sim.session_start_limit(world.bot).remaining == 998  # the refused IDENTIFY spent nothing


async def test_op_9_beyond_max_concurrency_per_bucket_and_gateway_bot_reports_the_limit(
    sim: DiscordSimulator,
) -> None:
    world = await small_world(sim)
    limit = sim.session_start_limit(world.bot)
    limit.max_concurrency = 2
    async with RawGateway(sim) as a, RawGateway(sim) as b, RawGateway(sim) as c:
        assert "session_id" in await a.identify(world.bot.token, shard=[0, 2])
        assert "session_id" in await b.identify(world.bot.token, shard=[1, 2])  # the other bucket
        assert await c.identify(world.bot.token, shard=[0, 2]) == {"op": 9, "d": False}
    assert len(sim.invalid_sessions) == 1
    client = discord.AutoShardedClient(intents=discord.Intents.default(),
                                       **DiscordConnection.from_env(sim.connection_env(world.bot)).apply())
    await client.login(world.bot.token)
    try:
        limits = await client.fetch_session_start_limits()
        assert (limits.total, limits.remaining, limits.max_concurrency) == (1000, 998, 2)
        assert 0 < limits.reset_after <= 86_400_000
    finally:
        await client.close()


async def test_an_exhausted_identify_budget_ends_every_session_and_resets_the_token(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    old_token = world.bot.token
    sim.session_start_limit(world.bot).remaining = 1
    async with RawGateway(sim) as live, RawGateway(sim) as late:
        assert "session_id" in await live.identify(old_token)
        assert sim.session_start_limit(world.bot).remaining == 0
        assert await late.identify(old_token) == {"closed": 4004}
        while (event := await live.receive()).get("closed") is None:
            pass  # GUILD_CREATE and the like, then the close
        assert event == {"closed": 4004}
    assert [reset.sessions_closed for reset in sim.token_resets] == [1]
    assert world.bot.token != old_token
    client = discord.Client(intents=discord.Intents.default(),
                            **DiscordConnection.from_env(sim.connection_env(world.bot)).apply())
    with pytest.raises(discord.LoginFailure):
        await client.login(old_token)
    assert (await client.login(world.bot.token)) is None and client.user is not None
    await client.close()


async def test_a_privileged_intent_the_application_has_not_enabled_is_refused_with_4014(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    world.bot.privileged_intents = int(Intent.GUILD_MEMBERS)  # Message Content not enabled in the portal
    wanted = int(Intent.GUILDS | Intent.GUILD_MESSAGES | Intent.MESSAGE_CONTENT)
    async with RawGateway(sim) as refused, RawGateway(sim) as allowed:
        assert await refused.identify(world.bot.token, intents=wanted) == {"closed": 4014}
        sim.session_start_limit(world.bot).window_seconds = 0
        assert "session_id" in await allowed.identify(world.bot.token, intents=wanted & ~Intent.MESSAGE_CONTENT)
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, **DiscordConnection.from_env(sim.connection_env(world.bot)).apply())
    await client.login(world.bot.token)
    try:
        with pytest.raises(discord.PrivilegedIntentsRequired):  # discord.py does not retry it, even with reconnect
            await asyncio.wait_for(client.connect(reconnect=True), 15)
    finally:
        await client.close()


async def test_voice_state_session_is_the_owning_gateway_session(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    async with running_client(sim, world.bot, [world.guild]) as client:
        vc = await client.get_channel(world.voice.id).connect()
        assert world.guild.voice_states[world.bot.id].session_id == client.ws.session_id
        assert vc.session_id == client.ws.session_id  # what discord.py read from VOICE_STATE_UPDATE
        await vc.disconnect()


@contextlib.asynccontextmanager
async def voice_socket(sim: DiscordSimulator, server: dict[str, str], identify: dict[str, str]
                       ) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, int | None]]:
    """A voice websocket after IDENTIFY: (the socket, None once READY came, or the code it was closed with)."""
    async with aiohttp.ClientSession() as http, http.ws_connect(
        f"wss://{server['endpoint']}/?v=8", ssl=ssl.create_default_context(cafile=sim.ca_file)
    ) as voice:
        await voice.receive_json()  # HELLO
        await voice.send_json({"op": 0, "d": identify})
        answer = await voice.receive(5)
        if answer.type == aiohttp.WSMsgType.CLOSE:
            yield voice, int(answer.data)
        else:
            assert answer.json()["op"] == 2  # READY
            yield voice, None


def _identify(world: World, server: dict[str, str], session_id: str) -> dict[str, str]:
    return {"server_id": str(world.guild.id), "user_id": str(world.bot.id), "token": server["token"],
            "session_id": session_id}


async def test_voice_identify_with_another_sessions_id_is_closed_4006(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    _unpaced(sim, world.bot)
    async with RawGateway(sim) as owner, RawGateway(sim) as other:
        ready = await owner.identify(world.bot.token)
        others = await other.identify(world.bot.token)
        server = await owner.join_voice(world.guild.id, world.voice.id)
        async with voice_socket(sim, server, _identify(world, server, others["session_id"])) as (_, refused):
            assert refused == 4006
        async with voice_socket(sim, server, _identify(world, server, ready["session_id"])) as (_, refused):
            assert refused is None


async def test_the_voice_connection_closes_4014_when_its_gateway_session_ends(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    async with RawGateway(sim) as gateway:
        ready = await gateway.identify(world.bot.token)
        server = await gateway.join_voice(world.guild.id, world.voice.id)
        async with voice_socket(sim, server, _identify(world, server, ready["session_id"])) as (voice, refused):
            assert refused is None and gateway.ws is not None
            await gateway.ws.close(code=1000)  # the client ends its gateway session
            closed = await voice.receive(5)
            assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 4014)
    assert world.guild.voice_channel_of(world.bot.id) is None


async def test_another_session_taking_the_bots_voice_closes_the_first_ones_connection_4014(
    sim: DiscordSimulator,
) -> None:
    """A bot is in one voice channel per guild, owned by one session: a second process's op 4 takes it over."""
    world = await small_world(sim)
    _unpaced(sim, world.bot)
    async with RawGateway(sim) as first, RawGateway(sim) as second:
        ready = await first.identify(world.bot.token)
        taker = await second.identify(world.bot.token)
        server = await first.join_voice(world.guild.id, world.voice.id)
        async with voice_socket(sim, server, _identify(world, server, ready["session_id"])) as (voice, refused):
            assert refused is None
            await second.join_voice(world.guild.id, world.voice.id)
            closed = await voice.receive(5)
            assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 4014)
            assert world.guild.voice_states[world.bot.id].session_id == taker["session_id"]
