"""`pandora fetch`: a recording's chunks, through Dapr or from a folder copied out of the bucket, joined into the
raw files `pandora cook` reads."""

from pandora.cli import main
from pandora_recorder.raw.format import FILE_KINDS, file_name
from pandora_recorder.raw.ogg import raw_page
from pandora_testenv.services import OBJECT_STORE


def part_of(kind: str, part: int) -> bytes:
    """What the writer's `part`-th flush of `kind` could hold (fetch checks that the joined files read back)."""
    if kind == "info":
        return (b'{"format":1,', b'"key":"1",', b'"startTime":"2026-01-01T00:00:00.000Z"}\n')[part]
    if kind == "users":
        return b'"0":{}\n' if part == 0 else f',"{part}":{{"id":"{part}","username":"u{part}"}}\n'.encode()
    return raw_page(part + 1, {"header1": 0, "header2": 1}.get(kind, 2), 960 * part, f"{kind}-{part};".encode())


def test_fetch_joins_the_chunks_through_dapr_and_from_a_copied_folder(dapr_sink_factory, dapr_prefix, s3_server,
                                                                      monkeypatch, tmp_path, capsys):
    expected = {}
    sink = dapr_sink_factory()
    for kind in FILE_KINDS:
        name = file_name(55, kind)
        expected[name] = b""
        for part in range(3):  # three flushes: three chunks per file
            content = part_of(kind, part)
            sink.append(name, content)
            expected[name] += content
            assert sink.wait_stored(timeout=10)
    sink.close()

    monkeypatch.setenv("PANDORA_STORAGE_BINDING", OBJECT_STORE)
    monkeypatch.setenv("PANDORA_STORAGE_PREFIX", dapr_prefix)
    assert main(["fetch", "55", "--out", str(tmp_path / "via-dapr")]) == 0
    assert {path.name: path.read_bytes() for path in (tmp_path / "via-dapr").iterdir()} == expected
    assert str(tmp_path / "via-dapr" / file_name(55, "data")) in capsys.readouterr().out

    copied = tmp_path / "copied"  # what `aws s3 cp --recursive s3://BUCKET/PREFIX/55/ copied` leaves
    copied.mkdir()
    client = s3_server.client()
    for item in client.list_objects(Bucket=s3_server.bucket, Prefix=f"{dapr_prefix}55/")["Contents"]:
        (copied / item["Key"].rsplit("/", 1)[1]).write_bytes(
            client.get_object(Bucket=s3_server.bucket, Key=item["Key"])["Body"].read())
    assert len(list(copied.iterdir())) == 15
    assert main(["fetch", "55", "--chunks", str(copied), "--out", str(tmp_path / "from-folder")]) == 0
    assert {path.name: path.read_bytes() for path in (tmp_path / "from-folder").iterdir()} == expected


def test_fetch_of_an_unknown_recording_fails(dapr_env, dapr_prefix, monkeypatch, tmp_path):
    monkeypatch.setenv("PANDORA_STORAGE_BINDING", OBJECT_STORE)
    monkeypatch.setenv("PANDORA_STORAGE_PREFIX", dapr_prefix)
    assert main(["fetch", "56", "--out", str(tmp_path)]) == 1
