"""The original Pandora's docker-compose environment, unchanged, drives ``pandora bot``: text commands on, slash
commands off with ``DISABLE_INTERACTION``, the bot's state in the real Dapr state store ``statestore`` (daprd +
Redis), and a killed bot continuing the same recording."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.request
from pathlib import Path

import pytest
from bot_testkit import next_bot_text, restart_speak_and_end, start_bot_process, started_id
from recorder_testkit import recorded_tracks

from pandora_frontdoor.local.state import STATE_FILE, STATE_KEY
from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world, wait_for
from pandora_testenv.services import Daprd

pytestmark = [pytest.mark.dapr, pytest.mark.timeout(180)]


def saved_state(daprd: Daprd) -> dict:
    with urllib.request.urlopen(f"{daprd.http_endpoint}/v1.0/state/statestore/{STATE_KEY}", timeout=5) as reply:
        body = reply.read()
    return json.loads(body) if body else {}


async def test_the_original_compose_environment_with_a_dapr_state_store(original_daprd: Daprd, tmp_path: Path):
    out, log = tmp_path / "rec", tmp_path / "bot.log"
    async with DiscordSimulator() as sim:
        world = await small_world(sim, "alice", in_voice=1)
        (alice,) = world.members
        world.guild.owner_id = alice.id
        world.bot.commands[:] = [{"id": "1", "name": "record", "type": 1}]  # left by an earlier deployment
        original = {  # the original's docker-compose `environment:`, with its ${...} filled in
            "PANDORA_TOKEN": world.bot.token,
            "COMMAND_PREFIX": "!",
            "STORE_NAME": "statestore",
            "DAPR_SERVER_PORT": "50053",
            "DAPR_HTTP_PORT": str(original_daprd.http_port),
            "NODE_ENV": "production",
            "DISABLE_INTERACTION": "true",
        }
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}, **original,
               **{k: v for k, v in sim.connection_env(world.bot).items() if k != "PANDORA_TOKEN"}}
        first = await start_bot_process(env, out, log)
        try:
            await wait_for(lambda: "front door ready" in log.read_text(), timeout=40, what="the bot to start")
            assert world.bot.commands == []  # interactions off: the stale command is gone
            await alice.send_message(world.text, "!record")
            recording_id = started_id(await next_bot_text(sim, world.bot, world.text, 0))
            saved = await asyncio.to_thread(saved_state, original_daprd)
            assert [r["recordingId"] for r in saved["recordings"]] == [str(recording_id)]
            assert not (out / STATE_FILE).exists()  # the state lives in Dapr, not in the folder
            await world.voice.wait_dave_settled()
            await alice.speak(seconds=0.6)
            await asyncio.sleep(0.8)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        finally:
            if first.returncode is None:
                first.kill()
        resumed, summary = await restart_speak_and_end(sim, world, env, out, log)
        assert resumed.startswith(f"Recording {recording_id} continues in <#{world.voice.id}> after a restart")
        assert summary.startswith(f"Recording {recording_id} ended after ")
        assert (await asyncio.to_thread(saved_state, original_daprd))["recordings"] == []
        assert recorded_tracks(out, recording_id) == {alice.id: alice.sent_frames}
        assert world.bot.token not in log.read_text()
