"""``pandora sim serve``: a standalone simulator a separate client process connects to."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sim_clients import TappedVoiceClient, running_client

from pandora_simulator import DiscordSimulator, SimBot
from pandora_simulator.scenario import Scenario, build
from pandora_simulator.testing import wait_for

PANDORA = [sys.executable, "-m", "pandora.cli"]


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    process = await asyncio.create_subprocess_exec(
        *PANDORA, "sim", "serve", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PANDORA_LOG_LEVEL": "WARNING"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not any(line.startswith("#   member 'bob'") for line in lines):
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert line, f"pandora sim serve exited early: {lines}"
        lines.append(line.decode().rstrip("\n"))
    return process, lines


async def test_serve_prints_the_connection_settings_and_members_talk(tmp_path: Path) -> None:
    env_file = tmp_path / "sim.env"
    process, lines = await _start("--members", "alice,bob", "--speak", "--env-file", str(env_file))
    try:
        env = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
        assert set(env) == {"PANDORA_DISCORD_API_URL", "PANDORA_DISCORD_GATEWAY_URL", "PANDORA_DISCORD_CA_FILE",
                            "PANDORA_TOKEN"}
        assert env_file.read_text().splitlines() == [f"{k}={v}" for k, v in env.items()]
        ids = {line.split("'")[1]: int(line.split("id=")[1].split()[0]) for line in lines if "id=" in line}
        # a client in this process, configured only from the printed settings, joins and hears alice's tone
        remote = _RemoteSimulator(env)
        bot = SimBot(id=0, name="Pandora", bot=True, token=env["PANDORA_TOKEN"])
        guild = _RemoteGuild(id=ids["Guild"])
        async with running_client(remote, bot, [guild]) as client:  # type: ignore[arg-type,list-item]
            vc = await client.get_channel(ids["General"]).connect(cls=TappedVoiceClient)
            await wait_for(lambda: len(vc.decrypted_frames().get(ids["alice"], [])) >= 10, timeout=10,
                           what="alice talking")
            assert set(vc.ssrc_users.values()) >= {ids["alice"], ids["bob"]}
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 0


@dataclass
class _RemoteGuild:
    """What ``running_client`` reads of a guild."""

    id: int


class _RemoteSimulator:
    """Just enough of a DiscordSimulator for ``running_client``: the settings read from the command's output."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def connection_env(self, bot: SimBot | None = None) -> dict[str, str]:
        return dict(self.env)


async def test_scenario_file_builds_guilds_channels_and_members(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "bots: [Recorder, Commands]\n"
        "guilds:\n"
        "  - name: One\n"
        "    voice_channels: [Stage, Lounge]\n"
        "    members:\n"
        "      - {name: alice, voice: Lounge}\n"
        "      - bob\n"
        "  - name: Two\n"
        "    bots: [Recorder]\n"
    )
    async with DiscordSimulator() as sim:
        built = await build(sim, Scenario.load(path))
        one, two = built.guilds["One"], built.guilds["Two"]
        assert [b.name for b in one.bots] == ["Recorder", "Commands"] and [b.name for b in two.bots] == ["Recorder"]
        assert sorted(c.name for c in one.channels.values()) == ["Lounge", "Stage", "chat"]
        assert built.members[("One", "alice")].channel is built.channels[("One", "Lounge")]
        assert built.members[("One", "bob")].channel is None
        assert one.voice_channel_of(built.members[("One", "alice")].id) == built.channels[("One", "Lounge")].id


def test_sim_without_action_is_a_usage_error() -> None:
    from pandora.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sim"])
    assert exit_info.value.code == 2


def test_flags_describe_guilds_bots_and_members() -> None:
    import argparse

    from pandora_simulator.commands import configure, scenario_from_args

    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(["serve", "--guilds", "One,Two", "--bot", "Recorder", "--bot", "Commands",
                              "--members", "alice, bob", "--speak"])
    scenario = scenario_from_args(args)
    assert scenario.bots == ["Recorder", "Commands"]
    assert [g.name for g in scenario.guilds] == ["One", "Two"]
    assert [(m.name, m.voice, m.speak) for m in scenario.guilds[1].members] == [
        ("alice", "General", True), ("bob", "General", True)]
