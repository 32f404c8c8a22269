"""The app Dapr delivers to: a programmatic subscription (``GET /dapr/subscribe``) to the start and stop topics,
and one route per topic answering ``{"status": "SUCCESS" | "RETRY" | "DROP"}``.

Each delivery is a CloudEvent: the payload is its ``data`` (JSON, or JSON sent as text), else its
``data_base64``; a body that is no CloudEvent at all (a raw-payload publish) is the payload itself. The
CloudEvent ``id`` identifies the message across redeliveries; without one, the body's hash does. Its ``time``
(set by the publishing sidecar) lets the bridge refuse stale messages.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from pandora.logging import get_logger
from pandora_frontdoor.pubsub import topics
from pandora_frontdoor.pubsub.bridge import Delivery, PubSubBridge, Status

log = get_logger(__name__)

START_ROUTE = "/pubsub/start"
STOP_ROUTE = "/pubsub/stop"
MAX_BODY = 1024 * 1024  # a delivery larger than this is not a start or a stop: refused by aiohttp, 413

Handler = Callable[[Delivery], Awaitable[Status]]


def delivery_of(body: bytes) -> Delivery:
    """The message in one delivered body."""
    digest = "sha256:" + hashlib.sha256(body).hexdigest()[:32]
    try:
        envelope = json.loads(body) if body.strip() else None
    except ValueError:
        return Delivery(digest, body.decode("utf-8", errors="replace"))
    if not isinstance(envelope, dict) or "specversion" not in envelope:
        return Delivery(digest, envelope)
    message_id, published_at = str(envelope.get("id") or digest), _time(envelope.get("time"))
    payload: Any = None
    if "data" in envelope:
        payload = envelope["data"]
    elif "data_base64" in envelope:
        try:
            payload = base64.b64decode(str(envelope["data_base64"]), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            payload = str(envelope["data_base64"])
    return Delivery(message_id, payload, published_at)


def _time(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp() if value else None
    except ValueError:
        return None


def subscription_app(bridge: PubSubBridge, pubsub: str) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)

    async def subscribe(_request: web.Request) -> web.Response:
        return web.json_response([
            {"pubsubname": pubsub, "topic": topics.START, "route": START_ROUTE},
            {"pubsubname": pubsub, "topic": topics.STOP, "route": STOP_ROUTE},
        ])

    def route(topic: str, handle: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def deliver(request: web.Request) -> web.Response:
            delivery = delivery_of(await request.read())
            status = await handle(delivery)
            log.info("pub/sub delivery answered", topic=topic, message=delivery.message_id, status=status.value)
            return web.json_response({"status": status.value})

        return deliver

    app.router.add_get("/dapr/subscribe", subscribe)
    app.router.add_post(START_ROUTE, route(topics.START, bridge.start))
    app.router.add_post(STOP_ROUTE, route(topics.STOP, bridge.stop))
    return app


@contextlib.asynccontextmanager
async def serving(bridge: PubSubBridge, config: topics.PubSubConfig) -> AsyncIterator[int]:
    """The subscription app listening on ``config.app_host:app_port`` (0: any free port) until the block ends;
    yields the port."""
    runner = web.AppRunner(subscription_app(bridge, config.pubsub), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.app_host, config.app_port)
    await site.start()
    port = int(runner.addresses[0][1]) if runner.addresses else config.app_port
    log.info("pub/sub bridge listening", pubsub=config.pubsub, host=config.app_host, port=port)
    try:
        yield port
    finally:
        await runner.cleanup()
