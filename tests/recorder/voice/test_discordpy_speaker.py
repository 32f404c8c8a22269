"""Interoperability: an unmodified discord.py bot speaks (its own davey DAVE encryption) and we record it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import discord
from recorder_testkit import Scene, recorded_tracks, recording

from pandora.discord_connection import DiscordConnection
from pandora_recorder.receive import DropReason
from pandora_simulator.audio import ToneEncoder
from pandora_simulator.testing import wait_for


class OpusFrames(discord.AudioSource):
    """Pre-encoded Opus frames, played by discord.py's own AudioPlayer (20 ms pacing, RTP, DAVE, transport)."""

    def __init__(self, frames: list[bytes]) -> None:
        self._frames = iter(frames)

    def read(self) -> bytes:
        return next(self._frames, b"")

    def is_opus(self) -> bool:
        return True


async def test_a_plain_discordpy_bot_is_recorded_byte_identically(scene: Scene, tmp_path: Path) -> None:
    speaker_bot = scene.sim.create_bot("Talker")
    scene.sim.add_bot_to_guild(speaker_bot, scene.guild)
    env = scene.sim.connection_env(speaker_bot)
    client = discord.Client(intents=discord.Intents.default(), **DiscordConnection.from_env(env).apply())
    await client.login(env["PANDORA_TOKEN"])
    runner = asyncio.create_task(client.connect(reconnect=False))
    encoder = ToneEncoder(330.0)
    frames = [encoder.next_frame() for _ in range(75)]
    try:
        await wait_for(lambda: client.get_guild(scene.guild.id) is not None, what="the speaker bot's guild")
        async with recording(scene, tmp_path) as rec:
            channel = client.get_guild(scene.guild.id).get_channel(scene.voice.id)
            voice = await channel.connect()  # discord.VoiceClient, nothing of ours
            await scene.voice.wait_dave_settled()
            await wait_for(lambda: voice._connection.can_encrypt, what="the speaker bot's DAVE session")
            done = asyncio.Event()
            voice.play(OpusFrames(frames), after=lambda _error: client.loop.call_soon_threadsafe(done.set))
            await asyncio.wait_for(done.wait(), 10)
            await wait_for(lambda: rec.session.pipeline.frames_by_user[speaker_bot.id] >= len(frames),
                           what="all frames recorded")
            await voice.disconnect(force=True)
            await rec.stop()
            recording_id = rec.session.writer.recording_id
    finally:
        await client.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
    assert recorded_tracks(tmp_path, recording_id)[speaker_bot.id] == frames
    assert rec.session.pipeline.counters[DropReason.DAVE_FAILED] == 0
