"""The chunked sink's uploader on an object store that goes away and comes back: bytes wait in memory up to the
bound, then in the spill folder, arrive complete and in order when the store is back, and a close that gives up
leaves them in one spill file per raw file that the next sink on the disk takes up.

The store here is an in-memory `ObjectStore` (a small interface the sink owns) that can refuse or hang; the same
outages on real daprd + S3 + Redis are in test_storage_outages.py."""

from __future__ import annotations

import threading

import pytest

from pandora_recorder.sinks.chunked import RETRY_CAP, ChunkedObjectSink, chunk_key
from pandora_recorder.sinks.objects import StoredObject
from pandora_recorder.sinks.spill import SpillFolder

pytestmark = pytest.mark.timeout(30)


class FlakyObjects:
    """Objects in a dict; `down` makes every call fail, `hold` makes puts wait until it is set."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.down = False
        self.hold = threading.Event()
        self.hold.set()
        self.puts: list[str] = []  # every key put, in order

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("connection refused")

    def put(self, key: str, data: bytes) -> None:
        self.hold.wait()
        self._check()
        self.objects[key] = data
        self.puts.append(key)

    def get(self, key: str) -> bytes:
        self._check()
        return self.objects[key]

    def delete(self, key: str) -> None:
        self._check()
        self.objects.pop(key, None)

    def list(self, prefix: str) -> list[StoredObject]:
        self._check()
        return [StoredObject(key, len(value)) for key, value in sorted(self.objects.items()) if key.startswith(prefix)]

    def joined(self, name: str, prefix: str = "r/") -> bytes:
        """The file as a reader of the bucket sees it: its chunks in number order."""
        keys = sorted(key for key in self.objects if key.startswith(chunk_key(prefix, name, 0)[:-6]))
        return b"".join(self.objects[key] for key in keys)


def audio(index: int) -> bytes:
    return f"page-{index:05d};".encode() * 20  # 220 bytes, each one different


def test_flush_returns_while_an_upload_hangs_and_the_bytes_go_up_after(tmp_path):
    store = FlakyObjects()
    sink = ChunkedObjectSink(store, "r/")
    store.hold.clear()  # the store takes the request and does not answer
    sink.append("1.ogg.data", audio(0))
    sink.flush()
    for index in range(1, 50):  # the writer goes on appending and flushing: nothing here waits on the store
        sink.append("1.ogg.data", audio(index))
        sink.flush()
    assert not sink.wait_stored(timeout=0.2)
    store.hold.set()
    assert sink.wait_stored(timeout=10)
    assert store.joined("1.ogg.data") == b"".join(audio(index) for index in range(50))
    sink.close()


def test_an_outage_loses_nothing_and_keeps_the_order(tmp_path):
    store = FlakyObjects()
    sink = ChunkedObjectSink(store, "r/")
    sink.append("2.ogg.users", b'"0":{}\n')
    sink.append("2.ogg.data", audio(0))
    assert sink.wait_stored(timeout=10)
    store.down = True
    for index in range(1, 30):
        sink.append("2.ogg.data", audio(index))
        sink.flush()
    sink.append("2.ogg.users", b',"1":{"id":"5"}\n')  # a new track during the outage...
    sink.append("2.ogg.data", audio(30))  # ...whose audio must not reach the store before its users line
    sink.flush()
    assert sink.buffered_bytes() == 30 * len(audio(0)) + 16
    store.down = False
    assert sink.wait_stored(timeout=10)
    assert store.joined("2.ogg.data") == b"".join(audio(index) for index in range(31))
    assert store.joined("2.ogg.users") == b'"0":{}\n,"1":{"id":"5"}\n'
    last_users = max(i for i, key in enumerate(store.puts) if ".users." in key)
    assert store.puts.index(chunk_key("r/", "2.ogg.data", 1)) > last_users
    sink.close()


def test_past_the_memory_bound_audio_waits_on_disk_and_goes_up_when_the_store_is_back(tmp_path):
    store = FlakyObjects()
    spill = SpillFolder(tmp_path / "spill")
    sink = ChunkedObjectSink(store, "r/", max_buffer=2_000, spill=spill, max_chunk=1_500)
    sink.append("3.ogg.users", b'"0":{}\n')  # the writer's start lists the recording while the store answers
    store.down = True
    peak_memory = 0
    for index in range(40):
        sink.append("3.ogg.data", audio(index))
        sink.flush()
        peak_memory = max(peak_memory, sink.memory_bytes())
    assert peak_memory <= 2_000 + len(b'"0":{}\n')
    spilled = list((tmp_path / "spill").rglob("*.spill"))
    assert [path.name for path in spilled] == [f"3.ogg.data@{9 * len(audio(0))}.spill"]  # after 9 pages in memory
    assert sink.spilled_bytes == 31 * len(audio(0)) and sink.dropped_bytes == 0
    store.down = False
    assert sink.wait_stored(timeout=10)
    assert store.joined("3.ogg.data") == b"".join(audio(index) for index in range(40))
    assert not list((tmp_path / "spill").rglob("*.spill"))  # uploaded, then removed
    sink.append("3.ogg.data", b"after")  # and the file is back in memory
    assert sink.wait_stored(timeout=10) and store.joined("3.ogg.data").endswith(b"after")
    sink.close()


def test_past_memory_and_spill_limits_audio_is_dropped_loudly_and_metadata_kept(tmp_path, capsys):
    store = FlakyObjects()
    sink = ChunkedObjectSink(store, "r/", max_buffer=1_000, spill=SpillFolder(tmp_path, limit=500))
    for index in range(10):
        sink.append("4.ogg.data", audio(index))
    sink.append("4.ogg.users", b'"0":{}\n')
    assert sink.dropped_bytes == 10 * len(audio(0)) - 4 * len(audio(0)) - 2 * len(audio(0))  # 4 in memory, 2 on disk
    assert sink.read("4.ogg.users") == b'"0":{}\n'
    assert "dropping audio" in capsys.readouterr().out


def test_a_close_that_gives_up_spills_what_is_unsaved_and_the_next_sink_takes_it_up(tmp_path, capsys):
    store = FlakyObjects()
    spill = SpillFolder(tmp_path / "spill")
    sink = ChunkedObjectSink(store, "r/", max_buffer=1_000, spill=spill)
    sink.append("5.ogg.data", audio(0))
    assert sink.wait_stored(timeout=10)
    store.down = True
    for index in range(1, 12):
        sink.append("5.ogg.data", audio(index))
        sink.flush()
    sink.append("5.ogg.users", b'"0":{}\n')
    sink.close(timeout=0.5)
    unsaved = {item.name: item for item in sink.unsaved}
    assert unsaved["5.ogg.data"].size == 11 * len(audio(0))
    data_spill = unsaved["5.ogg.data"].spilled_to
    assert data_spill == tmp_path / "spill" / "r%2F" / f"5.ogg.data@{len(audio(0))}.spill"
    assert data_spill.read_bytes() == b"".join(audio(index) for index in range(1, 12))
    assert unsaved["5.ogg.users"].spilled_to.read_bytes() == b'"0":{}\n'
    out = capsys.readouterr().out
    assert "closed before the object store took every byte" in out and str(data_spill) in out

    store.down = False
    restarted = ChunkedObjectSink(store, "r/", spill=spill)  # a new recorder process on the same disk
    assert restarted.size("5.ogg.data") == 12 * len(audio(0))
    restarted.append("5.ogg.data", audio(12))
    assert restarted.wait_stored(timeout=10)
    assert store.joined("5.ogg.data") == b"".join(audio(index) for index in range(13))
    assert store.joined("5.ogg.users") == b'"0":{}\n'
    assert not list((tmp_path / "spill").rglob("*.spill"))
    restarted.close()


def test_a_spill_that_does_not_continue_the_stored_file_is_left_alone(tmp_path, capsys):
    store = FlakyObjects()
    spill = SpillFolder(tmp_path)
    stray = spill.create("r/", "6.ogg.data", 999)
    stray.append(b"from another time")
    store.put(chunk_key("r/", "6.ogg.data", 0), b"abc")
    sink = ChunkedObjectSink(store, "r/", spill=spill)
    assert sink.read("6.ogg.data") == b"abc"
    assert stray.path.read_bytes() == b"from another time"
    assert "spilled bytes do not continue the stored file" in capsys.readouterr().out


def test_actions_run_once_the_bytes_before_them_are_stored_and_are_retried_until_they_succeed(tmp_path):
    store = FlakyObjects()
    sink = ChunkedObjectSink(store, "r/")
    record_store_down = True
    seen: list[bytes] = []
    attempts: list[str] = []

    def save_record(label: str) -> None:
        attempts.append(label)
        if record_store_down:
            raise ConnectionError("state store away")
        seen.append(store.joined("7.ogg.data"))

    sink.append("7.ogg.data", b"one")
    store.down = True  # the object store is away too: no action may run before its bytes are stored
    sink.when_stored("record", lambda: save_record("first"))
    sink.append("7.ogg.data", b"two")
    sink.when_stored("record", lambda: save_record("second"))  # replaces the first, which never ran
    assert not sink.wait_stored(timeout=0.6)
    assert attempts == []
    store.down = False  # the object store is back, the record store not yet
    assert not sink.wait_stored(timeout=RETRY_CAP + 0.5)  # a failed action runs again by itself
    assert store.joined("7.ogg.data") == b"onetwo" and set(attempts) == {"second"} and len(attempts) >= 2
    record_store_down = False
    assert sink.wait_stored(timeout=10)
    assert seen == [b"onetwo"]
    sink.close()
