"""When a recording ends on its own, tick by tick, without Discord (the live runs are in test_session_lifecycle)."""

from __future__ import annotations

from pandora_recorder.voice.states import StopReason
from pandora_recorder.voice.watch import VOICE_LOST_AFTER, Every, Observed, RecordingLimits


def tick(now: float, *, writer_failed: bool = False, others: bool = True, connected: bool = True) -> Observed:
    return Observed(now=now, writer_failed=writer_failed, others_in_channel=others, voice_connected=connected)


def test_without_limits_an_empty_channel_records_on_until_the_writer_fails() -> None:
    limits = RecordingLimits(0.0, max_duration=None, empty_timeout=None)
    assert [limits.reached(tick(t, others=False)) for t in (0.0, 3600.0, 86400.0)] == [None, None, None]
    assert limits.reached(tick(86400.1, writer_failed=True)) is StopReason.STORAGE_FAILED


def test_max_duration_counts_from_the_start() -> None:
    limits = RecordingLimits(100.0, max_duration=5.0, empty_timeout=None)
    assert limits.reached(tick(104.9)) is None
    assert limits.reached(tick(105.0)) is StopReason.MAX_DURATION


def test_the_channel_must_stay_empty_for_the_whole_timeout() -> None:
    limits = RecordingLimits(0.0, max_duration=None, empty_timeout=1.0)
    seen = [limits.reached(tick(t, others=others))
            for t, others in ((0.0, False), (0.9, False), (1.0, True), (1.1, False), (2.0, False), (2.1, False))]
    assert seen == [None, None, None, None, None, StopReason.EMPTY_CHANNEL]  # someone came back at 1.0


def test_voice_must_stay_lost_for_the_grace_period() -> None:
    limits = RecordingLimits(0.0, max_duration=None, empty_timeout=None)
    assert limits.reached(tick(1.0, connected=False)) is None
    assert limits.reached(tick(1.0 + VOICE_LOST_AFTER - 0.1, connected=False)) is None
    assert limits.reached(tick(1.0 + VOICE_LOST_AFTER, connected=False)) is StopReason.VOICE_LOST


def test_a_failed_writer_wins_over_other_limits_on_the_same_tick() -> None:
    limits = RecordingLimits(0.0, max_duration=1.0, empty_timeout=0.5)
    limits.reached(tick(0.0, others=False))
    assert limits.reached(tick(2.0, writer_failed=True, others=False)) is StopReason.STORAGE_FAILED


def test_every_is_due_at_first_then_an_interval_after_each_time() -> None:
    every = Every(2.0, first=10.0)
    assert [t for t in (9.9, 10.0, 10.1, 11.9, 12.05, 13.0, 14.05) if every.due(t)] == [10.0, 12.05, 14.05]
