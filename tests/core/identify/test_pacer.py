"""The pacer before a process's IDENTIFYs: backoff after repeated failures, a slot each, never the reserve."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

from pandora.identify.limits import IdentifyBudgetReserved, SessionStartLimit
from pandora.identify.pacer import IdentifyPacer
from pandora.identify.restarts import FileStartHistory, StartHistory
from pandora.identify.slots import SLOT_SPACING, FileIdentifySlots

sys.path.insert(0, str(Path(__file__).parent))
from fake_time import FakeTime

TOKEN = "bot-token"


def limit(remaining: int = 900, total: int = 1000) -> SessionStartLimit:
    return SessionStartLimit(total=total, remaining=remaining, reset_after=7200.0, max_concurrency=1)


async def fetch(value: SessionStartLimit = limit()) -> SessionStartLimit:  # noqa: B008 - a frozen value
    return value


def process(folder: Path, clock: FakeTime, name: str | None = "7") -> IdentifyPacer:
    """What each new process builds: slots and its start history from the folder."""
    starts = FileStartHistory(folder, name) if name else None
    return IdentifyPacer(FileIdentifySlots(folder, TOKEN), starts=starts, clock=clock.time, sleep=clock.sleep)


async def test_a_first_start_identifies_at_once(tmp_path: Path) -> None:
    clock = FakeTime()
    await process(tmp_path, clock).first_identify(fetch)
    assert clock.slept == []


async def test_a_second_process_within_the_window_waits_for_its_slot(tmp_path: Path) -> None:
    clock = FakeTime()
    await process(tmp_path, clock, "1").first_identify(fetch)
    clock.now += 2.0
    await process(tmp_path, clock, "2").first_identify(fetch)
    assert clock.slept == [pytest.approx(SLOT_SPACING - 2.0)]


async def test_repeated_failures_wait_longer_each_time_from_the_previous_start(tmp_path: Path) -> None:
    clock = FakeTime()
    starts = []
    for _ in range(6):  # each process fails at once: nobody calls healthy()
        await process(tmp_path, clock).first_identify(fetch)
        starts.append(clock.now)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps == [SLOT_SPACING, SLOT_SPACING, SLOT_SPACING, 8.0, 16.0]  # 1 s, 2 s, 4 s hide in the slot spacing


async def test_a_healthy_run_lets_the_next_start_go_at_once(tmp_path: Path) -> None:
    clock = FakeTime()
    FileStartHistory(tmp_path, "7").save(StartHistory(failures=8, last_start=clock.now))
    first = process(tmp_path, clock)
    await first.first_identify(fetch)
    assert clock.slept == [128.0]
    first.healthy()
    clock.now += 60.0
    await process(tmp_path, clock).first_identify(fetch)
    assert clock.slept == [128.0]


async def test_the_reserve_is_never_spent(tmp_path: Path) -> None:
    clock = FakeTime()
    with pytest.raises(IdentifyBudgetReserved, match=r"100 of the bot's 1000 .* refills them in 2.0 h"):
        await process(tmp_path, clock).first_identify(lambda: fetch(limit(remaining=100)))
    await process(tmp_path, clock).first_identify(lambda: fetch(limit(remaining=101)))


async def test_discord_py_s_first_identify_hook_uses_the_slot_already_taken_and_later_ones_take_their_own(
        tmp_path: Path) -> None:
    clock = FakeTime()
    pacer = process(tmp_path, clock)
    await pacer.first_identify(fetch)
    await pacer.before_identify(fetch, None, initial=True)
    assert clock.slept == []
    await pacer.before_identify(fetch, None, initial=False)  # after an op 9: instead of discord.py's own 5 s
    assert clock.slept == [SLOT_SPACING]
