"""Fuzzing `pandora cook` with damaged raw files: cut, bytes flipped or overwritten, junk inserted, bytes removed,
in any of the five files, through the real command entry point.

For every example the user sees an exit status of 0 or 3 and no traceback; each damaged place is named on stderr
with its file and byte offset - the start of the page (or users line) the damage begins in - and every speaker's
cooked audio up to the damage is what was said.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from listening import active_intervals, decode_pcm, expected_intervals
from tone_recording import Recording

from pandora.cli import main
from pandora_recorder.commands.damage import EXIT_DAMAGED
from pandora_recorder.raw.format import FILE_KINDS, SAMPLE_RATE, file_name
from pandora_recorder.raw.ogg import read_pages

FUZZ = settings(max_examples=int(os.environ.get("PANDORA_FUZZ_EXAMPLES", "30")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
OGG_KINDS = ("header1", "header2", "data")
JITTER = 0.015  # the recording's network jitter (tone_recording.record)
TOLERANCE = 0.020
AUDIBLE = 0.040  # a burst the damage cuts within its first frames may be too short to be heard after decoding
DAMAGE_LINE = re.compile(r"^pandora cook: (?P<file>\S+): damaged at byte (?P<offset>\d+): \S", re.MULTILINE)

damage = st.one_of(
    st.tuples(st.just("cut"), st.integers(0, 1 << 20)),
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("overwrite"), st.integers(0, 1 << 20), st.integers(1, 300), st.integers(0, 1 << 32)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 300)),
)


def damaged(content: bytes, how: tuple) -> tuple[bytes, int, int]:
    """The damaged content, where the first changed byte is, and where the unchanged bytes after it resume (in
    the original)."""
    kind, position, *args = how
    position %= len(content)
    if kind == "cut":
        return content[:position], position, len(content)
    if kind == "flip":
        return content[:position] + bytes([content[position] ^ args[0]]) + content[position + 1 :], position, \
            position + 1
    if kind == "overwrite":
        length = min(args[0], len(content) - position)
        noise = bytes(b ^ (1 + random.Random(args[1] + i).randrange(255))
                      for i, b in enumerate(content[position : position + length]))
        return content[:position] + noise + content[position + length :], position, position + length
    if kind == "insert":
        return content[:position] + args[0] + content[position:], position, position
    length = min(args[0], len(content) - position)
    return content[:position] + content[position + length :], position, position + length


def page_starts(content: bytes) -> list[int]:
    return [page.offset for page in read_pages(content)]


def line_starts(content: bytes) -> list[int]:
    return [0] + [index + 1 for index, byte in enumerate(content[:-1]) if byte == 0x0A]


def unit_start(starts: list[int], offset: int) -> int:
    """Where the page or line holding byte `offset` starts."""
    return max(start for start in starts if start <= offset)


def detectable(kind: str, how: tuple, first: int, resume: int, starts: list[int], size: int) -> bool:
    """Whether the damage leaves something other than whole original pages (checksums catch everything else)."""
    if kind not in OGG_KINDS:
        return False  # a flipped letter inside a name is still a valid users line: nothing can tell
    if how[0] == "cut":
        return first not in starts
    if how[0] == "delete":
        return not (first in starts and (resume in starts or resume == size))
    return True


def speech_until(recording: Recording, track: int, cutoff: float, covered: float, cooked: Path) -> None:
    """The track's cooked audio lasts at least `covered` seconds and holds its speaker's speech, at the right
    times, up to `cutoff` seconds."""
    voice = recording.voices[track - 1]
    samples = decode_pcm(cooked)
    assert len(samples) / 16_000 >= covered - TOLERANCE, f"{cooked.name} stops before the damage"

    def clip(intervals):
        return [(start, min(end, cutoff)) for start, end, *_ in intervals if start < cutoff - TOLERANCE]

    heard = clip(active_intervals(samples))
    wanted = expected_intervals(voice)
    # The last burst before the damage, when only its first few ms are left, may or may not be heard: neither
    # required nor refused (found: 27 ms left of a burst, and nothing heard).
    clipped = clip(wanted)
    if clipped and clipped[-1][1] - clipped[-1][0] < AUDIBLE:
        clipped.pop()
        cut_start = wanted[len(clipped)][0]
        heard = [(start, end) for start, end in heard if abs(start - cut_start) > TOLERANCE]
    assert len(heard) == len(clipped), (cooked.name, cutoff, heard, wanted)
    for (got_start, got_end), (want_start, want_end, extra) in zip(heard, wanted, strict=False):
        assert abs(got_start - want_start) <= TOLERANCE, (cooked.name, cutoff, heard, wanted)
        assert -TOLERANCE <= got_end - min(want_end, cutoff) <= TOLERANCE + extra, (cooked.name, cutoff, heard, wanted)


def audio_before(data: bytes, offset: int) -> tuple[float, float]:
    """Up to when the recording is surely written before byte `offset` of the data file (packets are written in
    release order, at most the jitter after their arrival), and where the last packet before it ends."""
    audio = [page for page in read_pages(data) if page.packets[0] and page.sequence % 2 == 0]
    later = [page.granule for page in audio if page.offset >= offset]
    earlier = [page.granule + 960 for page in audio if page.offset < offset]
    return (min(later) / SAMPLE_RATE - JITTER if later else float("inf"),
            max(earlier, default=0) / SAMPLE_RATE)


@FUZZ
@given(damages=st.dictionaries(st.sampled_from(FILE_KINDS), damage, min_size=1, max_size=3))
def test_damaged_raw_files_cook_up_to_the_damage_and_say_where_it_is(two_speakers: Recording, damages) -> None:
    rid = two_speakers.recording_id
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        original: dict[str, bytes] = {}
        expected_offsets: dict[str, int] = {}
        must_report: set[str] = set()
        cutoff = covered = two_speakers.end  # seconds cooked as recorded: all, unless the data file is damaged
        for kind in FILE_KINDS:
            name = file_name(rid, kind)
            content = original[name] = (two_speakers.folder / name).read_bytes()
            if kind in damages:
                changed, first, resume = damaged(content, damages[kind])
                (folder / name).write_bytes(changed)
                starts = page_starts(content) if kind in OGG_KINDS else line_starts(content)
                expected_offsets[name] = unit_start(starts, first)
                if detectable(kind, damages[kind], first, resume, starts, len(content)):
                    must_report.add(name)
                if kind == "data":
                    cutoff, covered = audio_before(content, expected_offsets[name])
            else:
                shutil.copyfile(two_speakers.folder / name, folder / name)

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["cook", str(rid), "--dir", str(folder), "--out", str(folder / "out"), "--format", "opus"])
        stderr = err.getvalue()

        reported: dict[str, int] = {}
        for match in DAMAGE_LINE.finditer(stderr):
            reported.setdefault(match["file"], int(match["offset"]))
        assert status == (EXIT_DAMAGED if reported else 0), stderr
        assert "Traceback" not in stderr
        assert set(reported) <= set(expected_offsets) - {file_name(rid, "info")}, stderr  # only what was damaged
        assert must_report <= set(reported), stderr
        for name, offset in reported.items():
            assert offset == expected_offsets[name], (name, stderr)

        cooked = {int(path.name.split("-")[1]): path for path in (folder / "out").glob(f"{rid}-*.opus")}
        for track, voice in enumerate(two_speakers.voices, start=1):
            if track not in cooked:  # headers, users and data all lost it: fine only if it said nothing before
                assert voice.bursts[0][0] >= cutoff - TOLERANCE, (track, cutoff, stderr)
        with ThreadPoolExecutor(2) as pool:  # ffmpeg decodes both tracks at once
            for checked in [pool.submit(speech_until, two_speakers, track, min(cutoff, two_speakers.end), covered,
                                        cooked[track]) for track in (1, 2) if track in cooked]:
                checked.result()


# -- what the fuzz found ----------------------------------------------------------------------------------------


def cook_damaged(recording: Recording, folder: Path, kind: str, offset: int, mask: int) -> tuple[int, str, dict]:
    """Cook a copy of `recording` with the byte at `offset` of its `kind` file xored with `mask`; (status, stderr,
    track number -> cooked file)."""
    for name in FILE_KINDS:
        content = bytearray((recording.folder / file_name(recording.recording_id, name)).read_bytes())
        if name == kind:
            content[offset] ^= mask
        (folder / file_name(recording.recording_id, name)).write_bytes(content)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main(["cook", str(recording.recording_id), "--dir", str(folder), "--out", str(folder / "out"),
                       "--format", "opus"])
    tracks = {int(path.name.split("-")[1]): path for path in (folder / "out").glob("*.opus")}
    return status, err.getvalue(), tracks


def test_a_flipped_granule_bit_is_named_instead_of_cooked_as_a_day_of_silence(two_speakers, tmp_path) -> None:
    """Found by the fuzz: pages were never checked, so one flipped bit in an arrival granule (bit 32, at byte 10 of
    the page) placed a packet 24.9 hours late and the cook wrote a day of silence per speaker (20 MB of Opus each,
    33 s), exit status 0, not a word."""
    data = (two_speakers.folder / file_name(two_speakers.recording_id, "data")).read_bytes()
    page = [page for page in read_pages(data) if page.packets[0]][5]
    status, stderr, tracks = cook_damaged(two_speakers, tmp_path, "data", page.offset + 10, 0x01)
    assert status == EXIT_DAMAGED
    assert (f"pandora cook: {two_speakers.recording_id}.ogg.data: damaged at byte {page.offset}: the page's checksum "
            f"does not match its content ({page.size} bytes)") in stderr
    for track, path in tracks.items():
        speech_until(two_speakers, track, two_speakers.end, two_speakers.end, path)
        assert len(decode_pcm(path)) / 16_000 < two_speakers.end + 0.05


def test_a_users_line_that_is_not_json_costs_only_that_speakers_name(two_speakers, tmp_path) -> None:
    """Found by the fuzz: one byte that is not UTF-8 in `.users` ended the cook with a UnicodeDecodeError
    traceback (a JSON syntax error with a JSONDecodeError one)."""
    users = (two_speakers.folder / file_name(two_speakers.recording_id, "users")).read_bytes()
    second_line = users.index(b"\n") + 1
    status, stderr, tracks = cook_damaged(two_speakers, tmp_path, "users", second_line + 5, 0x80)
    assert status == EXIT_DAMAGED
    assert (f"pandora cook: {two_speakers.recording_id}.ogg.users: damaged at byte {second_line}: line 2 is not a "
            "track record") in stderr
    assert sorted(path.name for path in tracks.values()) == [f"{two_speakers.recording_id}-1-track1.opus",
                                                             f"{two_speakers.recording_id}-2-bob.opus"]
    for track, path in tracks.items():
        speech_until(two_speakers, track, two_speakers.end, two_speakers.end, path)


def test_a_header_file_that_does_not_start_with_a_page_is_named(two_speakers, tmp_path) -> None:
    """Found by the fuzz: a `.header1` not starting with "OggS" ended the cook with a ValueError traceback."""
    status, stderr, tracks = cook_damaged(two_speakers, tmp_path, "header1", 0, 0xFF)
    assert status == EXIT_DAMAGED
    assert f"pandora cook: {two_speakers.recording_id}.ogg.header1: damaged at byte 0: not an Ogg page" in stderr
    assert sorted(tracks) == [1, 2]
    for track, path in tracks.items():
        speech_until(two_speakers, track, two_speakers.end, two_speakers.end, path)
