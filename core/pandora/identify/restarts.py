"""Crash restarts back off: the start history of one recorder (or bot), and how long its next start waits.

Each start is written down when it IDENTIFYs; a run that did its job for ``HEALTHY_AFTER`` seconds (or ended
on purpose) clears the count. So a recorder killed once in a while restarts at once, while one that fails again
and again waits 1 s, 2 s, 4 s ... up to ``MAX_DELAY`` after its previous start, which bounds what a crash loop
costs (``starts_within``). The history lives where the next start of the same process reads it: a file next to
the recording's resume record (standalone), or the pod's state store.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

FIRST_DELAY = 1.0
MAX_DELAY = 300.0
# Seconds of recording (or serving) after which a run is not part of a crash loop. A recorder that dies every time
# just after this restarts at once, twice a minute: the operator's daily count (and the reserve) stop that one.
HEALTHY_AFTER = 30.0


@dataclass(frozen=True)
class StartHistory:
    failures: int  # consecutive starts whose run ended before it was healthy (the last one included)
    last_start: float  # wall-clock seconds

    def delay(self) -> float:
        """How long after ``last_start`` the next start may IDENTIFY."""
        if self.failures == 0:
            return 0.0
        return min(MAX_DELAY, FIRST_DELAY * 2 ** (self.failures - 1))

    def next_start(self) -> float:
        return self.last_start + self.delay()

    def started(self, now: float) -> StartHistory:
        """Written before the IDENTIFY: until the run is healthy, it counts as one more failure."""
        return StartHistory(self.failures + 1, now)

    def healthy(self) -> StartHistory:
        return StartHistory(0, self.last_start)

    def to_json(self) -> str:
        return json.dumps({"failures": self.failures, "lastStart": self.last_start})

    @classmethod
    def from_json(cls, text: str | bytes) -> StartHistory | None:
        """None for anything unreadable (a torn or foreign record): the next start then counts as a first."""
        try:
            value = json.loads(text)
            return cls(int(value["failures"]), float(value["lastStart"]))
        except (ValueError, KeyError, TypeError):
            return None


FIRST_START = StartHistory(failures=0, last_start=0.0)


def starts_within(seconds: float) -> int:
    """How many starts a process that fails at once, forever, makes in ``seconds`` (IDENTIFY slots aside)."""
    history, at, starts = FIRST_START, 0.0, 0
    while at <= seconds:
        starts += 1
        history = history.started(at)
        at = history.next_start()
    return starts


class StartHistoryStore(Protocol):
    def load(self) -> StartHistory | None: ...

    def save(self, history: StartHistory) -> None: ...


class FileStartHistory:
    """``.<name>.starts.json`` in a folder (the recording folder: beside ``.<id>.resume.json``)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.path = Path(folder) / f".{name}.starts.json"

    def load(self) -> StartHistory | None:
        try:
            return StartHistory.from_json(self.path.read_bytes())
        except FileNotFoundError:
            return None

    def save(self, history: StartHistory) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(history.to_json())
        os.replace(temporary, self.path)  # a kill leaves the old history or the new one
