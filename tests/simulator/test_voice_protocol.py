"""The voice gateway and UDP endpoint spoken to by hand (no discord.py): the wire details a client relies on."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from typing import Any

import aiohttp
import pytest
from sim_clients import RawGateway

from pandora_simulator import DiscordSimulator
from pandora_simulator.testing import small_world, wait_for

pytestmark = pytest.mark.timeout(20)


async def _voice_grant(sim: DiscordSimulator) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """Join voice through the main gateway by hand; returns (VOICE_SERVER_UPDATE d, identify d, world)."""
    world = await small_world(sim)
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.gateway_url) as ws:
        await ws.receive_json()
        await ws.send_json({"op": 2, "d": {"token": world.bot.token, "intents": 1 | 1 << 7, "properties": {}}})
        ready = (await ws.receive_json())["d"]
        await ws.receive_json()  # GUILD_CREATE
        await ws.send_json({"op": 4, "d": {"guild_id": str(world.guild.id), "channel_id": str(world.voice.id),
                                           "self_mute": False, "self_deaf": False}})
        await ws.receive_json()  # VOICE_STATE_UPDATE
        server = (await ws.receive_json())["d"]
    identify = {"server_id": str(world.guild.id), "user_id": str(world.bot.id), "session_id": ready["session_id"],
                "token": server["token"], "max_dave_protocol_version": 0}
    return server, identify, world


def _tls(sim: DiscordSimulator) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=sim.ca_file)


async def test_identify_ready_ip_discovery_select_and_heartbeat(sim: DiscordSimulator) -> None:
    server, identify, _ = await _voice_grant(sim)
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(f"wss://{server['endpoint']}/?v=8", ssl=_tls(sim)) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 8 and hello["d"]["heartbeat_interval"] > 0
        await ws.send_json({"op": 0, "d": identify})
        ready = await ws.receive_json()
        assert ready["op"] == 2 and ready["seq"] == 1
        assert {"aead_xchacha20_poly1305_rtpsize", "aead_aes256_gcm_rtpsize"} <= set(ready["d"]["modes"])
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(2)
        try:
            udp.sendto(struct.pack(">HHI", 1, 70, ready["d"]["ssrc"]) + bytes(66),
                       (ready["d"]["ip"], ready["d"]["port"]))
            reply = await asyncio.get_running_loop().run_in_executor(None, udp.recv, 100)
            address, port = reply[8:72].rstrip(b"\0").decode(), struct.unpack(">H", reply[72:])[0]
            assert (len(reply), reply[:2], (address, port)) == (74, b"\x00\x02", udp.getsockname())
        finally:
            udp.close()
        await ws.send_json({"op": 3, "d": {"t": 1234, "seq_ack": 1}})
        assert await ws.receive_json() == {"op": 6, "d": {"t": 1234}}
        await ws.send_json({"op": 1, "d": {"protocol": "udp",
                                           "data": {"address": address, "port": port, "mode": "nonsense"}}})
        closed = await ws.receive()
        assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 4016)


async def test_wrong_token_is_refused_with_4004(sim: DiscordSimulator) -> None:
    server, identify, _ = await _voice_grant(sim)
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(f"wss://{server['endpoint']}/?v=8", ssl=_tls(sim)) as ws:
        await ws.receive_json()
        await ws.send_json({"op": 0, "d": {**identify, "token": "not-the-token"}})
        closed = await ws.receive()
        assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 4004)


async def test_session_description_carries_key_and_dave_version(sim: DiscordSimulator) -> None:
    server, identify, world = await _voice_grant(sim)
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(f"wss://{server['endpoint']}/?v=8", ssl=_tls(sim)) as ws:
        await ws.receive_json()
        await ws.send_json({"op": 0, "d": {**identify, "max_dave_protocol_version": 1}})
        await ws.receive_json()
        await ws.send_json({"op": 1, "d": {"protocol": "udp", "data": {
            "address": "127.0.0.1", "port": 9, "mode": "aead_aes256_gcm_rtpsize"}}})
        description = await ws.receive_json()
        assert description["op"] == 4 and description["seq"] == 2
        assert description["d"]["mode"] == "aead_aes256_gcm_rtpsize"
        assert len(description["d"]["secret_key"]) == 32 and description["d"]["dave_protocol_version"] == 1
        # DAVE starts: the external sender package arrives as a binary frame, u16 seq + opcode 25
        frame = await ws.receive()
        assert frame.type == aiohttp.WSMsgType.BINARY
        assert struct.unpack(">H", frame.data[:2])[0] == 3 and frame.data[2] == 25
        assert world.bot.id in sim.voice.room(world.voice.id).clients


async def test_silent_client_is_closed_with_4009(sim: DiscordSimulator) -> None:
    sim.voice_gateway.heartbeat_timeout = 0.3
    server, identify, world = await _voice_grant(sim)
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(f"wss://{server['endpoint']}/?v=8", ssl=_tls(sim)) as ws:
        await ws.receive_json()
        await ws.send_json({"op": 0, "d": identify})
        await ws.receive_json()
        for _ in range(3):  # heartbeats keep it open past the timeout
            await asyncio.sleep(0.2)
            await ws.send_json({"op": 3, "d": {"t": 1, "seq_ack": 1}})
            assert (await ws.receive_json())["op"] == 6
        closed = await ws.receive()
        assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 4009)
    await wait_for(lambda: (world.guild.id, world.bot.id) not in sim.voice.connections, what="the seat freed")


async def _first_answer(sim: DiscordSimulator, server: dict[str, Any], op: int, data: dict[str, Any]
                        ) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse, Any]:
    """A new voice websocket that sent ``op``: (its session, the socket, the first answer: a message's ``op`` or
    the close code)."""
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(f"wss://{server['endpoint']}/?v=8", ssl=_tls(sim))
    await ws.receive_json()  # HELLO
    await ws.send_json({"op": op, "d": data})
    answer = await ws.receive(5)
    return session, ws, int(answer.data) if answer.type == aiohttp.WSMsgType.CLOSE else answer.json()["op"]


async def test_a_refresh_after_a_fresh_reconnect_hands_out_the_token_a_resume_needs(sim: DiscordSimulator) -> None:
    """discord.py's path through a 4006 then a 4015: leave and join (a new token), IDENTIFY; after the 4015, op 4
    into the same channel (a refresh), then RESUME with the refreshed token: the voice server resumes."""
    world = await small_world(sim)
    opened = []
    async with RawGateway(sim) as gateway:
        ready = await gateway.identify(world.bot.token)

        def identify(server: dict[str, Any]) -> dict[str, Any]:
            return {"server_id": str(world.guild.id), "user_id": str(world.bot.id), "token": server["token"],
                    "session_id": ready["session_id"]}

        try:
            first = await gateway.join_voice(world.guild.id, world.voice.id)
            opened.append(await _first_answer(sim, first, 0, identify(first)))
            assert opened[-1][2] == 2  # READY
            await sim.close_voice_socket(world.bot.id, code=4006)
            await gateway.leave_voice(world.guild.id)
            second = await gateway.join_voice(world.guild.id, world.voice.id)
            assert second["token"] != first["token"]
            opened.append(await _first_answer(sim, second, 0, identify(second)))
            assert opened[-1][2] == 2
            await sim.close_voice_socket(world.bot.id, code=4015)
            refresh = await gateway.join_voice(world.guild.id, world.voice.id)
            assert refresh["token"] == second["token"]
            resume = {"server_id": str(world.guild.id), "session_id": ready["session_id"],
                      "token": refresh["token"], "seq_ack": 1}
            opened.append(await _first_answer(sim, refresh, 7, resume))
            assert opened[-1][2] == 9  # RESUMED
        finally:
            for session, ws, _ in opened:
                await ws.close()
                await session.close()
