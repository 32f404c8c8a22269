"""The real recorder against the local Discord: every frame a speaker sent is in their track, byte-identical."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from recorder_testkit import Scene, is_ordered_subsequence, lost_toward, recorded_tracks, recording

from pandora_recorder.receive import DropReason
from pandora_simulator import FaultPlan
from pandora_simulator.rtp import AES_GCM, XCHACHA
from pandora_simulator.speech import REAL_CLIENT_SILENCE_FRAMES
from pandora_simulator.testing import wait_for


@pytest.mark.parametrize("mode", [AES_GCM, XCHACHA])
async def test_every_frame_of_every_speaker_is_recorded_once_in_order(scene: Scene, tmp_path: Path,
                                                                      mode: str) -> None:
    alice, bob = scene.guild.add_member("alice"), scene.guild.add_member("bob")
    await alice.join_voice(scene.voice)
    async with recording(scene, tmp_path, transport_modes=(mode,)) as rec:
        assert rec.session.voice is not None and rec.session.voice.mode == mode
        await bob.join_voice(scene.voice)
        await scene.voice.wait_dave_settled()
        await alice.speak(seconds=0.6)
        await bob.speak(seconds=0.6)
        await alice.speak(seconds=0.4)
        # Stop once the last burst's trailing silence is in (on a loaded machine the last datagrams may still be
        # on their way when speak() returns; a stop then would not show what this test is about).
        counters = rec.session.pipeline.counters
        await wait_for(lambda: counters[DropReason.SILENCE] >= 3 * REAL_CLIENT_SILENCE_FRAMES, timeout=10,
                       what="the last burst's silence frames to arrive")
        await rec.stop()
        recording_id = rec.session.writer.recording_id
    tracks = recorded_tracks(tmp_path, recording_id)
    assert tracks[alice.id] == alice.sent_frames
    assert tracks[bob.id] == bob.sent_frames
    # The five silence frames after each of the three bursts arrived, and nothing was written for them (the raw
    # format stores no silence: cookers fill the gaps).
    assert rec.session.pipeline.counters[DropReason.SILENCE] == 3 * REAL_CLIENT_SILENCE_FRAMES


async def test_nickname_shows_recording_and_is_restored(scene: Scene, tmp_path: Path) -> None:
    alice = scene.guild.add_member("alice")
    await alice.join_voice(scene.voice)
    before = scene.guild.bot_nickname(scene.bot)
    async with recording(scene, tmp_path) as rec:
        assert scene.guild.bot_nickname(scene.bot) == "[RECORDING] Pandora"
        await rec.stop()
    assert scene.guild.bot_nickname(scene.bot) == before
    assert scene.guild.voice_channel_of(scene.bot.id) is None  # left voice


async def test_frames_survive_dave_epoch_changes_from_joins_and_leaves(scene: Scene, tmp_path: Path) -> None:
    alice, bob, carol = (scene.guild.add_member(name) for name in ("alice", "bob", "carol"))
    await alice.join_voice(scene.voice)
    await bob.join_voice(scene.voice)
    async with recording(scene, tmp_path) as rec:
        speech = asyncio.create_task(alice.speak(seconds=3.0))
        await asyncio.sleep(0.5)
        await carol.join_voice(scene.voice)
        await asyncio.sleep(0.5)
        await bob.leave_voice()
        await asyncio.sleep(0.5)
        await scene.voice.force_dave_epoch_change()
        await speech
        await carol.speak(seconds=0.5)
        await asyncio.sleep(0.3)
        await rec.stop()
        recording_id = rec.session.writer.recording_id
    tracks = recorded_tracks(tmp_path, recording_id)
    assert tracks[alice.id] == alice.sent_frames
    assert tracks[carol.id] == carol.sent_frames
    counters = rec.session.pipeline.counters
    assert counters[DropReason.DAVE_FAILED] == counters[DropReason.DAVE_NOT_READY] == 0


async def test_loss_reordering_duplication_extensions_padding_rtcp_and_early_packets(
    scene: Scene, tmp_path: Path
) -> None:
    scene.voice.faults = FaultPlan(loss=0.05, reorder=0.05, duplicate=0.05, jitter_ms=20, rtp_extensions=True,
                                   padding=True, rtcp=True, early_packets=True, seed=1)
    alice, bob = scene.guild.add_member("alice"), scene.guild.add_member("bob")
    await alice.join_voice(scene.voice)
    await bob.join_voice(scene.voice)
    async with recording(scene, tmp_path) as rec:
        await alice.speak(seconds=2.0)
        await bob.speak(seconds=2.0)
        await asyncio.sleep(0.2)  # jittered packets still on their way
        lost = {member.id: lost_toward(scene, scene.bot.id, member.id) for member in (alice, bob)}
        await rec.stop()
        recording_id = rec.session.writer.recording_id
    tracks = recorded_tracks(tmp_path, recording_id)
    counters = rec.session.pipeline.counters
    for member in (alice, bob):
        assert 0 < lost[member.id] < 20
        assert is_ordered_subsequence(tracks[member.id], member.sent_frames)
        # every delivered frame exactly once
        assert len(tracks[member.id]) == len(member.sent_frames) - lost[member.id]
    assert rec.session.pipeline.replayed > 0  # packets before op 5 were held, then recorded
    assert counters[DropReason.DUPLICATE] > 0
    assert counters[DropReason.RTCP] > 0
    assert counters[DropReason.DAVE_FAILED] == 0



async def test_recording_continues_after_the_voice_server_drops_the_connection(scene: Scene, tmp_path: Path) -> None:
    alice = scene.guild.add_member("alice")
    await alice.join_voice(scene.voice)
    async with recording(scene, tmp_path) as rec:
        await alice.speak(seconds=0.5)
        await scene.sim.close_voice_socket(scene.bot.id, code=4015)  # "voice server crashed": discord.py resumes
        await asyncio.sleep(1.0)
        await scene.voice.wait_dave_settled()
        await alice.speak(seconds=0.5)
        await asyncio.sleep(0.3)
        await rec.stop()
        recording_id = rec.session.writer.recording_id
    assert len(alice.sent_frames) == 50
    assert recorded_tracks(tmp_path, recording_id)[alice.id] == alice.sent_frames  # before and after the resume
