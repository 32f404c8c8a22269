"""daprd with our components/ against real Redis and a real S3 server, through the Dapr Python SDK."""

from __future__ import annotations

import base64
import json
import os
import queue
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
import redis
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError
from dapr.clients.grpc._state import Concurrency, StateOptions

from pandora_testenv.services import LOCAL_OBJECT_STORE, OBJECT_STORE, PUBSUB, STATE_STORE

FIRST_WRITE = StateOptions(concurrency=Concurrency.first_write)


def test_state_save_get_and_etag_conflict(dapr_env, redis_server):
    key = f"resume-{uuid.uuid4().hex[:8]}"
    with DaprClient() as client:
        client.save_state(STATE_STORE, key, json.dumps({"chunk": 1}))
        first = client.get_state(STATE_STORE, key)
        assert json.loads(first.data) == {"chunk": 1}
        assert first.etag

        client.save_state(STATE_STORE, key, json.dumps({"chunk": 2}), etag=first.etag, options=FIRST_WRITE)
        with pytest.raises(DaprGrpcError) as conflict:
            client.save_state(STATE_STORE, key, json.dumps({"chunk": 3}), etag=first.etag, options=FIRST_WRITE)
        assert conflict.value.code() == grpc.StatusCode.ABORTED
        assert json.loads(client.get_state(STATE_STORE, key).data) == {"chunk": 2}

    # The value really lives in Redis, under "<store name>||<key>" (keyPrefix: name): every app id sees one key.
    stored = redis.Redis(host=redis_server.host, port=redis_server.port).hgetall(f"{STATE_STORE}||{key}")
    assert json.loads(stored[b"data"]) == {"chunk": 2}


def test_publish_subscribe_round_trip(dapr_env):
    topic = f"startRecordingDiscord-{uuid.uuid4().hex[:8]}"
    payload = {"voiceChannelId": "123456789012345678"}
    with DaprClient() as client:
        subscription = client.subscribe(PUBSUB, topic)
        try:
            client.publish_event(PUBSUB, topic, json.dumps(payload), data_content_type="application/json")
            with ThreadPoolExecutor(1) as pool:
                # next_message() has no timeout of its own; don't let a lost message hang the suite.
                message = pool.submit(subscription.next_message).result(timeout=20)
            subscription.respond_success(message)
        finally:
            subscription.close()
    assert message.topic() == topic
    assert message.data() == payload


def test_s3_binding_create_get_list(dapr_env, s3_server):
    payload = os.urandom(3000) + b"OggS"
    key = f"recordings/{uuid.uuid4().hex[:8]}/chunk-000001.ogg"
    with DaprClient() as client:
        client.invoke_binding(OBJECT_STORE, "create", base64.b64encode(payload), {"key": key})
        got = client.invoke_binding(OBJECT_STORE, "get", "", {"key": key})
        assert got.data == payload
        listed = client.invoke_binding(OBJECT_STORE, "list", json.dumps({"prefix": key.rsplit("/", 1)[0]}))
    keys = [entry["Key"] for entry in json.loads(listed.data)["Contents"]]
    assert keys == [key]
    # And the bytes are in the bucket itself, not just behind daprd.
    assert s3_server.client().get_object(Bucket=s3_server.bucket, Key=key)["Body"].read() == payload


def test_localstorage_binding_create_get_list(dapr_env, dapr_components):
    payload = os.urandom(1000)
    name = f"{uuid.uuid4().hex[:8]}-chunk-000001.ogg"
    with DaprClient() as client:
        client.invoke_binding(LOCAL_OBJECT_STORE, "create", base64.b64encode(payload), {"fileName": name})
        got = client.invoke_binding(LOCAL_OBJECT_STORE, "get", "", {"fileName": name})
        listed = client.invoke_binding(LOCAL_OBJECT_STORE, "list", "")
    assert got.data == payload
    assert name in {entry.rsplit("/", 1)[-1] for entry in json.loads(listed.data)}
    assert (dapr_components.parent / "objects" / name).read_bytes() == payload


class _SubscriberApp(BaseHTTPRequestHandler):
    """A minimal Dapr app: declares one subscription and records the events delivered to it."""

    topic = ""
    received: queue.Queue

    def do_GET(self) -> None:
        body = json.dumps([{"pubsubname": PUBSUB, "topic": self.topic, "route": "/events"}]).encode()
        self._reply(body if self.path == "/dapr/subscribe" else b"{}")

    def do_POST(self) -> None:
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/events":
            self.received.put(event)
        self._reply(json.dumps({"status": "SUCCESS"}).encode())

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_app_port_subscription_receives_cloud_event(daprd_factory, monkeypatch):
    topic = f"stoppedRecordingDiscord-{uuid.uuid4().hex[:8]}"
    handler = type("App", (_SubscriberApp,), {"topic": topic, "received": queue.Queue()})
    app = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    try:
        sidecar = daprd_factory("pandora-subscriber", app_port=app.server_address[1])
        # DaprClient health-checks DAPR_HTTP_PORT whatever address it is given: point the environment at it.
        for key, value in sidecar.env().items():
            monkeypatch.setenv(key, value)
        with DaprClient() as client:
            client.publish_event(PUBSUB, topic, json.dumps({"recordingId": "42"}), data_content_type="application/json")
        event = handler.received.get(timeout=20)
    finally:
        app.shutdown()
    assert event["topic"] == topic
    assert event["data"] == {"recordingId": "42"}
