"""The voice gateway (v8, over TLS): HELLO, IDENTIFY/RESUME, SELECT_PROTOCOL, heartbeats, op 5 and DAVE's ops.

One :class:`VoiceSocket` per websocket; each client opcode has its own handler. Who may connect and where a
connection sits is the :class:`~pandora_simulator.voice_server.VoiceServer`'s business.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiohttp import WSMsgType, web

from pandora_simulator.logs import log
from pandora_simulator.opcodes import VoiceClose, VoiceOp
from pandora_simulator.rtp import SUPPORTED_MODES
from pandora_simulator.voice_connection import VoiceConnection
from pandora_simulator.voice_server import VoiceServer

VOICE_GATEWAY_VERSION = 8
HEARTBEAT_INTERVAL_MS = 13_750
HEARTBEAT_TIMEOUT_SECONDS = 2.5 * HEARTBEAT_INTERVAL_MS / 1000  # then close 4009 (session timeout)
_STOP = False


@dataclass(eq=False)
class VoiceSocket:
    """One voice websocket and the connection it carries (None until IDENTIFY or RESUME)."""

    ws: web.WebSocketResponse
    connection: VoiceConnection | None = None
    last_heartbeat: float = field(default_factory=time.monotonic)

    async def close(self, code: VoiceClose) -> bool:
        """Close with ``code``; returns False so a handler can ``return await socket.close(...)``."""
        if self.connection is not None:
            self.connection.server_close_code = code
        await self.ws.close(code=code)
        return _STOP


class VoiceGateway:
    def __init__(self, server: VoiceServer) -> None:
        self.server = server
        self.heartbeat_timeout = HEARTBEAT_TIMEOUT_SECONDS
        self._handlers: dict[int, Callable[[VoiceSocket, Any], Awaitable[bool]]] = {
            VoiceOp.HEARTBEAT: self._heartbeat,
            VoiceOp.IDENTIFY: self._identify,
            VoiceOp.RESUME: self._resume,
            VoiceOp.SELECT_PROTOCOL: self._select_protocol,
            VoiceOp.SPEAKING: self._speaking,
            VoiceOp.DAVE_TRANSITION_READY: partial(self._dave_json, VoiceOp.DAVE_TRANSITION_READY),
            VoiceOp.MLS_INVALID_COMMIT_WELCOME: partial(self._dave_json, VoiceOp.MLS_INVALID_COMMIT_WELCOME),
        }
        self._before_connection = {VoiceOp.HEARTBEAT, VoiceOp.IDENTIFY, VoiceOp.RESUME}

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        hello = {"v": VOICE_GATEWAY_VERSION, "heartbeat_interval": HEARTBEAT_INTERVAL_MS}
        await ws.send_str(json.dumps({"op": VoiceOp.HELLO, "d": hello}))
        socket = VoiceSocket(ws)
        try:
            while await self._receive(socket):
                pass
        finally:
            connection = socket.connection
            if connection is not None and connection.ws is ws:
                code = connection.server_close_code if connection.server_close_code is not None else ws.close_code
                connection.server_close_code = None
                await self.server.socket_gone(connection, code)
        return ws

    async def _receive(self, socket: VoiceSocket) -> bool:
        """Wait for one client message (or the heartbeat deadline) and handle it; False ends the connection."""
        try:
            remaining = socket.last_heartbeat + self.heartbeat_timeout - time.monotonic()
            message = await socket.ws.receive(timeout=max(remaining, 0.001))
        except TimeoutError:
            log.info("voice heartbeat missed", user=socket.connection.user_id if socket.connection else None)
            return await socket.close(VoiceClose.SESSION_TIMEOUT)
        if message.type == WSMsgType.BINARY:
            await self._binary(socket, message.data)
            return True
        if message.type != WSMsgType.TEXT:
            return _STOP
        try:
            payload = json.loads(message.data)
            opcode, data = payload["op"], payload.get("d")
        except (ValueError, KeyError, TypeError):
            return await socket.close(VoiceClose.DECODE_ERROR)
        if socket.connection is None and opcode not in self._before_connection:
            return await socket.close(VoiceClose.NOT_AUTHENTICATED)
        if socket.connection is not None and opcode not in (VoiceOp.IDENTIFY, VoiceOp.RESUME):
            socket.connection.client_ops.append(opcode)
        handler = self._handlers.get(opcode)
        # Other client opcodes (12 client connect, video, codecs) change nothing here.
        return True if handler is None else await handler(socket, data)

    async def _binary(self, socket: VoiceSocket, frame: bytes) -> None:
        """A binary DAVE message: ``u8 opcode | payload``."""
        if socket.connection is not None and len(frame) >= 1:
            socket.connection.client_ops.append(frame[0])
            await self.server.dave_client_message(socket.connection, frame[0], frame[1:])

    # --- client opcodes ----------------------------------------------------------------------------------------

    async def _heartbeat(self, socket: VoiceSocket, data: Any) -> bool:
        socket.last_heartbeat = time.monotonic()
        connection = socket.connection
        if connection is not None and isinstance(data, dict):
            connection.seq_ack = int(data.get("seq_ack", connection.seq_ack))
        nonce = data.get("t") if isinstance(data, dict) else data
        await socket.ws.send_str(json.dumps({"op": VoiceOp.HEARTBEAT_ACK, "d": {"t": nonce}}))
        return True

    async def _identify(self, socket: VoiceSocket, data: Any) -> bool:
        if socket.connection is not None:
            return await socket.close(VoiceClose.ALREADY_AUTHENTICATED)
        data = data or {}
        grant = self.server.grants.get(str(data.get("token")))
        if grant is None or str(grant.guild_id) != str(data.get("server_id")) or str(grant.user_id) != str(
            data.get("user_id")
        ):
            return await socket.close(VoiceClose.AUTHENTICATION_FAILED)
        if grant.session_id != data.get("session_id"):
            # The voice state belongs to the gateway session that sent op 4; another session of the same bot
            # (another process on the token) cannot take its voice connection.
            return await socket.close(VoiceClose.SESSION_INVALID)
        connection = await self.server.open_connection(
            grant, int(data.get("max_dave_protocol_version") or 0), socket.ws)
        socket.connection = connection
        connection.client_ops.append(VoiceOp.IDENTIFY)
        await connection.send(VoiceOp.READY, {
            # The address the UDP server listens on: a client outside this host (a pod) must reach it there.
            "ssrc": connection.ssrc, "ip": self.server.udp_host, "port": self.server.udp_port,
            "modes": list(SUPPORTED_MODES), "heartbeat_interval": 1, "experiments": [],
        })
        log.info("voice identify", user=grant.user_id, channel=grant.channel_id, ssrc=connection.ssrc)
        return True

    async def _select_protocol(self, socket: VoiceSocket, data: Any) -> bool:
        connection = socket.connection
        assert connection is not None
        data = data or {}
        details = data.get("data") or {}
        mode = details.get("mode")
        if data.get("protocol") != "udp":
            return await socket.close(VoiceClose.UNKNOWN_PROTOCOL)
        if mode not in SUPPORTED_MODES:
            return await socket.close(VoiceClose.UNKNOWN_ENCRYPTION_MODE)
        connection.mode = mode
        connection.key = secrets.token_bytes(32)
        connection.udp_addr = (str(details.get("address")), int(details.get("port") or 0))
        connection.dave_protocol_version = self.server.dave_version_for(connection)
        await connection.send(VoiceOp.SESSION_DESCRIPTION, connection.session_description())
        await self.server.seat(connection)
        return True

    async def _resume(self, socket: VoiceSocket, data: Any) -> bool:
        data = data or {}
        connection = self.server.resumable(data.get("token"), data.get("session_id"), data.get("server_id"))
        if connection is None:
            return await socket.close(VoiceClose.SESSION_INVALID)
        old = connection.ws
        connection.ws = socket.ws
        socket.connection = connection
        if old is not None and not old.closed:
            await old.close(code=VoiceClose.SESSION_INVALID)
        connection.client_ops.append(VoiceOp.RESUME)
        seq_ack = int(data.get("seq_ack", -1))
        await connection.send_unnumbered(VoiceOp.RESUMED, None)
        replayed = await connection.replay_after(seq_ack)
        log.info("voice resume", user=connection.user_id, seq_ack=seq_ack, replayed=replayed)
        if connection.key is not None:
            # discord.py 2.7.1 waits for a secret key on every new voice socket, resumed or not; repeat it.
            await connection.send(VoiceOp.SESSION_DESCRIPTION, connection.session_description())
        return True

    async def _speaking(self, socket: VoiceSocket, data: Any) -> bool:
        assert socket.connection is not None
        room = self.server.room_of(socket.connection)
        if room is not None:
            await room.speaking_changed(socket.connection, int((data or {}).get("speaking", 0)))
        return True

    async def _dave_json(self, opcode: VoiceOp, socket: VoiceSocket, data: Any) -> bool:
        """DAVE's JSON client ops: 23 (ready for transition) and 31 (invalid commit or welcome)."""
        assert socket.connection is not None
        await self.server.dave_client_message(socket.connection, opcode, data or {})
        return True
