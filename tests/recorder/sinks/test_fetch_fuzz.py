"""Fuzzing `pandora fetch --chunks` with a damaged copy of a recording's chunk objects: chunks deleted, cut,
emptied, flipped, renumbered or stored twice, stray files beside them - then `pandora cook` on what it joined.

For every example: exit status 0 or 3 and no traceback; the joined files are the chunks as stored; every place
where they differ from the recording is named with its file, byte offset (the start of the page it falls in) and
chunk, unless nothing could tell (a whole last chunk gone at a page boundary); and the cook of the result keeps
the audio before the damage.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pandora.cli import main
from pandora_recorder.commands.damage import EXIT_DAMAGED
from pandora_recorder.frames import ReceivedFrame, Speaker
from pandora_recorder.raw import RawRecordingWriter
from pandora_recorder.raw.format import FILE_KINDS, SAMPLE_RATE, file_name
from pandora_recorder.raw.ogg import read_pages
from pandora_recorder.sinks import ChunkedObjectSink
from pandora_recorder.sinks.chunk_folder import ChunkFolder
from pandora_simulator.audio import ToneEncoder

FUZZ = settings(max_examples=int(os.environ.get("PANDORA_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RECORDING_ID = 733100422
OGG_KINDS = ("header1", "header2", "data")
PRE_SKIP = 3840
# Unreadable bytes name the chunk they start in; missing, empty or doubled chunks are named in the reason.
DAMAGE_LINE = re.compile(r"^pandora fetch: (?P<file>\S+): damaged at byte (?P<offset>\d+)"
                         r"(?: \(in chunk (?P<chunk>\S+)\))?: (?P<reason>.+)$", re.MULTILINE)


class Chunks(dict[str, bytes]):
    def __repr__(self) -> str:  # a failing example prints its arguments
        return f"<{len(self)} chunks>"


@pytest.fixture(scope="module")
def chunks(tmp_path_factory: pytest.TempPathFactory) -> Chunks:
    """Two speakers recorded into a chunk folder, flushed every 8 frames with chunks of at most 700 bytes (so
    pages straddle chunks): chunk file name -> content."""
    folder = tmp_path_factory.mktemp("chunks")
    sink = ChunkedObjectSink(ChunkFolder(folder), "", max_chunk=700)
    writer = RawRecordingWriter(sink, lambda user: Speaker(user, f"user{user}", f"user{user}"),
                                recording_id=RECORDING_ID, flush_interval=3600)
    voices = {101: (ToneEncoder(440), 0.30, 1.30), 202: (ToneEncoder(1000), 0.80, 1.60)}
    frames = sorted((start + index * 0.02, user) for user, (_, start, end) in voices.items()
                    for index in range(round((end - start) / 0.02)))
    for count, (at, user) in enumerate(frames):
        writer.submit(ReceivedFrame(user, user, count, round(at * SAMPLE_RATE), voices[user][0].next_frame(),
                                    writer.start_monotonic + at))
        if count % 8 == 7:
            assert writer.sync(10)
    writer.close()
    sink.close()
    return Chunks((path.name, path.read_bytes()) for path in sorted(folder.iterdir()))


def joined_original(chunks: dict[str, bytes], name: str) -> bytes:
    return b"".join(content for chunk, content in sorted(chunks.items()) if chunk.rsplit(".", 1)[0] == name)


change = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 1000)),
    st.tuples(st.just("cut"), st.integers(0, 1000), st.integers(0, 700)),
    st.tuples(st.just("empty"), st.integers(0, 1000)),
    st.tuples(st.just("flip"), st.integers(0, 1000), st.integers(0, 700), st.integers(1, 255)),
    st.tuples(st.just("twice"), st.integers(0, 1000), st.booleans()),  # same number again, 7 digits
    st.tuples(st.just("renumber"), st.integers(0, 1000), st.integers(0, 200)),
    st.tuples(st.just("stray"), st.sampled_from(["README", f"{RECORDING_ID}.ogg.data.x", "sub/",
                                                 f"{RECORDING_ID + 1}.ogg.data.000000"])),
)


def apply(folder: Path, how: tuple) -> None:
    kind, *args = how
    names = sorted(path.name for path in folder.iterdir() if path.is_file() and path.name[-1].isdigit()
                   and path.name.startswith(str(RECORDING_ID)))
    if kind == "stray":
        if args[0].endswith("/"):
            (folder / args[0]).mkdir(exist_ok=True)
        else:
            (folder / args[0]).write_bytes(b"OggS not really")
        return
    if not names:
        return
    path = folder / names[args[0] % len(names)]
    content = path.read_bytes()
    if kind == "delete":
        path.unlink()
    elif kind == "cut":
        path.write_bytes(content[: args[1] % max(len(content), 1)])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "flip" and content:
        position = args[1] % len(content)
        path.write_bytes(content[:position] + bytes([content[position] ^ args[2]]) + content[position + 1 :])
    elif kind == "twice":
        stem, number = path.name.rsplit(".", 1)
        (folder / f"{stem}.0{number}").write_bytes(content if args[1] else content[::-1])
    elif kind == "renumber":
        stem, _ = path.name.rsplit(".", 1)
        target = folder / f"{stem}.{args[1]:06d}"
        if not target.exists():
            path.rename(target)


def first_difference(a: bytes, b: bytes) -> int | None:
    if a == b:
        return None
    return next((index for index, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def unit_start(starts: list[int], offset: int) -> int:
    return max(start for start in starts if start <= offset)


def cooked_seconds(path: Path) -> float:
    return (list(read_pages(path.read_bytes()))[-1].granule - PRE_SKIP) / SAMPLE_RATE


@FUZZ
@given(changes=st.lists(change, min_size=1, max_size=3))
def test_damaged_chunk_copies_are_joined_as_stored_and_every_difference_is_named(chunks, changes) -> None:
    with tempfile.TemporaryDirectory() as work:
        copy, out = Path(work) / "chunks", Path(work) / "raw"
        copy.mkdir()
        for chunk, content in chunks.items():
            (copy / chunk).write_bytes(content)
        for how in changes:
            apply(copy, how)

        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = main(["fetch", str(RECORDING_ID), "--chunks", str(copy), "--out", str(out)])
        stderr = err.getvalue()
        reported: dict[str, list[tuple[int, bool]]] = {}  # file -> (offset, unreadable bytes rather than listing)
        for match in DAMAGE_LINE.finditer(stderr):
            reported.setdefault(match["file"], []).append((int(match["offset"]), bool(match["chunk"])))
            assert (copy / match["chunk"]).is_file() if match["chunk"] else "chunk" in match["reason"], stderr
        assert "Traceback" not in stderr
        written = {path.name: path.read_bytes() for path in out.iterdir()} if out.is_dir() else {}
        if not written:
            assert status == 1 and "no chunks of recording" in stderr
            return
        assert status == (EXIT_DAMAGED if "damaged at byte" in stderr else 0), stderr

        data_damage = None
        for kind in FILE_KINDS:
            name = file_name(RECORDING_ID, kind)
            original = joined_original(chunks, name)
            if name not in written:
                continue
            first = first_difference(written[name], original)
            if first is None:
                if kind == "data":
                    data_damage = len(original)
                continue
            if kind in OGG_KINDS:
                starts = [page.offset for page in read_pages(original)] + [len(original)]  # or bytes added at the end
                expected = unit_start(starts, first)
                if kind == "data":
                    data_damage = expected
                whole_pages_lost = original.startswith(written[name]) and len(written[name]) in starts
                # Named where the first changed page starts; before it, at most chunk listing problems.
                places = reported.get(name, [])
                if not whole_pages_lost:
                    assert expected in [offset for offset, _ in places], (name, expected, stderr)
                assert all(offset >= expected for offset, unreadable in places if unreadable), (name, stderr)
            elif kind == "users":
                lines = [0] + [index + 1 for index, byte in enumerate(original) if byte == 0x0A]
                assert all(offset >= unit_start(lines, first) for offset, unreadable in reported.get(name, [])
                           if unreadable), (name, stderr)

        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            cooked = main(["cook", str(RECORDING_ID), "--dir", str(out), "--out", str(out / "cooked"),
                           "--format", "opus"])
        assert cooked in (0, 1, EXIT_DAMAGED) and "Traceback" not in err.getvalue()
        if data_damage is not None and cooked != 1:
            original = joined_original(chunks, file_name(RECORDING_ID, "data"))
            audio_end = max((page.granule + 960 for page in read_pages(original)
                             if page.offset < data_damage and page.packets[0] and page.sequence % 2 == 0), default=0)
            for track in (out / "cooked").glob("*.opus"):
                assert cooked_seconds(track) >= audio_end / SAMPLE_RATE - 0.003, (track.name, err.getvalue())


# -- what the fuzz found ----------------------------------------------------------------------------------------


def fetch_copy(chunks: Chunks, folder: Path, capsys) -> tuple[int, str, bytes]:
    """`pandora fetch` of the chunk folder; (status, stderr, the joined data file)."""
    status = main(["fetch", str(RECORDING_ID), "--chunks", str(folder), "--out", str(folder / "out")])
    return status, capsys.readouterr().err, (folder / "out" / file_name(RECORDING_ID, "data")).read_bytes()


def copy_chunks(chunks: Chunks, folder: Path) -> None:
    for chunk, content in chunks.items():
        (folder / chunk).write_bytes(content)


def test_a_chunk_stored_twice_is_joined_once_and_named(chunks, tmp_path, capsys) -> None:
    """Found by the fuzz: `<name>.000003` beside `<name>.0000003` (both chunk 3) put chunk 3's bytes into the
    joined file twice, with exit status 0."""
    copy_chunks(chunks, tmp_path)
    name = file_name(RECORDING_ID, "data")
    (tmp_path / f"{name}.0000003").write_bytes(chunks[f"{name}.000003"])
    status, stderr, data = fetch_copy(chunks, tmp_path, capsys)
    assert status == EXIT_DAMAGED
    assert data == joined_original(chunks, name)
    offset = sum(len(chunks[f"{name}.{number:06d}"]) for number in range(3))
    assert (f"pandora fetch: {name}: damaged at byte {offset}: chunk number 3 is also stored as {name}.0000003; "
            f"only {name}.000003 was used") in stderr


def test_a_missing_chunk_is_named_with_where_its_bytes_belonged(chunks, tmp_path, capsys) -> None:
    """Found by the fuzz: a chunk missing from the copy was joined over without a word (exit status 0), leaving
    cook to stumble on the hole."""
    copy_chunks(chunks, tmp_path)
    name = file_name(RECORDING_ID, "data")
    (tmp_path / f"{name}.000010").unlink()
    status, stderr, data = fetch_copy(chunks, tmp_path, capsys)
    assert status == EXIT_DAMAGED
    starts = [sum(len(chunks[f"{name}.{number:06d}"]) for number in range(index)) for index in range(12)]
    original = joined_original(chunks, name)
    assert data == original[: starts[10]] + original[starts[11] :]
    assert f"pandora fetch: {name}: damaged at byte {starts[10]}: chunk {name}.000010 is missing" in stderr
    # The page the hole cuts into is named too, with the chunk it starts in.
    page = next(page for page in read_pages(original) if page.offset + page.size > starts[10])
    holder = max(index for index in range(10) if starts[index] <= page.offset)
    assert f"pandora fetch: {name}: damaged at byte {page.offset} (in chunk {name}.{holder:06d}): " in stderr
