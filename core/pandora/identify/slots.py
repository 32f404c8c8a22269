"""IDENTIFY slots: per bucket of one token, one IDENTIFY per window, across every process sharing the store.

A process reserves the next free slot before it connects and waits for it; the reservation is written at once,
so the next process gets the slot after it. The window carries a margin over Discord's 5 s: an IDENTIFY goes out
a connect after its slot, and connects vary.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

IDENTIFY_WINDOW = 5.0  # Discord: one IDENTIFY per bucket per 5 s
SLOT_MARGIN = 0.5
SLOT_SPACING = IDENTIFY_WINDOW + SLOT_MARGIN


def token_key(token: str) -> str:
    """What slots and start histories are filed under: a hash, so no store ever holds the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def next_slot(last_slot: float | None, now: float, spacing: float = SLOT_SPACING) -> float:
    return now if last_slot is None else max(now, last_slot + spacing)


class IdentifySlots(Protocol):
    def reserve(self, bucket: int, now: float) -> float:
        """Take the bucket's next slot at or after ``now`` (wall-clock seconds) and return it."""
        ...


class MemoryIdentifySlots:
    """Slots kept in this process only: for a storage the other processes cannot share (tests' in-memory sinks)."""

    def __init__(self) -> None:
        self._slots: dict[int, float] = {}

    def reserve(self, bucket: int, now: float) -> float:
        self._slots[bucket] = slot = next_slot(self._slots.get(bucket), now)
        return slot


class FileIdentifySlots:
    """Slots of one token in a JSON file, read and rewritten under an exclusive lock: the processes of one
    machine (standalone) share them through the folder the file is in."""

    def __init__(self, folder: Path, token: str) -> None:
        self.path = Path(folder) / f".identify-{token_key(token)}.json"

    def reserve(self, bucket: int, now: float) -> float:
        with self._locked() as state:
            slots: dict[str, float] = state.setdefault("slots", {})
            slot = next_slot(slots.get(str(bucket)), now)
            slots[str(bucket)] = slot
        return slot

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "r+") as file:
            fcntl.flock(file, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
            try:
                state = json.loads(file.read() or "{}")
            except json.JSONDecodeError:  # torn by a crash mid-write: the slots of the next 5 s are all it held
                state = {}
            yield state
            file.seek(0)
            file.truncate()
            file.write(json.dumps(state))
