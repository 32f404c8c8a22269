"""DAVE end to end: an unmodified discord.py client in a call with simulated members (real davey sessions), the
simulator acting as the MLS external sender, and the SFU forwarding end-to-end encrypted frames untouched."""

from __future__ import annotations

import discord
import pytest
from sim_clients import TappedVoiceClient, play, running_client, tone_source

from pandora_simulator import DiscordSimulator, SimMember, dominant_tone
from pandora_simulator.rtp import SILENCE_FRAME
from pandora_simulator.speech import REAL_CLIENT_SILENCE_FRAMES
from pandora_simulator.testing import small_world, wait_for

CLIENT_TONES = [660.0, 880.0, 1100.0]


async def _assert_client_audio_reaches(vc: discord.VoiceClient, members: list[SimMember], bot_id: int,
                                       frequency: float) -> None:
    before = {m.id: len(m.received_audio[bot_id]) for m in members}
    await play(vc, tone_source(frequency, 0.4))
    for member in members:
        await wait_for(lambda m=member: len(m.received_audio[bot_id]) - before[m.id] >= 20,
                       what=f"{member.name} decrypting the bot")
        fresh = [f for f in member.received_audio[bot_id][before[member.id]:] if f != SILENCE_FRAME]
        assert dominant_tone(fresh, candidates=CLIENT_TONES) == frequency, member.name


async def _assert_member_audio_reaches(vc: TappedVoiceClient, member: SimMember) -> None:
    before = len(vc.decrypted_frames().get(member.id, []))
    sent = await member.speak(seconds=0.3, realtime=False)
    heard = [*sent, *[SILENCE_FRAME] * REAL_CLIENT_SILENCE_FRAMES]  # the speech, then the five silence frames
    await wait_for(lambda: len(vc.decrypted_frames().get(member.id, [])) - before == len(heard),
                   what=f"the client decrypting {member.name}")
    assert vc.decrypted_frames()[member.id][before:] == heard
    assert dominant_tone(sent) == member.tone_hz


async def test_client_completes_dave_with_three_members_and_audio_flows_across_epochs(
    sim: DiscordSimulator,
) -> None:
    world = await small_world(sim, "alice", "bob", "carol", "dave", in_voice=3)
    bot, guild, voice, (alice, bob, carol, dave) = world.bot, world.guild, world.voice, world.members
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
        await voice.wait_dave_settled()
        group = sim.voice.dave.group(voice.id)
        assert group is not None and sorted(group.members) == sorted([bot.id, alice.id, bob.id, carol.id])
        session = vc._connection.dave_session
        assert session is not None and session.ready and vc._connection.can_encrypt
        first_epoch = group.epoch

        await _assert_client_audio_reaches(vc, [alice, bob, carol], bot.id, 880.0)
        # what the bot sent crossed the SFU end-to-end encrypted: the server saw DAVE frames, not Opus
        assert all(entry.frame.endswith(b"\xfa\xfa") for entry in sim.audio_log if entry.frame != SILENCE_FRAME)
        await _assert_member_audio_reaches(vc, bob)

        await dave.join_voice(voice)
        await alice.leave_voice()
        await voice.wait_dave_settled()
        assert sorted(group.members) == sorted([bot.id, bob.id, carol.id, dave.id])
        assert group.epoch > first_epoch + 1
        await _assert_client_audio_reaches(vc, [bob, carol, dave], bot.id, 660.0)
        await _assert_member_audio_reaches(vc, dave)
        await _assert_member_audio_reaches(vc, carol)
        # commits that lost the race for an epoch are routine; nothing else may have been refused
        lost_races = ("commit is for epoch", "already has its commit")
        assert [r for r in group.rejected if not any(text in r for text in lost_races)] == []


async def test_forced_epoch_change_keeps_audio_flowing(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice", in_voice=1)
    bot, guild, voice, (alice,) = world.bot, world.guild, world.voice, world.members
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
        await voice.wait_dave_settled()
        group = sim.voice.dave.group(voice.id)
        assert group is not None
        epoch = group.epoch
        await voice.force_dave_epoch_change()
        await voice.wait_dave_settled()
        assert group.epoch > epoch
        await _assert_member_audio_reaches(vc, alice)
        await _assert_client_audio_reaches(vc, [alice], bot.id, 1100.0)


async def test_two_clients_in_one_channel_hear_each_other_through_the_sfu(sim: DiscordSimulator) -> None:
    first, second = sim.create_bot("Pandora A"), sim.create_bot("Pandora B")
    guild = sim.create_guild("Guild", bots=[first, second])
    voice = guild.create_voice_channel("General")
    async with running_client(sim, first, [guild]) as client_a, running_client(sim, second, [guild]) as client_b:
        vc_a = await client_a.get_channel(voice.id).connect(cls=TappedVoiceClient)
        vc_b = await client_b.get_channel(voice.id).connect(cls=TappedVoiceClient)
        await voice.wait_dave_settled()
        assert vc_a._connection.can_encrypt and vc_b._connection.can_encrypt
        await play(vc_a, tone_source(880.0, 0.4))
        await wait_for(lambda: len(vc_b.decrypted_frames().get(first.id, [])) >= 20, what="B decrypting A")
        heard = [f for f in vc_b.decrypted_frames()[first.id] if f != SILENCE_FRAME]
        assert dominant_tone(heard, candidates=CLIENT_TONES) == 880.0
        # the SFU forwarded A's own DAVE encryption: the server's copy is not plain Opus
        assert all(e.frame.endswith(b"\xfa\xfa") for e in sim.audio_log if e.frame != SILENCE_FRAME)


async def test_proposal_signed_with_the_wrong_key_is_rejected_and_the_call_goes_on(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice", "bob", in_voice=2)
    bot, guild, voice, (alice, bob) = world.bot, world.guild, world.voice, world.members
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
        await voice.wait_dave_settled()
        group = sim.voice.dave.group(voice.id)
        assert group is not None
        epoch, members = group.epoch, sorted(group.members)
        await voice.send_forged_dave_proposal(alice)
        assert len(alice.dave.errors) == 1 and "signature" in alice.dave.errors[0].lower()
        assert alice.dave_session.epoch == epoch
        await voice.wait_dave_settled()
        assert (group.epoch, sorted(group.members)) == (epoch, members)
        await _assert_member_audio_reaches(vc, alice)
        await _assert_client_audio_reaches(vc, [alice, bob], bot.id, 660.0)


@pytest.mark.parametrize("damaged", ["welcome", "commit"])
async def test_client_recovers_from_an_invalid_commit_or_welcome(sim: DiscordSimulator, damaged: str) -> None:
    """The client gets a damaged welcome (joining) or commit (a member joins later): discord.py reports op 31,
    resets, sends a new key package and is re-added; audio flows again."""
    world = await small_world(sim, "alice", "bob", in_voice=1)
    bot, guild, voice, (alice, bob) = world.bot, world.guild, world.voice, world.members
    if damaged == "welcome":
        await bob.join_voice(voice)
        await voice.wait_dave_settled()
        voice.corrupt_next_dave_commit(bot.id)
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
        if damaged == "commit":
            await voice.wait_dave_settled()
            voice.corrupt_next_dave_commit(bot.id)
            await bob.join_voice(voice)
        connection = sim.voice.connections[(guild.id, bot.id)]
        await wait_for(lambda: 31 in connection.client_ops, what="op 31 from the client")
        await voice.wait_dave_settled()
        group = sim.voice.dave.group(voice.id)
        assert group is not None and sorted(group.members) == sorted([bot.id, alice.id, bob.id])
        assert connection.client_ops.count(31) == 1 and vc._connection.can_encrypt
        await _assert_member_audio_reaches(vc, bob)
        await _assert_client_audio_reaches(vc, [alice, bob], bot.id, 880.0)


async def test_corrupted_commit_from_a_member_recovers(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice", "bob", in_voice=1)
    bot, guild, voice, (alice, bob) = world.bot, world.guild, world.voice, world.members
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
        await voice.wait_dave_settled()
        alice.dave.corrupt_next_commit = True  # alice commits bob's add first; everyone rejects it
        await bob.join_voice(voice)
        await voice.wait_dave_settled()
        # discord.py fails that commit, then the next one (its group is pending), and still ends up welcomed
        assert sim.voice.connections[(guild.id, bot.id)].client_ops.count(31) >= 1
        assert vc._connection.can_encrypt
        await _assert_member_audio_reaches(vc, bob)
        await _assert_client_audio_reaches(vc, [alice, bob], bot.id, 660.0)
