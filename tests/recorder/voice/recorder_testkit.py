"""Run the real recorder against the simulator and read back what it wrote."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pandora.discord_connection import DiscordConnection
from pandora_recorder.commands.record import record
from pandora_recorder.raw.format import file_name, parse_users
from pandora_recorder.raw.ogg import read_pages
from pandora_recorder.sinks.local import LocalFolderSink
from pandora_recorder.voice import RecorderSession, SessionOptions, SessionState, StopReason
from pandora_simulator import DiscordSimulator, SimBot, SimChannel, SimGuild
from pandora_simulator.testing import wait_for


@dataclass
class Scene:
    sim: DiscordSimulator
    bot: SimBot
    guild: SimGuild
    voice: SimChannel
    text: SimChannel


@contextlib.asynccontextmanager
async def simulated_scene() -> AsyncIterator[Scene]:
    """A local Discord with the Pandora bot, one guild, a voice and a text channel."""
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild = sim.create_guild("Guild", bots=[bot])
        yield Scene(sim, bot, guild, guild.create_voice_channel("General"), guild.create_text_channel("chat"))


@dataclass
class Recording:
    session: RecorderSession
    task: asyncio.Task[StopReason]

    async def stop(self) -> StopReason:
        self.session.request_stop()
        return await asyncio.wait_for(self.task, 20)


@contextlib.asynccontextmanager
async def recording(scene: Scene, out: Path, **options: Any) -> AsyncIterator[Recording]:
    """The recorder (``pandora record``'s own code path, minus signal handlers) recording ``scene.voice``."""
    env = scene.sim.connection_env(scene.bot)
    sink = LocalFolderSink(out)
    sessions: list[RecorderSession] = []
    task = asyncio.create_task(record(
        env["PANDORA_TOKEN"], sink,
        SessionOptions(guild_id=scene.guild.id, channel_id=scene.voice.id, **options),
        connection=DiscordConnection.from_env(env), on_session=sessions.append, handle_signals=False,
    ))
    try:
        await wait_for(lambda: task.done() or (sessions and sessions[0].state is SessionState.RECORDING),
                       timeout=10, what="the recorder to join voice")
        if task.done():
            task.result()
            raise AssertionError(f"recorder ended before recording: {task.result()}")
        await scene.voice.wait_dave_settled()
        yield Recording(sessions[0], task)
    finally:
        if not task.done():
            sessions[0].request_stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 20)
        sink.close()


def recorded_tracks(out: Path, recording_id: int) -> dict[int, list[bytes]]:
    """User id -> the Opus packets of that user's track, in file order (the empty timestamp pages skipped)."""
    users = parse_users((out / file_name(recording_id, "users")).read_bytes())
    track_user = {track: int(user["id"]) for track, user in users.items()}
    tracks: dict[int, list[bytes]] = {user_id: [] for user_id in track_user.values()}
    for page in read_pages((out / file_name(recording_id, "data")).read_bytes()):
        for packet in page.packets:
            if packet:
                tracks[track_user[page.serial]].append(packet)
    return tracks


def is_ordered_subsequence(part: list[bytes], whole: list[bytes]) -> bool:
    remaining = iter(whole)
    return all(any(item == candidate for candidate in remaining) for item in part)


def lost_toward(scene: Scene, receiver_id: int, sender_id: int) -> int:
    """How many speech frames (not the silence after them) the simulator's fault plan dropped from a simulated
    sender to a connected client."""
    room = scene.sim.voice.room(scene.voice.id)
    injector = room.clients[receiver_id].injectors.get(room.simulated[sender_id].ssrc)
    return 0 if injector is None else injector.stats["lost"] - injector.stats["silence lost"]
