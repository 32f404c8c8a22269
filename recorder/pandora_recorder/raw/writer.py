"""The track writer: received frames in, raw-format files out, off the UDP reader thread."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pandora.logging import get_logger
from pandora_recorder.frames import ReceivedFrame, Speaker
from pandora_recorder.raw.format import (
    OPUS_HEAD,
    OPUS_TAGS,
    SAMPLE_RATE,
    USERS_PREAMBLE,
    RecordingInfo,
    file_name,
    info_bytes,
    new_recording_id,
    users_line,
)
from pandora_recorder.raw.ogg import FLAG_BOS, encode_page, raw_page
from pandora_recorder.raw.resume import ResumeRecord, TrackState, recording_exists, recover
from pandora_recorder.sinks.base import ResumeStore, Sink

log = get_logger(__name__)

# Frames waiting here are lost if the process is killed; a flush of a local folder is one write per grown file and
# the resume record, so ten a second cost little (benchmarks/bench_writer.py --realtime).
DEFAULT_FLUSH_INTERVAL = 0.1
RESUME_RECORD_EVERY = 0.5
# ~50 s of 99 people talking at once; past it frames are counted as dropped rather than growing memory forever.
DEFAULT_MAX_PENDING = 250_000
_RTP_MASK = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class WriterStats:
    frames_written: int
    frames_dropped: int
    bytes_written: int
    tracks: int
    pending: int


class _Barrier:
    """Queued behind frames; the writer thread sets it once everything before it reached the sink."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class RawRecordingWriter:
    """Writes one recording in the raw format of Craig and Pandora (see `raw.format`) to a `Sink`.

    `submit` only enqueues, so the UDP reader thread never waits on encoding or I/O. Every `flush_interval`
    seconds a writer thread turns the queued frames into pages (one track per user, numbered by first packet) and
    hands them to the sink, saving the resume record with the first flush `RESUME_RECORD_EVERY` seconds after the
    last. Opening an id that already has files in the sink resumes it: tracks, page sequences and the users file
    continue.

    `speaker_of(user_id)` runs on the writer thread when a user's first packet arrives; it should answer from a
    cache (a failure records the track under the bare user id).
    """

    def __init__(
        self,
        sink: Sink,
        speaker_of: Callable[[int], Speaker],
        *,
        recording_id: int | None = None,
        info: RecordingInfo | None = None,
        resume_store: ResumeStore | None = None,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        max_pending: int = DEFAULT_MAX_PENDING,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.sink = sink
        self.speaker_of = speaker_of
        self.store = resume_store if resume_store is not None else _store_of(sink)
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self._monotonic = monotonic

        if recording_id is None:
            recording_id = new_recording_id()
            while recording_exists(sink, recording_id):
                recording_id = new_recording_id()
        self.recording_id = recording_id
        self.resumed = recording_exists(sink, recording_id)
        now_wall, now_monotonic = wall_clock(), monotonic()
        if self.resumed:
            self._record = recover(sink, self.store, recording_id)
            log.info("recording resumed", recording_id=recording_id, tracks=len(self._record.tracks))
        else:
            self._record = ResumeRecord(recording_id, now_wall)
            sink.append(self._name("info"), info_bytes(info or RecordingInfo(), self.start_time))
            sink.append(self._name("users"), USERS_PREAMBLE)
        # Arrival times are monotonic; map the (possibly earlier, resumed) wall-clock start onto that clock.
        self._start_monotonic = now_monotonic - (now_wall - self._record.start_epoch)
        self._tracks: dict[int, TrackState] = dict(self._record.tracks)
        self._names = {kind: self._name(kind) for kind in ("header1", "header2", "users", "data")}
        self._pending: dict[str, bytearray] = {kind: bytearray() for kind in self._names}
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._next_resume_record = now_monotonic
        self._written = 0
        self._dropped = 0
        self._bytes = 0
        self._closed = False
        self._error: BaseException | None = None
        self._flush(force=True, resume_record=True)
        self._thread = threading.Thread(target=self._run, name=f"raw-writer-{recording_id}", daemon=True)
        self._thread.start()

    # -- called from any thread ------------------------------------------------------------------------------

    @property
    def start_time(self) -> datetime:
        return datetime.fromtimestamp(self._record.start_epoch, UTC)

    @property
    def start_monotonic(self) -> float:
        """The recording start on the `time.monotonic()` clock that `ReceivedFrame.arrival` uses."""
        return self._start_monotonic

    def submit(self, frame: ReceivedFrame) -> None:
        """Queue one frame for writing. Never blocks; frames are written in the order submitted."""
        if self._closed or self._queue.qsize() >= self.max_pending:
            self._dropped += 1
            return
        self._queue.put(frame)

    def sync(self, timeout: float | None = None) -> bool:
        """Wait until every frame submitted so far is in the sink (tests, graceful handover). False on timeout
        or when the writer thread has failed."""
        if self._closed or not self._thread.is_alive():
            self._thread.join(timeout)
            return not self._thread.is_alive() and self._error is None
        barrier = _Barrier()
        self._queue.put(barrier)
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not barrier.done.wait(0.1):
            if not self._thread.is_alive() or (deadline is not None and time.monotonic() >= deadline):
                return False
        return True

    def close(self, timeout: float | None = None) -> None:
        """Write everything still queued, flush the sink and stop the writer thread. The sink stays open."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._wake.set()
        self._thread.join(timeout)
        if self._error is not None:
            raise RuntimeError("raw writer failed") from self._error

    @property
    def error(self) -> BaseException | None:
        """Why the writer thread stopped early (a sink failure), or None while it is healthy."""
        return self._error

    def stats(self) -> WriterStats:
        return WriterStats(self._written, self._dropped, self._bytes, len(self._tracks), self._queue.qsize())

    def speaker_tracks(self) -> dict[int, int]:
        """User id -> track number, for progress reports."""
        return {user: track.number for user, track in list(self._tracks.items())}

    def __enter__(self) -> RawRecordingWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- writer thread -----------------------------------------------------------------------------------------

    def _name(self, kind: str) -> str:
        return file_name(self.recording_id, kind)

    def _run(self) -> None:
        # Frames are encoded when they are flushed, in one batch per interval: they would wait for the flush
        # anyway, and one wake-up per interval costs far less than one per frame. sync() and close() wake it early.
        next_flush = self._monotonic() + self.flush_interval
        try:
            while True:
                self._wake.wait(max(0.0, next_flush - self._monotonic()))
                self._wake.clear()
                barriers, stop = self._encode_queued()
                if barriers or stop or self._monotonic() >= next_flush:
                    self._flush(resume_record=bool(barriers) or stop)
                    next_flush = self._monotonic() + self.flush_interval
                for barrier in barriers:
                    barrier.done.set()
                if stop:
                    return
        except BaseException as error:  # keep the reason for close(); the recorder must learn about it
            self._error = error
            log.exception("raw writer stopped", recording_id=self.recording_id)

    def _encode_queued(self) -> tuple[list[_Barrier], bool]:
        """Encode every frame queued so far; returns the barriers met on the way and whether close() was called."""
        barriers: list[_Barrier] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return barriers, False
            if isinstance(item, ReceivedFrame):
                self._encode(item)
            elif isinstance(item, _Barrier):
                barriers.append(item)
            elif item is _STOP:
                return barriers, True

    def _encode(self, frame: ReceivedFrame) -> None:
        track = self._tracks.get(frame.user_id)
        if track is None:
            track = self._new_track(frame.user_id)
        # Granule 0 marks header pages for Craig's cook tools, so an audio page never uses it.
        granule = max(1, round((frame.arrival - self._start_monotonic) * SAMPLE_RATE))
        sequence = track.next_sequence
        data = self._pending["data"]
        data += raw_page(track.number, sequence, granule, frame.opus)
        data += raw_page(track.number, sequence + 1, frame.rtp_timestamp & _RTP_MASK, b"")
        track.next_sequence = sequence + 2
        self._written += 1

    def _new_track(self, user_id: int) -> TrackState:
        number = max([self._record.highest_track, *(t.number for t in self._tracks.values())]) + 1
        track = TrackState(number, user_id)
        self._tracks[user_id] = track
        try:
            speaker = self.speaker_of(user_id)
        except Exception:  # an unknown name must not lose the audio
            log.warning("speaker lookup failed", user_id=user_id, exc_info=True)
            speaker = Speaker(id=user_id, name=str(user_id), username=str(user_id))
        self._pending["users"] += users_line(number, speaker)
        self._pending["header1"] += encode_page(
            serial=number, sequence=0, granule=0, packets=(OPUS_HEAD,), flags=FLAG_BOS
        )
        self._pending["header2"] += encode_page(serial=number, sequence=1, granule=0, packets=(OPUS_TAGS,))
        log.info("new track", recording_id=self.recording_id, track=number, user_id=user_id)
        return track

    def _flush(self, force: bool = False, resume_record: bool = False) -> None:
        if not force and not resume_record and not any(self._pending.values()):
            # Nothing new, but a sink whose background uploads failed for good raises here: the recorder learns
            # within a flush interval even while nobody speaks.
            self.sink.flush()
            return
        # Users before headers before data: resume relies on this order (see raw/resume.py).
        for kind in ("users", "header1", "header2", "data"):
            pending = self._pending[kind]
            if pending:
                self.sink.append(self._names[kind], bytes(pending))
                self._bytes += len(pending)
                pending.clear()
        self.sink.flush()
        # The resume record only saves a resume from reading the whole data file (the files are the truth), so
        # a record up to RESUME_RECORD_EVERY old is as good: a resume then scans that much more data.
        now = self._monotonic()
        if self.store is not None and (resume_record or now >= self._next_resume_record):
            record = self._record
            record.tracks = {user: TrackState(t.number, t.user_id, t.next_sequence) for user, t in self._tracks.items()}
            record.data_size = self.sink.size(self._names["data"])
            self.store.save_resume(self.recording_id, record.to_json())
            self._next_resume_record = now + RESUME_RECORD_EVERY


def _store_of(sink: Sink) -> ResumeStore | None:
    return sink if isinstance(sink, ResumeStore) else None
