import pytest

from pandora_recorder.receive.drops import Drop, DropCounters, DropReason
from pandora_recorder.receive.speakers import SpeakerMap


def test_packets_held_before_op5_come_back_in_order_on_assign() -> None:
    speakers: SpeakerMap[str] = SpeakerMap(DropCounters())
    for item in ("a", "b", "c"):
        speakers.hold(7, item)
    assert 7 not in speakers.users
    assert speakers.assign(7, 1001) == ["a", "b", "c"]
    assert speakers.users[7] == 1001
    assert speakers.assign(7, 1001) == []  # replayed once only


def test_per_ssrc_buffer_is_bounded() -> None:
    counters = DropCounters()
    speakers: SpeakerMap[int] = SpeakerMap(counters, per_ssrc_limit=3)
    for item in range(3):
        speakers.hold(7, item)
    with pytest.raises(Drop) as caught:
        speakers.hold(7, 3)
    assert caught.value.reason == DropReason.EARLY_OVERFLOW
    assert speakers.assign(7, 1) == [0, 1, 2]  # the earliest packets are the ones kept


def test_oldest_unclaimed_ssrc_is_evicted_and_counted() -> None:
    counters = DropCounters()
    speakers: SpeakerMap[int] = SpeakerMap(counters, max_pending_ssrcs=2)
    speakers.hold(1, 10)
    speakers.hold(1, 11)
    speakers.hold(2, 20)
    speakers.hold(3, 30)
    assert counters[DropReason.EARLY_EXPIRED] == 2
    assert speakers.assign(1, 100) == []
    assert speakers.assign(3, 300) == [30]


def test_op5_remaps_a_reused_ssrc() -> None:
    speakers: SpeakerMap[int] = SpeakerMap(DropCounters())
    speakers.assign(5, 1)
    speakers.assign(5, 2)
    assert speakers.users[5] == 2
