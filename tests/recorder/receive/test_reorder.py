from pandora_recorder.frames import ReceivedFrame
from pandora_recorder.receive.reorder import ReorderWindow


def frame(timestamp: int, arrival: float = 0.0, ssrc: int = 1) -> ReceivedFrame:
    return ReceivedFrame(user_id=9, ssrc=ssrc, sequence=timestamp // 960 & 0xFFFF, rtp_timestamp=timestamp,
                         opus=b"x", arrival=arrival)


def emitted_timestamps(window_size: int, timestamps: list[int]) -> list[int]:
    out: list[ReceivedFrame] = []
    window = ReorderWindow(out.append, size=window_size, max_hold=60.0)
    for timestamp in timestamps:
        window.push(frame(timestamp))
    window.release_all()
    return [f.rtp_timestamp for f in out]


def test_swapped_packets_leave_in_timestamp_order() -> None:
    assert emitted_timestamps(16, [0, 1920, 960, 2880, 4800, 3840]) == [0, 960, 1920, 2880, 3840, 4800]


def test_window_holds_at_most_size_frames() -> None:
    out: list[ReceivedFrame] = []
    window = ReorderWindow(out.append, size=4, max_hold=60.0)
    for index in range(10):
        window.push(frame(index * 960))
    assert [f.rtp_timestamp for f in out] == [index * 960 for index in range(6)]
    window.release_all()
    assert len(out) == 10  # the other four were held


def test_timestamp_wrap_keeps_order() -> None:
    near_wrap = (1 << 32) - 960
    assert emitted_timestamps(16, [near_wrap - 960, 0, near_wrap]) == [near_wrap - 960, near_wrap, 0]


def test_a_frame_later_than_the_window_is_still_kept_once() -> None:
    assert sorted(emitted_timestamps(2, [960, 1920, 2880, 3840, 0])) == [0, 960, 1920, 2880, 3840]


def test_frames_leave_after_max_hold_even_when_the_speaker_stops() -> None:
    out: list[ReceivedFrame] = []
    window = ReorderWindow(out.append, size=16, max_hold=0.2)
    window.push(frame(0, arrival=10.0))
    window.push(frame(960, arrival=10.02))
    window.release_due(10.1)
    assert out == []
    window.release_due(10.25)
    assert [f.rtp_timestamp for f in out] == [0, 960]


def test_speakers_are_ordered_independently() -> None:
    out: list[ReceivedFrame] = []
    window = ReorderWindow(out.append, size=1, max_hold=60.0)
    window.push(frame(5000, ssrc=1))
    window.push(frame(0, ssrc=2))
    window.push(frame(6000, ssrc=1))
    assert [(f.ssrc, f.rtp_timestamp) for f in out] == [(1, 5000)]
