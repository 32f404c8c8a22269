"""The five whole files at the bucket root, beside the chunks, through the real Dapr S3 binding (daprd + moto):
what the original Pandora's cooking server lists and downloads."""

from __future__ import annotations

import os
import random
import uuid

import pytest
from dapr.clients import DaprClient

from pandora_recorder.raw.format import FILE_KINDS, file_name
from pandora_recorder.sinks.dapr import DaprSink
from pandora_recorder.sinks.whole_files import ENV_WHOLE_FILES, write_whole_files
from pandora_testenv.services import OBJECT_STORE, STATE_STORE

pytestmark = [pytest.mark.timeout(120), pytest.mark.dapr]

MIB = 1024 * 1024


def fresh_id() -> int:
    return random.randrange(100_000_000, 999_999_999)


def fill(sink: DaprSink, recording_id: int, data_bytes: int) -> dict[str, bytes]:
    """Each file appended in flushes, so each is several chunks; returns the files' contents."""
    contents = {file_name(recording_id, kind): b"" for kind in FILE_KINDS}
    step = max(data_bytes // 4, 1)
    for offset in range(0, data_bytes, step):
        for name in contents:
            audio = name.endswith(".data")
            part = os.urandom(min(step, data_bytes - offset)) if audio else f"{name}:{offset}\n".encode()
            sink.append(name, part)
            contents[name] += part
        sink.flush()
        assert sink.wait_stored(30), "the chunks were not stored"  # uploads run on their own thread: one round each
    return contents


def root_objects(s3_server, recording_id: int) -> dict[str, bytes]:
    client = s3_server.client()
    listed = client.list_objects(Bucket=s3_server.bucket, Prefix=str(recording_id)).get("Contents", ())
    return {item["Key"]: client.get_object(Bucket=s3_server.bucket, Key=item["Key"])["Body"].read() for item in listed}


def test_the_whole_files_at_the_root_are_the_joined_chunks(dapr_sink_factory, dapr_prefix, bucket_keys,
                                                            s3_server) -> None:
    recording_id = fresh_id()
    sink = dapr_sink_factory()
    contents = fill(sink, recording_id, 600_000)
    chunks_before = bucket_keys(f"{dapr_prefix}{recording_id}/")
    result = write_whole_files(sink, recording_id)
    assert result is not None and result.complete
    assert root_objects(s3_server, recording_id) == contents  # exactly the five, whole, at the root
    assert bucket_keys(f"{dapr_prefix}{recording_id}/") == chunks_before and len(chunks_before) >= 20


def test_switched_off_nothing_is_written_beside_the_chunks(dapr_sink_factory, s3_server, monkeypatch) -> None:
    monkeypatch.setenv(ENV_WHOLE_FILES, "off")
    recording_id = fresh_id()
    sink = dapr_sink_factory()
    fill(sink, recording_id, 1000)
    assert write_whole_files(sink, recording_id) is None
    assert root_objects(s3_server, recording_id) == {}


def test_a_data_file_past_the_sidecars_request_limit_is_left_out_and_the_chunks_stay_complete(
        dapr_sink_factory, dapr_prefix, s3_server) -> None:
    # daprd's default --max-body-size is 4 MiB; base64 makes a 3.5 MiB file a 4.7 MiB request.
    recording_id = fresh_id()
    sink = dapr_sink_factory()
    contents = fill(sink, recording_id, 3 * MIB + MIB // 2)
    result = write_whole_files(sink, recording_id)
    data = file_name(recording_id, "data")
    assert result is not None and set(result.failed) == {data}
    assert set(result.written) == set(contents) - {data}
    assert set(root_objects(s3_server, recording_id)) == set(contents) - {data}
    assert sink.read(data) == contents[data]  # the chunks hold all of it (pandora fetch reads them)


def test_with_the_limit_raised_a_large_recording_is_written_whole(daprd_factory, s3_server, monkeypatch) -> None:
    sidecar = daprd_factory(f"whole-{uuid.uuid4().hex[:6]}", extra_args=("--max-body-size=32Mi",))
    for key, value in sidecar.env().items():
        monkeypatch.setenv(key, value)
    recording_id = fresh_id()
    sink = DaprSink(DaprClient(), OBJECT_STORE, f"test-{uuid.uuid4().hex[:8]}/",
                    STATE_STORE)
    try:
        contents = fill(sink, recording_id, 12 * MIB)
        result = write_whole_files(sink, recording_id)
    finally:
        sink.client.close()
    assert result is not None and result.complete
    assert root_objects(s3_server, recording_id) == contents
