"""The recorder's own DAVE recovery, live: when its MLS state has diverged from the call's and every frame fails
to decrypt, it reports op 31 with a fresh key package, the voice server removes and re-adds it, and recording
resumes byte-identically - without an op 31 loop and without writing anything it could not decrypt."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from pathlib import Path
from typing import Any

import davey
from recorder_testkit import Scene, is_ordered_subsequence, recorded_tracks, recording

from pandora_recorder.receive import DropReason
from pandora_recorder.receive.dave import DEFAULT_FAILURE_TOLERANCE
from pandora_simulator.dave import DaveChannelGroup, SimulatedDaveMember
from pandora_simulator.testing import wait_for

OP_INVALID_COMMIT_WELCOME = 31
OP_KEY_PACKAGE = 26
OP_READY_FOR_TRANSITION = 23
OP_ANNOUNCE_COMMIT = 29
OP_WELCOME = 30


def diverged_session(call: DaveChannelGroup, user_id: int) -> davey.DaveSession:
    """A ready davey session for ``user_id`` whose MLS group is not ``call``'s though it has the same channel,
    external sender and epoch numbering: what a client holds after its group state went out of step with
    everyone else's. Every frame from the call fails to decrypt with it."""
    channel_id = call.channel_id
    group = DaveChannelGroup(channel_id, signing_key=call.signing_key)
    members = {user: SimulatedDaveMember(user, channel_id) for user in (user_id, user_id + 1)}
    queue: deque[tuple[str, int, int, Any]] = deque()
    for user, member in members.items():
        queue.extend(("server", user, op, body) for op, body in member.handle(4, {"dave_protocol_version": 1}))
        queue.extend(("client", o.user_id, o.opcode, o.payload) for o in group.connect(user))
    while queue:  # one FIFO, like the websockets would deliver it
        direction, user, op, body = queue.popleft()
        if direction == "client":
            queue.extend(("server", user, reply_op, reply) for reply_op, reply in members[user].handle(op, body))
        else:
            queue.extend(("client", o.user_id, o.opcode, o.payload) for o in group.receive(user, op, body))
    session = members[user_id].session
    assert session is not None and session.ready
    return session


def server_ops_after(connection: Any, client_op_seq: int) -> list[int]:
    """Opcodes of the numbered messages the server sent the client after its seq ``client_op_seq``."""
    ops = []
    for seq, data in connection.replay:
        if seq > client_op_seq:
            ops.append(data[2] if isinstance(data, bytes) else int(json.loads(data)["op"]))
    return ops


async def test_recorder_recovers_from_a_diverged_dave_group_and_records_again(scene: Scene, tmp_path: Path) -> None:
    speakers = [scene.guild.add_member(name) for name in ("alice", "bob", "carol")]
    for speaker in speakers:
        await speaker.join_voice(scene.voice)
    async with recording(scene, tmp_path) as rec:
        client = rec.session.voice
        assert client is not None
        connection = scene.sim.voice.connections[(scene.guild.id, scene.bot.id)]
        group = scene.sim.voice.dave.group(scene.voice.id)
        assert group is not None and scene.bot.id in group.members
        await asyncio.gather(*(speaker.speak(seconds=0.4) for speaker in speakers))

        # The recorder's group state goes out of step with the call's: every frame now fails to decrypt.
        epoch_before = group.epoch
        seq_before = connection.seq
        client._connection.dave_session = diverged_session(group, scene.bot.id)
        outage = [asyncio.create_task(speaker.speak(seconds=1.5)) for speaker in speakers]
        await wait_for(lambda: OP_INVALID_COMMIT_WELCOME in connection.client_ops, timeout=5,
                       what="the recorder to report op 31")
        await asyncio.gather(*outage)
        await scene.voice.wait_dave_settled()
        assert rec.session.dave.recoveries == 1
        assert client._connection.can_encrypt
        # Removed and re-added: a new epoch with the recorder back in, reached through one welcome.
        assert group.epoch > epoch_before and sorted(group.members) == sorted(
            [scene.bot.id, *(speaker.id for speaker in speakers)])
        sent_to_recorder = server_ops_after(connection, seq_before)
        assert sent_to_recorder.count(OP_WELCOME) == 1 and OP_ANNOUNCE_COMMIT not in sent_to_recorder, sent_to_recorder
        recovery_ops = connection.client_ops[connection.client_ops.index(OP_INVALID_COMMIT_WELCOME):]
        assert OP_KEY_PACKAGE in recovery_ops and OP_READY_FOR_TRANSITION in recovery_ops

        # After the call settled, everything is recorded again.
        settled_at = {speaker.id: len(speaker.sent_frames) for speaker in speakers}
        await asyncio.gather(*(speaker.speak(seconds=0.6) for speaker in speakers))
        await asyncio.sleep(0.3)
        assert connection.client_ops.count(OP_INVALID_COMMIT_WELCOME) == 1, connection.client_ops
        await rec.stop()
        recording_id = rec.session.writer.recording_id
    tracks = recorded_tracks(tmp_path, recording_id)
    assert sum(rec.session.dave.failure_kinds.values()) >= DEFAULT_FAILURE_TOLERANCE  # the outage was real
    counters = rec.session.pipeline.counters
    assert counters[DropReason.DAVE_FAILED] + counters[DropReason.DAVE_NOT_READY] > 0  # dropped, and counted
    for speaker in speakers:
        track = tracks[speaker.id]
        after_settled = speaker.sent_frames[settled_at[speaker.id]:]
        assert track[-len(after_settled):] == after_settled, speaker.name
        assert is_ordered_subsequence(track, speaker.sent_frames), speaker.name  # nothing fake, nothing twice
        assert len(track) < len(speaker.sent_frames)  # frames from the outage were dropped, not replaced


async def test_recovery_asked_for_while_a_member_joins_does_not_break_the_voice_connection(
    scene: Scene, tmp_path: Path
) -> None:
    alice, bob, carol = (scene.guild.add_member(name) for name in ("alice", "bob", "carol"))
    await alice.join_voice(scene.voice)
    await bob.join_voice(scene.voice)
    async with recording(scene, tmp_path) as rec:
        client = rec.session.voice
        assert client is not None
        connection = scene.sim.voice.connections[(scene.guild.id, scene.bot.id)]
        await carol.join_voice(scene.voice)  # the gateway has just sent the recorder carol's add proposal
        client.on_dave_failure()  # what the decryptor calls after repeated failures
        await wait_for(lambda: OP_INVALID_COMMIT_WELCOME in connection.client_ops, timeout=8,
                       what="the recorder to report op 31")
        await scene.voice.wait_dave_settled()
        assert client._connection.can_encrypt and connection.client_ops.count(OP_INVALID_COMMIT_WELCOME) == 1
        settled_at = len(carol.sent_frames)
        await carol.speak(seconds=0.4)
        await asyncio.sleep(0.3)
        await rec.stop()
        recording_id = rec.session.writer.recording_id
    assert recorded_tracks(tmp_path, recording_id)[carol.id] == carol.sent_frames[settled_at:]
