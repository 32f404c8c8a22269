"""When a recording ends on its own, and what it writes about itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from recorder_testkit import Scene, recording

from pandora.discord_connection import DiscordConnection
from pandora_recorder.commands.record import record
from pandora_recorder.raw.format import file_name
from pandora_recorder.sinks.local import LocalFolderSink
from pandora_recorder.voice import RecorderSession, SessionOptions, SessionState, StopReason
from pandora_recorder.voice.states import StateMachine
from pandora_simulator.testing import wait_for


def test_lifecycle_allows_only_forward_steps() -> None:
    machine = StateMachine()
    for state in (SessionState.CONNECTING, SessionState.RECORDING, SessionState.STOPPING, SessionState.LEAVING,
                  SessionState.FINISHED):
        machine.move(state)
    assert machine.history[-1] is SessionState.FINISHED
    with pytest.raises(RuntimeError, match="cannot go from finished to recording"):
        machine.move(SessionState.RECORDING)
    with pytest.raises(RuntimeError):
        StateMachine().move(SessionState.STOPPING)
    recording = StateMachine()
    recording.move(SessionState.CONNECTING)
    recording.move(SessionState.RECORDING)
    with pytest.raises(RuntimeError, match="cannot go from recording to failed"):  # a failure still stops and leaves
        recording.move(SessionState.FAILED)


async def test_max_duration_ends_the_recording(scene: Scene, tmp_path: Path) -> None:
    alice = scene.guild.add_member("alice")
    await alice.join_voice(scene.voice)
    async with recording(scene, tmp_path, max_duration=1.0) as rec:
        assert await rec.task == StopReason.MAX_DURATION
    assert rec.session.state is SessionState.FINISHED


async def test_empty_channel_ends_the_recording(scene: Scene, tmp_path: Path) -> None:
    alice = scene.guild.add_member("alice")
    await alice.join_voice(scene.voice)
    async with recording(scene, tmp_path, empty_timeout=0.5) as rec:
        await alice.speak(seconds=0.3)
        assert not rec.task.done()
        await alice.leave_voice()
        await wait_for(rec.task.done, timeout=10, what="the recorder to notice the empty channel")
        assert rec.task.result() == StopReason.EMPTY_CHANNEL


async def test_info_names_guild_channel_and_requester_and_summary_is_posted(scene: Scene, tmp_path: Path) -> None:
    alice = scene.guild.add_member("alice")
    await alice.join_voice(scene.voice)
    async with recording(scene, tmp_path, requester_id=alice.id, text_channel_id=scene.text.id) as rec:
        await alice.speak(seconds=0.3)
        await rec.stop()
        recording_id = rec.session.writer.recording_id
    info = json.loads((tmp_path / file_name(recording_id, "info")).read_text())
    assert (info["guild"], info["channel"], info["requesterId"]) == ("Guild", "General", str(alice.id))
    assert info["requesterExtra"]["username"] == "alice"
    posted = [message["content"] for message in scene.sim.channel_messages(scene.text.id)]
    assert posted == [f"Recording {recording_id} ended: 1 speaker(s)."]


async def test_a_channel_that_is_not_voice_fails_cleanly(scene: Scene, tmp_path: Path) -> None:
    env = scene.sim.connection_env(scene.bot)
    sessions: list[RecorderSession] = []
    reason = await record(
        env["PANDORA_TOKEN"], LocalFolderSink(tmp_path),
        SessionOptions(guild_id=scene.guild.id, channel_id=scene.text.id),
        connection=DiscordConnection.from_env(env), on_session=sessions.append, handle_signals=False,
    )
    assert reason is StopReason.CONNECT_FAILED
    assert sessions[0].state is SessionState.FAILED
    assert scene.guild.bot_nickname(scene.bot) is None
    assert scene.guild.voice_channel_of(scene.bot.id) is None
