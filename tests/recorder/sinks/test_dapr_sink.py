"""The Dapr sink against a real daprd, moto's S3 server and Redis."""

import uuid

import pytest
from dapr.clients import DaprClient

from pandora_recorder.sinks import ResumeStore, Sink
from pandora_recorder.sinks.dapr import DaprSink
from pandora_recorder.sinks.dapr_state import ResumeConflict
from pandora_testenv.services import OBJECT_STORE, STATE_STORE, S3Server, render_components, start_daprd

pytestmark = pytest.mark.timeout(90)


def test_chunks_land_in_the_bucket_under_numbered_keys(dapr_sink_factory, dapr_prefix, bucket_keys, s3_server):
    sink = dapr_sink_factory()
    assert isinstance(sink, Sink) and isinstance(sink, ResumeStore)
    assert sink.size("7.ogg.data") == 0 and sink.read("7.ogg.data") == b""
    sink.append("7.ogg.data", b"hello ")
    sink.append("7.ogg.users", b'"0":{}\n')
    assert sink.wait_stored(timeout=10)  # flush, and wait for the uploader thread
    assert sink.wait_stored(timeout=10)  # nothing new: no empty chunk
    sink.append("7.ogg.data", b"world")
    assert sink.size("7.ogg.data") == 11 and sink.read("7.ogg.data", 3, 5) == b"lo wo"
    assert sink.wait_stored(timeout=10)
    assert bucket_keys(dapr_prefix) == [
        f"{dapr_prefix}7/7.ogg.data.000000", f"{dapr_prefix}7/7.ogg.data.000001", f"{dapr_prefix}7/7.ogg.users.000000",
    ]
    body = s3_server.client().get_object(Bucket=s3_server.bucket, Key=f"{dapr_prefix}7/7.ogg.data.000001")["Body"]
    assert body.read() == b"world"
    # Another process sees the same file, sized from the listing.
    other = dapr_sink_factory()
    assert other.size("7.ogg.data") == 11 and other.read("7.ogg.data") == b"hello world"
    assert other.read("7.ogg.data", 6) == b"world"


def test_a_backlog_goes_up_as_several_chunks_daprd_accepts(dapr_sink_factory, dapr_prefix, bucket_keys):
    sink = dapr_sink_factory()  # default limits: 1 MiB chunks, under daprd's 4 MiB gRPC request limit after base64
    backlog = bytes(range(256)) * (10 * 1024 + 1)  # 2.5 MiB, e.g. after an outage of the object store
    sink.append("4.ogg.data", backlog)
    assert sink.wait_stored(timeout=30)
    assert bucket_keys(f"{dapr_prefix}4/") == [f"{dapr_prefix}4/4.ogg.data.00000{n}" for n in range(3)]
    assert dapr_sink_factory().read("4.ogg.data") == backlog


def test_truncate_rewrites_the_last_chunk_and_drops_later_ones(dapr_sink_factory, dapr_prefix, bucket_keys):
    sink = dapr_sink_factory()
    for part in (b"aaaa", b"bbbb", b"cccc"):
        sink.append("8.ogg.data", part)
        assert sink.wait_stored(timeout=10)
    sink.truncate("8.ogg.data", 6)
    sink.append("8.ogg.data", b"!")
    sink.close()
    assert bucket_keys(dapr_prefix) == [f"{dapr_prefix}8/8.ogg.data.000000", f"{dapr_prefix}8/8.ogg.data.000001",
                                        f"{dapr_prefix}8/8.ogg.data.000002"]
    assert dapr_sink_factory().read("8.ogg.data") == b"aaaabb!"


@pytest.fixture
def own_bucket_sink(testenv_dir, redis_server, s3_server, monkeypatch):
    """A DaprSink on its own daprd whose object store is a bucket of its own (so a test may take it away)."""
    bucket = f"own-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=bucket)
    server = S3Server(s3_server.endpoint, bucket, s3_server.process)
    components = render_components(testenv_dir / f"components-{bucket}", redis_server, server, testenv_dir / bucket)
    sidecar = start_daprd(testenv_dir, components, app_id=bucket)
    for key, value in sidecar.env().items():
        monkeypatch.setenv(key, value)
    sink = DaprSink(DaprClient(), OBJECT_STORE, "r/", STATE_STORE)
    yield sink, bucket
    sink.client.close()
    sidecar.stop()


def _empty_and_delete(s3, bucket):
    for item in s3.list_objects(Bucket=bucket).get("Contents", ()):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def test_failed_upload_keeps_bytes_and_a_later_flush_delivers_them(own_bucket_sink, s3_server, capsys):
    sink, bucket = own_bucket_sink
    s3 = s3_server.client()
    sink.append("9.ogg.data", b"before ")
    assert sink.wait_stored(timeout=10)
    _empty_and_delete(s3, bucket)  # the object store answers, with an error
    sink.append("9.ogg.data", b"during ")
    assert not sink.wait_stored(timeout=1)
    assert "object store unreachable; retrying" in capsys.readouterr().out
    sink.append("9.ogg.data", b"outage")
    assert sink.size("9.ogg.data") == len(b"before during outage")
    s3.create_bucket(Bucket=bucket)  # it comes back
    assert sink.wait_stored(timeout=10)
    assert "object store reachable again" in capsys.readouterr().out
    keys = [item["Key"] for item in s3.list_objects(Bucket=bucket)["Contents"]]
    assert keys == ["r/9/9.ogg.data.000001"]
    assert s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read() == b"during outage"


def test_a_full_buffer_drops_audio_loudly_but_keeps_the_metadata_files(dapr_sink_factory, capsys):
    sink = dapr_sink_factory()
    sink.max_buffer = 10  # nothing flushes here, so the buffer fills as it would while the store is away
    sink.append("5.ogg.users", b'"0":{}\n')
    sink.append("5.ogg.data", b"12")
    sink.append("5.ogg.data", b"3456789")
    assert "dropping audio" in capsys.readouterr().out
    assert sink.dropped_bytes == 7
    assert sink.read("5.ogg.data") == b"12" and sink.read("5.ogg.users") == b'"0":{}\n'


def test_a_second_recorder_taking_over_stops_the_first(dapr_sink_factory, dapr_prefix, bucket_keys, capsys):
    first = dapr_sink_factory()
    first.append("6.ogg.data", b"first")
    first.save_resume(6, {"dataSize": 5})
    assert first.wait_stored(timeout=10)
    second = dapr_sink_factory()  # a new pod on the same id: it claims the record when it resumes
    assert second.load_resume(6) == {"dataSize": 5}
    first.append("6.ogg.data", b"late")
    with pytest.raises(ResumeConflict):
        first.wait_stored(timeout=10)  # the first recorder's uploader learns before uploading anything more
    with pytest.raises(ResumeConflict):
        first.flush()  # and its writer learns at its next flush
    with pytest.raises(ResumeConflict):
        first.resume.save_resume(6, {"dataSize": 9})  # its stale etag cannot overwrite the record
    first.close()  # no upload, no exception: `pandora record` ends normally and says why in the log
    second.append("6.ogg.data", b"second")
    second.save_resume(6, {"dataSize": 11})
    assert second.wait_stored(timeout=10)
    assert bucket_keys(f"{dapr_prefix}6/") == [f"{dapr_prefix}6/6.ogg.data.000000", f"{dapr_prefix}6/6.ogg.data.000001"]
    assert dapr_sink_factory().read("6.ogg.data") == b"firstsecond"
    assert "recording taken over by another recorder" in capsys.readouterr().out


def test_two_recorders_claiming_at_once_one_loses(dapr_env):
    from pandora_recorder.sinks.dapr_state import DaprResumeStore

    with DaprClient() as client:
        recording_id = uuid.uuid4().int % 10**9
        DaprResumeStore(client).save_resume(recording_id, {"dataSize": 1})
        a, b = DaprResumeStore(client), DaprResumeStore(client)
        a._read(recording_id)  # both read the same etag...
        b._read(recording_id)
        a.save_resume(recording_id, {"dataSize": 2})
        with pytest.raises(ResumeConflict):  # ...and only the first write wins
            b.save_resume(recording_id, {"dataSize": 3})
        assert DaprResumeStore(client).load_resume(recording_id) == {"dataSize": 2}


def test_a_save_whose_reply_was_lost_is_not_mistaken_for_a_takeover(dapr_env):
    from pandora_recorder.sinks.dapr_state import DaprResumeStore

    with DaprClient() as client:
        recording_id = uuid.uuid4().int % 10**9
        store = DaprResumeStore(client)
        store.save_resume(recording_id, {"dataSize": 1})
        stale = dict(store._etags)
        store.save_resume(recording_id, {"dataSize": 2})
        store._etags = stale  # as if the second save's reply (and so its new etag) had never arrived
        store.save_resume(recording_id, {"dataSize": 3})
        store.ensure_owner(recording_id)
        assert DaprResumeStore(client).load_resume(recording_id) == {"dataSize": 3}
