import sys
import uuid
from pathlib import Path

import pytest
from dapr.clients import DaprClient

from pandora_recorder.sinks.dapr import DaprSink
from pandora_testenv.services import OBJECT_STORE, STATE_STORE


@pytest.fixture
def dapr_prefix(dapr_env):
    """A fresh key prefix per test in the session bucket (the operator's default is `recordings/`)."""
    return f"test-{uuid.uuid4().hex[:8]}/"


@pytest.fixture
def dapr_sink_factory(dapr_env, dapr_prefix):
    """`make()` opens a new DaprSink (a new recorder process, as far as storage can tell) on the session daprd."""
    opened: list[DaprSink] = []

    def make(binding: str = OBJECT_STORE, **options) -> DaprSink:
        sink = DaprSink(DaprClient(), binding, dapr_prefix, STATE_STORE, **options)
        opened.append(sink)
        return sink

    yield make
    for sink in opened:
        sink.client.close()


@pytest.fixture
def bucket_keys(s3_server):
    """`bucket_keys(prefix)`: the object keys under `prefix`, straight from the S3 server."""
    client = s3_server.client()

    def keys(prefix: str) -> list[str]:
        pages = client.get_paginator("list_objects").paginate(Bucket=s3_server.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

    return keys


# The end-to-end test drives the real recorder with tests/recorder/voice's simulator kit (not a package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "voice"))
