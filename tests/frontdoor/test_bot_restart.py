"""``pandora bot`` as a process: killed or stopped mid-recording, it continues the same recording when restarted."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from bot_testkit import bot_texts, next_bot_text, restart_speak_and_end, start_bot_process, started_id
from recorder_testkit import recorded_tracks

from pandora_frontdoor.local.state import STATE_FILE
from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world, wait_for


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
async def test_a_restarted_bot_continues_the_same_recording(tmp_path: Path, signum: int) -> None:
    out, log = tmp_path / "recordings", tmp_path / "bot.log"
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        world.guild.owner_id = alice.id
        env = {**os.environ, **sim.connection_env(world.bot), "COMMAND_PREFIX": "!", "DISABLE_INTERACTIONS": "1"}
        first = await start_bot_process(env, out, log)
        try:
            await wait_for(lambda: "front door ready" in log.read_text(), timeout=30, what="the bot to start")
            await alice.send_message(world.text, "!record")
            recording_id = started_id(await next_bot_text(sim, world.bot, world.text, 0))
            await world.voice.wait_dave_settled()
            await alice.speak(seconds=0.6)
            await asyncio.sleep(0.8)  # the writer flushes every 0.5 s
            first.send_signal(signum)
            assert await asyncio.wait_for(first.wait(), 30) == (-signal.SIGKILL if signum == signal.SIGKILL else 0)
        finally:
            if first.returncode is None:
                first.kill()
        assert str(recording_id) in (out / STATE_FILE).read_text()

        resumed, summary = await restart_speak_and_end(sim, world, env, out, log)
        assert resumed == (f"Recording {recording_id} continues in <#{world.voice.id}> after a restart of the "
                           "bot (same id, same files). `!end` stops it.")
        assert summary.startswith(f"Recording {recording_id} ended after ")
        # Before the stop (all on disk: the writer flushes every 0.5 s) and after the restart, in one track.
        assert len(alice.sent_frames) == 60
        assert recorded_tracks(out, recording_id) == {alice.id: alice.sent_frames}
        assert (out / STATE_FILE).read_text() == '{"recordings":[]}'
        assert len(bot_texts(sim, world.bot, world.text)) == 3
        assert world.bot.token not in log.read_text()
