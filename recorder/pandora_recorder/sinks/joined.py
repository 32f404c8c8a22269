"""A recording's chunk objects joined back into its raw files (`pandora fetch`), with a check of what a copy out
of the bucket can lose: chunks missing from the numbering, empty ones, two chunks with one number, and damaged
bytes inside (raw/scan.py). Read only: nothing in the store changes."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from pandora_recorder.raw.format import FILE_KINDS, file_name
from pandora_recorder.raw.scan import Damage, scan_info, scan_pages, scan_users
from pandora_recorder.sinks.chunked import chunk_key, parse_chunk_key, recording_folder
from pandora_recorder.sinks.objects import ObjectStore


@dataclass
class JoinedFile:
    name: str
    content: bytes = b""
    chunk_starts: list[int] = field(default_factory=list)  # where each joined chunk begins in `content`
    chunk_keys: list[str] = field(default_factory=list)
    listing: list[Damage] = field(default_factory=list)  # chunks missing, empty or stored twice (named in the reason)
    unreadable: list[Damage] = field(default_factory=list)  # bytes of the joined content that cannot be read

    @property
    def damage(self) -> list[Damage]:
        return sorted(self.listing + self.unreadable, key=lambda damage: damage.offset)

    def where(self, damage: Damage) -> str:
        """Which chunk object holds the start of unreadable bytes (listing damage names its chunks itself)."""
        if damage in self.listing or not self.chunk_keys:
            return ""
        index = max(0, bisect.bisect_right(self.chunk_starts, damage.offset) - 1)
        return f"in chunk {self.chunk_keys[index].rsplit('/', 1)[-1]}"


def join_recording(objects: ObjectStore, prefix: str, recording_id: int) -> dict[str, JoinedFile]:
    """The recording's files that have chunks, by file name, each joined in chunk order and checked."""
    folder = recording_folder(prefix, file_name(recording_id, "data"))
    found: dict[str, dict[int, list[str]]] = {}
    for stored in objects.list(folder):
        parsed = parse_chunk_key(stored.key[len(folder) :])
        if parsed:
            found.setdefault(parsed[0], {}).setdefault(parsed[1], []).append(stored.key)
    joined: dict[str, JoinedFile] = {}
    for kind in FILE_KINDS:
        name = file_name(recording_id, kind)
        if name in found:
            joined[name] = _join(objects, prefix, name, found[name])
            _check(joined[name], kind)
    return joined


def _join(objects: ObjectStore, prefix: str, name: str, numbered: dict[int, list[str]]) -> JoinedFile:
    file = JoinedFile(name)
    parts: list[bytes] = []
    size = 0
    missing_from: int | None = None
    for number in range(max(numbered) + 1):
        keys = numbered.get(number)
        if not keys:
            missing_from = number if missing_from is None else missing_from
            continue
        if missing_from is not None:
            file.listing.append(Damage(name, size, 0, _missing(name, missing_from, number - 1)))
            missing_from = None
        canonical = chunk_key(prefix, name, number)
        key = canonical if canonical in keys else sorted(keys)[0]
        if len(keys) > 1:
            others = ", ".join(k.rsplit("/", 1)[-1] for k in sorted(keys) if k != key)
            file.listing.append(Damage(name, size, 0, f"chunk number {number} is also stored as {others}; "
                                                      f"only {key.rsplit('/', 1)[-1]} was used"))
        data = objects.get(key)
        if not data:
            file.listing.append(Damage(name, size, 0, f"chunk {key.rsplit('/', 1)[-1]} is empty"))
        file.chunk_starts.append(size)
        file.chunk_keys.append(key)
        parts.append(data)
        size += len(data)
    file.content = b"".join(parts)
    return file


def _missing(name: str, first: int, last: int) -> str:
    if first == last:
        return f"chunk {name}.{first:06d} is missing"
    return f"chunks {name}.{first:06d} to {name}.{last:06d} are missing"


def _check(file: JoinedFile, kind: str) -> None:
    if kind == "users":
        file.unreadable = scan_users(file.content, file.name)[1]
    elif kind == "info":
        file.unreadable = scan_info(file.content, file.name)
    else:
        file.unreadable = scan_pages(file.content, file.name)[1]
