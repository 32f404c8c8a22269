"""Network faults toward a real client: seen at the client's UDP socket, reproducible from the seed."""

from __future__ import annotations

import asyncio
import itertools
import struct
from collections import Counter

from sim_clients import AesGcmVoiceClient, TappedVoiceClient, play, running_client, tone_source

from pandora_simulator import DiscordSimulator, FaultPlan
from pandora_simulator.rtp import SILENCE_FRAME
from pandora_simulator.speech import REAL_CLIENT_SILENCE_FRAMES, with_trailing_silence
from pandora_simulator.testing import small_world, wait_for

MESSY = FaultPlan(loss=0.1, reorder=0.1, duplicate=0.1, rtp_extensions=True, padding=True, rtcp=True,
                  early_packets=True, seed=7)


async def _messy_call(plan: FaultPlan, seconds: float = 1.0
                      ) -> tuple[TappedVoiceClient, list[bytes], int, dict[str, int]]:
    """One fresh simulator: alice speaks through ``plan`` to a discord.py client; returns what it saw, what she
    said, her id, and the fault injector's account of what it did to her packets."""
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        bot, guild, voice, (alice,) = world.bot, world.guild, world.voice, world.members
        async with running_client(sim, bot, [guild]) as client:
            vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
            await voice.wait_dave_settled()
            voice.faults = plan
            sent = await alice.speak(seconds=seconds, realtime=False)
            await asyncio.sleep(0.1 + plan.jitter_ms / 1000)
            vc.decrypted_frames()
            room = sim.voice.room(voice.id)
            stats = room.clients[bot.id].injectors[room.simulated[alice.id].ssrc].stats
            return vc, sent, alice.id, dict(stats)


def _rtp(vc: TappedVoiceClient) -> list[bytes]:
    return [d for d in vc.datagrams if len(d) > 12 and d[1] == 0x78]


async def test_loss_reorder_duplicates_extensions_padding_rtcp_and_early_packets() -> None:
    vc, sent, alice_id, stats = await _messy_call(MESSY)
    rtp = _rtp(vc)
    sequences = [struct.unpack_from(">H", d, 2)[0] for d in rtp]
    counts = Counter(sequences)
    heard = with_trailing_silence(sent)
    assert any(n == 2 for n in counts.values()), "no duplicate arrived"
    assert len(counts) < len(heard), "no packet was lost"
    assert len(rtp) == len(heard) - stats["lost"] + stats["duplicated"]
    assert any(b != (a + 1) & 0xFFFF and b != a for a, b in itertools.pairwise(sequences)), "in order"
    assert all(d[0] & 0x30 == 0x30 for d in rtp), "every packet carries an extension and padding"
    assert any(200 <= d[1] <= 204 for d in vc.datagrams), "no RTCP"
    # packets for alice's SSRC arrived before the op 5 that maps it to her
    ssrc = next(s for s, user in vc.ssrc_users.items() if user == alice_id)
    early = [d for d, at in zip(vc.datagrams, vc.arrivals, strict=True) if d in rtp and at < vc.op5_at[ssrc]]
    assert len(early) >= 3
    # after stripping extension and padding, every frame that arrived DAVE-decrypts to one alice sent
    received = vc.decrypted_frames()[alice_id]
    speech = [frame for frame in received if frame != SILENCE_FRAME]
    assert set(speech) <= set(sent)
    # each speech frame that was not lost exactly once (duplicates are replays to DAVE); the silence passes DAVE
    # in the clear, so its duplicates stay
    assert len(speech) == len(set(speech)) == len(sent) - (stats["lost"] - stats["silence lost"])
    assert received.count(SILENCE_FRAME) >= REAL_CLIENT_SILENCE_FRAMES - stats["silence lost"]


async def test_same_seed_same_faults() -> None:
    plan = FaultPlan(loss=0.2, reorder=0.2, duplicate=0.2, seed=11)
    first, *_ = await _messy_call(plan, seconds=0.6)
    second, *_ = await _messy_call(plan, seconds=0.6)
    order = [[struct.unpack_from(">H", d, 2)[0] for d in _rtp(vc)] for vc in (first, second)]
    assert order[0] == order[1]
    other, *_ = await _messy_call(FaultPlan(loss=0.2, reorder=0.2, duplicate=0.2, seed=12), seconds=0.6)
    assert [struct.unpack_from(">H", d, 2)[0] for d in _rtp(other)] != order[0]


async def test_jitter_delays_but_delivers_everything() -> None:
    vc, sent, alice_id, _ = await _messy_call(FaultPlan(jitter_ms=40, seed=3), seconds=0.5)
    sequences = [struct.unpack_from(">H", d, 2)[0] for d in _rtp(vc)]
    heard = with_trailing_silence(sent)
    assert len(set(sequences)) == len(sequences) == len(heard)
    assert sequences != sorted(sequences)
    # DAVE (like libdave) refuses frames older than the first one it saw: a real receiver loses those too
    received = vc.decrypted_frames()[alice_id]
    assert set(received) <= set(heard) and len(received) >= len(heard) // 2


async def test_aes_gcm_rtpsize_both_ways(sim: DiscordSimulator) -> None:
    world = await small_world(sim, "alice", in_voice=1)
    bot, guild, voice, (alice,) = world.bot, world.guild, world.voice, world.members
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=AesGcmVoiceClient)
        await voice.wait_dave_settled()
        assert sim.voice.connections[(guild.id, bot.id)].mode == "aead_aes256_gcm_rtpsize"
        heard = with_trailing_silence(await alice.speak(seconds=0.2, realtime=False))
        await wait_for(lambda: vc.decrypted_frames().get(alice.id) == heard, what="AES-GCM audio at the client")
        await play(vc, tone_source(880.0, 0.3))
        await wait_for(lambda: len(alice.received_audio[bot.id]) >= 15, what="AES-GCM audio at alice")


async def test_voice_socket_closed_with_4014_ends_the_call(sim: DiscordSimulator) -> None:
    world = await small_world(sim)
    bot, guild, voice = world.bot, world.guild, world.voice
    async with running_client(sim, bot, [guild]) as client:
        vc = await client.get_channel(voice.id).connect(cls=TappedVoiceClient)
        await sim.close_voice_socket(bot.user_id, code=4014)
        assert (guild.id, bot.id) not in sim.voice.connections
        assert bot.id not in sim.voice.room(voice.id).clients
        await wait_for(lambda: not vc.is_connected() and not client.voice_clients, what="client disconnecting")
        assert guild.voice_channel_of(bot.id) is None
