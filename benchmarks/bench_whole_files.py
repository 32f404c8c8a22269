"""Benchmark: the largest recording whose five whole files get through the Dapr S3 binding, and how long they take.

For each size, a `.data` file of that many MiB (random bytes, appended in 1 MiB chunks as the recorder does) and
four small files go into a DaprSink on a daprd started with `--max-body-size` (the recorder pods' annotation
`dapr.io/max-body-size`); then `write_whole_files` puts the five whole at the bucket root (moto's S3 server here).
Prints, per size, whether the whole `.data` was written or left out (the chunks are complete either way), the
seconds it took, and how far the process's resident memory rose above where it was before (sampled every 5 ms): the
recorder pod's memory limit must hold it.

    .venv/bin/python benchmarks/bench_whole_files.py [--max-body-size 64Mi] [--sizes 1 3 16 47 48 64]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dapr.clients import DaprClient

from pandora.logging import configure_logging
from pandora_recorder.raw.format import FILE_KINDS, file_name
from pandora_recorder.sinks.dapr import DaprSink
from pandora_recorder.sinks.whole_files import write_whole_files
from pandora_testenv.processes import stop
from pandora_testenv.services import OBJECT_STORE, STATE_STORE, render_components, start_daprd, start_redis, start_s3

MIB = 1024 * 1024


T = TypeVar("T")


def resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def with_memory_rise(work: Callable[[], T]) -> tuple[T, int]:
    """``work()``'s result and the most the resident memory rose above its level before, while it ran."""
    before = peak = resident_bytes()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.005):
            peak = max(peak, resident_bytes())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        return work(), max(peak, resident_bytes()) - before
    finally:
        done.set()
        sampler.join()


def main(max_body_size: str, sizes: list[float]) -> None:
    configure_logging("ERROR")
    with tempfile.TemporaryDirectory(prefix="pandora-bench-whole-") as folder:
        run = Path(folder)
        redis, s3 = start_redis(run), start_s3(run)
        sidecar = start_daprd(run, render_components(run / "components", redis, s3, run / "objects"),
                              f"whole-{uuid.uuid4().hex[:6]}", extra_args=(f"--max-body-size={max_body_size}",))
        os.environ.update(sidecar.env())
        print(f"daprd 1.18 --max-body-size={max_body_size}, bindings.aws.s3 on moto")
        try:
            for size in sizes:
                recording_id = random.randrange(100_000_000, 999_999_999)
                sink = DaprSink(DaprClient(), OBJECT_STORE, f"bench-{uuid.uuid4().hex[:8]}/", STATE_STORE)
                try:
                    remaining = int(size * MIB)
                    while remaining:
                        part = min(MIB, remaining)
                        sink.append(file_name(recording_id, "data"), os.urandom(part))
                        sink.flush()
                        remaining -= part
                    for kind in FILE_KINDS:
                        if kind != "data":
                            sink.append(file_name(recording_id, kind), f"{kind}\n".encode())
                    began = time.perf_counter()
                    result, rise = with_memory_rise(lambda: write_whole_files(sink, recording_id))  # noqa: B023
                    took = time.perf_counter() - began
                finally:
                    sink.client.close()
                assert result is not None
                data = file_name(recording_id, "data")
                outcome = "written whole" if data in result.written else "left out (chunks only)"
                print(f".data {size:6.1f} MiB  {outcome:24s} {took:6.2f} s  memory +{rise / MIB:6.1f} MiB "
                      f"({rise / (size * MIB):.1f}x the file)")
        finally:
            sidecar.stop()
            stop(s3.process)
            stop(redis.process)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-body-size", default="64Mi")
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 3, 16, 47, 48, 64])
    arguments = parser.parse_args()
    main(arguments.max_body_size, arguments.sizes)
