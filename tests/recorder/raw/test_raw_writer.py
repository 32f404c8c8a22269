import threading
import time

import pytest

from pandora_recorder.raw import RawRecordingWriter, file_name
from pandora_recorder.raw.ogg import read_pages
from pandora_recorder.sinks import LocalFolderSink


def data_pages(folder, recording_id):
    return list(read_pages((folder / file_name(recording_id, "data")).read_bytes()))


def test_tracks_numbered_by_first_packet_with_paired_pages(tmp_path, make_frame, speaker_of):
    sink = LocalFolderSink(tmp_path)
    with RawRecordingWriter(sink, speaker_of, recording_id=11) as writer:
        start = writer.start_monotonic
        writer.submit(make_frame(202, start + 0.5, rtp=1000, opus=b"\x78b1"))
        writer.submit(make_frame(101, start + 0.52, rtp=55_000, opus=b"\x78a1"))
        writer.submit(make_frame(202, start + 0.54, rtp=1960, opus=b"\x78b2"))
        writer.submit(make_frame(303, start + 1.0, rtp=0xFFFFFFFF, opus=b"\x78c1"))
    pages = data_pages(tmp_path, 11)
    got = [(p.serial, p.sequence, p.granule, p.packets) for p in pages]
    assert got == [
        (1, 2, 24_000, (b"\x78b1",)), (1, 3, 1000, (b"",)),
        (2, 2, 24_960, (b"\x78a1",)), (2, 3, 55_000, (b"",)),
        (1, 4, 25_920, (b"\x78b2",)), (1, 5, 1960, (b"",)),
        (3, 2, 48_000, (b"\x78c1",)), (3, 3, 0xFFFFFFFF, (b"",)),
    ]
    assert all(p.flags == 0 for p in pages)
    assert writer.stats().frames_written == 4 and writer.stats().tracks == 3


def test_frames_keep_submission_order_and_bytes(tmp_path, make_frame, speaker_of):
    sink = LocalFolderSink(tmp_path)
    sent = []
    with RawRecordingWriter(sink, speaker_of, recording_id=12) as writer:
        for index in range(500):
            frame = make_frame(101 if index % 3 else 202, writer.start_monotonic + index * 0.02, rtp=index * 960)
            sent.append((frame.user_id, frame.opus))
            writer.submit(frame)
    audio = [p for p in data_pages(tmp_path, 12) if p.sequence % 2 == 0]
    track_user = {1: 202, 2: 101}
    assert [(track_user[p.serial], p.packets[0]) for p in audio] == sent


def test_random_recording_ids_are_numeric_and_new(tmp_path, speaker_of):
    sink = LocalFolderSink(tmp_path)
    ids = set()
    for _ in range(3):
        with RawRecordingWriter(sink, speaker_of) as writer:
            ids.add(writer.recording_id)
            assert not writer.resumed
    assert len(ids) == 3
    assert all(isinstance(i, int) and len(str(i)) == 9 for i in ids)
    assert {p.name.split(".")[0] for p in tmp_path.glob("*.ogg.info")} == {str(i) for i in ids}


def test_data_reaches_the_sink_within_a_second_without_close(tmp_path, make_frame, speaker_of):
    sink = LocalFolderSink(tmp_path)
    writer = RawRecordingWriter(sink, speaker_of, recording_id=13)
    try:
        writer.submit(make_frame(101, writer.start_monotonic + 0.01))
        submitted = time.monotonic()
        data = tmp_path / file_name(13, "data")
        while not (data.exists() and data.stat().st_size) and time.monotonic() - submitted < 3:
            time.sleep(0.02)
        assert data.stat().st_size > 0
        assert time.monotonic() - submitted <= 1.0
    finally:
        writer.close()


class BlockedSink(LocalFolderSink):
    """A sink whose appends hang until released, like a stalled disk or network."""

    def __init__(self, directory):
        super().__init__(directory)
        self.release = threading.Event()
        self.entered = threading.Event()

    def append(self, name, data):
        if name.endswith(".data"):
            self.entered.set()
            self.release.wait(10)
        super().append(name, data)


def test_submit_does_not_wait_for_a_stalled_sink(tmp_path, make_frame, speaker_of):
    sink = BlockedSink(tmp_path)
    writer = RawRecordingWriter(sink, speaker_of, recording_id=14, flush_interval=0.05)
    writer.submit(make_frame(101, writer.start_monotonic + 0.01))
    assert sink.entered.wait(5)  # the writer thread is now stuck in the sink
    done = threading.Event()

    def reader_thread():
        for index in range(2000):
            writer.submit(make_frame(101, writer.start_monotonic + index * 0.02))
        done.set()

    threading.Thread(target=reader_thread, daemon=True).start()
    assert done.wait(5), "submit blocked while the sink was stalled"
    sink.release.set()
    writer.close()
    assert len([p for p in data_pages(tmp_path, 14) if p.sequence % 2 == 0]) == 2001


def test_queue_limit_drops_and_counts_instead_of_growing(tmp_path, make_frame, speaker_of):
    sink = BlockedSink(tmp_path)
    writer = RawRecordingWriter(sink, speaker_of, recording_id=15, flush_interval=0.05, max_pending=100)
    writer.submit(make_frame(101, writer.start_monotonic + 0.01))
    assert sink.entered.wait(5)
    for index in range(300):
        writer.submit(make_frame(101, writer.start_monotonic + index * 0.02))
    assert writer.stats().frames_dropped == 200
    sink.release.set()
    writer.close()
    assert writer.stats().frames_written == 101


def test_failed_speaker_lookup_still_records(tmp_path, make_frame):
    def unknown(user_id):
        raise LookupError(user_id)

    sink = LocalFolderSink(tmp_path)
    with RawRecordingWriter(sink, unknown, recording_id=16) as writer:
        writer.submit(make_frame(555, writer.start_monotonic + 0.1))
    assert b'"id":"555"' in (tmp_path / "16.ogg.users").read_bytes()
    assert len(data_pages(tmp_path, 16)) == 2


class FailingSink(LocalFolderSink):
    def append(self, name, data):
        if name.endswith(".data"):
            raise OSError("disk full")
        super().append(name, data)


def test_a_failing_sink_is_reported_not_hidden(tmp_path, make_frame, speaker_of):
    writer = RawRecordingWriter(FailingSink(tmp_path), speaker_of, recording_id=17)
    writer.submit(make_frame(101, writer.start_monotonic + 0.01))
    assert writer.sync(5) is False
    assert isinstance(writer.error, OSError)
    with pytest.raises(RuntimeError, match="raw writer failed"):
        writer.close()
    assert writer.sync(1) is False


def test_a_clean_close_leaves_a_resume_record_that_accounts_for_the_whole_data_file(tmp_path, make_frame,
                                                                                   speaker_of):
    # Resume records are saved at most every 0.5 s while recording; the one of a clean close must still be the
    # last word, even when the last frames were flushed already and close() finds nothing new to write.
    sink = LocalFolderSink(tmp_path)
    writer = RawRecordingWriter(sink, speaker_of, recording_id=14)
    for index in range(20):
        writer.submit(make_frame(101, writer.start_monotonic + index * 0.02, rtp=index * 960))
        time.sleep(0.03)
    time.sleep(0.3)  # flushed (every 0.1 s), and the last resume record is older than those frames
    writer.close()
    assert sink.load_resume(14)["dataSize"] == (tmp_path / file_name(14, "data")).stat().st_size
