"""The Sink protocol is enough for an object store that has no append: a sink that uploads one immutable chunk
per flush records and resumes through the unchanged writer. The scenario runs on an in-memory chunked sink and
on the real Dapr sink (daprd + moto S3 + Redis)."""

import re

import pytest

from pandora_recorder.frames import ReceivedFrame, Speaker
from pandora_recorder.raw import RawRecordingWriter, file_name
from pandora_recorder.raw.ogg import read_pages
from pandora_testenv.services import LOCAL_OBJECT_STORE, OBJECT_STORE


class ChunkedMemorySink:
    def __init__(self, objects: dict[str, bytes], state: dict[int, dict]):
        self.objects = objects  # "<name>/<chunk number>" -> bytes, never modified once uploaded
        self.state = state
        self.buffers: dict[str, bytearray] = {}

    def _chunks(self, name):
        keys = [k for k in self.objects if k.rsplit("/", 1)[0] == name]
        return sorted(keys, key=lambda k: int(k.rsplit("/", 1)[1]))

    def append(self, name, data):
        self.buffers.setdefault(name, bytearray()).extend(data)

    def flush(self):
        for name, buffer in self.buffers.items():
            if buffer:
                self.objects[f"{name}/{len(self._chunks(name))}"] = bytes(buffer)
                buffer.clear()

    def size(self, name):
        return sum(len(self.objects[k]) for k in self._chunks(name)) + len(self.buffers.get(name, b""))

    def read(self, name, start=0, length=None):
        content = b"".join(self.objects[k] for k in self._chunks(name)) + bytes(self.buffers.get(name, b""))
        return content[start:] if length is None else content[start : start + length]

    def truncate(self, name, size):
        content = self.read(name)[:size]
        for key in self._chunks(name):
            del self.objects[key]
        self.buffers[name] = bytearray()
        if content:
            self.objects[f"{name}/0"] = content

    def close(self):
        self.flush()

    def load_resume(self, recording_id):
        return self.state.get(recording_id)

    def save_resume(self, recording_id, record):
        self.state[recording_id] = record


def speaker_of(user_id):
    return Speaker(user_id, f"user{user_id}", f"user{user_id}")


def record_then_resume(new_sink, recording_id=41):
    """Record 20 frames of two speakers, then resume from a fresh sink (a new process) and add one frame.
    Returns the resumed sink and the saved resume record of the first run."""
    sink = new_sink()
    with RawRecordingWriter(sink, speaker_of, recording_id=recording_id) as writer:
        for index in range(20):
            writer.submit(ReceivedFrame(1 + index % 2, 9, index, index, b"\x78abc", writer.start_monotonic + 0.01))
    first_size = sink.size(file_name(recording_id, "data"))
    sink.close()  # waits for the uploads (and the resume record saved after them)
    saved = new_sink().load_resume(recording_id)
    # A new process: only the uploaded chunks and the state survive.
    resumed = new_sink()
    with RawRecordingWriter(resumed, speaker_of, recording_id=recording_id) as writer:
        assert writer.resumed
        writer.submit(ReceivedFrame(2, 9, 99, 99, b"\x78def", writer.start_monotonic + 1))
    assert saved["dataSize"] == first_size
    pages = list(read_pages(resumed.read(file_name(recording_id, "data"))))
    assert [p.sequence for p in pages if p.serial == 2] == list(range(2, 24))
    assert [p.sequence for p in pages if p.serial == 1] == list(range(2, 22))
    resumed.close()  # the last uploads
    return resumed


def test_writer_records_and_resumes_through_a_chunked_memory_sink():
    objects: dict[str, bytes] = {}
    state: dict[int, dict] = {}
    record_then_resume(lambda: ChunkedMemorySink(objects, state))
    assert len([k for k in objects if k.startswith(file_name(41, "data"))]) >= 2


@pytest.mark.timeout(60)
@pytest.mark.parametrize("binding", [OBJECT_STORE, LOCAL_OBJECT_STORE])
def test_writer_records_and_resumes_through_the_dapr_sink(dapr_sink_factory, dapr_prefix, bucket_keys, testenv_dir,
                                                          binding):
    resumed = record_then_resume(lambda: dapr_sink_factory(binding))
    # One set of files: every key in the recording's folder, each file's chunks numbered 0, 1, 2, ... across the
    # restart (the resumed writer continued the numbering instead of starting over or leaving gaps).
    numbers: dict[str, list[int]] = {}
    if binding == OBJECT_STORE:
        keys = bucket_keys(dapr_prefix)
    else:  # the session daprd's localstorage root (see pandora_testenv.pytest_plugin.dapr_components)
        root = testenv_dir / "objects"
        keys = sorted(str(path.relative_to(root)) for path in (root / dapr_prefix).rglob("*") if path.is_file())
    for key in keys:
        folder, name, number = re.fullmatch(r"(.*/)(41\.ogg\.[a-z0-9]+)\.(\d{6})", key).groups()
        assert folder == f"{dapr_prefix}41/"
        numbers.setdefault(name, []).append(int(number))
    assert sorted(numbers) == sorted(file_name(41, kind) for kind in ("data", "header1", "header2", "info", "users"))
    for found in numbers.values():
        assert found == list(range(len(found)))
    assert len(numbers[file_name(41, "data")]) >= 2
    assert resumed.location(41) == f"dapr://{binding}/{dapr_prefix}41/"
