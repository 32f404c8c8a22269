"""Storage a test may take away: its own daprd on its own Redis (stopped and restarted on the same port) and a
bucket of its own behind a TCP link to the session's moto (cut and restored on the same port); what landed in the
bucket read straight from moto; and four speakers feeding a raw writer at real-time pace."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from dapr.clients import DaprClient

from pandora_recorder.frames import ReceivedFrame, Speaker
from pandora_recorder.raw import RawRecordingWriter
from pandora_recorder.raw.format import file_name, parse_users
from pandora_recorder.raw.ogg import read_pages
from pandora_recorder.sinks.dapr import DaprSink
from pandora_recorder.sinks.spill import SpillFolder
from pandora_testenv.outages import RestartableRedis, TcpLink
from pandora_testenv.services import OBJECT_STORE, STATE_STORE, Daprd, S3Server, render_components, start_daprd

FRAME_SECONDS = 0.02


def joined_chunks(s3_server: S3Server, prefix: str, bucket: str | None = None) -> dict[str, bytes]:
    """File name -> its chunks concatenated in chunk-number order, read straight from S3 (not through Dapr)."""
    client = s3_server.client()
    bucket = bucket or s3_server.bucket
    chunks: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
    for page in client.get_paginator("list_objects").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            name, number = re.fullmatch(r".*/(.+)\.(\d{6,})", item["Key"]).groups()
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            chunks[name].append((int(number), body))
    return {name: b"".join(body for _, body in sorted(parts)) for name, parts in chunks.items()}


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
    """Storage of one test: `link.cut()` / `link.restore()` the object store, `redis.stop()` / `redis.start()`
    the state store."""

    s3: S3Server  # the session's moto, reached directly (not through the link)
    bucket: str
    link: TcpLink
    redis: RestartableRedis
    daprd: Daprd
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
        return joined_chunks(self.s3, f"{self.prefix}{recording_id}/", self.bucket)

    def object_count(self) -> int:
        pages = self.s3.client().get_paginator("list_objects").paginate(Bucket=self.bucket, Prefix=self.prefix)
        return sum(len(page.get("Contents", ())) for page in pages)

    def spilled(self) -> list[Path]:
        return sorted(self.spill_dir.rglob("*.spill"))


def start_outage_storage(testenv_dir: Path, s3_server: S3Server, tmp_path: Path) -> OutageStorage:
    name = f"outage-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=name)
    endpoint = urlparse(s3_server.endpoint)
    link = TcpLink((endpoint.hostname or "127.0.0.1", endpoint.port or 80)).start()
    redis = RestartableRedis(testenv_dir, f"redis-{name}").start()
    components = render_components(tmp_path / "components", redis.server,
                                   S3Server(link.url, name, s3_server.process), tmp_path / "objects")
    daprd = start_daprd(testenv_dir, components, app_id=name)
    return OutageStorage(s3_server, name, link, redis, daprd, tmp_path / "spill")


def stop_outage_storage(storage: OutageStorage) -> None:
    for sink in storage.sinks:
        sink.close(timeout=1)
    storage.daprd.stop()
    storage.link.close()
    storage.redis.stop()


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
