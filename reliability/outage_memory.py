"""What a backlog costs in memory: a Dapr sink (real daprd, moto behind a cut link, Redis) takes `--megabytes` of
audio while the object store is away, then the store comes back. Prints this process's RSS and peak RSS before,
at the end of the outage and after the backlog went up, and how much went to the spill folder.

    .venv/bin/python reliability/outage_memory.py [--megabytes 80]   # past the 64 MiB memory bound: spills
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from pandora_recorder.sinks.spill import SpillFolder
from pandora_testenv.outages import start_outage_stack
from pandora_testenv.services import OBJECT_STORE, STATE_STORE, start_s3

APPEND = 40_000  # bytes per flush: ~1 s of a busy channel


def memory() -> str:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)

    def mib(name: str) -> str:
        return f"{int(fields[name].split()[0]) / 1024:.0f} MiB"

    return f"RSS {mib('VmRSS')}, peak {mib('VmHWM')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=80.0)
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="pandora-outage-memory-"))
    stack = start_outage_stack(run_dir, start_s3(run_dir), "memory")
    os.environ.update(stack.daprd.env())
    from dapr.clients import DaprClient

    from pandora_recorder.sinks.dapr import DaprSink

    sink = DaprSink(DaprClient(), OBJECT_STORE, "m/", STATE_STORE, spill=SpillFolder(run_dir / "spill"))
    try:
        sink.append("1.ogg.data", b"x")
        sink.wait_stored(10)
        print(f"before:              {memory()}")
        stack.link.cut()
        audio = os.urandom(APPEND)
        for _ in range(int(args.megabytes * 1e6 / APPEND)):
            sink.append("1.ogg.data", audio)
            sink.flush()
            time.sleep(0.01)
        print(f"end of outage:       {memory()}; waiting {sink.buffered_bytes() / 1e6:.1f} MB, "
              f"{sink.memory_bytes() / 1e6:.1f} MB in memory, {sink.spilled_bytes / 1e6:.1f} MB spilled")
        stack.link.restore()
        started = time.monotonic()
        stored = sink.wait_stored(300)
        print(f"backlog stored:      {memory()}; {'in' if stored else 'NOT in'} "
              f"{time.monotonic() - started:.1f} s, dropped {sink.dropped_bytes} bytes")
    finally:
        sink.close(timeout=5)
        stack.close()


if __name__ == "__main__":
    main()
