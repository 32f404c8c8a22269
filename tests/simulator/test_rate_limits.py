"""REST rate limits: Discord's headers and 429s, and an unmodified discord.py waiting them out without losing a
request."""

from __future__ import annotations

import time

import aiohttp
import discord
from discord import app_commands
from sim_clients import running_client

from pandora.discord_connection import DiscordConnection
from pandora_simulator import DiscordSimulator
from pandora_simulator.rate_limits import INTERACTION_CALLBACK, MESSAGE_CREATE, WEBHOOK_MESSAGE_EDIT
from pandora_simulator.testing import small_world, wait_for


async def test_a_bucket_is_announced_in_headers_and_refused_with_429_beyond_it(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    sim.rate_limit(MESSAGE_CREATE, limit=2, per=5.0)
    url = f"{sim.api_url}/channels/{world.text.id}/messages"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {world.bot.token}"}) as http:
        answers = []
        for number in range(3):
            async with http.post(url, json={"content": f"message {number}"}) as response:
                answers.append((response.status, dict(response.headers), await response.json()))
    (ok1, first, _), (ok2, second, _), (refused, last, body) = answers
    assert (ok1, ok2, refused) == (200, 200, 429)
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"], second["X-RateLimit-Remaining"]) == (
        "2", "1", "0")
    assert first["X-RateLimit-Bucket"] == second["X-RateLimit-Bucket"] == last["X-RateLimit-Bucket"]
    assert 0 < float(second["X-RateLimit-Reset-After"]) <= 5.0
    assert abs(float(second["X-RateLimit-Reset"]) - time.time() - float(second["X-RateLimit-Reset-After"])) < 1
    assert last["Retry-After"] == "5" and last["Via"]
    assert body["message"] == "You are being rate limited." and body["global"] is False
    assert 4.0 < body["retry_after"] <= 5.0
    assert [m.content for m in sim.messages] == ["message 0", "message 1"]
    path = f"/api/v10/channels/{world.text.id}/messages"
    assert [(hit.route, hit.path) for hit in sim.rate_limited] == [(MESSAGE_CREATE, path)]


async def test_discordpy_honours_the_headers_and_never_hits_the_429(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    sim.rate_limit(MESSAGE_CREATE, limit=2, per=1.0)
    async with running_client(sim, world.bot, [world.guild]) as client:
        channel = client.get_channel(world.text.id)
        started = time.monotonic()
        for number in range(3):
            await channel.send(f"message {number}")
        elapsed = time.monotonic() - started
    assert [m.content for m in sim.messages] == ["message 0", "message 1", "message 2"]
    assert sim.rate_limited == [] and elapsed > 0.5  # the third send waited for the bucket's reset


async def test_unannounced_429s_are_waited_out_and_no_message_is_lost(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    sim.rate_limit(MESSAGE_CREATE, every=2, retry_after=0.3)
    async with running_client(sim, world.bot, [world.guild]) as client:
        channel = client.get_channel(world.text.id)
        for number in range(3):
            await channel.send(f"message {number}")
    assert [m.content for m in sim.messages] == ["message 0", "message 1", "message 2"]
    # requests 2 and 4 (the second and third message) were refused; their retries went through
    assert [hit.retry_after for hit in sim.rate_limited] == [0.3, 0.3]


async def test_interaction_callbacks_and_edits_rate_limited_still_answer_every_interaction(
    sim: DiscordSimulator,
) -> None:
    world = await small_world(sim, "alice")
    sim.rate_limit(INTERACTION_CALLBACK, every=2, retry_after=0.2)
    sim.rate_limit(WEBHOOK_MESSAGE_EDIT, every=2, retry_after=0.2)
    client = discord.Client(intents=discord.Intents.default(),
                            **DiscordConnection.from_env(sim.connection_env(world.bot)).apply())
    tree = app_commands.CommandTree(client)

    @tree.command(name="record", description="start recording")
    async def record(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content=f"Recording started with id {interaction.id}")

    async with running_client(sim, world.bot, [world.guild], client=client):
        await tree.sync()
        invoked = [await world.members[0].invoke_slash_command(world.bot, "record", channel=world.text)
                   for _ in range(2)]
        await wait_for(lambda: all(len(i.responses) == 2 for i in invoked), timeout=10, what="both answers")
    for interaction in invoked:
        assert [(r.action, r.content) for r in interaction.responses] == [
            ("callback", ""), ("edit_original", f"Recording started with id {interaction.id}")]
    assert sorted(hit.route for hit in sim.rate_limited) == sorted([INTERACTION_CALLBACK, WEBHOOK_MESSAGE_EDIT])
