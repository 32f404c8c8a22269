"""The recorder's login against the simulator's IDENTIFY limits: a crash loop stays inside what the backoff allows,
and the budget's reserve is never spent."""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

from recorder_testkit import Scene, recording

from pandora.discord_connection import DiscordConnection
from pandora.identify.restarts import FileStartHistory, starts_within
from pandora_recorder.commands.record import record
from pandora_recorder.pacing import recorder_pacer
from pandora_recorder.sinks.local import LocalFolderSink
from pandora_recorder.voice import SessionOptions, StopReason

sys.path.insert(0, str(Path(__file__).parents[2] / "core" / "identify"))

from fake_time import FakeTime

RECORDING_ID = 5150
HOUR = 3600.0
NO_SUCH_CHANNEL = 1  # the recorder logs in, finds no such voice channel and fails at once (exit 1)


async def start_failing_recorder(scene: Scene, folder: Path, clock: FakeTime) -> StopReason:
    """One process start: everything it knows of earlier starts comes from the folder."""
    env = scene.sim.connection_env(scene.bot)
    sink = LocalFolderSink(folder)
    try:
        return await record(
            env["PANDORA_TOKEN"], sink,
            SessionOptions(guild_id=scene.guild.id, channel_id=NO_SUCH_CHANNEL, recording_id=RECORDING_ID),
            connection=DiscordConnection.from_env(env), handle_signals=False,
            pacer=recorder_pacer(sink, env["PANDORA_TOKEN"], RECORDING_ID, clock=clock.time, sleep=clock.sleep),
        )
    finally:
        sink.close()


async def test_a_crash_looping_recorder_identifies_no_more_often_in_an_hour_than_the_backoff_allows(
        scene: Scene, tmp_path: Path) -> None:
    limit = scene.sim.session_start_limit(scene.bot)
    limit.window_seconds = 0  # the hour is simulated; the recorder's own slots still space IDENTIFYs 5.5 s apart
    folder, clock = tmp_path / "recordings", FakeTime(time.time())
    began, identified_at = clock.now, []
    while not identified_at or identified_at[-1] - began <= HOUR:  # restarted at once, forever, by this loop
        assert await start_failing_recorder(scene, folder, clock) is StopReason.CONNECT_FAILED
        history = FileStartHistory(folder, str(RECORDING_ID)).load()
        assert history is not None
        identified_at.append(history.last_start)
    in_the_hour = len(identified_at) - 1
    spent = limit.total - limit.remaining
    print(f"\ncrash-looping recorder: {in_the_hour} IDENTIFYs in one simulated hour "
          f"(backoff bound {starts_within(HOUR)}; without it about {int(HOUR / 5.5)})")
    assert spent == len(identified_at)  # the simulator saw one IDENTIFY per start, no more
    assert in_the_hour <= starts_within(HOUR)
    assert all(later - earlier >= 5.0 for earlier, later in itertools.pairwise(identified_at))
    assert scene.sim.token_resets == [] and scene.sim.invalid_sessions == []


async def test_a_recorder_does_not_log_in_when_the_identify_budget_is_down_to_its_reserve(
        scene: Scene, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    limit = scene.sim.session_start_limit(scene.bot)
    limit.remaining = 100  # of 1000: the recorders' reserve
    clock = FakeTime(time.time())
    assert await start_failing_recorder(scene, tmp_path, clock) is StopReason.CONNECT_FAILED
    assert limit.remaining == 100 and scene.sim.token_resets == []
    logged = capsys.readouterr()
    assert "100 of the bot's 1000 IDENTIFYs per 24 h remain" in logged.out + logged.err


async def test_a_recording_stopped_on_purpose_leaves_no_crash_count_for_the_next_start(
        scene: Scene, tmp_path: Path) -> None:
    alice = scene.guild.add_member("alice")
    await alice.join_voice(scene.voice)
    history = FileStartHistory(tmp_path, str(RECORDING_ID))
    async with recording(scene, tmp_path, recording_id=RECORDING_ID) as running:
        started = history.load()
        assert started is not None and started.failures == 1  # counts as a failure until it proves otherwise
        await alice.speak(seconds=0.5)
        assert await running.stop() is StopReason.REQUESTED
    stopped = history.load()
    assert stopped is not None and stopped.failures == 0 and stopped.next_start() == stopped.last_start
