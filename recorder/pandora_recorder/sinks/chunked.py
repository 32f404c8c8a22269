"""A `Sink` on an object store that cannot append: every flush uploads one new numbered chunk per grown file.

Chunk keys are `<prefix><recording id>/<file name>.<chunk number, 6+ digits>`, e.g.
`recordings/872660673/872660673.ogg.data.000042`; a file is its chunks joined in number order.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from pandora.logging import get_logger
from pandora_recorder.sinks.objects import ObjectStore

log = get_logger(__name__)

# 64 MiB is ~20 minutes of a busy 10-speaker channel: enough to ride out an object store outage of minutes.
DEFAULT_MAX_BUFFER = 64 * 1024 * 1024
# daprd takes gRPC requests up to 4 MiB by default and base64 adds a third: a backlog goes up as several chunks.
DEFAULT_MAX_CHUNK = 1024 * 1024
_CHUNK_KEY = re.compile(r"^(?P<name>[^/]+)\.(?P<number>\d{6,})$")


# Upload order within one flush; resume relies on users before headers before data (see raw/resume.py).
_UPLOAD_ORDER = {".info": 0, ".users": 1, ".header1": 2, ".header2": 3, ".data": 4}


def _upload_rank(name: str) -> int:
    return next((rank for suffix, rank in _UPLOAD_ORDER.items() if name.endswith(suffix)), len(_UPLOAD_ORDER))


def chunk_key(prefix: str, name: str, number: int) -> str:
    return f"{recording_folder(prefix, name)}{name}.{number:06d}"


def parse_chunk_key(key: str) -> tuple[str, int] | None:
    """`(file name, chunk number)` of a key inside a recording's folder (`<file name>.<n>`), None for others."""
    match = _CHUNK_KEY.match(key)
    return (match["name"], int(match["number"])) if match else None


def recording_folder(prefix: str, name: str) -> str:
    """`<prefix><id>/` for a file name `<id>.ogg.<kind>`: one folder per recording, as the operator reports."""
    return f"{prefix}{name.split('.', 1)[0]}/"


@dataclass
class _File:
    chunks: list[tuple[int, int]] = field(default_factory=list)  # (number, size) of uploaded chunks, in order
    pending: bytearray = field(default_factory=bytearray)  # appended, not yet uploaded

    @property
    def stored(self) -> int:
        return sum(size for _, size in self.chunks)

    @property
    def next_number(self) -> int:
        return self.chunks[-1][0] + 1 if self.chunks else 0


class ChunkedObjectSink:
    """Implements `Sink` on an `ObjectStore`.

    `append` only buffers. `flush` uploads each grown file's buffer as its next chunk (several when it is over
    `max_chunk` bytes); a failed upload keeps the bytes and the next flush retries them (merged with whatever was
    appended since) under the same chunk number, so a retry after an upload whose reply was lost just overwrites
    it. At most `max_buffer` bytes wait in memory; past that, new appends to `.data` are dropped (and logged as
    errors) while the small metadata files are always kept, so the files stay parseable. `size` is counted: the
    store is listed once per recording, on first use.
    """

    def __init__(
        self,
        objects: ObjectStore,
        prefix: str,
        *,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        max_chunk: int = DEFAULT_MAX_CHUNK,
    ) -> None:
        self.objects = objects
        self.prefix = prefix
        self.max_buffer = max_buffer
        self.max_chunk = max_chunk
        self.dropped_bytes = 0
        self._files: dict[str, _File] = {}
        self._listed: set[str] = set()
        self._lock = threading.Lock()  # the writer thread flushes; the owner may read or close from another

    # -- Sink ---------------------------------------------------------------------------------------------

    def append(self, name: str, data: bytes) -> None:
        with self._lock:
            file = self._file(name)
            if name.endswith(".data") and self._buffered() + len(data) > self.max_buffer:
                self.dropped_bytes += len(data)
                log.error("object store unreachable for too long: dropping audio", file=name, bytes=len(data),
                          dropped_total=self.dropped_bytes, buffered=self._buffered())
                return
            file.pending += data

    def flush(self) -> None:
        with self._lock:
            for name in sorted(self._files, key=_upload_rank):
                file = self._files[name]
                while file.pending:
                    number = file.next_number
                    part = bytes(file.pending[: self.max_chunk])
                    try:
                        self.objects.put(chunk_key(self.prefix, name, number), part)
                    except Exception as error:  # kept for the next flush; the writer must keep running
                        log.warning("chunk upload failed, will retry", file=name, chunk=number,
                                    buffered=len(file.pending), error=str(error))
                        return  # later files wait too: resume relies on users -> headers -> data order
                    file.chunks.append((number, len(part)))
                    del file.pending[: len(part)]

    def size(self, name: str) -> int:
        with self._lock:
            file = self._file(name)
            return file.stored + len(file.pending)

    def read(self, name: str, start: int = 0, length: int | None = None) -> bytes:
        with self._lock:
            file = self._file(name)
            total = file.stored + len(file.pending)
            end = total if length is None else min(total, start + length)
            # Fetch only the chunks the range touches; `base` is where the fetched part begins in the file.
            parts: list[bytes] = []
            base = offset = 0
            for number, size in file.chunks:
                if offset >= end:
                    break
                if offset + size <= start:
                    base = offset + size
                else:
                    parts.append(self.objects.get(chunk_key(self.prefix, name, number)))
                offset += size
            content = b"".join(parts) + bytes(file.pending)
            return content[max(0, start - base) : max(0, end - base)]

    def truncate(self, name: str, size: int) -> None:
        with self._lock:
            file = self._file(name)
            stored = file.stored
            if size >= stored:
                del file.pending[size - stored :]
                return
            file.pending.clear()
            # Drop whole chunks past `size` from the last one down, then rewrite the chunk `size` falls in.
            offset = stored
            while file.chunks and offset - file.chunks[-1][1] >= size:
                number, chunk_size = file.chunks.pop()
                self.objects.delete(chunk_key(self.prefix, name, number))
                offset -= chunk_size
            if offset > size:
                number, chunk_size = file.chunks[-1]
                key = chunk_key(self.prefix, name, number)
                kept = self.objects.get(key)[: chunk_size - (offset - size)]
                self.objects.put(key, kept)
                file.chunks[-1] = (number, len(kept))

    def close(self) -> None:
        self.flush()
        with self._lock:
            unsent = {name: len(file.pending) for name, file in self._files.items() if file.pending}
        if unsent:
            log.error("closing with bytes the object store never took", unsent=unsent)

    def forget_listing(self, recording_id: int) -> None:
        """List the recording's chunks again on next use (another writer may have added some)."""
        with self._lock:
            folder = f"{self.prefix}{recording_id}/"
            self._listed.discard(folder)
            for name, file in self._files.items():
                if recording_folder(self.prefix, name) == folder:
                    file.chunks = []

    def buffered_bytes(self) -> int:
        """Bytes appended but not yet uploaded."""
        with self._lock:
            return self._buffered()

    # -- inside the lock -------------------------------------------------------------------------------------

    def _buffered(self) -> int:
        return sum(len(file.pending) for file in self._files.values())

    def _file(self, name: str) -> _File:
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"not a plain file name: {name!r}")
        folder = recording_folder(self.prefix, name)
        if folder not in self._listed:
            self._load_listing(folder)
        return self._files.setdefault(name, _File())

    def _load_listing(self, folder: str) -> None:
        chunks: dict[str, list[tuple[int, int]]] = {}
        for stored in self.objects.list(folder):
            parsed = parse_chunk_key(stored.key[len(folder) :])
            if parsed:
                chunks.setdefault(parsed[0], []).append((parsed[1], stored.size))
        for name, found in chunks.items():
            self._files.setdefault(name, _File()).chunks = sorted(found)
        self._listed.add(folder)
