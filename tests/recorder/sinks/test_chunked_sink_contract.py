"""The Sink protocol is enough for an object store that has no append: a sink that uploads one immutable chunk
per flush (as the Dapr S3 binding will) records and resumes through the unchanged writer."""

from pandora_recorder.frames import ReceivedFrame, Speaker
from pandora_recorder.raw import RawRecordingWriter, file_name
from pandora_recorder.raw.ogg import read_pages


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


def test_writer_records_and_resumes_through_a_chunked_sink():
    objects: dict[str, bytes] = {}
    state: dict[int, dict] = {}

    def speaker_of(user_id):
        return Speaker(user_id, f"user{user_id}", f"user{user_id}")

    sink = ChunkedMemorySink(objects, state)
    with RawRecordingWriter(sink, speaker_of, recording_id=41) as writer:
        for index in range(20):
            writer.submit(ReceivedFrame(1 + index % 2, 9, index, index, b"\x78abc", writer.start_monotonic + 0.01))
    assert state[41]["dataSize"] == sink.size(file_name(41, "data"))
    # A new process: only the uploaded chunks and the state survive.
    resumed = ChunkedMemorySink(objects, state)
    with RawRecordingWriter(resumed, speaker_of, recording_id=41) as writer:
        assert writer.resumed
        writer.submit(ReceivedFrame(2, 9, 99, 99, b"\x78def", writer.start_monotonic + 1))
    pages = list(read_pages(resumed.read(file_name(41, "data"))))
    track2 = [p.sequence for p in pages if p.serial == 2]
    assert track2 == list(range(2, 24))
    assert len([k for k in objects if k.startswith(file_name(41, "data"))]) >= 2
