"""DAVE (Discord's MLS-based end-to-end encryption, protocol v1) for the local Discord simulator.

The voice server is the MLS delivery service and *external sender*; this package is that role as a
transport-free state machine, plus simulated members backed by real ``davey.DaveSession``s.

Usage from the voice server (one ``DaveChannelGroup`` per voice channel)::

    group = DaveChannelGroup(channel_id)          # signing_key=... to pin the external sender's P-256 key
    # Send op 4 {"dave_protocol_version": group.protocol_version} to a client whose identify had
    # max_dave_protocol_version >= 1 FIRST (discord.py ignores binary DAVE ops until op 4 created its session),
    # then:
    out = group.connect(user_id)                  # -> [Outgoing(user_id, 25, external_sender_package), ...]
    out = group.receive(user_id, 26, payload)     # binary client op: payload = bytes after the opcode byte
    out = group.receive(user_id, 23, {"transition_id": 3})   # JSON client ops 23/31: the "d" dict
    out = group.disconnect(user_id)
    out = group.execute_pending_transition()      # when TRANSITION_TIMEOUT_SECONDS pass after op 29/30 without
                                                  # every op 23 (group.pending_transition_id is not None)
    out = group.force_epoch_change()              # test fault (recreate=True: whole group re-created)
    o = group.forged_proposal(user_id)            # test fault: op 27 signed with a wrong key (davey refuses it;
                                                  # discord.py 2.7.1 lets that error end its voice ws loop)
    for o in out:                                 # send in order
        if o.opcode in payloads.BINARY_OPCODES:   # 25, 27, 29, 30: u16 seq | u8 opcode | o.payload
            ws.send_bytes(payloads.server_frame(seq, o.opcode, o.payload))
        else:                                     # 21, 22, 24: {"op": o.opcode, "seq": seq, "d": o.payload}
            ws.send_json(...)
    group.epoch, group.transition_id, group.members, group.leaf_index(user_id), group.rejected
    group.settled                                 # everyone connected is in the group, nothing in flight

Simulated member (feed it what the gateway sends it; send back what it returns)::

    member = SimulatedDaveMember(user_id, channel_id)
    replies = member.handle(4, {"dave_protocol_version": 1})   # -> [(26, key_package)]
    replies = member.handle(opcode, payload)      # ops 21, 22, 24 (dict d) and 25, 27, 29, 30 (bytes)
    member.ready; frame = member.encrypt_opus(opus); opus = member.decrypt(sender_id, frame)

Ordering matters: call the group from one task (it is not thread-safe), and deliver each call's ``out`` to
each user in order *before* anything a reply causes. Queue simulated members' messages and replies (a FIFO,
as tests/simulator/dave/conftest.py does) rather than feeding replies back recursively: a commit announced
(op 29) to a member before it got the proposals (op 27) sent to it earlier fails with op 31.

The gateway never revokes proposals (davey raises on a revoke it cannot match). A member that fails a commit
or welcome resets at once but the gateway learns it only from op 31, so meanwhile it may still be sent the new
epoch's proposals or commit; davey refuses those (WrongEpoch, PendingGroup) and the member recovers through
op 31 as usual -- except discord.py 2.7.1, whose voice websocket loop ends on a ``process_proposals`` error.

Payload layouts are in ``payloads``; the MLS encoding (hand-written, no maintained Python MLS library exists)
is in ``encoding`` and ``mls``.
"""

from .group import DAVE_PROTOCOL_VERSION, TRANSITION_TIMEOUT_SECONDS, DaveChannelGroup, Outgoing
from .member import SimulatedDaveMember

__all__ = ["DAVE_PROTOCOL_VERSION", "TRANSITION_TIMEOUT_SECONDS", "DaveChannelGroup", "Outgoing", "SimulatedDaveMember"]
