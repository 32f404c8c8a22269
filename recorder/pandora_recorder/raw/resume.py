"""Resuming a recording after the recorder restarts (even after SIGKILL).

The files are the truth; the resume record only saves work. It holds the start time, every track's next page
sequence and how much of `.data` those sequences account for, so a resume scans only the data written after the
last record. Files are flushed in the order users -> header1 -> header2 -> data, so a track that reached the data
file is always in the users file, and a track in the users file gets any header page it lacks.

Damage never stops a resume, and what was captured is never rewritten: only a torn tail (the last write, cut off
by the kill) is cut back. A damaged users line, page or info file stays where it is, is logged with its file and
offset, and recording goes on after it; its track number is not given out again, and pages that fail their
checksum do not count.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pandora.logging import get_logger
from pandora_recorder.raw.format import OPUS_HEAD, OPUS_TAGS, SAMPLE_RATE, USERS_PREAMBLE, file_name
from pandora_recorder.raw.ogg import FLAG_BOS, Page, encode_page
from pandora_recorder.raw.scan import CUT_OFF, Damage, scan_info, scan_pages, scan_users
from pandora_recorder.sinks.base import ResumeStore, Sink

log = get_logger(__name__)

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
    # The highest track number the files use, a damaged users line's too: new tracks go above it. Not saved:
    # every resume reads it from the files.
    highest_track: int = 0

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


def _report(damage: list[Damage], what: str) -> None:
    for stretch in damage:
        log.warning(f"resume: damaged bytes kept as they are; {what}", damage=stretch.describe())


def _saved_record(store: ResumeStore | None, recording_id: int) -> ResumeRecord | None:
    saved = store.load_resume(recording_id) if store else None
    if not saved:
        return None
    try:
        return ResumeRecord.from_json(saved)
    except (KeyError, TypeError, ValueError) as error:
        log.warning("resume: the saved resume record is unreadable; reading the whole files instead",
                    recording_id=recording_id, error=repr(error))
        return None


def _start_from_info(sink: Sink, recording_id: int) -> float | None:
    name = file_name(recording_id, "info")
    content = sink.read(name)
    damage = scan_info(content, name)
    if not damage:
        try:
            stamp = json.loads(content)["startTime"]
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except (KeyError, TypeError, ValueError, AttributeError):
            damage = [Damage(name, 0, len(content), "no readable startTime")]
    _report(damage, "the start time is estimated from the last audio page")
    return None


def _start_from_pages(pages: list[Page]) -> float:
    """The latest start that keeps every written audio page in the past: granules go on rising after the resume."""
    latest = max((page.granule for page in pages if page.sequence % 2 == 0), default=0)
    return time.time() - latest / SAMPLE_RATE


def _checked_pages(sink: Sink, name: str, content: bytes, start: int = 0) -> tuple[list[Page], int]:
    """The checked pages of `content` (`name` from byte `start`), and where its whole pages end. A torn tail is
    cut off; damage anywhere else is logged and kept."""
    pages, damage = scan_pages(content, name)
    end = len(content)
    damage = [replace(stretch, offset=stretch.offset + start) for stretch in damage]
    if damage and damage[-1].reason == CUT_OFF and damage[-1].offset + damage[-1].length == start + end:
        end = damage.pop().offset - start
        sink.truncate(name, start + end)
    _report(damage, "pages there do not count")
    return pages, start + end


def _users_of_tracks(sink: Sink, name: str) -> tuple[dict[int, int], int]:
    """Track -> user id from the users file, and the highest track number it names (a damaged line's number is
    found in the header pages). A torn last line is cut off; an empty file gets its first line."""
    text = sink.read(name)
    complete = text[: text.rfind(b"\n") + 1]
    if len(complete) < len(text):
        sink.truncate(name, len(complete))
    if not complete:
        sink.append(name, USERS_PREAMBLE)
    users, damage = scan_users(complete, name)
    _report(damage, "the speaker of that track is unknown; their next packet starts a new track")
    user_of_track: dict[int, int] = {}
    for track, user in users.items():
        try:
            user_of_track[track] = int(user["id"])
        except (KeyError, TypeError, ValueError):
            log.warning("resume: a users line has no readable user id; that track stays as it is", file=name,
                        track=track)
    return user_of_track, max(users, default=0)


def recover(sink: Sink, store: ResumeStore | None, recording_id: int) -> ResumeRecord:
    """Repair the files of an existing recording (torn tails, missing header pages) and return where every
    track continues."""
    record = _saved_record(store, recording_id)

    user_of_track, highest = _users_of_tracks(sink, file_name(recording_id, "users"))
    if record:
        highest = max(highest, *(t.number for t in record.tracks.values()), 0)

    for kind, packet, flags, sequence in (("header1", OPUS_HEAD, FLAG_BOS, 0), ("header2", OPUS_TAGS, 0, 1)):
        name = file_name(recording_id, kind)
        present = {page.serial for page in _checked_pages(sink, name, sink.read(name))[0]}
        highest = max(highest, *present, 0)
        for track in sorted(set(user_of_track) - present):
            sink.append(name, encode_page(serial=track, sequence=sequence, granule=0, packets=(packet,), flags=flags))

    data_name = file_name(recording_id, "data")
    data_size = sink.size(data_name)
    scan_from = record.data_size if record and record.data_size <= data_size else 0
    tail = sink.read(data_name, scan_from)
    if scan_from and tail and not tail.startswith(b"OggS"):
        # The record does not point at a page boundary (the file was changed behind us): scan it all.
        scan_from, tail = 0, sink.read(data_name)
    pages, data_end = _checked_pages(sink, data_name, tail, scan_from)
    next_sequence: dict[int, int] = {}
    if record and scan_from:
        next_sequence = {t.number: t.next_sequence for t in record.tracks.values()}
    for page in pages:
        next_sequence[page.serial] = max(next_sequence.get(page.serial, 0), _next_after(page.sequence))
        highest = max(highest, page.serial)

    start = record.start_epoch if record else _start_from_info(sink, recording_id)
    tracks = {
        user: TrackState(track, user, max(FIRST_AUDIO_SEQUENCE, next_sequence.get(track, 0)))
        for track, user in user_of_track.items()
    }
    sink.flush()
    return ResumeRecord(recording_id, start if start is not None else _start_from_pages(pages), tracks, data_end,
                        highest)
