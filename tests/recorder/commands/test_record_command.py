"""``pandora record`` as a process: first line, signals, SIGKILL and resume, secrets kept out of the logs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from recorder_testkit import Scene, recorded_tracks

from pandora_recorder.raw.format import file_name, parse_users
from pandora_simulator import SimChannel
from pandora_simulator.testing import wait_for


@dataclass
class RecorderProcess:
    process: asyncio.subprocess.Process
    stdout: Path
    stderr: Path

    async def recording_id(self) -> int:
        await wait_for(lambda: b"\n" in self.stdout.read_bytes(), timeout=30, what="the recording id line")
        return int(self.stdout.read_bytes().splitlines()[0])

    async def wait(self, timeout: float = 30) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)


async def start_recorder(scene: Scene, folder: Path, *extra: str, log_name: str = "recorder",
                         voice: SimChannel | None = None) -> RecorderProcess:
    env = {**os.environ, **scene.sim.connection_env(scene.bot), "PANDORA_LOG_LEVEL": "DEBUG"}
    voice = voice or scene.voice
    stdout, stderr = folder.parent / f"{log_name}.out", folder.parent / f"{log_name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pandora.cli", "record", "--guild", str(voice.guild.id),
            "--channel", str(voice.id), "--out", str(folder), *extra, stdout=out, stderr=err, env=env,
        )
    return RecorderProcess(process, stdout, stderr)


async def recorder_joined(scene: Scene, recorder: RecorderProcess) -> None:
    await wait_for(lambda: "state=recording" in recorder.stderr.read_text(), timeout=30,
                   what="the recorder to join voice")
    await scene.voice.wait_dave_settled()
    await asyncio.sleep(0.2)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_during_speech_loses_no_delivered_frame(scene: Scene, tmp_path: Path, signum: int) -> None:
    folder = tmp_path / "recordings"
    alice = scene.guild.add_member("alice")
    await alice.join_voice(scene.voice)
    recorder = await start_recorder(scene, folder)
    recording_id = await recorder.recording_id()
    await recorder_joined(scene, recorder)
    assert scene.guild.bot_nickname(scene.bot) == "[RECORDING] Pandora"
    speech = asyncio.create_task(alice.speak(seconds=3.0))
    await asyncio.sleep(1.5)
    sent_before_signal = len(alice.sent_frames)
    recorder.process.send_signal(signum)
    assert await recorder.wait() == 0
    await speech
    track = recorded_tracks(folder, recording_id)[alice.id]
    assert track == alice.sent_frames[: len(track)]  # in order, nothing missing in between
    assert len(track) >= sent_before_signal
    assert scene.guild.bot_nickname(scene.bot) is None  # restored
    assert scene.guild.voice_channel_of(scene.bot.id) is None  # left voice
    logs = recorder.stderr.read_text() + recorder.stdout.read_text()
    assert "recording finished" in logs
    assert scene.bot.token not in logs


async def test_sigkill_then_restart_on_the_same_id_continues_the_recording(scene: Scene, tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    alice = scene.guild.add_member("alice")
    await alice.join_voice(scene.voice)
    first = await start_recorder(scene, folder, "--id", "424242", log_name="first")
    assert await first.recording_id() == 424242
    await recorder_joined(scene, first)
    await alice.speak(seconds=1.0)
    speech = asyncio.create_task(alice.speak(seconds=2.0))
    await asyncio.sleep(1.0)
    sent_before_kill = len(alice.sent_frames)
    first.process.kill()
    assert await first.wait() == -signal.SIGKILL
    await speech

    second = await start_recorder(scene, folder, "--id", "424242", log_name="second")
    assert await second.recording_id() == 424242
    await recorder_joined(scene, second)
    assert scene.guild.bot_nickname(scene.bot) == "[RECORDING] Pandora"  # the killed recorder's, not doubled
    resumed_from = len(alice.sent_frames)
    await alice.speak(seconds=1.0)
    await asyncio.sleep(0.5)
    second.process.send_signal(signal.SIGTERM)
    assert await second.wait() == 0
    assert scene.guild.bot_nickname(scene.bot) is None  # restored to what it was before the first recorder

    files = sorted(path.name for path in folder.iterdir() if path.name.startswith("424242."))
    assert files == [file_name(424242, kind) for kind in ("data", "header1", "header2", "info", "users")]
    users = parse_users((folder / file_name(424242, "users")).read_bytes())
    assert [int(user["id"]) for user in users.values()] == [alice.id]  # one track, continued
    track = recorded_tracks(folder, 424242)[alice.id]
    sent = alice.sent_frames
    after_restart = sent[resumed_from:]
    before_kill = track[: len(track) - len(after_restart)]
    assert track[len(before_kill):] == after_restart  # everything after the restart, appended to the track
    assert before_kill == sent[: len(before_kill)]  # no gap before the kill
    assert len(before_kill) >= sent_before_kill - 50  # at most the last second before SIGKILL is lost


async def test_five_recorders_started_at_once_on_one_token_identify_within_max_concurrency(
        scene: Scene, tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    channels = [scene.voice] + [scene.sim.create_guild(f"Guild {n}", bots=[scene.bot]).create_voice_channel("General")
                                for n in range(2, 6)]  # one voice channel per guild and bot
    recorders = [await start_recorder(scene, folder, log_name=f"recorder{n}", voice=channel)
                 for n, channel in enumerate(channels)]
    for recorder in recorders:
        await wait_for(lambda recorder=recorder: "state=recording" in recorder.stderr.read_text(), timeout=90,
                       what="every recorder to join voice, one IDENTIFY slot after the other")
    limit = scene.sim.session_start_limit(scene.bot)
    assert limit.total - limit.remaining == 5
    assert scene.sim.invalid_sessions == []  # no op 9: never more than max_concurrency (1) IDENTIFYs per 5 s
    for recorder in recorders:
        recorder.process.send_signal(signal.SIGTERM)
    assert [await recorder.wait() for recorder in recorders] == [0] * 5


async def test_missing_token_is_refused(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PANDORA_TOKEN"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pandora.cli", "record", "--guild", "1", "--channel", "2", "--out", str(tmp_path),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 2
    assert b"PANDORA_TOKEN" in err
    assert out == b""
