import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from pandora_recorder.raw import RawRecordingWriter, file_name
from pandora_recorder.raw.format import parse_users
from pandora_recorder.raw.ogg import encode_page, read_pages
from pandora_recorder.sinks import LocalFolderSink


def pages_of(folder, recording_id, kind):
    return list(read_pages((folder / file_name(recording_id, kind)).read_bytes()))


def sequences_by_track(folder, recording_id):
    tracks: dict[int, list[int]] = {}
    for page in pages_of(folder, recording_id, "data"):
        tracks.setdefault(page.serial, []).append(page.sequence)
    return tracks


def assert_continuous(tracks):
    for serial, sequences in tracks.items():
        assert sequences == list(range(2, 2 + len(sequences))), f"track {serial} has holes or repeats"


def test_reopening_continues_tracks_sequences_and_users(tmp_path, make_frame, speaker_of):
    sink = LocalFolderSink(tmp_path)
    with RawRecordingWriter(sink, speaker_of, recording_id=21) as first:
        for index in range(10):
            first.submit(make_frame(101 if index % 2 else 202, first.start_monotonic + index * 0.02))
    start = first.start_time
    time.sleep(0.2)
    sink = LocalFolderSink(tmp_path)
    with RawRecordingWriter(sink, speaker_of, recording_id=21) as second:
        assert second.resumed and second.start_time == start
        second.submit(make_frame(101, time.monotonic()))
        second.submit(make_frame(303, time.monotonic()))
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(
        file_name(21, kind) for kind in ("data", "header1", "header2", "info", "users")
    )
    users = parse_users((tmp_path / "21.ogg.users").read_bytes())
    assert {track: user["id"] for track, user in users.items()} == {1: "202", 2: "101", 3: "303"}
    assert [p.serial for p in pages_of(tmp_path, 21, "header1")] == [1, 2, 3]
    assert [p.serial for p in pages_of(tmp_path, 21, "header2")] == [1, 2, 3]
    tracks = sequences_by_track(tmp_path, 21)
    assert {serial: len(seqs) for serial, seqs in tracks.items()} == {1: 10, 2: 12, 3: 2}
    assert_continuous(tracks)
    # Granules keep counting from the original start.
    last = next(p for p in pages_of(tmp_path, 21, "data") if p.serial == 3)
    assert last.granule >= 0.2 * 48_000


def test_torn_files_are_cut_back_and_missing_headers_restored(tmp_path, make_frame, speaker_of):
    sink = LocalFolderSink(tmp_path)
    with RawRecordingWriter(sink, speaker_of, recording_id=22) as first:
        for index in range(6):
            first.submit(make_frame(101, first.start_monotonic + index * 0.02))
    # What a kill in the middle of a flush can leave: a users line whose header pages never got written, a
    # half-written users line after it, and half a page at the end of the data.
    with open(tmp_path / "22.ogg.users", "ab") as users:
        users.write(b',"2":{"id":"202","name":"Bob"}\n,"3":{"id":"30')
    good_size = (tmp_path / "22.ogg.data").stat().st_size
    with open(tmp_path / "22.ogg.data", "ab") as data:
        data.write(encode_page(serial=1, sequence=14, granule=5, packets=(b"\x78" * 80,))[:50])
    (tmp_path / ".22.resume.json").unlink()  # worst case: no resume record either

    with RawRecordingWriter(LocalFolderSink(tmp_path), speaker_of, recording_id=22) as second:
        assert (tmp_path / "22.ogg.data").stat().st_size == good_size
        second.submit(make_frame(101, time.monotonic()))
        second.submit(make_frame(202, time.monotonic()))
        second.submit(make_frame(303, time.monotonic()))
    users = parse_users((tmp_path / "22.ogg.users").read_bytes())
    assert {track: user["id"] for track, user in users.items()} == {1: "101", 2: "202", 3: "303"}
    assert [p.serial for p in pages_of(tmp_path, 22, "header1")] == [1, 2, 3]
    assert [p.serial for p in pages_of(tmp_path, 22, "header2")] == [1, 2, 3]
    assert_continuous(sequences_by_track(tmp_path, 22))


RECORDER = textwrap.dedent(
    """
    import sys, time
    from pandora_recorder.frames import ReceivedFrame, Speaker
    from pandora_recorder.raw import RawRecordingWriter
    from pandora_recorder.sinks import LocalFolderSink

    writer = RawRecordingWriter(LocalFolderSink(sys.argv[1]), lambda u: Speaker(u, str(u), str(u)),
                                recording_id=int(sys.argv[2]), flush_interval=0.2)
    print("ready", flush=True)
    index = 0
    while True:  # three speakers, 50 packets a second each, until killed
        for user in (1, 2, 3):
            writer.submit(ReceivedFrame(user, user, index, index * 960, bytes([0x78, user]) * 40, time.monotonic()))
        index += 1
        print(index, flush=True)
        time.sleep(0.02)
    """
)


def test_sigkill_then_restart_resumes_the_same_recording(tmp_path):
    def run_and_kill(seconds):
        process = subprocess.Popen(
            [sys.executable, "-c", RECORDER, str(tmp_path), "31"], stdout=subprocess.PIPE, text=True
        )
        while process.stdout.readline().strip() != "ready":  # skip log lines
            pass
        time.sleep(seconds)
        os.kill(process.pid, signal.SIGKILL)
        counts = [line for line in process.stdout.read().splitlines() if line.isdigit()]
        process.wait()
        return int(counts[-1]) if counts else 0

    submitted = run_and_kill(1.5)
    first_audio = {k: len(v) // 2 for k, v in sequences_by_track(tmp_path, 31).items()}
    # At most the last second (plus one flush interval of slack) is lost.
    assert all(submitted - count <= 60 for count in first_audio.values()), (submitted, first_audio)

    run_and_kill(1.0)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(
        file_name(31, kind) for kind in ("data", "header1", "header2", "info", "users")
    )
    # A third, clean open repairs any torn tail; then everything parses and every track continues.
    with RawRecordingWriter(LocalFolderSink(tmp_path), lambda u: None, recording_id=31) as final:
        assert final.resumed
    tracks = sequences_by_track(tmp_path, 31)
    assert set(tracks) == {1, 2, 3}
    assert_continuous(tracks)
    assert all(len(seqs) // 2 > first_audio[serial] for serial, seqs in tracks.items())
    assert len(pages_of(tmp_path, 31, "header1")) == 3
    record = json.loads((tmp_path / ".31.resume.json").read_text())
    assert record["dataSize"] == (tmp_path / "31.ogg.data").stat().st_size
