"""Crash restarts back off exponentially, capped, from a history the next process start reads back."""

from __future__ import annotations

from pathlib import Path

from pandora.identify.limits import RECORDER_RESERVE
from pandora.identify.restarts import (
    FIRST_START,
    MAX_DELAY,
    FileStartHistory,
    StartHistory,
    starts_within,
)

DAY = 86_400


def test_a_start_after_a_healthy_run_or_none_waits_nothing() -> None:
    assert FIRST_START.started(100.0).healthy().next_start() == 100.0
    assert FIRST_START.next_start() == 0.0


def test_each_failure_doubles_the_wait_up_to_the_cap() -> None:
    history, delays = FIRST_START, []
    for _ in range(12):
        history = history.started(0.0)
        delays.append(history.delay())
    assert delays[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert max(delays) == MAX_DELAY and delays[-1] == MAX_DELAY


def test_a_crash_loop_stays_far_inside_the_daily_identify_budget() -> None:
    # Three recorders looping at once, all day, still leave the reserve untouched.
    assert starts_within(DAY) < 1000 * (1 - RECORDER_RESERVE) / 3


def test_the_history_survives_the_process(tmp_path: Path) -> None:
    FileStartHistory(tmp_path, "42").save(StartHistory(3, 1234.5))
    assert FileStartHistory(tmp_path, "42").load() == StartHistory(3, 1234.5)
    assert FileStartHistory(tmp_path, "43").load() is None


def test_a_torn_history_counts_as_a_first_start(tmp_path: Path) -> None:
    (tmp_path / ".42.starts.json").write_text('{"failures": 3, "lastSt')
    assert FileStartHistory(tmp_path, "42").load() is None
