"""A member that resets on its own (discord.py's ``_recover_from_invalid_commit``, which the recorder calls when
decryption keeps failing): it reports op 31 and sends a fresh key package; the gateway removes and re-adds it.

After the gateway has processed the op 31 it sends that member only its welcome (op 30) and op 22 - never the
commit announcement (op 29) or proposals (op 27), which go to existing members. An op 29 or op 27 the gateway
sent *before* it saw the op 31 is still on the way, though: that is the race behind the reported "op 31 loop"."""

from __future__ import annotations

import pytest
from test_dave_discordpy_flow import BOT, DiscordPyClient, assert_in_group, join_bot

from pandora_simulator.dave import payloads

A, B, C = 2002, 2003, 2004


async def report_invalid(channel, bot: DiscordPyClient) -> None:
    """What the recorder's voice client does: discord.py's own op 31 + reset + key package, queued for the
    gateway behind whatever the bot already sent."""
    await bot.state._recover_from_invalid_commit(channel.group.transition_id)
    for frame in bot.socket.sent:
        opcode, payload = (payloads.parse_client_frame(frame) if isinstance(frame, bytes)
                           else (frame["op"], frame["d"]))
        channel.from_client(BOT, opcode, payload)
    bot.socket.sent.clear()


def watch_gateway(channel) -> list[int]:
    """Opcodes the gateway emits for the bot from the moment it processes the bot's first op 31 (filled in as
    the exchange runs)."""
    after: list[int] = []
    seen_op31 = False
    receive = channel.group.receive

    def watched(user_id, opcode, payload):
        nonlocal seen_op31
        out = receive(user_id, opcode, payload)
        seen_op31 = seen_op31 or (user_id == BOT and opcode == payloads.INVALID_COMMIT_WELCOME)
        if seen_op31:
            after.extend(o.opcode for o in out if o.user_id == BOT)
        return out

    channel.group.receive = watched
    return after


def bot_ops(channel, direction: str) -> list[int]:
    return [m.opcode for m in channel.log if m.direction == direction and m.user_id == BOT]


async def established_call(channel, bot) -> None:
    for user in (A, B):
        channel.join(user)
    await channel.pump_async()
    await join_bot(channel, bot)
    assert_in_group(channel)


async def test_member_that_reports_op31_gets_only_its_welcome_and_op31_is_sent_once(channel, bot, opus_tone):
    await established_call(channel, bot)
    epoch, log_start = channel.group.epoch, len(channel.log)
    after = watch_gateway(channel)

    await report_invalid(channel, bot)
    await channel.pump_async()

    assert after.count(payloads.WELCOME) == 1
    assert payloads.ANNOUNCE_COMMIT_TRANSITION not in after and payloads.PROPOSALS not in after
    sent_by_bot = [m.opcode for m in channel.log[log_start:] if m.direction == "to_server" and m.user_id == BOT]
    assert sent_by_bot.count(payloads.INVALID_COMMIT_WELCOME) == 1
    assert channel.group.epoch > epoch
    assert_in_group(channel)
    channel.assert_audio_flows(opus_tone)


async def test_reset_racing_a_commit_in_flight_converges(channel, bot, opus_tone):
    """The reported loop: the bot resets right after committing C's add; the winning commit's op 29 was announced
    to it before the gateway saw its op 31. discord.py fails that commit and reports op 31 again; the gateway
    still sends it nothing but welcomes from its first op 31 on, and the call settles with everyone in it."""
    await established_call(channel, bot)
    after = watch_gateway(channel)
    channel.join(C)
    await channel.pump_async(until=lambda m: m.direction == "to_client" and m.user_id == BOT
                     and m.opcode == payloads.PROPOSALS)

    await report_invalid(channel, bot)
    await channel.pump_async()

    received = bot_ops(channel, "to_client")
    assert payloads.ANNOUNCE_COMMIT_TRANSITION in received  # the in-flight commit did reach the reset bot
    assert set(after) <= {payloads.WELCOME, payloads.EXECUTE_TRANSITION}, after
    assert 2 <= bot_ops(channel, "to_server").count(payloads.INVALID_COMMIT_WELCOME) <= 3
    assert_in_group(channel)
    channel.assert_audio_flows(opus_tone)


async def test_reset_racing_proposals_in_flight_makes_discordpy_raise(channel, bot):
    """discord.py 2.7.1 passes op 27 straight to davey: proposals the gateway sent before it saw the op 31 reach a
    reset session, davey refuses them (WrongEpoch) and discord.py lets the error end its voice websocket loop."""
    await established_call(channel, bot)
    channel.join(C)
    await channel.pump_async(until=lambda m: m.direction == "to_server" and m.user_id == C
                     and m.opcode == payloads.KEY_PACKAGE)
    in_flight = [m for m in channel._queue if m.user_id == BOT and m.opcode == payloads.PROPOSALS]
    assert in_flight

    await report_invalid(channel, bot)
    with pytest.raises(ValueError, match="WrongEpoch"):
        await bot.handle(in_flight[0].opcode, in_flight[0].payload)
