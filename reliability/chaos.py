"""The chaos harness (issue 12, deliverable 4): each scenario records `--speakers` simulated members talking for
`--minutes` while one kind of fault is injected, then prints frames sent and stored, losses, the longest gap per
speaker and the recorder's peak memory. Run by hand (it takes about an hour at the defaults), not in CI; the CI
smoke version is tests/reliability/test_chaos_smoke.py.

    .venv/bin/python reliability/chaos.py [--minutes 10] [--outage-minutes 5] [--only sigkill,udp] [--seed 12]
    .venv/bin/python reliability/chaos.py --table RUN_DIR/results.jsonl [MORE/results.jsonl]   # one table again

Needs daprd built (`pandora-testenv build`), redis-server and moto (the dev extra). Logs of every recorder life, the
simulator's and daprd's are kept under the run folder it names.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from pandora.logging import configure_logging
from recorder import PYTHON_ENV
from scenarios import NEEDS_DAPR, SCENARIOS, Options
from stage import DaprStorage, Result
from table import render


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="recording length of each scenario")
    parser.add_argument("--outage-minutes", type=float, default=5.0, help="how long each store is away")
    parser.add_argument("--speakers", type=int, default=4)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--voice-closes", type=int, default=12)
    parser.add_argument("--churn-minutes", type=float, default=2.0)
    parser.add_argument("--burst", type=int, default=50, help="Recordings applied at once (operator-kill)")
    parser.add_argument("--operator-kill-every", type=float, default=20.0, metavar="S")
    parser.add_argument("--apiserver-down", type=float, default=10.0, metavar="S",
                        help="how long the API server stays away (apiserver-restart)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--only", help=f"comma-separated scenarios (of {', '.join(SCENARIOS)})")
    parser.add_argument("--run-dir", type=Path, help="where logs and recordings go (default: a new temp folder)")
    parser.add_argument("--recorder-python", metavar="PYTHON",
                        help="the interpreter that runs `pandora record` (default: this one); for the start-up a "
                             "user gets, one from `python -m venv V && V/bin/pip install '.[recorder]'` (the image's)")
    parser.add_argument("--table", type=Path, nargs="+", metavar="RESULTS",
                        help="run nothing: print the table of earlier runs' results.jsonl files")
    return parser.parse_args(argv)


async def run(names: list[str], options: Options, run_dir: Path, on_result=None) -> list[Result]:
    storage = await asyncio.to_thread(DaprStorage, run_dir) if NEEDS_DAPR & set(names) else None
    results = []
    try:
        for name in names:
            started = time.monotonic()
            result = await SCENARIOS[name](options, run_dir, storage)
            result.notes.append(f"took {time.monotonic() - started:.0f} s")
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        if storage is not None:
            storage.close()
    return results


def log_to_file(path: Path) -> None:
    """The in-process simulator's log lines go to `path`, not between the table's rows."""
    configure_logging("INFO")
    root = logging.getLogger()
    handler = logging.FileHandler(path)
    handler.setFormatter(root.handlers[0].formatter)
    root.handlers[:] = [handler]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.table:
        print(render([Result.from_json(json.loads(line)) for path in args.table
                      for line in path.read_text().splitlines() if line.strip()]))
        return 0
    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        print(f"unknown scenarios: {', '.join(unknown)}", file=sys.stderr)
        return 2
    options = Options(minutes=args.minutes, speakers=args.speakers, seed=args.seed, kills=args.kills,
                      voice_closes=args.voice_closes, churn_minutes=args.churn_minutes,
                      outage_minutes=args.outage_minutes, burst=args.burst,
                      operator_kill_every=args.operator_kill_every, apiserver_down_seconds=args.apiserver_down)
    if args.recorder_python:
        os.environ[PYTHON_ENV] = args.recorder_python
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="pandora-chaos-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    log_to_file(run_dir / "harness.log")
    print(f"chaos run in {run_dir}: {', '.join(names)}; {options}", flush=True)

    def report(result: Result) -> None:
        print(render([result]), flush=True)
        with (run_dir / "results.jsonl").open("a") as out:
            out.write(json.dumps(dataclasses.asdict(result), default=str) + "\n")

    results = asyncio.run(run(names, options, run_dir, report))
    print("\n" + render(results), flush=True)
    return 0 if all(result.passed is not False for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
