"""From what the simulated speakers sent and what the store holds to the figures of the table.

A stored frame is matched to a sent one by its RTP timestamp (the empty page after each audio page carries it) and
must be byte-identical. A fault (a SIGKILL, a closed voice socket) opens a window for each speaker from the last of
their frames stored before it to the first stored after the recorder recorded again (the harness notes when): frames
missing there are the fault's cost (its gap); every other missing frame is a loss the targets count, except the
ones the simulator's fault plan dropped on the way (never delivered).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pandora_recorder.raw.format import file_name, parse_users
from pandora_recorder.raw.ogg import read_pages

FRAME_SECONDS = 0.02
_RTP = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class SentFrame:
    time: float  # time.monotonic() it left the simulator (from its burst's end, at 20 ms a frame)
    rtp_timestamp: int
    opus: bytes


@dataclass
class Speech:
    """Every frame one simulated member sent during the scenario, in order."""

    user_id: int
    name: str
    frames: list[SentFrame] = field(default_factory=list)
    stayed: bool = True  # False for a member who joined and left during the scenario (DAVE churn)

    def add_burst(self, first_timestamp: int, frames: list[bytes], ended: float) -> None:
        start = ended - len(frames) * FRAME_SECONDS
        self.frames += [SentFrame(start + index * FRAME_SECONDS, (first_timestamp + 960 * index) & _RTP, frame)
                        for index, frame in enumerate(frames)]


@dataclass
class SpeakerFigures:
    name: str
    sent: int = 0
    stored: int = 0
    in_windows: int = 0  # missing, sent inside a fault window
    lost: int = 0  # missing outside every fault window, beyond what the network dropped
    network_lost: int = 0  # dropped by the simulator's fault plan: never delivered
    longest_gap: float = 0.0  # seconds of audio in the longest run of missing frames (no stored one between)
    out_of_order: int = 0
    corrupt: int = 0  # stored under a sent frame's timestamp with other bytes
    duplicates: int = 0
    unexpected: int = 0  # stored frames nobody sent
    fault_gaps: list[float] = field(default_factory=list)  # per fault: seconds of this speaker's audio in its window
    lost_runs: list[tuple[float, float]] = field(default_factory=list)  # (from, to) monotonic, the lost frames


def stored_frames(files: dict[str, bytes], recording_id: int) -> dict[int, list[tuple[int, bytes]]]:
    """User id -> (RTP timestamp, Opus packet) of every audio page of that user's track, in file order."""
    users = parse_users(files.get(file_name(recording_id, "users"), b""))
    user_of = {track: int(user["id"]) for track, user in users.items()}
    found: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    audio: dict[int, bytes] = {}  # track -> the audio packet waiting for its timestamp page
    for page in read_pages(files.get(file_name(recording_id, "data"), b"")):
        packet = page.packets[0] if page.packets else b""
        if packet:
            audio[page.serial] = packet
        elif page.serial in audio:
            found[user_of.get(page.serial, -page.serial)].append((page.granule & _RTP, audio.pop(page.serial)))
    return dict(found)


Fault = tuple[float, float]  # (when it was injected, when the recorder recorded again), time.monotonic()


def figures(speech: Speech, stored: list[tuple[int, bytes]], faults: list[Fault],
            network_lost: int = 0) -> SpeakerFigures:
    result = SpeakerFigures(speech.name, sent=len(speech.frames), network_lost=network_lost)
    index_of = {frame.rtp_timestamp: index for index, frame in enumerate(speech.frames)}
    kept = [False] * len(speech.frames)
    last_index = -1
    for timestamp, opus in stored:
        index = index_of.get(timestamp)
        if index is None:
            result.unexpected += 1
            continue
        if speech.frames[index].opus != opus:
            result.corrupt += 1
            continue
        if kept[index]:
            result.duplicates += 1
            continue
        kept[index] = True
        result.stored += 1
        if index < last_index:
            result.out_of_order += 1
        last_index = max(last_index, index)
    windows = _windows(speech.frames, kept, faults)
    result.fault_gaps = [0.0] * len(windows)
    run = 0  # missing frames since the last stored one (pauses between bursts hold no audio, so none is lost)
    missing_outside = 0
    previous_time = float("nan")
    for frame, was_kept in zip(speech.frames, kept, strict=True):
        if was_kept:
            run = 0
            previous_time = frame.time
            continue
        run += 1
        result.longest_gap = max(result.longest_gap, run * FRAME_SECONDS)
        inside = [number for number, (start, end) in enumerate(windows) if start < frame.time < end]
        for number in inside:
            result.fault_gaps[number] += FRAME_SECONDS
        if inside:
            result.in_windows += 1
        else:
            missing_outside += 1
            if result.lost_runs and result.lost_runs[-1][1] == previous_time:
                result.lost_runs[-1] = (result.lost_runs[-1][0], frame.time)
            else:
                result.lost_runs.append((frame.time, frame.time))
        previous_time = frame.time
    result.lost = max(0, missing_outside - network_lost)
    return result


def _windows(frames: list[SentFrame], kept: list[bool], faults: list[Fault]) -> list[tuple[float, float]]:
    """(last frame of this speaker stored before the fault, first stored after the recovery) for each fault."""
    kept_times = [frame.time for frame, was_kept in zip(frames, kept, strict=True) if was_kept]
    windows = []
    for fault, recovered in faults:
        before = max((time for time in kept_times if time < fault), default=float("-inf"))
        after = min((time for time in kept_times if time >= max(fault, recovered)), default=float("inf"))
        windows.append((before, after))
    return windows
