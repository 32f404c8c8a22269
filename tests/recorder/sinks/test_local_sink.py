import pytest

from pandora_recorder.sinks import LocalFolderSink, ResumeStore, Sink


def test_append_read_size_truncate(tmp_path):
    sink = LocalFolderSink(tmp_path / "new")
    assert isinstance(sink, Sink) and isinstance(sink, ResumeStore)
    assert sink.size("1.ogg.data") == 0 and sink.read("1.ogg.data") == b""
    sink.append("1.ogg.data", b"hello ")
    sink.append("1.ogg.data", b"world")
    sink.flush()
    assert (tmp_path / "new" / "1.ogg.data").read_bytes() == b"hello world"
    assert sink.size("1.ogg.data") == 11
    assert sink.read("1.ogg.data", 6) == b"world" and sink.read("1.ogg.data", 2, 3) == b"llo"
    sink.truncate("1.ogg.data", 5)
    sink.append("1.ogg.data", b"!")
    sink.close()
    assert (tmp_path / "new" / "1.ogg.data").read_bytes() == b"hello!"


def test_resume_record_round_trip_and_replace(tmp_path):
    sink = LocalFolderSink(tmp_path, fsync=True)
    assert sink.load_resume(9) is None
    sink.save_resume(9, {"a": 1})
    sink.save_resume(9, {"a": 2})
    assert sink.load_resume(9) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == [".9.resume.json"]


def test_names_cannot_escape_the_folder(tmp_path):
    sink = LocalFolderSink(tmp_path)
    for bad in ("../x", "a/b", "", ".."):
        with pytest.raises(ValueError):
            sink.append(bad, b"x")
