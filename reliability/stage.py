"""Where a scenario plays: a fresh simulated Discord (bot, guild, voice channel, members), the storage the recorder
writes to, the members' talk and the recorder process; and, at the end, the figures.

Storage is a local folder (standalone `pandora record`, as the crash-gap target is stated) or Dapr: one daprd for
the whole run, on a Redis and a moto bucket that `pandora_testenv.outages` can take away, each scenario under a
key prefix of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from measure import Fault, SpeakerFigures, Speech, figures, stored_frames
from pandora_recorder.sinks.spill import ENV_SPILL_DIR
from pandora_simulator import DiscordSimulator, FaultPlan, SimMember
from pandora_testenv.outages import OutageStack, start_outage_stack
from pandora_testenv.services import OBJECT_STORE, start_s3
from recorder import RecorderProcess
from talk import Talk
from token_scan import leaks, leaks_in, scanned_files

# After the last burst, before SIGTERM: the last datagrams are read and pass the reorder hold (a stop closes the
# voice socket first, so what is still in flight then is not the recorder's loss to count).
SETTLE_SECONDS = 1.0
NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")


class DaprStorage:
    """daprd + Redis + moto for the whole run; `stack.link` and `stack.redis` take the stores away."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.s3 = start_s3(run_dir)
        self.stack: OutageStack = start_outage_stack(run_dir, self.s3, "chaos")

    def recorder_env(self, prefix: str, spill_dir: Path) -> dict[str, str]:
        return {**self.stack.daprd.env(), "PANDORA_STORAGE_BINDING": OBJECT_STORE, "PANDORA_STORAGE_PREFIX": prefix,
                ENV_SPILL_DIR: str(spill_dir)}

    def close(self) -> None:
        self.stack.close()
        with contextlib.suppress(Exception):
            if self.s3.process.popen is not None:
                self.s3.process.popen.kill()


@dataclass
class Result:
    scenario: str
    seconds: float
    speakers: list[SpeakerFigures]
    peak_rss_mib: float
    faults: list[Fault] = field(default_factory=list)  # (injected, recording again), time.monotonic()
    fault_labels: list[str] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    target: str = ""
    passed: bool | None = None
    started: float = 0.0  # monotonic time of the first frame sent: the origin of the times in notes
    token_leaks: list[str] = field(default_factory=list)  # `path:line` of everything collected holding the token
    token_scanned_files: int = 0

    @property
    def sent(self) -> int:
        return sum(speaker.sent for speaker in self.speakers)

    @property
    def stored(self) -> int:
        return sum(speaker.stored for speaker in self.speakers)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """A result as `chaos.py` wrote it to results.jsonl."""
        speakers = [SpeakerFigures(**{**speaker, "lost_runs": [tuple(run) for run in speaker["lost_runs"]]})
                    for speaker in data["speakers"]]
        return cls(**{**data, "speakers": speakers, "faults": [tuple(fault) for fault in data["faults"]]})

    def fault_gaps(self) -> list[float]:
        """Per fault, the most audio one speaker lost to it (seconds)."""
        gaps = [speaker.fault_gaps for speaker in self.speakers if speaker.fault_gaps]
        return [max(column) for column in zip(*gaps, strict=True)] if gaps else []


class Launcher(Protocol):
    """Who starts the recorder and stops it: the harness itself (`Direct`), or an operator on a control plane
    (`cluster.OnCluster`, which gives each life the recording id and arguments of its pod)."""

    async def start(self, recorder: RecorderProcess) -> None: ...

    async def stop(self, recorder: RecorderProcess) -> None: ...

    def private(self) -> list[Path]:
        """Folders that hold the token by design (etcd's data, with the bot pool Secret): not scanned."""
        ...


class Direct:
    """`pandora record` started by the harness, stopped with SIGTERM."""

    async def start(self, recorder: RecorderProcess) -> None:
        await recorder.start()
        await recorder.wait_recording()

    async def stop(self, recorder: RecorderProcess) -> None:
        await recorder.stop()

    def private(self) -> list[Path]:
        return []


@dataclass
class Stage:
    sim: DiscordSimulator
    members: list[SimMember]
    recorder: RecorderProcess
    talk: Talk
    storage: DaprStorage | None
    prefix: str
    out: Path
    rng: random.Random
    faults: list[Fault] = field(default_factory=list)
    fault_labels: list[str] = field(default_factory=list)
    network_lost: dict[int, int] = field(default_factory=dict)  # user id -> packets the fault plan dropped
    private: list[Path] = field(default_factory=list)  # not scanned for the token (see `Launcher.private`)

    def fault(self, label: str) -> None:
        """A fault is injected now; `recovered()` says when the recorder records again."""
        now = time.monotonic()
        self.faults.append((now, now))
        self.fault_labels.append(label)

    def recovered(self) -> None:
        self.faults[-1] = (self.faults[-1][0], time.monotonic())

    def files(self) -> dict[str, bytes]:
        recording_id = self.recorder.recording_id
        if self.storage is None:
            return {path.name: path.read_bytes() for path in self.out.glob(f"{recording_id}.ogg.*")}
        return self.storage.stack.files(f"{self.prefix}{recording_id}/")

    def count_network_losses(self) -> None:
        """Add what the fault plan dropped toward the recorder's current voice connection (call before it goes)."""
        room = self.sim.voice.room(self.recorder.voice.id)
        connection = room.clients.get(self.recorder.bot.id)
        if connection is None:
            return
        for member in self.members:
            seat = room.simulated.get(member.id)
            injector = connection.injectors.get(seat.ssrc) if seat is not None else None
            if injector is not None:
                self.network_lost[member.id] = self.network_lost.get(member.id, 0) + injector.stats["lost"]

    def result(self, scenario: str, seconds: float, speeches: list[Speech]) -> Result:
        """The figures, and a scan of everything collected so far under the run folder (every scenario's
        recorder output, simulator, daprd and Redis logs, spill files, recordings) for this bot's token."""
        files = self.files()
        stored = stored_frames(files, self.recorder.recording_id)
        speakers = [figures(speech, stored.get(speech.user_id, []), self.faults, self.network_lost.get(
            speech.user_id, 0)) for speech in speeches]
        started = min((speech.frames[0].time for speech in speeches if speech.frames), default=0.0)
        run_dir = self.recorder.run_dir.parent
        found = leaks([run_dir], self.recorder.tokens, skip=self.private) + [
            f"stored object {name}" for name, data in files.items() if leaks_in(data, self.recorder.tokens)]
        return Result(scenario, seconds, speakers, self.recorder.peak_rss_kib / 1024, list(self.faults),
                      list(self.fault_labels), [life.exit_code for life in self.recorder.lives], started=started,
                      token_leaks=found, token_scanned_files=scanned_files([run_dir], skip=self.private) + len(files))


@contextlib.asynccontextmanager
async def on_stage(name: str, run_dir: Path, *, speakers: int, seed: int, storage: DaprStorage | None,
                faults: FaultPlan | None = None, extra_members: int = 0,
                launcher: Launcher | None = None) -> AsyncIterator[Stage]:
    """A recording of `speakers` talking members (plus `extra_members` silent ones, not in voice), recorded by
    `pandora record` into `storage` (None: a local folder), started and stopped by `launcher` (default: `Direct`).
    Yields once the recorder records and everybody talks; on leaving, the members finish their bursts and the
    recorder is stopped."""
    rng = random.Random(seed)
    scenario_dir = run_dir / name
    scenario_dir.mkdir(parents=True, exist_ok=True)
    recording_id = rng.randrange(10**8, 10**9)
    prefix = f"{name}/"
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild = sim.create_guild("Guild", bots=[bot])
        voice = guild.create_voice_channel("General")
        members = [guild.add_member(NAMES[index % len(NAMES)]) for index in range(speakers + extra_members)]
        for member in members[:speakers]:
            await member.join_voice(voice)
        if faults is not None:
            voice.faults = faults
        if storage is None:
            env, args = {}, ["--storage", "local", "--out", str(scenario_dir / "recording")]
        else:
            env, args = storage.recorder_env(prefix, scenario_dir / "spill"), ["--storage", "dapr"]
        recorder = RecorderProcess(sim, bot, guild, voice, recording_id, scenario_dir, env, args)
        launcher = launcher or Direct()
        await launcher.start(recorder)
        talk = Talk(sim, members[:speakers], rng.randrange(1 << 30))
        talk.start()
        scene = Stage(sim, members, recorder, talk, storage, prefix, scenario_dir / "recording", rng,
                      private=launcher.private())
        try:
            yield scene
        finally:
            await talk.stop()
            scene.count_network_losses()
            await asyncio.sleep(SETTLE_SECONDS)
            await launcher.stop(recorder)
