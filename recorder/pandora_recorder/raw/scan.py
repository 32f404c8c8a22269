"""Reading raw files that may be damaged (`pandora cook`, `pandora fetch`): checked pages and users lines.

A stretch that cannot be read becomes a `Damage` (file, byte offset, length, why) instead of an exception, and
reading goes on past it, so everything around the damage is still used. A page counts only when its checksum
matches: a flipped bit in a granule would otherwise place audio days away. After damage the scanner resyncs on
the next capture pattern "OggS".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pandora_recorder.raw.ogg import CAPTURE, Page, checksum_matches, page_at

CUT_OFF = "the file ends inside a page (cut off mid-write: a recording still running, or an incomplete copy)"
CUT_OFF_LINE = "the file ends inside a line (cut off mid-write: a recording still running, or an incomplete copy)"
NOT_A_PAGE = "not an Ogg page"
BAD_CHECKSUM = "the page's checksum does not match its content"
TOO_LONG = "a page claims to run past the end of the file"


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes of a raw file that could not be read."""

    file: str
    offset: int
    length: int
    reason: str

    def describe(self, detail: str = "") -> str:
        """`<file>: damaged at byte <offset> [(<detail>)]: <reason> [(<length> bytes)]`."""
        at = f"byte {self.offset} ({detail})" if detail else f"byte {self.offset}"
        size = f" ({self.length} bytes)" if self.length else ""
        return f"{self.file}: damaged at {at}: {self.reason}{size}"


class PageScanner:
    """Checked pages of one file fed in pieces; `damage` collects what was skipped. Iterate each `feed` to the
    end (its state is kept when the generator finishes)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.damage: list[Damage] = []
        self._buffer = b""
        self._base = 0  # file offset of _buffer[0]
        self._bad: tuple[int, str] | None = None  # the damaged stretch being skipped: (file offset, reason)

    def feed(self, chunk: bytes, *, final: bool = False) -> Iterator[Page]:
        """Pages completed by `chunk` (offsets are file offsets); with `final`, the file ends after it."""
        buffer = self._buffer + chunk if self._buffer else chunk
        end = len(buffer)
        position = 0
        while position < end:
            if self._bad is not None:
                found = buffer.find(CAPTURE, position)
                if found < 0:
                    position = end if final else max(position, end - len(CAPTURE) + 1)
                    break
                position = found
            try:
                page = page_at(buffer, position, self._base)
            except ValueError:
                self._skip(position, NOT_A_PAGE)
                position += 1
                continue
            if page is None:
                if not final:
                    break
                self._skip(position, TOO_LONG if buffer.find(CAPTURE, position + 1) >= 0 else CUT_OFF)
                position += 1
                continue
            if not checksum_matches(buffer, position, page):
                self._skip(position, BAD_CHECKSUM)
                position += 1
                continue
            self._resume(page.offset)
            yield page
            position += page.size
        self._buffer = buffer[position:]
        self._base += position
        if final:
            self._resume(self._base + len(self._buffer))

    def _skip(self, position: int, reason: str) -> None:
        if self._bad is None:
            self._bad = (self._base + position, reason)

    def _resume(self, offset: int) -> None:
        if self._bad is not None:
            start, reason = self._bad
            self.damage.append(Damage(self.name, start, offset - start, reason))
            self._bad = None


def scan_pages(content: bytes, name: str) -> tuple[list[Page], list[Damage]]:
    """Every checked page of a whole file, and its damage."""
    scanner = PageScanner(name)
    pages = list(scanner.feed(content, final=True))
    return pages, scanner.damage


def scan_users(content: bytes, name: str) -> tuple[dict[int, dict[str, Any]], list[Damage]]:
    """Track number -> user record, line by line (`"0":{}` then `,"<track>":{...}` per line), so one damaged line
    costs only its own track's name."""
    users: dict[int, dict[str, Any]] = {}
    damage: list[Damage] = []
    *lines, torn = content.split(b"\n")
    offset = 0
    for number, line in enumerate(lines, start=1):
        record = _users_line(line)
        if record is None:
            damage.append(Damage(name, offset, len(line) + 1, f"line {number} is not a track record"))
        else:
            users.update(record)
        offset += len(line) + 1
    if torn:
        damage.append(Damage(name, offset, len(torn), CUT_OFF_LINE))
    return users, damage


def _users_line(line: bytes) -> dict[int, dict[str, Any]] | None:
    try:
        parsed = json.loads(b"{" + line.removeprefix(b",") + b"}")
    except ValueError:  # not JSON, or not UTF-8
        return None
    records: dict[int, dict[str, Any]] = {}
    for track, user in parsed.items():
        if not (track.isascii() and track.isdigit() and isinstance(user, dict)):
            return None
        if int(track) > 0:
            records[int(track)] = user
    return records


def scan_info(content: bytes, name: str) -> list[Damage]:
    """The `.info` file is one JSON object (cook does not need it; Craig's and Pandora's tools do)."""
    try:
        if isinstance(json.loads(content), dict):
            return []
        reason, offset = "not a JSON object", 0
    except UnicodeDecodeError as error:
        reason, offset = "not UTF-8 text", error.start
    except json.JSONDecodeError as error:
        reason, offset = f"not valid JSON ({error.msg})", len(error.doc[: error.pos].encode())
    return [Damage(name, offset, len(content) - offset, reason)]
