"""``pandora bot`` with ``OBJECT_STORE_NAME`` and ``STORE_NAME`` naming Dapr components: the recording goes to S3 as
chunk objects, and the end summary's own commands (``pandora fetch`` then ``pandora cook``) get it back."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from bot_testkit import start_bot_process, started_id, type_command
from recorder_testkit import recorded_tracks

from pandora_frontdoor.local.state import STATE_FILE
from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world, wait_for
from pandora_testenv.services import OBJECT_STORE, STATE_STORE

pytestmark = pytest.mark.timeout(120)


async def test_recordings_go_through_the_dapr_binding_and_the_summary_says_how_to_get_them(
    daprd, dapr_env, tmp_path: Path
) -> None:
    prefix = f"bot-{uuid.uuid4().hex[:8]}/"
    out, log = tmp_path / "rec", tmp_path / "bot.log"
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        world.guild.owner_id = alice.id
        env = {**os.environ, **dapr_env, **sim.connection_env(world.bot), "COMMAND_PREFIX": "!",
               "OBJECT_STORE_NAME": OBJECT_STORE, "STORE_NAME": STATE_STORE, "PANDORA_STORAGE_PREFIX": prefix}
        bot = await start_bot_process(env, out, log)
        try:
            await wait_for(lambda: "front door ready" in log.read_text(), timeout=40, what="the bot to start")
            recording_id = started_id(await type_command(sim, world.bot, alice, world.text, "!record"))
            await world.voice.wait_dave_settled()
            await alice.speak(seconds=0.8)
            await asyncio.sleep(0.3)
            summary = await type_command(sim, world.bot, alice, world.text, "!end")
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 30)
    location = f"dapr://{OBJECT_STORE}/{prefix}{recording_id}/"
    head, files = summary.splitlines()
    assert head.startswith(f"Recording {recording_id} ended after ") and head.endswith(", 1 speaker: alice.")
    assert files.startswith(f"Files: `{location}`. Get them with `pandora fetch {recording_id} ")
    assert not list(out.glob(f"{recording_id}.ogg.*")) and not (out / STATE_FILE).exists()  # nothing local
    # Run the commands the summary gives, as a user would (the Dapr environment of the sidecar in theirs).
    for command in re.findall(r"`(pandora [^`]+)`", files):
        args = shlex.split(command)[1:]
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "pandora.cli", *args], cwd=tmp_path,
                                       env={**os.environ, **dapr_env}, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        if args[0] == "fetch":
            assert recorded_tracks(tmp_path / str(recording_id), recording_id) == {alice.id: alice.sent_frames}
    assert list((tmp_path / str(recording_id)).glob(f"{recording_id}-1-*.flac"))  # cooked: one file per speaker
