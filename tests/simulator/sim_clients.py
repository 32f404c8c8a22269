"""Unmodified discord.py clients configured only by the connection contract, and ways to look at what they receive."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import nacl.bindings
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from discord.voice_state import VoiceConnectionState

from pandora.discord_connection import DiscordConnection
from pandora_simulator import DiscordSimulator, SimBot, SimGuild
from pandora_simulator.testing import wait_for


@contextlib.asynccontextmanager
async def running_client(
    sim: DiscordSimulator, bot: SimBot, guilds: list[SimGuild], *, client: discord.Client | None = None,
    message_content: bool = True, reconnect: bool = False,
) -> AsyncIterator[discord.Client]:
    """A discord.Client logged in with the bot's token via the connection contract, its guilds cached."""
    env = sim.connection_env(bot)
    kwargs = DiscordConnection.from_env(env).apply()
    if client is None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        client = discord.Client(intents=intents, **kwargs)
    await client.login(env["PANDORA_TOKEN"])
    runner = asyncio.create_task(client.connect(reconnect=reconnect))
    try:
        # READY already caches each guild as unavailable; GUILD_CREATE brings its channels and members. A second
        # session on the token gets op 9 first and discord.py waits 5 s before it identifies again.
        await wait_for(lambda: all(_available(client, g.id) for g in guilds), timeout=15, what="GUILD_CREATE")
        yield client
    finally:
        for vc in list(client.voice_clients):
            with contextlib.suppress(Exception):
                await vc.disconnect(force=True)
        await client.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner


def _available(client: discord.Client, guild_id: int) -> bool:
    guild = client.get_guild(guild_id)
    return guild is not None and not guild.unavailable


class TappedVoiceClient(discord.VoiceClient):
    """A VoiceClient using only discord.py's documented extension points: the websocket hook (op 5 SSRC map)
    and the raw UDP socket listener. The test decrypts what arrives the way a receiver must."""

    def __init__(self, client: discord.Client, channel: Any) -> None:
        super().__init__(client, channel)
        self.ssrc_users: dict[int, int] = {}
        self.messages: list[dict[str, Any]] = []  # every JSON voice message, as the hook saw it
        self.op5_at: dict[int, float] = {}  # ssrc -> when its first op 5 arrived (time.monotonic)
        self.datagrams: list[bytes] = []
        self.arrivals: list[float] = []
        self._lock = threading.Lock()
        self._frames: dict[int, list[bytes]] = defaultdict(list)
        self._processed = 0
        self._connection.add_socket_listener(self._on_datagram)

    def create_connection_state(self) -> VoiceConnectionState:
        return VoiceConnectionState(self, hook=self._hook)

    async def _hook(self, ws: Any, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if message.get("op") == 5 and "user_id" in message.get("d", {}):
            ssrc = int(message["d"]["ssrc"])
            self.ssrc_users[ssrc] = int(message["d"]["user_id"])
            self.op5_at.setdefault(ssrc, time.monotonic())

    def _on_datagram(self, data: bytes) -> None:
        with self._lock:
            self.datagrams.append(data)
            self.arrivals.append(time.monotonic())

    def decrypted_frames(self) -> dict[int, list[bytes]]:
        """user id -> Opus frames: transport-decrypted (xchacha rtpsize), padding/extension stripped, then DAVE.

        Datagrams are decrypted once, in arrival order (DAVE refuses replays), and the results accumulate."""
        key = bytes(self._connection.secret_key)
        dave = self._connection.dave_session
        frames = self._frames
        with self._lock:
            datagrams = self.datagrams[self._processed:]
            self._processed = len(self.datagrams)
        for data in datagrams:
            if len(data) < 12 or 200 <= data[1] <= 204 or data[1] & 0x7F != 0x78:
                continue
            ssrc = struct.unpack_from(">I", data, 8)[0]
            user_id = self.ssrc_users.get(ssrc)
            if user_id is None:
                continue
            header_length = 12 + 4 * (data[0] & 0x0F)
            extension_words = 0
            if data[0] & 0x10:
                extension_words = struct.unpack_from(">H", data, header_length + 2)[0]
                header_length += 4
            body = transport_decrypt(self._connection.mode, key, data, header_length)
            payload = body[4 * extension_words:]
            if data[0] & 0x20:
                payload = payload[: -payload[-1]]
            if dave is not None and dave.ready:
                try:
                    payload = dave.decrypt(user_id, discord_media_audio(), payload)
                except ValueError:
                    continue
            frames[user_id].append(bytes(payload))
        return {user: list(items) for user, items in frames.items()}


def transport_decrypt(mode: str, key: bytes, data: bytes, header_length: int) -> bytes:
    """rtpsize: AAD = the clear header, nonce = the trailing 4-byte counter padded with zeros."""
    ciphertext, aad = data[header_length:-4], data[:header_length]
    if mode == "aead_aes256_gcm_rtpsize":
        return AESGCM(key).decrypt(data[-4:] + bytes(8), ciphertext, aad)
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, data[-4:] + bytes(20), key)


class AesGcmVoiceClient(TappedVoiceClient):
    """Selects aead_aes256_gcm_rtpsize (Discord's preferred mode) through discord.py's per-mode encrypt hook."""

    supported_modes = ("aead_aes256_gcm_rtpsize",)  # type: ignore[assignment]

    def _encrypt_aead_aes256_gcm_rtpsize(self, header: bytes, data: bytes) -> bytes:
        counter = struct.pack(">I", self._incr_nonce)
        self.checked_add("_incr_nonce", 1, 4294967295)
        return header + AESGCM(bytes(self.secret_key)).encrypt(counter + bytes(8), bytes(data), bytes(header)) + counter


def discord_media_audio() -> Any:
    import davey

    return davey.MediaType.audio


def silence_source(seconds: float) -> discord.AudioSource:
    """PCM silence for vc.play (FFmpeg-free): discord.py Opus-encodes it and sends real packets."""
    import io

    return discord.PCMAudio(io.BytesIO(bytes(3840 * round(seconds / 0.02))))


def tone_source(frequency: float, seconds: float) -> discord.AudioSource:
    import io
    import math

    samples = []
    for n in range(round(seconds * 48000)):
        value = int(9000 * math.sin(2 * math.pi * frequency * n / 48000))
        samples.extend((value, value))
    return discord.PCMAudio(io.BytesIO(struct.pack(f"<{len(samples)}h", *samples)))


async def play(vc: discord.VoiceClient, source: discord.AudioSource, timeout: float = 10.0) -> None:
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    vc.play(source, after=lambda _error: loop.call_soon_threadsafe(done.set))
    await asyncio.wait_for(done.wait(), timeout)


class RawGateway:
    """A hand-rolled main-gateway client (no discord.py): for what a library would hide or handle by itself."""

    def __init__(self, sim: DiscordSimulator) -> None:
        self.sim = sim
        self._http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> RawGateway:
        self._http = aiohttp.ClientSession()
        self.ws = await self._http.ws_connect(self.sim.gateway_url)
        assert (await self.receive())["op"] == 10  # HELLO
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._http is not None and self.ws is not None
        await self.ws.close()
        await self._http.close()

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self.ws is not None
        message = await self.ws.receive(timeout)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return {"closed": self.ws.close_code}
        return dict(message.json())

    async def identify(self, token: str, *, intents: int = 1 | 1 << 7, shard: list[int] | None = None
                       ) -> dict[str, Any]:
        """Send IDENTIFY; returns READY's ``d``, or the op 9 / close that answered instead."""
        assert self.ws is not None
        data: dict[str, Any] = {"token": token, "intents": intents, "properties": {}}
        if shard is not None:
            data["shard"] = shard
        await self.ws.send_json({"op": 2, "d": data})
        first = await self.receive()
        return dict(first["d"]) if first.get("t") == "READY" else first

    async def join_voice(self, guild_id: int, channel_id: int) -> dict[str, Any]:
        """Op 4; returns VOICE_SERVER_UPDATE's ``d`` (skipping the other events before it)."""
        assert self.ws is not None
        await self.ws.send_json({"op": 4, "d": {"guild_id": str(guild_id), "channel_id": str(channel_id),
                                                "self_mute": False, "self_deaf": False}})
        while True:
            event = await self.receive()
            if event.get("t") == "VOICE_SERVER_UPDATE":
                return dict(event["d"])

    async def leave_voice(self, guild_id: int) -> None:
        """Op 4 with no channel; returns once our VOICE_STATE_UPDATE says we left."""
        assert self.ws is not None
        await self.ws.send_json({"op": 4, "d": {"guild_id": str(guild_id), "channel_id": None,
                                                "self_mute": False, "self_deaf": False}})
        while True:
            event = await self.receive()
            if event.get("t") == "VOICE_STATE_UPDATE" and event["d"]["channel_id"] is None:
                return
