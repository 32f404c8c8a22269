"""Storage a test may take away (`pandora_testenv.outages.OutageStack`: its own daprd, Redis and bucket), what
landed in a bucket read straight from moto, and four speakers feeding a raw writer at real-time pace."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dapr.clients import DaprClient

from pandora_recorder.frames import ReceivedFrame, Speaker
from pandora_recorder.raw import RawRecordingWriter
from pandora_recorder.raw.format import file_name, parse_users
from pandora_recorder.raw.ogg import read_pages
from pandora_recorder.sinks.dapr import DaprSink
from pandora_recorder.sinks.spill import SpillFolder
from pandora_testenv.outages import OutageStack
from pandora_testenv.services import OBJECT_STORE, STATE_STORE, S3Server

FRAME_SECONDS = 0.02


def joined_chunks(s3_server: S3Server, prefix: str) -> dict[str, bytes]:
    """File name -> its chunks concatenated in chunk-number order, read straight from S3 (not through Dapr)."""
    return s3_server.chunk_files(prefix)


def tracks_in(files: dict[str, bytes], recording_id: int) -> dict[int, list[tuple[int, bytes]]]:
    """User id -> (page sequence, Opus packet) of every audio page of that user's track, in file order."""
    users = parse_users(files[file_name(recording_id, "users")])
    user_of = {track: int(user["id"]) for track, user in users.items()}
    tracks: dict[int, list[tuple[int, bytes]]] = {user: [] for user in user_of.values()}
    for page in read_pages(files[file_name(recording_id, "data")]):
        if page.packets and page.packets[0]:
            tracks[user_of[page.serial]].append((page.sequence, page.packets[0]))
    return tracks


@dataclass
class OutageStorage:
    """Storage of one test: `stack.link.cut()` / `.restore()` the object store, `stack.redis.stop()` / `.start()`
    the state store."""

    stack: OutageStack
    spill_dir: Path
    prefix: str = "r/"
    sinks: list[DaprSink] = field(default_factory=list)

    def sink(self, **options) -> DaprSink:
        """A Dapr sink on this storage, spilling into `spill_dir` (as `pandora record` into the pod's /tmp)."""
        options.setdefault("spill", SpillFolder(self.spill_dir))
        sink = DaprSink(DaprClient(), OBJECT_STORE, self.prefix, STATE_STORE, **options)
        self.sinks.append(sink)
        return sink

    def files(self, recording_id: int) -> dict[str, bytes]:
        return self.stack.files(f"{self.prefix}{recording_id}/")

    def object_count(self) -> int:
        return self.stack.object_count(self.prefix)

    def spilled(self) -> list[Path]:
        return sorted(self.spill_dir.rglob("*.spill"))

    def close(self) -> None:
        for sink in self.sinks:
            sink.close(timeout=1)
        self.stack.close()


class Talkers(threading.Thread):
    """`speakers` users each submit one distinct 20 ms frame per 20 ms into `writer` until `stop()`; `sent` has
    every frame submitted, by user. `watch()` runs after every round of frames (e.g. to sample memory)."""

    def __init__(self, writer: RawRecordingWriter, speakers: int = 4, watch=None) -> None:
        super().__init__(name="talkers", daemon=True)
        self.writer = writer
        self.users = [1000 + number for number in range(speakers)]
        self.sent: dict[int, list[bytes]] = {user: [] for user in self.users}
        self.watch = watch
        self._stopped = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        number = 0
        while not self._stopped.is_set():
            for index, user in enumerate(self.users):
                opus = b"\x78" + f"user {user} frame {number:07d} ".encode() * 4  # ~100 bytes, each one unique
                self.writer.submit(ReceivedFrame(user, 7000 + index, number & 0xFFFF, (number * 960) & 0xFFFFFFFF,
                                                 opus, time.monotonic()))
                self.sent[user].append(opus)
            if self.watch is not None:
                self.watch()
            number += 1
            self._stopped.wait(max(0.0, start + number * FRAME_SECONDS - time.monotonic()))

    def stop(self) -> None:
        self._stopped.set()
        self.join(5)


def speaker_of(user_id: int) -> Speaker:
    return Speaker(user_id, f"user{user_id}", f"user{user_id}")
