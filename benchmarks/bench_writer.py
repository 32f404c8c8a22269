"""Writer benchmark: 99 speakers x N packets through RawRecordingWriter into a LocalFolderSink.

Prints µs per packet (on the submitting thread, and all work of both threads), % of one core at the real-time
rate (50 packets a second per speaker) and peak RSS. Importable: `bench_writer()` returns the numbers so the
combined receive + write benchmark can reuse it.

    .venv/bin/python benchmarks/bench_writer.py [--speakers 99] [--packets 1500] [--dir DIR] [--fsync]
        [--realtime] [--flush-interval S]

``--realtime`` submits a tick every 20 ms and lets the writer flush on its own clock (every ``--flush-interval``
seconds, the writer's default unless given), so the cost of flushing often shows; without it the writer catches up
once per simulated second, as fast as it can.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pandora.logging import configure_logging
from pandora_recorder.frames import ReceivedFrame, Speaker
from pandora_recorder.raw import RawRecordingWriter
from pandora_recorder.raw.writer import DEFAULT_FLUSH_INTERVAL
from pandora_recorder.sinks import LocalFolderSink

PACKETS_PER_SECOND = 50  # 20 ms Opus frames


@dataclass(frozen=True)
class WriterBenchmark:
    speakers: int
    packets: int
    submit_us_per_packet: float  # time inside submit(): what the UDP reader thread pays
    cpu_us_per_packet: float  # process CPU (both threads) per packet, encoding and sink writes included
    wall_us_per_packet: float
    core_percent_at_realtime: float
    peak_rss_mib: float
    bytes_written: int


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bench_writer(speakers: int = 99, packets: int = 1500, directory: Path | None = None,
                 fsync: bool = False, realtime: bool = False,
                 flush_interval: float = DEFAULT_FLUSH_INTERVAL) -> WriterBenchmark:
    """Feed `packets` per speaker, one 20 ms tick (one packet per speaker) at a time, and let the writer catch
    up once per simulated second (or pace the ticks at real time); time everything until close() has flushed."""
    rng = random.Random(1)
    payloads = [bytes([0x78]) + rng.randbytes(rng.randrange(60, 160)) for _ in range(256)]
    with tempfile.TemporaryDirectory(dir=directory) as folder:
        sink = LocalFolderSink(folder, fsync=fsync)
        writer = RawRecordingWriter(sink, lambda user: Speaker(user, f"speaker{user}", f"speaker{user}"),
                                    recording_id=123456789, flush_interval=flush_interval)
        start_monotonic = writer.start_monotonic
        submit_time = 0.0
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for tick in range(packets):
            if realtime:
                time.sleep(max(0.0, wall_start + tick / PACKETS_PER_SECOND - time.perf_counter()))
            arrival = start_monotonic + tick / PACKETS_PER_SECOND
            frames = [
                ReceivedFrame(1000 + user, 5000 + user, tick, tick * 960, payloads[(tick + user) & 255], arrival)
                for user in range(speakers)
            ]
            before = time.perf_counter()
            for frame in frames:
                writer.submit(frame)
            submit_time += time.perf_counter() - before
            if not realtime and tick % PACKETS_PER_SECOND == PACKETS_PER_SECOND - 1:
                writer.sync()
        writer.close()
        sink.close()
        cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
        total = speakers * packets
        stats = writer.stats()
        assert stats.frames_written == total and stats.frames_dropped == 0
        cpu_us = cpu / total * 1e6
        return WriterBenchmark(
            speakers=speakers,
            packets=total,
            submit_us_per_packet=submit_time / total * 1e6,
            cpu_us_per_packet=cpu_us,
            wall_us_per_packet=wall / total * 1e6,
            core_percent_at_realtime=cpu_us * speakers * PACKETS_PER_SECOND / 1e6 * 100,
            peak_rss_mib=_peak_rss_mib(),
            bytes_written=stats.bytes_written,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, default=99)
    parser.add_argument("--packets", type=int, default=1500, help="packets per speaker (50 = 1 s of speech)")
    parser.add_argument("--dir", type=Path, help="where to write (default: system temp)")
    parser.add_argument("--fsync", action="store_true", help="fsync the files on every flush")
    parser.add_argument("--realtime", action="store_true", help="a tick every 20 ms; the writer flushes on its own")
    parser.add_argument("--flush-interval", type=float, default=DEFAULT_FLUSH_INTERVAL, metavar="S")
    args = parser.parse_args()
    configure_logging("WARNING")
    result = bench_writer(args.speakers, args.packets, args.dir, args.fsync, args.realtime, args.flush_interval)
    pacing = "real time" if args.realtime else "as fast as possible"
    print(f"writer: {result.speakers} speakers x {args.packets} packets = {result.packets} packets, "
          f"{result.bytes_written / 1e6:.1f} MB written ({pacing}, flush every {args.flush_interval:g} s)")
    print(f"  submit (reader thread): {result.submit_us_per_packet:.2f} µs/packet")
    print(f"  CPU, both threads:      {result.cpu_us_per_packet:.2f} µs/packet")
    print(f"  wall:                   {result.wall_us_per_packet:.2f} µs/packet")
    print(f"  at real time ({result.speakers * PACKETS_PER_SECOND} packets/s): "
          f"{result.core_percent_at_realtime:.1f} % of one core")
    print(f"  peak RSS:               {result.peak_rss_mib:.1f} MiB")


if __name__ == "__main__":
    main()
