"""Voice: an unmodified discord.py client joins, sends and receives audio through the simulator's SFU."""

from __future__ import annotations

import discord
import pytest
from sim_clients import TappedVoiceClient, play, running_client, tone_source

from pandora_simulator import DiscordSimulator, dominant_tone
from pandora_simulator.audio import tone_for
from pandora_simulator.speech import with_trailing_silence
from pandora_simulator.testing import small_world, wait_for


@pytest.fixture
async def plain_sim() -> object:
    async with DiscordSimulator(dave=False) as simulator:
        yield simulator


async def test_transport_only_call_carries_audio_both_ways(plain_sim: DiscordSimulator) -> None:
    sim = plain_sim
    world = await small_world(sim, "alice", in_voice=1)
    bot, guild, voice, (alice,) = world.bot, world.guild, world.voice, world.members
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
        assert isinstance(vc, TappedVoiceClient) and vc.is_connected()
        assert sim.voice_state_log[-1].channel_id == voice.id
        sent = await alice.speak(seconds=0.4, realtime=False)
        heard = with_trailing_silence(sent)
        await wait_for(lambda: len(vc.decrypted_frames().get(alice.id, [])) == len(heard), what="alice's audio")
        assert vc.decrypted_frames()[alice.id] == heard
        assert dominant_tone(sent) == tone_for(alice.index)

        await play(vc, tone_source(880.0, 0.5))
        await wait_for(lambda: len(alice.received_audio[bot.id]) >= 25, what="the bot's audio at alice")
        assert dominant_tone(alice.received_audio[bot.id], candidates=[440.0, 880.0, 1320.0]) == 880.0
        logged = [entry for entry in sim.audio_log if entry.user_id == bot.id]
        assert [entry.frame for entry in logged] == alice.received_audio[bot.id]
        await vc.disconnect()
        await wait_for(lambda: guild.voice_channel_of(bot.id) is None, what="voice state cleared")
        assert sim.voice_state_log[-1].channel_id is None


async def test_members_joining_and_leaving_show_up_as_voice_states(plain_sim: DiscordSimulator) -> None:
    sim = plain_sim
    bot = sim.create_bot("Pandora")
    guild = sim.create_guild("Guild", bots=[bot])
    general, other = guild.create_voice_channel("General"), guild.create_voice_channel("Other")
    alice = guild.add_member("alice")
    async with running_client(sim, bot, [guild]) as client:
        cached = client.get_guild(guild.id)
        await alice.join_voice(general)
        await wait_for(lambda: [m.id for m in cached.get_channel(general.id).members] == [alice.id], what="join")
        await alice.move_voice(other)
        await wait_for(lambda: [m.id for m in cached.get_channel(other.id).members] == [alice.id], what="move")
        assert cached.get_channel(general.id).members == []
        await alice.leave_voice()
        await wait_for(lambda: cached.get_channel(other.id).members == [], what="leave")


async def test_client_op5_maps_ssrc_before_audio(plain_sim: DiscordSimulator) -> None:
    sim = plain_sim
    world = await small_world(sim, "alice")
    bot, guild, voice, (alice,) = world.bot, world.guild, world.voice, world.members
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
        await alice.join_voice(voice)
        await alice.speak(seconds=0.1, realtime=False)
        await wait_for(lambda: alice.id in vc.ssrc_users.values(), what="op 5 for alice")
        assert isinstance(vc, discord.VoiceClient)


async def test_voice_socket_closed_with_4015_is_resumed_and_audio_continues(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice", "bob", in_voice=1)
    bot, guild, voice, (alice, bob) = world.bot, world.guild, world.voice, world.members
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
        await voice.wait_dave_settled()
        old_ws = vc._connection.ws
        await sim.close_voice_socket(bot.user_id, code=4015)
        await bob.join_voice(voice)  # while the socket is down: its op 11 is buffered and replayed on RESUME
        await wait_for(lambda: vc._connection.ws is not old_ws and vc.is_connected(), what="voice resume")
        await voice.wait_dave_settled()
        connection = sim.voice.connections[(guild.id, bot.id)]
        assert connection.ssrc == vc._connection.ssrc  # same session: resumed, not a new identify
        assert 7 in connection.client_ops and connection.client_ops.count(0) == 1  # op 7 RESUME, one IDENTIFY
        joined = [int(u) for m in vc.messages if m["op"] == 11 for u in m["d"]["user_ids"]]
        assert joined == [alice.id, bob.id]
        heard = with_trailing_silence(await alice.speak(seconds=0.2, realtime=False))
        await wait_for(lambda: vc.decrypted_frames().get(alice.id, [])[-len(heard):] == heard, what="audio after")
        await play(vc, tone_source(880.0, 0.3))
        await wait_for(lambda: len(alice.received_audio[bot.id]) >= 15, what="the bot's audio after resume")


async def test_clients_connect_and_disconnect_ops_name_the_participants(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice", "bob", in_voice=1)
    bot, guild, voice, (alice, bob) = world.bot, world.guild, world.voice, world.members
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
        await bob.join_voice(voice)
        await alice.leave_voice()
        await wait_for(lambda: any(m["op"] == 13 for m in vc.messages), what="op 13")
        connects = [int(u) for m in vc.messages if m["op"] == 11 for u in m["d"]["user_ids"]]
        assert connects == [alice.id, bob.id]
        assert [int(m["d"]["user_id"]) for m in vc.messages if m["op"] == 13] == [alice.id]
        numbered = [m["seq"] for m in vc.messages if "seq" in m]
        assert numbered == sorted(numbered) and len(set(numbered)) == len(numbered)


async def test_one_bot_two_processes_record_two_guilds(sim: DiscordSimulator) -> None:
    """Two sessions of the same bot token (two recorder processes), each in voice in its own guild."""
    bot = sim.create_bot("Pandora")
    guild_a, guild_b = sim.create_guild("A", bots=[bot]), sim.create_guild("B", bots=[bot])
    voice_a, voice_b = guild_a.create_voice_channel("General"), guild_b.create_voice_channel("General")
    alice, bob = guild_a.add_member("alice"), guild_b.add_member("bob")
    await alice.join_voice(voice_a)
    await bob.join_voice(voice_b)
    async with running_client(sim, bot, [guild_a, guild_b]) as first, \
            running_client(sim, bot, [guild_a, guild_b]) as second:
        vc_a = await first.get_channel(voice_a.id).connect(cls=TappedVoiceClient)
        vc_b = await second.get_channel(voice_b.id).connect(cls=TappedVoiceClient)
        await voice_a.wait_dave_settled()
        await voice_b.wait_dave_settled()
        said_a, said_b = await alice.speak(0.2, realtime=False), await bob.speak(0.2, realtime=False)
        await wait_for(lambda: vc_a.decrypted_frames().get(alice.id) == with_trailing_silence(said_a),
                       what="alice in A")
        await wait_for(lambda: vc_b.decrypted_frames().get(bob.id) == with_trailing_silence(said_b), what="bob in B")
        assert bob.id not in vc_a.decrypted_frames() and alice.id not in vc_b.decrypted_frames()
    # the second process identified within 5 s of the first: op 9, then discord.py waited and identified again
    assert [entry.reason for entry in sim.invalid_sessions] == ["identify_too_soon"]


async def test_bot_moves_between_channels_and_world_changes_reach_it(sim: DiscordSimulator) -> None:
    bot = sim.create_bot("Pandora")
    guild = sim.create_guild("Guild", bots=[bot])
    general = guild.create_voice_channel("General")
    async with running_client(sim, bot, [guild]) as client:
        # discord.py's socket reader still waits on the old UDP socket after a move; the old session's RTCP BYE
        # wakes it (without one the move stalls for 30 s)
        vc = await client.get_channel(general.id).connect(cls=TappedVoiceClient)
        later = guild.create_voice_channel("Later")  # created while the client is connected: CHANNEL_CREATE
        carol = guild.add_member("carol")
        await wait_for(lambda: client.get_channel(later.id) is not None, what="CHANNEL_CREATE")
        await carol.join_voice(later)
        await vc.move_to(client.get_channel(later.id), timeout=5)
        assert vc.is_connected() and vc.channel.id == later.id
        assert bot.id in sim.voice.room(later.id).clients and bot.id not in sim.voice.room(general.id).clients
        assert guild.voice_channel_of(bot.id) == later.id
        await later.wait_dave_settled()
        await play(vc, tone_source(880.0, 0.3))
        await wait_for(lambda: len(carol.received_audio[bot.id]) >= 15, what="the bot's audio at carol")
        said = await carol.speak(0.2, realtime=False)
        await wait_for(lambda: vc.decrypted_frames().get(carol.id) == with_trailing_silence(said),
                       what="carol at the bot")


async def test_members_end_each_burst_with_five_silence_frames_like_real_clients() -> None:
    async with DiscordSimulator() as sim:  # what real clients do is the default
        world = await small_world(sim, "alice", in_voice=1)
        alice = world.members[0]
        async with running_client(sim, world.bot, [world.guild]) as client:
            vc = await client.get_channel(world.voice.id).connect(cls=TappedVoiceClient)
            await world.voice.wait_dave_settled()
            first = await alice.speak(seconds=0.2, realtime=False)
            second = await alice.speak(seconds=0.1, realtime=False)
            quiet = await alice.speak(seconds=0.1, realtime=False, silence_frames=0)  # a speaker can opt out
            expected = [*with_trailing_silence(first), *with_trailing_silence(second), *quiet]
            await wait_for(lambda: vc.decrypted_frames().get(alice.id) == expected, what="bursts and silences")
        assert alice.sent_frames == first + second + quiet  # speak() returns (and keeps) the speech only
