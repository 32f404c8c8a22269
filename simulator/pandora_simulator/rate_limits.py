"""REST rate limits as Discord answers them: ``X-RateLimit-*`` headers, and 429s with ``Retry-After`` and
``{message, retry_after, global}``.

A scenario limits a route (``sim.rate_limit(MESSAGE_CREATE, limit=5, per=1.0)``): a bucket per major parameter
(channel, guild, webhook, interaction) of ``limit`` requests per ``per`` seconds, reported on every response of
the route; a request beyond it is answered 429 until the bucket resets. ``every=N`` refuses every N-th request
of the route whatever the bucket says, as a limit shared with another process on the token does; clients cannot
see that one coming. Every 429 is logged (``sim.rate_limited``).

discord.py takes a 429 without a ``Via`` header for a Cloudflare ban and gives up, so every response carries the
``Via`` Discord's edge adds.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pandora_simulator.errors import json_response
from pandora_simulator.records import RateLimitHit

MESSAGE_CREATE = "POST /channels/{channel_id}/messages"
MESSAGE_EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
INTERACTION_CALLBACK = "POST /interactions/{interaction_id}/{token}/callback"
FOLLOWUP_CREATE = "POST /webhooks/{app_id}/{token}"
WEBHOOK_MESSAGE_EDIT = "PATCH /webhooks/{app_id}/{token}/messages/{message_id}"

MAJOR_PARAMETERS = ("channel_id", "guild_id", "app_id", "token", "interaction_id")
API_PREFIX = "/api/v{version}"
VIA = "1.1 google"


@dataclass
class _Window:
    reset_at: float
    used: int = 0


@dataclass
class RateLimit:
    """One route's limit; the live object ``sim.rate_limit`` returns."""

    route: str
    limit: int | None = None
    per: float = 1.0
    every: int | None = None
    retry_after: float = 0.1  # what an ``every`` refusal asks for
    is_global: bool = False
    requests: int = 0
    windows: dict[tuple[str, ...], _Window] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return hashlib.sha1(self.route.encode()).hexdigest()[:16]

    def check(self, major: tuple[str, ...], now: float) -> tuple[float | None, dict[str, str]]:
        """(None or the seconds to wait, the headers to send) for one request."""
        self.requests += 1
        headers: dict[str, str] = {}
        wait: float | None = None
        if self.limit is not None:
            window = self.windows.get(major)
            if window is None or now >= window.reset_at:
                window = self.windows[major] = _Window(reset_at=now + self.per)
            reset_after = window.reset_at - now
            if window.used >= self.limit:
                wait = reset_after
            else:
                window.used += 1
            headers = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.limit - window.used),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": self.bucket,
            }
        if wait is None and self.every is not None and self.requests % self.every == 0:
            wait = self.retry_after
            headers["X-RateLimit-Scope"] = "shared"
        return wait, headers


class RateLimits:
    """The limited routes of one REST API, applied by :attr:`middleware`."""

    def __init__(self, routes: Iterable[str], on_limited: Callable[[RateLimitHit], None]) -> None:
        self.known_routes = set(routes)
        self.on_limited = on_limited
        self.by_route: dict[str, RateLimit] = {}

    def limit(self, route: str, **settings: Any) -> RateLimit:
        if route not in self.known_routes:
            raise ValueError(f"unknown route {route!r}; one of: {sorted(self.known_routes)}")
        rule = self.by_route[route] = RateLimit(route, **settings)
        return rule

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        rule = self.by_route.get(_route_of(request))
        if rule is None:
            response = await handler(request)
            response.headers["Via"] = VIA
            return response
        major = tuple(request.match_info.get(name, "") for name in MAJOR_PARAMETERS)
        wait, headers = rule.check(major, time.monotonic())
        if wait is not None:
            self.on_limited(RateLimitHit(route=rule.route, path=request.path, retry_after=wait,
                                         is_global=rule.is_global))
            return _too_many_requests(wait, rule.is_global, headers)
        response = await handler(request)
        response.headers.update({**headers, "Via": VIA})
        return response


def _route_of(request: web.Request) -> str:
    """``METHOD /path/{template}`` of the matched route (without the API version prefix)."""
    resource = request.match_info.route.resource
    if resource is None:
        return ""
    return f"{request.method} {resource.canonical.removeprefix(API_PREFIX)}"


def _too_many_requests(wait: float, is_global: bool, headers: dict[str, str]) -> web.Response:
    headers = {**headers, "Retry-After": str(math.ceil(wait)), "Via": VIA}
    if is_global:
        headers.update({"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"})
    body = {"message": "You are being rate limited.", "retry_after": round(wait, 3), "global": is_global}
    return json_response(body, status=429, headers=headers)
