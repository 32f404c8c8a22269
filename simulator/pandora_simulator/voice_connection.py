"""One real client's voice connection: its websocket (v8 numbering and replay buffer), UDP address and keys."""

from __future__ import annotations

import json
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pandora_simulator.faults import FaultInjector
from pandora_simulator.logs import log

REPLAY_BUFFER = 500

@dataclass(eq=False)
class VoiceConnection:
    """A real client in a voice channel. Survives its websocket when the close is resumable."""

    guild_id: int
    user_id: int
    session_id: str
    token: str
    channel_id: int
    ssrc: int
    max_dave_protocol_version: int
    ws: web.WebSocketResponse | None = None
    seq: int = 0
    seq_ack: int = -1
    replay: deque[tuple[int, str | bytes]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    mode: str | None = None
    key: bytes | None = None
    dave_protocol_version: int = 0
    udp_addr: tuple[str, int] | None = None
    discovered_addr: tuple[str, int] | None = None
    out_counter: int = 0
    announced: set[int] = field(default_factory=set)  # sender SSRCs this client has an op 5 for
    announce_scheduled: set[int] = field(default_factory=set)  # sender SSRCs with an op 5 on its way
    injectors: dict[int, FaultInjector] = field(default_factory=dict)
    closed: bool = False
    resumable_until: float = 0.0
    server_close_code: int | None = None  # the code the server closed the socket with (clients echo others)
    received_packets: int = 0
    client_ops: list[int] = field(default_factory=list)  # every opcode the client sent, JSON and binary, in order

    @property
    def ready_for_media(self) -> bool:
        return self.key is not None and self.udp_addr is not None and self.mode is not None

    def next_counter(self) -> int:
        self.out_counter = (self.out_counter + 1) & 0xFFFFFFFF
        return self.out_counter

    async def _write(self, data: str | bytes) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return
        try:
            if isinstance(data, bytes):
                await ws.send_bytes(data)
            else:
                await ws.send_str(data)
        except (ConnectionResetError, RuntimeError):
            log.debug("voice send failed (socket closing)", user=self.user_id)

    async def send_unnumbered(self, op: int, d: Any) -> None:
        await self._write(json.dumps({"op": op, "d": d}))

    async def send(self, op: int, d: Any) -> None:
        """A numbered message: buffered for replay on resume (voice gateway v8)."""
        self.seq += 1
        text = json.dumps({"op": op, "d": d, "seq": self.seq})
        self.replay.append((self.seq, text))
        await self._write(text)

    async def send_binary(self, op: int, payload: bytes) -> None:
        """Binary DAVE message: u16 sequence, u8 opcode, payload."""
        self.seq += 1
        data = struct.pack(">HB", self.seq & 0xFFFF, op) + payload
        self.replay.append((self.seq, data))
        await self._write(data)

    async def replay_after(self, seq_ack: int) -> int:
        sent = 0
        for seq, data in list(self.replay):
            if seq > seq_ack:
                await self._write(data)
                sent += 1
        return sent

    async def close(self, code: int) -> None:
        ws = self.ws
        if ws is not None and not ws.closed:
            self.server_close_code = code
            await ws.close(code=code)

    def session_description(self) -> dict[str, Any]:
        assert self.key is not None
        return {
            "mode": self.mode,
            "secret_key": list(self.key),
            "dave_protocol_version": self.dave_protocol_version,
            "audio_codec": "opus",
            "video_codec": None,
            "media_session_id": self.session_id[:16],
        }


