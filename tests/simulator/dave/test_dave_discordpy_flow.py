"""The gateway state machine against discord.py 2.7.1's own DAVE code: a real ``DiscordVoiceWebSocket`` and
``VoiceConnectionState`` receive the gateway's frames (binary frames with seq + opcode, JSON with ``d``) and
drive their ``davey.DaveSession`` exactly as the recorder bot will. Only the aiohttp socket (which records what
discord.py sends) and the voice client (user and channel ids) are stand-ins."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import davey
import pytest
from discord.gateway import DiscordVoiceWebSocket
from discord.voice_state import VoiceConnectionState

from pandora_simulator.dave import payloads

BOT, A, B, C = 2001, 2002, 2003, 2004


class CapturingSocket:
    """Stands in for aiohttp's client websocket: records what discord.py sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any] | bytes] = []

    async def send_str(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(bytes(data))


class DiscordPyClient:
    """discord.py's voice websocket and connection state, fed frames the way the voice server frames them."""

    def __init__(self, user_id: int, channel_id: int) -> None:
        self.socket = CapturingSocket()
        voice_client = SimpleNamespace(user=SimpleNamespace(id=user_id), channel=SimpleNamespace(id=channel_id))
        self.state = VoiceConnectionState(voice_client)  # type: ignore[arg-type]
        self.state.ssrc = 4242
        self.ws = DiscordVoiceWebSocket(self.socket, asyncio.get_running_loop())  # type: ignore[arg-type]
        self.ws._connection = self.state
        voice_client.ws = self.ws
        self.seq = 0
        self.corrupt_next_welcome = False

    async def handle(self, opcode: int, payload: dict[str, Any] | bytes) -> list[tuple[int, Any]]:
        self.seq += 1
        if isinstance(payload, bytes):
            if opcode == payloads.WELCOME and self.corrupt_next_welcome:
                self.corrupt_next_welcome = False
                payload = payload[:-1] + bytes([payload[-1] ^ 0xFF])
            await self.ws.received_binary_message(payloads.server_frame(self.seq, opcode, payload))
        else:
            await self.ws.received_message({"op": opcode, "seq": self.seq, "d": payload})
        replies: list[tuple[int, Any]] = []
        for frame in self.socket.sent:
            if isinstance(frame, bytes):
                replies.append(payloads.parse_client_frame(frame))
            elif frame["op"] >= payloads.PREPARE_TRANSITION:  # op 5 (speaking) is not DAVE's business
                replies.append((frame["op"], frame["d"]))
        self.socket.sent.clear()
        return replies

    @property
    def ready(self) -> bool:
        return self.state.can_encrypt

    def encrypt_opus(self, opus: bytes) -> bytes:
        # VoiceClient._get_voice_packet: DAVE-encrypt when the connection can, else send the frame as is.
        session = self.state.dave_session
        return session.encrypt_opus(opus) if session and self.state.can_encrypt else opus

    def decrypt(self, sender_id: int, frame: bytes) -> bytes:
        assert self.state.dave_session is not None
        return self.state.dave_session.decrypt(sender_id, davey.MediaType.audio, frame)

    def close(self) -> None:
        self.state._socket_reader.stop()


def session_description(channel) -> dict[str, Any]:
    return {
        "mode": "aead_xchacha20_poly1305_rtpsize",
        "secret_key": list(range(32)),
        "dave_protocol_version": channel.group.protocol_version,
    }


async def join_bot(channel, bot) -> None:
    channel.add_client(BOT, bot)
    channel.send_to(BOT, 4, session_description(channel))
    channel.from_gateway(channel.group.connect(BOT))
    await channel.pump_async()


def assert_in_group(channel) -> None:
    assert channel.group.settled
    assert sorted(channel.group.members) == sorted(channel.members)
    for user, member in channel.members.items():
        assert member.ready, user
        session = member.state.dave_session if user == BOT else member.session
        assert session.epoch == channel.group.epoch, user
        assert session.own_leaf_index == channel.group.leaf_index(user), user


async def test_discordpy_client_joins_an_existing_group_and_audio_flows_both_ways(channel, bot, opus_tone):
    for user in (A, B):
        channel.join(user)
    await channel.pump_async()

    await join_bot(channel, bot)

    assert_in_group(channel)
    assert bot.state.dave_pending_transitions == {}  # the op 22 for its welcome transition arrived and ran
    assert [m.opcode for m in channel.log if m.direction == "to_server" and m.user_id == BOT] == [
        payloads.KEY_PACKAGE,
        payloads.READY_FOR_TRANSITION,
    ]
    channel.assert_audio_flows(opus_tone)


async def test_discordpy_client_through_joins_leaves_and_resets(channel, bot, opus_tone):
    await join_bot(channel, bot)  # first in the channel: alone, no group yet
    assert not bot.ready
    for user in (A, B):
        channel.join(user)
    await channel.pump_async()
    assert_in_group(channel)
    channel.assert_audio_flows(opus_tone)

    channel.join(C)
    channel.leave(A)
    await channel.pump_async()
    assert_in_group(channel)
    channel.assert_audio_flows(opus_tone)

    # A re-key that makes the bot start over (op 24, epoch 1): it sends a new key package and is re-added.
    epoch = channel.group.epoch
    channel.from_gateway(channel.group.force_epoch_change(BOT))
    await channel.pump_async()
    assert channel.group.epoch > epoch
    assert_in_group(channel)
    channel.assert_audio_flows(opus_tone)

    # Sole member reset: op 24 (epoch 1) then op 21 (transition 0), which discord.py executes at once.
    channel.leave(B)
    channel.leave(C)
    await channel.pump_async()
    assert channel.group.epoch == 0 and not bot.ready
    assert bot.state.dave_pending_transitions == {}
    channel.join(A)
    await channel.pump_async()
    assert_in_group(channel)
    channel.assert_audio_flows(opus_tone)


async def test_discordpy_client_recovers_from_a_bad_welcome(channel, bot, opus_tone):
    for user in (A, B):
        channel.join(user)
    await channel.pump_async()
    bot.corrupt_next_welcome = True

    await join_bot(channel, bot)

    sent_by_bot = [m.opcode for m in channel.log if m.direction == "to_server" and m.user_id == BOT]
    assert sent_by_bot[:3] == [payloads.KEY_PACKAGE, payloads.INVALID_COMMIT_WELCOME, payloads.KEY_PACKAGE]
    assert_in_group(channel)
    channel.assert_audio_flows(opus_tone)


async def test_discordpy_client_rejects_a_proposal_signed_with_the_wrong_key(channel, bot):
    channel.join(A)
    await channel.pump_async()
    await join_bot(channel, bot)
    forged = channel.group.forged_proposal(BOT)

    # davey refuses it; discord.py 2.7.1 does not catch the error (its voice websocket loop would end).
    with pytest.raises(ValueError, match="InvalidSignature"):
        await bot.handle(forged.opcode, forged.payload)
    assert bot.ready and bot.state.dave_session.epoch == channel.group.epoch


async def test_discordpy_client_recovers_when_a_corrupted_commit_fails_everyone(channel, bot, opus_tone):
    await join_bot(channel, bot)
    channel.join(A)  # A gets the bot's add in flight and commits the group into being: A is at leaf 0
    await channel.pump_async()
    # The gateway sends proposals in leaf order, so A will be first to commit B's add.
    assert channel.group.members == [A, BOT]
    channel.members[A].corrupt_next_commit = True

    channel.join(B)
    await channel.pump_async()

    assert channel.sent("to_server", payloads.INVALID_COMMIT_WELCOME, BOT)
    assert_in_group(channel)
    channel.assert_audio_flows(opus_tone)
