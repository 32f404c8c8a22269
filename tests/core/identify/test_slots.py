"""IDENTIFY slots of one token: one per bucket per window, whichever process asks, never the token on disk."""

from __future__ import annotations

import itertools
import multiprocessing
import time
from pathlib import Path

from pandora.identify.slots import IDENTIFY_WINDOW, SLOT_SPACING, FileIdentifySlots, MemoryIdentifySlots

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


def reserve_in_another_process(folder: str, now: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put(FileIdentifySlots(Path(folder), TOKEN).reserve(0, now))


def test_processes_reserving_at_once_get_slots_a_window_apart(tmp_path: Path) -> None:
    now = time.time()
    results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    processes = [multiprocessing.Process(target=reserve_in_another_process, args=(str(tmp_path), now, results))
                 for _ in range(6)]
    for process in processes:
        process.start()
    slots = sorted(results.get(timeout=30) for _ in processes)
    for process in processes:
        process.join()
    assert slots[0] == now
    assert all(later - earlier >= IDENTIFY_WINDOW for earlier, later in itertools.pairwise(slots))
    assert slots[-1] - slots[0] == 5 * SLOT_SPACING  # and no more: nobody waits longer than the queue needs


def test_buckets_do_not_wait_for_each_other(tmp_path: Path) -> None:
    slots = FileIdentifySlots(tmp_path, TOKEN)
    assert slots.reserve(0, 100.0) == slots.reserve(1, 100.0) == 100.0
    assert slots.reserve(0, 101.0) == 100.0 + SLOT_SPACING


def test_a_slot_long_past_does_not_delay_the_next(tmp_path: Path) -> None:
    slots = FileIdentifySlots(tmp_path, TOKEN)
    slots.reserve(0, 100.0)
    assert slots.reserve(0, 200.0) == 200.0


def test_the_slot_file_names_a_hash_not_the_token(tmp_path: Path) -> None:
    FileIdentifySlots(tmp_path, TOKEN).reserve(0, 1.0)
    [path] = tmp_path.iterdir()
    assert TOKEN not in path.name and TOKEN not in path.read_text()
    assert "MTIzNDU2" not in path.name  # not even the bot's id part


def test_memory_slots_pace_one_process() -> None:
    slots = MemoryIdentifySlots()
    assert slots.reserve(0, 10.0) == 10.0
    assert slots.reserve(0, 10.0) == 10.0 + SLOT_SPACING
