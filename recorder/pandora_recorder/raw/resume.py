"""Resuming a recording after the recorder restarts (even after SIGKILL).

The files are the truth; the resume record only saves work. It holds the start time, every track's next page
sequence and how much of `.data` those sequences account for, so a resume scans only the data written after the
last record. Files are flushed in the order users -> header1 -> header2 -> data, so a track that reached the data
file is always in the users file, and a track in the users file gets any header page it lacks.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pandora_recorder.raw.format import (
    OPUS_HEAD,
    OPUS_TAGS,
    USERS_PREAMBLE,
    file_name,
    parse_users,
)
from pandora_recorder.raw.ogg import FLAG_BOS, complete_length, encode_page, read_pages
from pandora_recorder.sinks.base import ResumeStore, Sink

FIRST_AUDIO_SEQUENCE = 2


@dataclass(slots=True)
class TrackState:
    number: int
    user_id: int
    next_sequence: int = FIRST_AUDIO_SEQUENCE


@dataclass(slots=True)
class ResumeRecord:
    recording_id: int
    start_epoch: float  # wall-clock seconds of the recording start
    tracks: dict[int, TrackState] = field(default_factory=dict)  # by user id
    data_size: int = 0  # bytes of .data the track sequences account for

    def to_json(self) -> dict[str, Any]:
        return {
            "recordingId": self.recording_id,
            "startEpoch": self.start_epoch,
            "dataSize": self.data_size,
            "tracks": [[t.number, t.user_id, t.next_sequence] for t in self.tracks.values()],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ResumeRecord:
        tracks = {user: TrackState(number, user, sequence) for number, user, sequence in value["tracks"]}
        return cls(int(value["recordingId"]), float(value["startEpoch"]), tracks, int(value["dataSize"]))


def recording_exists(sink: Sink, recording_id: int) -> bool:
    return any(sink.size(file_name(recording_id, kind)) > 0 for kind in ("users", "header1", "info", "data"))


def _next_after(sequence: int) -> int:
    # Audio pages take even numbers and their timestamp pages the odd one after; continue past both.
    return (sequence | 1) + 1


def _start_from_info(sink: Sink, recording_id: int) -> float | None:
    try:
        info = json.loads(sink.read(file_name(recording_id, "info")))
        return datetime.fromisoformat(info["startTime"].replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError):
        return None


def _truncate_pages(sink: Sink, name: str) -> bytes:
    content = sink.read(name)
    whole = complete_length(content)
    if whole < len(content):
        sink.truncate(name, whole)
    return content[:whole]


def recover(sink: Sink, store: ResumeStore | None, recording_id: int) -> ResumeRecord:
    """Repair the files of an existing recording (torn tails, missing header pages) and return where every
    track continues."""
    saved = store.load_resume(recording_id) if store else None
    record = ResumeRecord.from_json(saved) if saved else None

    users_name = file_name(recording_id, "users")
    users_text = sink.read(users_name)
    complete_users = users_text[: users_text.rfind(b"\n") + 1]
    if len(complete_users) < len(users_text):
        sink.truncate(users_name, len(complete_users))
    if not complete_users:
        sink.append(users_name, USERS_PREAMBLE)
    user_of_track = {track: int(user["id"]) for track, user in parse_users(complete_users).items()}

    for kind, packet, flags, sequence in (("header1", OPUS_HEAD, FLAG_BOS, 0), ("header2", OPUS_TAGS, 0, 1)):
        name = file_name(recording_id, kind)
        present = {page.serial for page in read_pages(_truncate_pages(sink, name))}
        for track in sorted(set(user_of_track) - present):
            sink.append(name, encode_page(serial=track, sequence=sequence, granule=0, packets=(packet,), flags=flags))

    data_name = file_name(recording_id, "data")
    data_size = sink.size(data_name)
    scan_from = record.data_size if record and record.data_size <= data_size else 0
    tail = sink.read(data_name, scan_from)
    if scan_from and tail and not tail.startswith(b"OggS"):
        # The record does not point at a page boundary (the file was changed behind us): scan it all.
        scan_from, tail = 0, sink.read(data_name)
    whole = complete_length(tail)
    if whole < len(tail):
        sink.truncate(data_name, scan_from + whole)
    next_sequence: dict[int, int] = {}
    if record and scan_from:
        next_sequence = {t.number: t.next_sequence for t in record.tracks.values()}
    for page in read_pages(tail[:whole]):
        next_sequence[page.serial] = max(next_sequence.get(page.serial, 0), _next_after(page.sequence))

    start = record.start_epoch if record else _start_from_info(sink, recording_id)
    tracks = {
        user: TrackState(track, user, max(FIRST_AUDIO_SEQUENCE, next_sequence.get(track, 0)))
        for track, user in user_of_track.items()
    }
    sink.flush()
    return ResumeRecord(recording_id, start if start is not None else time.time(), tracks, scan_from + whole)
