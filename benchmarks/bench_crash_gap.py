"""Benchmark: the audio a SIGKILL of `pandora record` costs, and how fast received audio reaches the disk.

Against the simulator: alice talks without a pause; `pandora record --id` (a real process) records her, is SIGKILLed
at a random moment and restarted at once on the same id, ``--kills`` times. Kills come ``--kill-after`` seconds
after each start recorded: by default beyond the recorder's ``HEALTHY_AFTER``, so that each restart is an
isolated crash; closer kills show the crash-restart backoff and Discord's IDENTIFY window (one per 5 s) instead,
and the restarted process's log line for each such wait is counted in its phases. From the raw files, per kill:

- gap: the span of her speech missing from her track (last frame on disk before the kill -> first one after);
- unwritten at the kill: from the last frame that reached the disk to the kill (received, never written);
- restart: from the kill to her first frame the new process recorded, with the new process's phases read from
  its log (imports and storage, gateway READY, voice joined).

While each process records, the data file is polled every 10 ms: sent -> on disk latency per frame (a frame is
matched to its send time by its RTP timestamp, which the raw format keeps). Prints a line per kill and a summary.

    .venv/bin/python benchmarks/bench_crash_gap.py [--kills 5] [--kill-after 31 36] [--seed 1] [--recorder-python P]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pandora.logging import configure_logging
from pandora_recorder.raw.format import file_name
from pandora_recorder.raw.ogg import complete_length, read_pages
from pandora_simulator import DiscordSimulator, SimMember

RECORDING_ID = 777000777
FRAME = 0.020
SAMPLES_PER_FRAME = 960
POLL = 0.010
# The new process's log lines that end each start-up phase, in order (ours and discord.py's).
PHASES = (
    ("imports + storage", "recording storage"),
    ("paced", "waiting for an IDENTIFY slot"),
    ("backed off", "restarting after repeated failures"),
    ("gateway READY", "has connected to Gateway"),
    ("voice joined", "state=recording"),
)


class TimedFrames(list[bytes]):
    """``member.sent_frames`` that also keeps when each frame was sent (the simulator appends as it sends)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: list[float] = []

    def append(self, frame: bytes) -> None:
        self.sent_at.append(time.monotonic())
        super().append(frame)


@dataclass
class DiskTrack:
    """Alice's frames in the data file, read incrementally: sent-frame index of each, and when it was first seen."""

    path: Path
    first_timestamp: int
    offset: int = 0
    indexes: list[int] = field(default_factory=list)
    seen_at: list[float] = field(default_factory=list)

    def poll(self) -> None:
        try:
            with self.path.open("rb") as data:
                data.seek(self.offset)
                tail = data.read()
        except FileNotFoundError:
            return
        whole = complete_length(tail)
        self.offset += whole
        now = time.monotonic()
        for page in read_pages(tail[:whole]):
            if page.packets == (b"",):  # the timestamp page after each audio page: its granule is the RTP timestamp
                self.indexes.append(((page.granule - self.first_timestamp) % (1 << 32)) // SAMPLES_PER_FRAME)
                self.seen_at.append(now)

    async def wait_beyond(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.indexes) <= count:
            if time.monotonic() > deadline:
                raise TimeoutError("the recorder recorded nothing")
            self.poll()
            await asyncio.sleep(POLL)


@dataclass
class Kill:
    unwritten: float
    restart: float
    gap: float
    phases: list[tuple[str, float]]
    cpu: float  # CPU seconds the new process had used when its first frame reached the disk


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def keep_talking(member: SimMember, stop: asyncio.Event) -> None:
    # Short bursts back to back: every burst announces her SSRC (op 5) to a recorder that joined meanwhile. No
    # silence frames between them: she talks without a pause, and every RTP timestamp is a frame in ``sent_frames``.
    while not stop.is_set():
        await member.speak(seconds=0.2, silence_frames=0)


def log_times(stderr: Path) -> list[tuple[str, float]]:
    """(line, monotonic time) for each timestamped line of a recorder's log."""
    offset = time.time() - time.monotonic()
    lines = []
    for line in stderr.read_text(errors="replace").splitlines():
        stamp = line.split(" ", 1)[0]
        try:
            at = datetime.fromisoformat(stamp).timestamp() - offset
        except ValueError:
            continue
        lines.append((line, at))
    return lines


def phases_of(stderr: Path, spawned: float) -> list[tuple[str, float]]:
    lines = log_times(stderr)
    found = []
    for name, marker in PHASES:
        at = next((at for line, at in lines if marker in line), None)
        if at is not None:
            found.append((name, at - spawned))
    return found


async def start(python: str, env: dict[str, str], folder: Path, guild: int, channel: int,
                number: int) -> tuple[asyncio.subprocess.Process, Path, float]:
    stderr = folder.parent / f"recorder-{number}.err"
    spawned = time.monotonic()
    with stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            python, "-m", "pandora.cli", "record", "--guild", str(guild), "--channel", str(channel),
            "--out", str(folder), "--id", str(RECORDING_ID), stdout=asyncio.subprocess.DEVNULL, stderr=err, env=env)
    return process, stderr, spawned


async def run(kills: int, kill_after: tuple[float, float], seed: int, python: str) -> int:
    rng = random.Random(seed)
    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild = sim.create_guild("Guild", bots=[bot])
        voice = guild.create_voice_channel("General")
        alice = guild.add_member("alice")
        await alice.join_voice(voice)
        sent = TimedFrames()
        alice.sent_frames = sent
        first_timestamp = sim.voice.room(voice.id).simulated[alice.id].timestamp
        env = {**os.environ, **sim.connection_env(bot), "PANDORA_LOG_LEVEL": "INFO"}
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary) / "recordings"
            disk = DiskTrack(folder / file_name(RECORDING_ID, "data"), first_timestamp)
            stop_talking = asyncio.Event()
            talking = asyncio.create_task(keep_talking(alice, stop_talking))
            latencies: list[float] = []
            results: list[Kill] = []
            killed_at = 0.0
            process, stderr, spawned = await start(python, env, folder, guild.id, voice.id, 0)
            for number in range(kills + 1):
                before = len(disk.indexes)
                await disk.wait_beyond(before)
                if number:
                    results[-1].cpu = cpu_seconds(process.pid)
                    results[-1].phases = phases_of(stderr, spawned)
                    results[-1].restart = sent.sent_at[disk.indexes[before]] - killed_at
                    results[-1].gap = (sent.sent_at[disk.indexes[before]] - sent.sent_at[disk.indexes[before - 1]]
                                       - FRAME)
                recording_until = time.monotonic() + (rng.uniform(*kill_after) if number < kills else 1.0)
                while time.monotonic() < recording_until:
                    seen = len(disk.indexes)
                    disk.poll()
                    latencies += [at - sent.sent_at[index]
                                  for index, at in zip(disk.indexes[seen:], disk.seen_at[seen:], strict=True)]
                    await asyncio.sleep(POLL)
                if number == kills:
                    break
                process.kill()
                killed_at = time.monotonic()
                await process.wait()
                disk.poll()
                last = disk.indexes[-1]
                results.append(Kill(unwritten=killed_at - sent.sent_at[last], restart=0.0, gap=0.0, phases=[], cpu=0.0))
                process, stderr, spawned = await start(python, env, folder, guild.id, voice.id, number + 1)
            process.send_signal(signal.SIGTERM)
            await process.wait()
            stop_talking.set()
            await talking

    print(f"{kills} SIGKILLs of `pandora record --id`, each restarted at once; alice talks throughout")
    for number, kill in enumerate(results, 1):
        phases = ", ".join(f"{name} {at:.2f} s" for name, at in kill.phases)
        print(f"  kill {number}: gap {kill.gap:.2f} s = unwritten {kill.unwritten:.2f} s + restart {kill.restart:.2f} s"
              f" (new process: {phases}; {kill.cpu:.2f} s CPU)")
    gaps = [kill.gap for kill in results]
    print(f"gap                   median {statistics.median(gaps):.2f} s, max {max(gaps):.2f} s")
    print(f"unwritten at the kill median {statistics.median(k.unwritten for k in results):.2f} s, "
          f"max {max(k.unwritten for k in results):.2f} s")
    print(f"restart to recording  median {statistics.median(k.restart for k in results):.2f} s, "
          f"max {max(k.restart for k in results):.2f} s")
    latencies.sort()
    print(f"CPU of the new process until recording: median {statistics.median(k.cpu for k in results):.2f} s")
    print(f"sent -> on disk       median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms "
          f"({len(latencies)} frames, polled every {POLL * 1000:.0f} ms)")
    print(f"load average          {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--kill-after", type=float, nargs=2, default=(31.0, 36.0), metavar=("MIN", "MAX"),
                        help="seconds after each start recorded, drawn uniformly")
    parser.add_argument("--seed", type=int, default=1, help="of the kill moments")
    parser.add_argument("--recorder-python", default=sys.executable,
                        help="the interpreter that runs `pandora record` (default: this one). A development install "
                             "imports more (rich through structlog, the editable finder): for the figure a user gets, "
                             "give one from `python -m venv V && V/bin/pip install '.[recorder]'`, as the image has")
    args = parser.parse_args()
    configure_logging("WARNING")
    return asyncio.run(run(args.kills, tuple(args.kill_after), args.seed, args.recorder_python))


if __name__ == "__main__":
    sys.exit(main())
