"""The recorder keeps recording, in the same process, through voice websocket closes one after another: a fresh
reconnect (4006, 1006) then a resume (4015), a resume then a fresh reconnect, two resumes in a row, and a resume the
voice server refuses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from recorder_testkit import Recording, Scene, recorded_tracks, recording

from pandora_simulator.testing import wait_for
from pandora_simulator.voice_connection import VoiceConnection

# Long enough for a reconnect on a loaded machine, shorter than the session's voice-lost limit (10 s) plus the
# resume retries discord.py would make without the fix: a recorder that lost the session does not pass in time.
BACK_WITHIN = 9.0


def _connection(scene: Scene) -> VoiceConnection | None:
    return scene.sim.voice.connections.get((scene.guild.id, scene.bot.id))


async def _close_and_wait_back(scene: Scene, rec: Recording, code: int, *, resumable: bool = True
                               ) -> VoiceConnection:
    """Close the recorder's voice websocket with ``code``; return once it records again (its connection is in the
    call with a websocket and keys, and DAVE settled)."""
    before = _connection(scene)
    assert before is not None
    old_ws = before.ws
    await scene.sim.close_voice_socket(scene.bot.id, code=code, resumable=resumable)

    def back() -> bool:
        connection = _connection(scene)
        voice = rec.session.voice
        recording_again = (connection is not None and connection.ws is not None and connection.ws is not old_ws
                           and connection.ready_for_media and voice is not None and voice.is_connected())
        return rec.task.done() or recording_again

    await wait_for(back, timeout=BACK_WITHIN, what=f"the recorder's voice back after {code}")
    assert not rec.task.done(), f"the recording ended after {code}: {rec.task.result()}"
    await scene.voice.wait_dave_settled()
    connection = _connection(scene)
    assert connection is not None
    return connection


@pytest.mark.parametrize("codes", [(4006, 4015), (1006, 4015), (4015, 4006), (4015, 4015)],
                         ids=lambda codes: "-then-".join(map(str, codes)))
async def test_recording_goes_on_through_two_voice_closes(scene: Scene, tmp_path: Path,
                                                          codes: tuple[int, int]) -> None:
    alice = scene.guild.add_member("alice")
    await alice.join_voice(scene.voice)
    connections = []
    async with recording(scene, tmp_path) as rec:
        await alice.speak(seconds=0.4)
        for code in codes:
            connections.append(await _close_and_wait_back(scene, rec, code))
            await alice.speak(seconds=0.4)  # spoken after the reconnect: must be in the file
        await asyncio.sleep(0.3)
        await rec.stop()
        recording_id = rec.session.writer.recording_id
    assert len(alice.sent_frames) == 60
    assert recorded_tracks(tmp_path, recording_id)[alice.id] == alice.sent_frames
    if codes[1] == 4015:
        # Resumed (the voice server's session went on, not a new IDENTIFY): 4015 is meant to be resumable.
        assert connections[1] is connections[0]
        assert connections[1].client_ops.count(7) == 1 + (codes[0] == 4015)


async def test_a_refused_resume_falls_back_to_a_fresh_connection_at_once(scene: Scene, tmp_path: Path) -> None:
    alice = scene.guild.add_member("alice")
    await alice.join_voice(scene.voice)
    async with recording(scene, tmp_path) as rec:
        await alice.speak(seconds=0.4)
        before = _connection(scene)
        requests = len(scene.sim.voice_state_log)
        # A 4015 whose session the voice server lost: discord.py's RESUME is refused with 4006.
        after = await _close_and_wait_back(scene, rec, 4015, resumable=False)
        rejoins = [request.channel_id for request in scene.sim.voice_state_log[requests:]]
        await alice.speak(seconds=0.4)
        await asyncio.sleep(0.3)
        await rec.stop()
        recording_id = rec.session.writer.recording_id
    assert recorded_tracks(tmp_path, recording_id)[alice.id] == alice.sent_frames
    assert after is not before and after.client_ops[0] == 0  # a new session, from an IDENTIFY
    # It identified on the voice state it had: it never left the channel (op 4 with no channel) on the way.
    assert rejoins == [scene.voice.id]
