"""Reads a raw recording back from a sink: tracks with their headers and speakers, then packets in file order.

Damaged files do not stop it: what cannot be read is skipped and listed in `damage` (see raw/scan.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pandora_recorder.raw.format import OPUS_HEAD, OPUS_TAGS, file_name
from pandora_recorder.raw.scan import Damage, PageScanner, scan_pages, scan_users
from pandora_recorder.sinks.base import Sink

_CHUNK = 4 << 20


@dataclass(frozen=True, slots=True)
class Track:
    number: int
    user: dict[str, Any]  # the .users record ({} when the users file lacks it)
    opus_head: bytes
    opus_tags: bytes

    @property
    def label(self) -> str:
        return str(self.user.get("username") or self.user.get("name") or f"track{self.number}")


@dataclass(frozen=True, slots=True)
class Packet:
    track: int
    arrival: int  # granule of the audio page: 48 kHz samples since the recording start
    rtp: int | None  # granule of the empty page after it, when present
    opus: bytes


class RawRecordingReader:
    def __init__(self, sink: Sink, recording_id: int) -> None:
        self.sink = sink
        self.recording_id = recording_id
        self.data_size = sink.size(file_name(recording_id, "data"))
        self.damage: list[Damage] = []  # in the order it was found
        if not any(sink.size(file_name(recording_id, kind)) for kind in ("data", "header1", "users")):
            raise FileNotFoundError(f"no raw recording {recording_id} ({file_name(recording_id, 'data')})")

    def tracks(self) -> dict[int, Track]:
        name = file_name(self.recording_id, "users")
        users, damage = scan_users(self.sink.read(name), name)
        self.damage += damage
        heads = self._first_packets("header1", _is_opus_head, "not an OpusHead packet")
        tags = self._first_packets("header2", _is_opus_tags, "not an OpusTags packet")
        numbers = set(heads) | set(users)
        return {
            number: Track(number, users.get(number, {}), heads.get(number, OPUS_HEAD), tags.get(number, OPUS_TAGS))
            for number in sorted(numbers)
        }

    def _first_packets(self, kind: str, valid: Callable[[bytes], bool], invalid: str) -> dict[int, bytes]:
        name = file_name(self.recording_id, kind)
        pages, damage = scan_pages(self.sink.read(name), name)
        self.damage += damage
        found: dict[int, bytes] = {}
        for page in pages:
            if not page.packets:
                continue
            if valid(page.packets[0]):
                found[page.serial] = page.packets[0]
            else:  # a checked page, but the wrong content: the track gets the standard header
                self.damage.append(Damage(name, page.offset, page.size, invalid))
        return found

    def packets(self, progress: Callable[[int], None] | None = None) -> Iterator[Packet]:
        """Audio packets in file order, each with the RTP timestamp of the empty page that follows it."""
        name = file_name(self.recording_id, "data")
        scanner = PageScanner(name)
        waiting: dict[int, tuple[int, int, bytes]] = {}  # track -> (sequence, arrival, opus) awaiting its RTP page
        offset = 0
        while True:
            chunk = self.sink.read(name, offset, _CHUNK)
            offset += len(chunk)
            for page in scanner.feed(chunk, final=not chunk):
                if page.sequence < 2 or not page.packets:
                    continue
                packet = page.packets[0]
                pending = waiting.pop(page.serial, None)
                if pending and not packet and page.sequence == pending[0] + 1:
                    yield Packet(page.serial, pending[1], page.granule, pending[2])
                    continue
                if pending:
                    yield Packet(page.serial, pending[1], None, pending[2])
                if packet:
                    waiting[page.serial] = (page.sequence, page.granule, packet)
            if progress:
                progress(offset)
            if not chunk:
                break
        self.damage += scanner.damage
        for track, (_sequence, arrival, opus) in waiting.items():
            yield Packet(track, arrival, None, opus)


def _is_opus_head(packet: bytes) -> bool:
    """RFC 7845 §5.1 as far as the cooker relies on it: magic, a version it can read, 1 or 2 channels, family 0."""
    return (len(packet) >= 19 and packet[:8] == b"OpusHead" and packet[8] < 16 and packet[9] in (1, 2)
            and packet[18] == 0)


def _is_opus_tags(packet: bytes) -> bool:
    return packet[:8] == b"OpusTags"
