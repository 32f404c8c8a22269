"""Scenarios as data: a small YAML/JSON description of bots, guilds, channels and members, built on a simulator.

::

    bots: [Pandora]
    guilds:
      - name: Guild
        bots: [Pandora]                # default: every bot
        voice_channels: [General]      # default: [General]
        text_channels: [chat]          # default: [chat]
        members:
          - name: alice
            voice: General             # joins this voice channel at start
            speak: true                # then talks (its own tone) in a loop: 2 s on, 1 s off
          - bob
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pandora_simulator.logs import log
from pandora_simulator.model import SimBot, SimChannel, SimGuild, SimMember
from pandora_simulator.simulator import DiscordSimulator


@dataclass
class MemberSpec:
    name: str
    voice: str | None = None
    speak: bool = False


@dataclass
class GuildSpec:
    name: str
    bots: list[str] | None = None
    voice_channels: list[str] = field(default_factory=lambda: ["General"])
    text_channels: list[str] = field(default_factory=lambda: ["chat"])
    members: list[MemberSpec] = field(default_factory=list)


@dataclass
class Scenario:
    bots: list[str] = field(default_factory=lambda: ["Pandora"])
    guilds: list[GuildSpec] = field(default_factory=lambda: [GuildSpec("Guild")])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        guilds = []
        for raw in data.get("guilds") or [{"name": "Guild"}]:
            members = [MemberSpec(name=m) if isinstance(m, str) else MemberSpec(**m) for m in raw.get("members") or []]
            guilds.append(GuildSpec(
                name=str(raw["name"]),
                bots=raw.get("bots"),
                voice_channels=list(raw.get("voice_channels") or ["General"]),
                text_channels=list(raw.get("text_channels") or ["chat"]),
                members=members,
            ))
        return cls(bots=list(data.get("bots") or ["Pandora"]), guilds=guilds)

    @classmethod
    def load(cls, path: Path) -> Scenario:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return cls.from_dict(data or {})


@dataclass
class BuiltScenario:
    """What :func:`build` made, by name."""

    bots: dict[str, SimBot]
    guilds: dict[str, SimGuild]
    channels: dict[tuple[str, str], SimChannel]
    members: dict[tuple[str, str], SimMember]
    speakers: list[SimMember]

    def describe(self) -> list[str]:
        lines = []
        for name, guild in self.guilds.items():
            lines.append(f"guild {name!r} id={guild.id}")
            for channel in guild.channels.values():
                kind = "voice" if channel.is_voice else "text"
                lines.append(f"  {kind} channel {channel.name!r} id={channel.id}")
            for member in guild.members.values():
                where = f" in {member.channel.name!r}" if member.channel else ""
                lines.append(f"  member {member.name!r} id={member.id} tone={member.tone_hz:.0f} Hz{where}")
        return lines


async def build(sim: DiscordSimulator, scenario: Scenario) -> BuiltScenario:
    bots = {name: sim.create_bot(name) for name in scenario.bots}
    built = BuiltScenario(bots=bots, guilds={}, channels={}, members={}, speakers=[])
    for spec in scenario.guilds:
        chosen = [bots[name] for name in spec.bots] if spec.bots is not None else list(bots.values())
        guild = sim.create_guild(spec.name, bots=chosen)
        built.guilds[spec.name] = guild
        for name in spec.voice_channels:
            built.channels[(spec.name, name)] = guild.create_voice_channel(name)
        for name in spec.text_channels:
            built.channels[(spec.name, name)] = guild.create_text_channel(name)
        for member_spec in spec.members:
            member = guild.add_member(member_spec.name)
            built.members[(spec.name, member_spec.name)] = member
            if member_spec.voice is not None:
                await member.join_voice(built.channels[(spec.name, member_spec.voice)])
                if member_spec.speak:
                    built.speakers.append(member)
    return built


async def talk_in_a_loop(member: SimMember, on_seconds: float = 2.0, off_seconds: float = 1.0) -> None:
    """Keep a member talking in real time (for demos against a live recorder) until cancelled."""
    while True:
        if member.channel is not None:
            try:
                await member.speak(seconds=on_seconds, realtime=True)
            except TimeoutError:
                log.warning("member could not speak (DAVE not ready)", member=member.name)
        await asyncio.sleep(off_seconds)
