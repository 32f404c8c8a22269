"""Reads a raw recording back from a sink: tracks with their headers and speakers, then packets in file order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pandora_recorder.raw.format import OPUS_HEAD, OPUS_TAGS, file_name, parse_users
from pandora_recorder.raw.ogg import Page, read_pages
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
        if not any(sink.size(file_name(recording_id, kind)) for kind in ("data", "header1", "users")):
            raise FileNotFoundError(f"no raw recording {recording_id} ({file_name(recording_id, 'data')})")

    def tracks(self) -> dict[int, Track]:
        users = parse_users(self.sink.read(file_name(self.recording_id, "users")))
        heads = self._first_packets("header1")
        tags = self._first_packets("header2")
        numbers = set(heads) | set(users)
        return {
            number: Track(number, users.get(number, {}), heads.get(number, OPUS_HEAD), tags.get(number, OPUS_TAGS))
            for number in sorted(numbers)
        }

    def _first_packets(self, kind: str) -> dict[int, bytes]:
        pages = read_pages(self.sink.read(file_name(self.recording_id, kind)))
        return {page.serial: page.packets[0] for page in pages if page.packets}

    def packets(self, progress: Callable[[int], None] | None = None) -> Iterator[Packet]:
        """Audio packets in file order, each with the RTP timestamp of the empty page that follows it."""
        name = file_name(self.recording_id, "data")
        waiting: dict[int, tuple[int, int, bytes]] = {}  # track -> (sequence, arrival, opus) awaiting its RTP page
        offset = 0
        buffer = b""
        while True:
            chunk = self.sink.read(name, offset, _CHUNK)
            offset += len(chunk)
            buffer += chunk
            consumed = 0
            for page in _pages_resyncing(buffer):
                consumed = page.offset + page.size
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
            buffer = buffer[consumed:]
            if progress:
                progress(offset)
            if not chunk:
                break
        for track, (_sequence, arrival, opus) in waiting.items():
            yield Packet(track, arrival, None, opus)


def _pages_resyncing(buffer: bytes) -> Iterator[Page]:
    """Pages of `buffer`, skipping to the next capture pattern past bytes that are not a page (a damaged
    file should still cook). A torn page at the end is left for the next chunk."""
    start = 0
    while True:
        try:
            for page in read_pages(buffer, start):
                start = page.offset + page.size
                yield page
            return
        except ValueError:
            found = buffer.find(b"OggS", start + 1)
            if found < 0:
                return
            start = found
