"""`pandora record` as a child process on the stage's channel: started, SIGKILLed and restarted on the same
`--id`, stopped with SIGTERM, its peak memory (VmHWM) sampled over every life, its output kept in the run folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pandora_simulator import DiscordSimulator, SimBot, SimChannel, SimGuild
from pandora_simulator.testing import wait_for
from pandora_simulator.voice_connection import VoiceConnection

SAMPLE_EVERY = 0.25
# The interpreter that runs `pandora record` (chaos.py --recorder-python): by default the harness's own, a development
# install, which imports more at start-up (rich through structlog, the editable finder) than the image's does.
PYTHON_ENV = "PANDORA_CHAOS_RECORDER_PYTHON"


@dataclass
class Life:
    """One process of the recorder."""

    started: float
    process: asyncio.subprocess.Process
    log: Path
    stale: VoiceConnection | None  # the bot's voice connection when it started (a killed life's, still seated a while)
    exit_code: int | None = None


@dataclass
class RecorderProcess:
    sim: DiscordSimulator
    bot: SimBot
    guild: SimGuild
    voice: SimChannel
    recording_id: int
    run_dir: Path
    env: dict[str, str]  # storage environment (Dapr, spill folder) on top of the simulator's
    args: list[str] = field(default_factory=list)  # e.g. ["--storage", "local", "--out", DIR]
    lives: list[Life] = field(default_factory=list)
    peak_rss_kib: int = 0
    tokens: set[str] = field(default_factory=set)  # every token a life was given (the simulator may replace it)
    _sampler: asyncio.Task[None] | None = None

    @property
    def current(self) -> Life:
        return self.lives[-1]

    def _connection(self) -> VoiceConnection | None:
        return self.sim.voice.room(self.voice.id).clients.get(self.bot.id)

    async def start(self) -> None:
        """A new life on the same --id (a restart after a kill resumes the recording)."""
        log = self.run_dir / f"recorder-{len(self.lives) + 1:02d}.log"
        env = {**os.environ, **self.sim.connection_env(self.bot), **self.env}
        stale = self._connection()
        self.tokens.add(self.bot.token)
        if self.lives and self.current.exit_code is None:
            self.current.exit_code = self.current.process.returncode  # it ended by itself
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                os.environ.get(PYTHON_ENV, sys.executable), "-m", "pandora.cli", "record",
                "--guild", str(self.guild.id), "--channel", str(self.voice.id), "--id", str(self.recording_id),
                *self.args,
                env=env, cwd=self.run_dir, stdout=out, stderr=asyncio.subprocess.STDOUT)
        self.lives.append(Life(time.monotonic(), process, log, stale))
        if self._sampler is None:
            self._sampler = asyncio.create_task(self._sample())

    async def wait_recording(self, timeout: float = 60) -> float:
        """Until the simulator sees this life's own voice connection ready and DAVE settled; when that was."""
        life = self.current

        def connected() -> bool:
            connection = self._connection()
            return connection is not None and connection is not life.stale and connection.ready_for_media

        await wait_for(lambda: life.process.returncode is not None or connected(), timeout=timeout,
                       what="the recorder to join voice")
        if life.process.returncode is not None:
            raise RuntimeError(f"the recorder exited {life.process.returncode}; see {life.log}")
        await self.voice.wait_dave_settled(timeout=timeout)
        return time.monotonic()

    async def kill(self) -> float:
        """SIGKILL the current life; when it happened."""
        life = self.current
        life.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        life.exit_code = await life.process.wait()
        return killed

    async def stop(self, timeout: float = 90) -> int:
        """SIGTERM and wait for the exit code."""
        life = self.current
        if life.process.returncode is None:
            life.process.send_signal(signal.SIGTERM)
        try:
            life.exit_code = await asyncio.wait_for(life.process.wait(), timeout)
        except TimeoutError:
            life.process.kill()
            life.exit_code = await life.process.wait()
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self._sampler = None  # a later start() samples again
        return life.exit_code

    async def _sample(self) -> None:
        while True:
            life = self.current
            if life.process.returncode is None:
                self.peak_rss_kib = max(self.peak_rss_kib, _peak_rss_kib(life.process.pid))
            await asyncio.sleep(SAMPLE_EVERY)

    def stop_reason(self) -> str:
        """Why the current life stopped, from its `recording N stopped (reason); ...` line, or its last line."""
        lines = self.current.log.read_text(errors="replace").splitlines()
        stopped = [line for line in lines if line.startswith("recording ") and " stopped (" in line]
        if stopped:
            return stopped[-1].split(" stopped (", 1)[1].split(")", 1)[0]
        return (lines or ["no output"])[-1][:200]

    def output(self) -> str:
        return "".join(life.log.read_text(errors="replace") for life in self.lives)


def _peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0
