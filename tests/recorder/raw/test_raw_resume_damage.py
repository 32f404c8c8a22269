"""Resuming over damaged files (a bad byte in what the previous attempt wrote): the recording goes on, every
captured byte stays, and the log says which file was damaged where. Before, one bad byte in `.users` made every
restart fail, a crash loop that lost the rest of the recording."""

from __future__ import annotations

import json
import time

import structlog
from test_raw_resume import assert_continuous, pages_of, sequences_by_track

from pandora_recorder.raw import RawRecordingWriter, file_name
from pandora_recorder.raw.scan import scan_users
from pandora_recorder.sinks import LocalFolderSink

ID = 41


def record_first_attempt(tmp_path, make_frame, speaker_of, users=(202, 101)):
    with RawRecordingWriter(LocalFolderSink(tmp_path), speaker_of, recording_id=ID) as first:
        for index in range(8):
            first.submit(make_frame(users[index % len(users)], first.start_monotonic + index * 0.02))
    return first


def damage(path, offset, byte=b"\xff"):
    content = bytearray(path.read_bytes())
    content[offset : offset + len(byte)] = byte
    path.write_bytes(bytes(content))
    return bytes(content)


def resume(tmp_path, speaker_of, make_frame, *users):
    """The next attempt: resume, record one packet of each of `users`; the writer and its log's warnings."""
    with structlog.testing.capture_logs() as logs, RawRecordingWriter(
        LocalFolderSink(tmp_path), speaker_of, recording_id=ID
    ) as second:
        assert second.resumed
        for user in users:
            second.submit(make_frame(user, time.monotonic()))
    return second, [entry for entry in logs if entry["log_level"] == "warning"]


def only_warning(warnings, where: str, meaning: str) -> str:
    """The one warning logged: it names the file and offset (`where`) and says what it means; its damage text."""
    (warning,) = warnings
    assert where in warning["damage"], warning
    assert meaning in warning["event"], warning
    return warning["damage"]


def test_a_bad_byte_in_the_users_file_does_not_stop_the_resume(tmp_path, make_frame, speaker_of):
    record_first_attempt(tmp_path, make_frame, speaker_of)
    users = tmp_path / file_name(ID, "users")
    text = users.read_bytes()
    line_of_202 = text.index(b',"1":')
    damaged = damage(users, line_of_202 + 8)  # inside track 1's line (user 202)
    data_before = (tmp_path / file_name(ID, "data")).read_bytes()

    _, warnings = resume(tmp_path, speaker_of, make_frame, 101, 202, 303)

    # What was captured is all still there, byte for byte, with the new lines after it.
    after = users.read_bytes()
    assert after.startswith(damaged)
    assert (tmp_path / file_name(ID, "data")).read_bytes().startswith(data_before)
    # Bob's old track keeps its number; his next packet starts a new track above every number in use.
    readable, stretches = scan_users(after, users.name)
    assert {track: user["id"] for track, user in readable.items()} == {2: "101", 3: "202", 4: "303"}
    assert [(s.offset, s.length) for s in stretches] == [(line_of_202, text.index(b"\n", line_of_202) + 1
                                                          - line_of_202)]
    assert [p.serial for p in pages_of(tmp_path, ID, "header1")] == [1, 2, 3, 4]
    tracks = sequences_by_track(tmp_path, ID)
    assert {serial: len(sequences) for serial, sequences in tracks.items()} == {1: 8, 2: 10, 3: 2, 4: 2}
    assert_continuous(tracks)
    only_warning(warnings, f"{users.name}: damaged at byte {line_of_202}", "their next packet starts a new track")


def test_a_damaged_info_file_without_a_resume_record_keeps_time_moving_forward(tmp_path, make_frame, speaker_of):
    record_first_attempt(tmp_path, make_frame, speaker_of)
    info = tmp_path / file_name(ID, "info")
    damaged = damage(info, 0, b"#")
    (tmp_path / f".{ID}.resume.json").unlink()
    last_granule = max(p.granule for p in pages_of(tmp_path, ID, "data") if p.sequence % 2 == 0)

    _, warnings = resume(tmp_path, speaker_of, make_frame, 101)

    assert info.read_bytes() == damaged
    new = [p for p in pages_of(tmp_path, ID, "data") if p.serial == 2 and p.sequence % 2 == 0][-1]
    assert new.granule > last_granule
    assert_continuous(sequences_by_track(tmp_path, ID))
    only_warning(warnings, f"{info.name}: damaged at byte 0", "start time is estimated")


def test_a_damaged_page_in_the_data_is_kept_and_what_follows_it_too(tmp_path, make_frame, speaker_of):
    record_first_attempt(tmp_path, make_frame, speaker_of)
    data = tmp_path / file_name(ID, "data")
    pages = pages_of(tmp_path, ID, "data")
    hit = pages[4]  # an audio page in the middle: one flipped byte in its Opus packet
    damaged = damage(data, hit.offset + hit.size - 2, b"\x00")
    (tmp_path / f".{ID}.resume.json").unlink()  # scan the whole file

    _, warnings = resume(tmp_path, speaker_of, make_frame, 101, 202)

    # Before: the resume cut the data file at the damaged page, dropping every page after it.
    assert data.read_bytes().startswith(damaged)
    after = pages_of(tmp_path, ID, "data")
    assert len(after) == len(pages) + 4
    # Sequences go on after the highest ones written, the damaged page's neighbours included.
    for serial in (1, 2):
        written = [p.sequence for p in pages if p.serial == serial]
        assert [p.sequence for p in after if p.serial == serial][-2:] == [max(written) + 1, max(written) + 2]
    damage_text = only_warning(warnings, f"{data.name}: damaged at byte {hit.offset}", "pages there do not count")
    assert "checksum" in damage_text


def test_an_unreadable_resume_record_falls_back_to_the_files(tmp_path, make_frame, speaker_of):
    first = record_first_attempt(tmp_path, make_frame, speaker_of)
    (tmp_path / f".{ID}.resume.json").write_text(json.dumps({"recordingId": ID, "tracks": "?"}))

    second, warnings = resume(tmp_path, speaker_of, make_frame, 101)

    # From the info file (which keeps milliseconds).
    assert abs((second.start_time - first.start_time).total_seconds()) < 0.001
    assert_continuous(sequences_by_track(tmp_path, ID))
    assert [w["event"] for w in warnings] == [
        "resume: the saved resume record is unreadable; reading the whole files instead"]
