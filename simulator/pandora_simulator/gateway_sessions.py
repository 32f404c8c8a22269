"""Gateway sessions and who hears what: every open session of every bot, and the fan-out of dispatches to them.

One :class:`GatewaySession` per IDENTIFY; a bot may hold several at once (several processes on one token), and
every session of a bot gets every dispatch its intents ask for. Dispatches are numbered and buffered so a client
can RESUME after a dropped connection.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pandora_simulator.logs import log
from pandora_simulator.model import SimBot, SimGuild
from pandora_simulator.opcodes import GatewayOp, WebSocketClose

BUFFER_LIMIT = 1000


def encode_frame(payload: dict[str, Any], compressor: Any) -> str | bytes:
    """A gateway frame: JSON text, or a zlib-stream chunk ending in a sync flush when the client asked for it."""
    text = json.dumps(payload, separators=(",", ":"))
    if compressor is None:
        return text
    return bytes(compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH))


async def send_frame(ws: web.WebSocketResponse, compressor: Any, payload: dict[str, Any]) -> None:
    frame = encode_frame(payload, compressor)
    if isinstance(frame, bytes):
        await ws.send_bytes(frame)
    else:
        await ws.send_str(frame)


@dataclass(eq=False)
class GatewaySession:
    """A bot's gateway session; survives its websocket for a while so the client can RESUME."""

    id: str
    bot: SimBot
    intents: int
    shard: list[int] | None
    ws: web.WebSocketResponse | None = None
    compressor: Any = None
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None
    closed: bool = False
    server_closed: bool = False  # the last socket was closed by the simulator (a fault), so it stays resumable

    def wants(self, intent: int | None) -> bool:
        return intent is None or bool(self.intents & intent)

    async def send(self, payload: dict[str, Any]) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return
        try:
            await send_frame(ws, self.compressor, payload)
        except (ConnectionResetError, RuntimeError):
            log.debug("gateway send failed (socket closing)", session=self.id)

    async def dispatch(self, event: str, data: Any) -> None:
        self.seq += 1
        payload = {"op": GatewayOp.DISPATCH, "t": event, "s": self.seq, "d": data}
        self.buffer.append(payload)
        del self.buffer[:-BUFFER_LIMIT]
        await self.send(payload)


class GatewaySessions:
    """Every session by id, and delivery of events to the sessions that should get them."""

    def __init__(self) -> None:
        self.by_id: dict[str, GatewaySession] = {}

    def add(self, session: GatewaySession) -> None:
        self.by_id[session.id] = session

    def get(self, session_id: str) -> GatewaySession | None:
        return self.by_id.get(session_id)

    def end(self, session: GatewaySession) -> None:
        session.closed = True
        self.by_id.pop(session.id, None)

    def of(self, bot_id: int) -> list[GatewaySession]:
        """The bot's live sessions, oldest first."""
        return [s for s in self.by_id.values() if s.bot.id == bot_id and not s.closed]

    async def to_bot(self, bot_id: int, event: str, data: Any, intent: int | None = None) -> None:
        """Send an event to every session of one bot whose intents want it."""
        for session in self.of(bot_id):
            if session.wants(intent):
                await session.dispatch(event, data)

    async def to_guild(self, guild: SimGuild, event: str, data: Any, intent: int | None,
                       *, about_user: int | None = None) -> None:
        """Send a guild event to every session of every bot in the guild (a bot's own events ignore the intent)."""
        for bot in guild.bots:
            for session in self.of(bot.id):
                if session.wants(intent) or bot.id == about_user:
                    await session.dispatch(event, data)

    async def close_sockets_of(self, bot_id: int, code: int) -> None:
        for session in self.of(bot_id):
            if session.ws is not None and not session.ws.closed:
                session.server_closed = True
                await session.ws.close(code=code)

    async def close_all(self) -> None:
        for session in list(self.by_id.values()):
            if session.expiry is not None:
                session.expiry.cancel()
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=WebSocketClose.GOING_AWAY)
        self.by_id.clear()

