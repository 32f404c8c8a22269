"""A `Sink` on an object store that cannot append: each grown file goes up as new numbered chunks, uploaded by a
thread of the sink's own so the writer never waits on the network.

Chunk keys are `<prefix><recording id>/<file name>.<chunk number, 6+ digits>`, e.g.
`recordings/872660673/872660673.ogg.data.000042`; a file is its chunks joined in number order.

When the store is away: the uploader retries with backoff (0.25 s doubling to 2 s), appended bytes wait in memory
up to `max_buffer`, then in a spill folder on the local disk up to its limit (`sinks.spill`); only past both is
audio dropped, counted in `dropped_bytes` and logged as an error. The small metadata files always stay in memory,
so the files stay parseable. Nothing is reordered: once a file spills, its later bytes spill too until the spill
is uploaded. `close(timeout)` waits that long for the store, then moves whatever still waits into the spill folder
and lists it in `unsaved`.
"""

from __future__ import annotations

import enum
import re
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

from pandora.logging import get_logger
from pandora_recorder.sinks.objects import ObjectStore
from pandora_recorder.sinks.outage import REMIND_EVERY, StoreOutage
from pandora_recorder.sinks.spill import SpillFile, SpillFolder

log = get_logger(__name__)

# 64 MiB in memory is ~20 minutes of a busy 10-speaker channel (~30 minutes of the simulator's four speakers).
# Measured through daprd: a full buffer raises the recorder's peak RSS by ~125 MiB (the 1 MiB chunks are copied,
# base64-encoded and serialized on each attempt), well under the recorder pod's 512 MiB limit.
DEFAULT_MAX_BUFFER = 64 * 1024 * 1024
# daprd takes gRPC requests up to 4 MiB by default and base64 adds a third: a backlog goes up as several chunks.
DEFAULT_MAX_CHUNK = 1024 * 1024
RETRY_FIRST = 0.25
RETRY_CAP = 2.0  # a store that is back is used again within this long
_CHUNK_KEY = re.compile(r"^(?P<name>[^/]+)\.(?P<number>\d{6,})$")


# Upload order within one round; resume relies on users before headers before data (see raw/resume.py).
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
    """One raw file: uploaded chunks, then bytes waiting in memory, then bytes waiting in a spill file."""

    chunks: list[tuple[int, int]] = field(default_factory=list)  # (number, size) of uploaded chunks, in order
    pending: bytearray = field(default_factory=bytearray)
    spill: SpillFile | None = None

    @property
    def stored(self) -> int:
        return sum(size for _, size in self.chunks)

    @property
    def waiting(self) -> int:
        return len(self.pending) + (self.spill.waiting if self.spill else 0)

    @property
    def next_number(self) -> int:
        return self.chunks[-1][0] + 1 if self.chunks else 0


class _Round(enum.Enum):
    DONE = "done"
    STORE_FAILED = "store failed"  # an upload failed: back off
    ACTIONS_LEFT = "actions left"  # every chunk is up, an action failed: it runs again later


@dataclass(frozen=True)
class Unsaved:
    """What `close` could not get into the store: `size` bytes of `name`, kept in `spilled_to` (None: lost)."""

    name: str
    size: int
    spilled_to: Path | None


class ChunkedObjectSink:
    """Implements `Sink` on an `ObjectStore`.

    `append` only buffers and `flush` only wakes the uploader; `wait_stored` waits until the store has every byte.
    A failed upload keeps its bytes, and the retry (merged with whatever was appended since) goes up under the same
    chunk number, so a retry after an upload whose reply was lost just overwrites it. `when_stored` runs an action
    once the bytes appended before it are in the store (the Dapr sink saves resume records that way). `size` is
    counted: the store is listed once per recording, on first use.
    """

    def __init__(
        self,
        objects: ObjectStore,
        prefix: str,
        *,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        max_chunk: int = DEFAULT_MAX_CHUNK,
        spill: SpillFolder | None = None,
    ) -> None:
        self.objects = objects
        self.prefix = prefix
        self.max_buffer = max_buffer
        self.max_chunk = max_chunk
        self.spill = spill
        self.dropped_bytes = 0
        self.spilled_bytes = 0  # in all, over the sink's life
        self.unsaved: list[Unsaved] = []  # filled by close()
        self._files: dict[str, _File] = {}
        self._listed: set[str] = set()
        self._due: dict[Hashable, Callable[[], None]] = {}
        # _lock guards the state above; _put_lock is held around each upload and its bookkeeping, so truncate and
        # close never act on a chunk that is on its way. Order: _put_lock, then _lock.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._put_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._busy = False  # the uploader holds actions taken from _due
        self._uploader: threading.Thread | None = None
        self._failure: BaseException | None = None  # why the uploader stopped for good (another recorder took over)
        self._closed = False
        self._outage = StoreOutage("object store", retry_first=RETRY_FIRST, retry_cap=RETRY_CAP)
        self._drop_logged = -REMIND_EVERY

    # -- Sink ---------------------------------------------------------------------------------------------

    def append(self, name: str, data: bytes) -> None:
        with self._lock:
            file = self._file(name)
            if file.spill is not None or (name.endswith(".data") and self._memory() + len(data) > self.max_buffer):
                self._spill(name, file, data)
            else:
                file.pending += data

    def flush(self) -> None:
        """Wake the uploader (started on first use). Raises why it stopped, if it did."""
        self._raise_failure()
        with self._lock:
            if self._uploader is None and not self._closed:
                self._uploader = threading.Thread(target=self._upload_loop, name="chunk-uploader", daemon=True)
                self._uploader.start()
        self._wake.set()

    def size(self, name: str) -> int:
        with self._lock:
            file = self._file(name)
            return file.stored + file.waiting

    def read(self, name: str, start: int = 0, length: int | None = None) -> bytes:
        with self._lock:
            file = self._file(name)
            total = file.stored + file.waiting
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
            parts.append(bytes(file.pending))
            if file.spill is not None and end > file.stored + len(file.pending):
                parts.append(file.spill.read(0, file.spill.waiting))
            content = b"".join(parts)
            return content[max(0, start - base) : max(0, end - base)]

    def truncate(self, name: str, size: int) -> None:
        with self._put_lock, self._lock:
            file = self._file(name)
            stored = file.stored
            in_memory = stored + len(file.pending)
            if size >= in_memory:
                if file.spill is not None:
                    file.spill.keep_waiting(size - in_memory)
                return
            self._drop_spill(file)
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

    def close(self, timeout: float | None = None) -> None:
        """Wait up to `timeout` seconds (None: for ever) for the store to take every byte, then stop the uploader.
        What it did not take is moved to the spill folder and listed in `unsaved`, with an error log line."""
        if self._closed:
            return
        try:
            stored = self.wait_stored(timeout)
        finally:
            with self._lock:
                self._closed = True
            self._stopping.set()
            self._wake.set()
        if self._uploader is not None:
            self._uploader.join(min(1.0, timeout) if timeout is not None else None)
        if not stored:
            self._keep_unsaved()

    # -- beyond Sink ---------------------------------------------------------------------------------------

    def wait_stored(self, timeout: float | None = None) -> bool:
        """Wait until the store has every byte appended so far and every `when_stored` action ran; False when
        `timeout` seconds passed first. Raises why the uploader stopped, if it did."""
        if self._closed:
            return not self.unsaved
        self.flush()
        with self._changed:
            done = self._changed.wait_for(
                lambda: self._failure is not None or not (self._waiting() or self._due or self._busy), timeout)
        self._raise_failure()
        return done

    def when_stored(self, key: Hashable, action: Callable[[], None]) -> None:
        """Run `action` on the uploader thread once the bytes appended so far are stored; it replaces an action
        under the same `key` that has not run yet. An action that raises is retried with the next uploads."""
        with self._lock:
            self._due.pop(key, None)  # re-inserted last: actions run in the order they were last asked for
            self._due[key] = action
        self.flush()

    # Errors of a `when_stored` action that stop the uploader for good (others are retried).
    fatal_errors: tuple[type[Exception], ...] = ()

    def before_upload(self) -> None:
        """Called on the uploader thread before each round of uploads; raising stops the uploader for good."""

    def forget_listing(self, recording_id: int) -> None:
        """List the recording's chunks again on next use (another writer may have added some)."""
        with self._put_lock, self._lock:
            folder = f"{self.prefix}{recording_id}/"
            self._listed.discard(folder)
            for name, file in self._files.items():
                if recording_folder(self.prefix, name) == folder:
                    file.chunks = []

    def pending_actions(self) -> list[Hashable]:
        """Keys of the `when_stored` actions that have not run (yet, or ever, after `close`)."""
        with self._lock:
            return list(self._due)

    def buffered_bytes(self) -> int:
        """Bytes appended but not yet uploaded (in memory and spilled)."""
        with self._lock:
            return self._waiting()

    def memory_bytes(self) -> int:
        """Bytes waiting in memory (at most `max_buffer` of `.data`, plus the metadata files)."""
        with self._lock:
            return self._memory()

    # -- the uploader thread -----------------------------------------------------------------------------------

    def _upload_loop(self) -> None:
        delay = RETRY_FIRST
        retry_in: float | None = None  # None: wait for the next flush
        while True:
            self._wake.wait(retry_in)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                outcome = self._upload_round()
            except Exception as failure:  # before_upload or an action refused: this sink must stop writing
                with self._changed:
                    self._failure = failure
                    self._busy = False
                    self._changed.notify_all()
                log.error("uploads stopped", error=str(failure))
                return
            with self._changed:
                self._changed.notify_all()
            if outcome is not _Round.STORE_FAILED:
                delay = RETRY_FIRST
                # An action that failed (the state store is away) paces itself; chunks go on at every flush.
                retry_in = RETRY_CAP if outcome is _Round.ACTIONS_LEFT else None
                continue
            if self._stopping.wait(delay):  # flushes do not hurry a retry against a store that is away
                return
            delay = min(delay * 2, RETRY_CAP)
            retry_in = 0

    def _upload_round(self) -> _Round:
        """Upload what waits now, users before headers before data, then run the due actions."""
        with self._lock:
            limits = {name: file.waiting for name, file in self._files.items() if file.waiting}
            actions, self._due = self._due, {}
            self._busy = bool(actions)
        if not limits and not actions:
            return _Round.DONE
        self.before_upload()
        for name in sorted(limits, key=_upload_rank):
            left = limits[name]
            while left > 0:
                sent = self._upload_next(name, left)
                if sent is None:
                    self._requeue(actions)
                    return _Round.STORE_FAILED
                left -= sent
        for key, action in list(actions.items()):
            try:
                action()
            except self.fatal_errors:
                raise
            except Exception:  # the action's owner logs why; it runs again after the next uploads
                self._requeue(actions)
                return _Round.ACTIONS_LEFT
            del actions[key]
        with self._lock:
            self._busy = False
        return _Round.DONE

    def _upload_next(self, name: str, left: int) -> int | None:
        """Upload the next chunk of `name` (at most `left` bytes); its size, or None when the store failed."""
        with self._put_lock:
            with self._lock:
                if self._closed:
                    return None
                file = self._files[name]
                number = file.next_number
                size = min(left, self.max_chunk)
                from_memory = bool(file.pending)
                part = bytes(file.pending[:size]) if from_memory else file.spill.read(0, size) if file.spill else b""
            if not part:
                return left  # cut by a truncate since the round began
            try:
                self.objects.put(chunk_key(self.prefix, name, number), part)
            except Exception as error:  # kept for the next round; the writer must keep running
                self._outage.failed(error, file=name, chunk=number, waiting=self.buffered_bytes())
                return None
            self._outage.answered(waiting=self.buffered_bytes())
            with self._lock:
                if self._closed:  # close() gave up on this upload and spilled its bytes already
                    return None
                file.chunks.append((number, len(part)))
                if from_memory:
                    del file.pending[: len(part)]
                elif file.spill is not None:
                    file.spill.sent += len(part)
                    if not file.spill.waiting:
                        self._drop_spill(file)
                return len(part)

    def _requeue(self, actions: dict[Hashable, Callable[[], None]]) -> None:
        with self._lock:
            for key, action in actions.items():
                self._due.setdefault(key, action)  # a newer action under the same key wins
            self._busy = False

    # -- inside the lock -------------------------------------------------------------------------------------

    def _memory(self) -> int:
        return sum(len(file.pending) for file in self._files.values())

    def _waiting(self) -> int:
        return sum(file.waiting for file in self._files.values())

    def _spilled_waiting(self) -> int:
        return sum(file.spill.waiting for file in self._files.values() if file.spill)

    def _spill(self, name: str, file: _File, data: bytes) -> None:
        error: str | None = None
        if self.spill is None:
            error = "no spill folder"
        elif self._spilled_waiting() + len(data) > self.spill.limit and name.endswith(".data"):
            error = f"spill folder full ({self.spill.limit} bytes)"
        else:
            try:
                if file.spill is None:
                    file.spill = self.spill.create(self.prefix, name, file.stored + len(file.pending))
                    log.warning("object store behind: audio waits on the local disk", file=name,
                                spill=str(file.spill.path), memory=self._memory())
                file.spill.append(data)
                self.spilled_bytes += len(data)
                return
            except OSError as failure:
                error = str(failure)
        self.dropped_bytes += len(data)
        now = time.monotonic()
        if now - self._drop_logged >= REMIND_EVERY:  # the first drop, then a reminder with the totals
            self._drop_logged = now
            log.error("object store away too long: dropping audio (memory buffer and spill space full)", file=name,
                      reason=error, dropped_total=self.dropped_bytes, memory=self._memory(),
                      spilled=self._spilled_waiting())

    def _drop_spill(self, file: _File) -> None:
        if file.spill is not None:
            file.spill.remove()
            file.spill = None

    def _keep_unsaved(self) -> None:
        """After a close that timed out: move every waiting byte of each file into one spill file that starts
        where the store's copy ends, so nothing is left only in this process's memory."""
        # An upload hung on a dead store must not hold the stop up: past a second, spill without waiting for it
        # (if it lands after all, the spill still continues the store's copy; see _take_up_spills).
        got = self._put_lock.acquire(timeout=1.0)
        try:
            with self._lock:
                for name, file in sorted(self._files.items()):
                    if file.waiting:
                        size = file.waiting
                        self.unsaved.append(Unsaved(name, size, self._respill(name, file)))
        finally:
            if got:
                self._put_lock.release()
        if self.unsaved:
            log.error("closed before the object store took every byte", store_away_seconds=self._outage.seconds_away(),
                      unsaved={item.name: item.size for item in self.unsaved},
                      spilled_to={item.name: str(item.spilled_to) for item in self.unsaved if item.spilled_to},
                      lost={item.name: item.size for item in self.unsaved if item.spilled_to is None})

    def _respill(self, name: str, file: _File) -> Path | None:
        old = file.spill
        if old is not None and not file.pending and old.sent == 0:
            return old.path  # it holds exactly what is unsaved already
        if self.spill is None:
            return None
        try:
            data = bytes(file.pending) + (old.read(0, old.waiting) if old else b"")
            spill = self.spill.create(self.prefix, name, file.stored)
            spill.append(data)
        except OSError as error:
            log.error("could not spill unsaved bytes", file=name, error=str(error))
            return None
        if old is not None and old.path != spill.path:
            old.remove()
        file.pending.clear()
        file.spill = spill
        return spill.path

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

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
        self._take_up_spills(folder)

    def _take_up_spills(self, folder: str) -> None:
        """Adopt spill files an earlier recorder on this disk left for this recording, where they continue the
        store's copy; leave the others in place, saying so."""
        for name, file in self._files.items():
            if recording_folder(self.prefix, name) == folder and file.spill is not None and (
                    file.stored + len(file.pending) != file.spill.start + file.spill.sent):
                log.error("a spill no longer continues the stored file; left in place", file=name,
                          spill=str(file.spill.path))
                file.spill = None
        if self.spill is None:
            return
        for spill in self.spill.saved(self.prefix):
            if recording_folder(self.prefix, spill.name) != folder:
                continue
            file = self._files.setdefault(spill.name, _File())
            if file.spill is not None and file.spill.path == spill.path:
                continue
            if file.spill is None and not file.pending and spill.start <= file.stored <= spill.start + spill.length:
                spill.sent = file.stored - spill.start
                file.spill = spill
                log.info("picked up spilled bytes of an earlier recorder", file=spill.name, spill=str(spill.path),
                         bytes=spill.waiting)
                if not spill.waiting:
                    self._drop_spill(file)
            else:
                log.error("spilled bytes do not continue the stored file; left in place", file=spill.name,
                          spill=str(spill.path), stored=file.stored, spill_starts_at=spill.start)
