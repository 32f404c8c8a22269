"""DaveChannelGroup with simulated members (real davey sessions): group formation, joins, leaves, faults."""

from __future__ import annotations

import davey
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pandora_simulator.dave import mls, payloads
from pandora_simulator.dave.encoding import Reader, opaque

A, B, C, D, E = 1001, 1002, 1003, 1004, 1005


def form_group(channel, *users):
    for user in users:
        channel.join(user)
        channel.pump()
    return [channel.members[u] for u in users]


def assert_consistent(channel) -> None:
    """Every member is ready at the gateway's epoch, sees the gateway's member list, and sits at the leaf the
    gateway tracked for it."""
    group = channel.group
    assert group.settled
    assert sorted(group.members) == sorted(channel.members)
    for user, member in channel.members.items():
        assert member.ready, user
        assert member.epoch == group.epoch, user
        assert sorted(int(u) for u in member.session.get_user_ids()) == sorted(channel.members)
        assert member.session.own_leaf_index == group.leaf_index(user), user


def test_three_members_form_a_group_and_decrypt_each_other(channel, opus_tone):
    form_group(channel, A, B, C)

    assert_consistent(channel)
    assert channel.group.epoch == 2  # A alone has no group; adding B made epoch 1, adding C epoch 2
    assert channel.group.pending_transition_id is None  # every transition was executed (op 22) after op 23s
    channel.assert_audio_flows(opus_tone)


def test_members_joining_together_form_one_group(channel, opus_tone):
    for user in (A, B, C):
        channel.join(user)
    channel.pump()

    assert_consistent(channel)
    # One commit won each round; losers' commits were not broadcast.
    assert len(channel.sent("to_client", payloads.ANNOUNCE_COMMIT_TRANSITION)) < len(
        channel.sent("to_server", payloads.COMMIT_WELCOME)
    )
    channel.assert_audio_flows(opus_tone)


def test_join_and_leave_move_epochs_and_cut_off_the_leaver(channel, opus_tone):
    form_group(channel, A, B, C)
    epoch = channel.group.epoch

    channel.join(D)
    channel.pump()
    assert channel.group.epoch == epoch + 1
    assert_consistent(channel)
    channel.assert_audio_flows(opus_tone)

    freed_leaf = channel.group.leaf_index(B)
    leaver = channel.leave(B)
    channel.pump()
    assert channel.group.epoch == epoch + 2
    assert B not in channel.group.members
    assert_consistent(channel)
    channel.assert_audio_flows(opus_tone)
    frame = channel.members[A].encrypt_opus(opus_tone(7))
    with pytest.raises(ValueError):
        leaver.decrypt(A, frame)

    # The next joiner takes the leftmost blank leaf (B's); assert_consistent checks that MLS agrees.
    channel.join(E)
    channel.pump()
    assert channel.group.leaf_index(E) == freed_leaf
    assert_consistent(channel)
    channel.assert_audio_flows(opus_tone)


def test_proposal_signed_with_the_wrong_key_is_rejected_by_davey(channel):
    form_group(channel, A, B)
    session = channel.members[A].session
    channel_id, epoch = channel.group.channel_id, channel.group.epoch
    newcomer = mls.parse_key_package_message(davey.DaveSession(1, C, channel_id).get_serialized_key_package())
    add = mls.add_proposal(newcomer.raw)
    append = davey.ProposalsOperationType.append

    wrong_key = ec.generate_private_key(ec.SECP256R1())
    forged = mls.external_proposal(wrong_key, channel_id, epoch, add)
    with pytest.raises(ValueError, match="InvalidSignature"):
        session.process_proposals(append, opaque(forged.message))

    # The same proposal signed with the gateway's key is accepted (and committed).
    genuine = mls.external_proposal(channel.group.signing_key, channel_id, epoch, add)
    assert session.process_proposals(append, opaque(genuine.message)) is not None


def test_forged_proposal_fault_is_refused_by_the_member_and_changes_nothing(channel, opus_tone):
    form_group(channel, A, B)
    member = channel.members[A]
    forged = channel.group.forged_proposal(A)
    assert member.handle(forged.opcode, forged.payload) == []
    assert any("InvalidSignature" in e for e in member.errors)
    assert_consistent(channel)
    channel.assert_audio_flows(opus_tone)


def test_bad_commit_triggers_op31_recovery_and_everyone_ends_up_in_the_group(channel, opus_tone):
    form_group(channel, A, B, C)
    first = channel.group.members[0]  # the gateway sends proposals in leaf order: this member commits first
    channel.members[first].corrupt_next_commit = True

    channel.join(D)
    channel.pump()

    invalid = channel.sent("to_server", payloads.INVALID_COMMIT_WELCOME)
    assert {m.user_id for m in invalid} >= {A, B, C} - {first}
    assert_consistent(channel)
    channel.assert_audio_flows(opus_tone)


def test_bad_welcome_gets_the_member_re_added(channel, opus_tone):
    form_group(channel, A, B)
    joiner = channel.join(C)
    joiner.corrupt_next_welcome = True
    channel.pump()

    assert [m.user_id for m in channel.sent("to_server", payloads.INVALID_COMMIT_WELCOME)] == [C]
    assert len(channel.sent("to_client", payloads.WELCOME, C)) == 2
    assert_consistent(channel)
    channel.assert_audio_flows(opus_tone)


@pytest.mark.parametrize("recreate", [False, True], ids=["re-add-one-member", "recreate-group"])
def test_forced_epoch_change_keeps_audio_flowing(channel, opus_tone, recreate):
    form_group(channel, A, B, C)
    before = channel.members[A].session.get_epoch_authenticator()

    channel.from_gateway(channel.group.force_epoch_change(recreate=recreate))
    channel.pump()

    assert channel.members[A].session.get_epoch_authenticator() != before
    assert channel.sent("to_client", payloads.PREPARE_EPOCH)
    assert_consistent(channel)
    channel.assert_audio_flows(opus_tone)


def test_sole_member_reset_then_a_new_group(channel, opus_tone):
    form_group(channel, A, B)
    channel.leave(B)
    channel.pump()

    assert [m.opcode for m in channel.log[-3:] if m.direction == "to_client"] == [
        payloads.PREPARE_EPOCH,
        payloads.PREPARE_TRANSITION,
    ]
    assert channel.group.epoch == 0 and channel.group.members == []
    assert not channel.members[A].ready

    channel.join(C)
    channel.pump()
    assert_consistent(channel)
    channel.assert_audio_flows(opus_tone)


def test_leaving_before_being_added_converges_without_revokes(channel, opus_tone):
    form_group(channel, A, B)
    channel.join(C)
    # Deliver until the gateway has C's key package (and has proposed C), then C leaves before anyone commits.
    channel.pump(until=lambda m: m.direction == "to_server" and m.opcode == payloads.KEY_PACKAGE and m.user_id == C)
    channel.leave(C)
    channel.pump()

    # davey raises on a revoke for a proposal it lacks, so the gateway never revokes: C's add is committed and
    # its leaf removed in the next epoch.
    proposals = channel.sent("to_client", payloads.PROPOSALS)
    assert all(m.payload[0] == payloads.PROPOSALS_APPEND for m in proposals)
    assert C not in channel.group.members
    assert_consistent(channel)
    channel.assert_audio_flows(opus_tone)


def test_gateway_refuses_commits_it_did_not_ask_for(channel):
    form_group(channel, A, B)
    session = channel.members[A].session
    epoch = channel.group.epoch
    stranger = davey.DaveSession(1, C, channel.group.channel_id)
    refused_before = len(channel.group.rejected)
    channel.group.connect(C)
    out = channel.group.receive(C, payloads.KEY_PACKAGE, stranger.get_serialized_key_package())
    proposals = next(o.payload for o in out if o.user_id == A)
    commit = session.process_proposals(davey.ProposalsOperationType.append, proposals[1:])

    # From a non-member, and without the welcome that an add needs: refused, nothing broadcast.
    assert channel.group.receive(C, payloads.COMMIT_WELCOME, commit.commit + commit.welcome) == []
    assert channel.group.receive(A, payloads.COMMIT_WELCOME, commit.commit) == []
    assert channel.group.epoch == epoch
    assert len(channel.group.rejected) == refused_before + 2

    accepted = channel.group.receive(A, payloads.COMMIT_WELCOME, commit.commit + commit.welcome)
    assert {(o.user_id, o.opcode) for o in accepted} >= {(A, 29), (B, 29), (C, 30)}
    assert channel.group.epoch == epoch + 1
    # The same commit again is for a past epoch now.
    assert channel.group.receive(B, payloads.COMMIT_WELCOME, commit.commit + commit.welcome) == []


def test_transition_executes_on_timeout_when_a_member_never_reports_ready(channel, opus_tone):
    form_group(channel, A, B)
    joiner = channel.join(C)
    handle = joiner.handle
    joiner.handle = lambda op, payload: [r for r in handle(op, payload) if r[0] != payloads.READY_FOR_TRANSITION]
    channel.pump()

    transition = channel.group.pending_transition_id
    assert transition is not None and not channel.group.settled
    assert not channel.sent("to_client", payloads.EXECUTE_TRANSITION, C)

    out = channel.group.execute_pending_transition()  # what the server does when its ready-timeout expires
    assert {(o.user_id, o.opcode) for o in out} == {(u, payloads.EXECUTE_TRANSITION) for u in (A, B, C)}
    assert all(o.payload == {"transition_id": transition} for o in out)
    assert channel.group.settled
    channel.assert_audio_flows(opus_tone)


def test_varint_lengths_match_rfc_9420_examples():
    from pandora_simulator.dave.encoding import encode_varint

    assert encode_varint(37) == bytes.fromhex("25")
    assert encode_varint(15293) == bytes.fromhex("7bbd")
    assert encode_varint(494878333) == bytes.fromhex("9d7f3e7d")
    for n in (0, 63, 64, 16383, 16384, (1 << 30) - 1):
        assert Reader(encode_varint(n)).varint() == n


def test_gateway_refuses_key_packages_it_cannot_trust(channel):
    channel.group.connect(A)
    channel.group.connect(B)
    others = davey.DaveSession(1, B, channel.group.channel_id).get_serialized_key_package()
    own = davey.DaveSession(1, A, channel.group.channel_id).get_serialized_key_package()
    tampered = own[:-1] + bytes([own[-1] ^ 0x01])  # inside the key package's signature

    assert channel.group.receive(A, payloads.KEY_PACKAGE, others) == []
    assert channel.group.receive(A, payloads.KEY_PACKAGE, tampered) == []
    assert channel.group.receive(A, payloads.KEY_PACKAGE, own[:100]) == []
    reasons = [r.split(": ", 2)[2] for r in channel.group.rejected]
    assert reasons[:2] == [f"key package is for user {B}", "KeyPackage signature does not verify"]
    assert reasons[2].startswith("malformed KeyPackage")
    assert len(reasons) == 3
    # The genuine one is proposed to the other pending member.
    out = channel.group.receive(A, payloads.KEY_PACKAGE, own)
    assert [(o.user_id, o.opcode) for o in out] == [(B, payloads.PROPOSALS)]


def test_binary_payload_layouts():
    ref = bytes(range(32))
    assert payloads.proposals_revoke([ref]) == b"\x01" + b"\x21" + b"\x20" + ref  # type, refs<V> of ref<V>
    assert payloads.proposals_append([b"ab", b"cde"]) == b"\x00\x05abcde"  # type, one length over all messages
    assert payloads.with_transition(0x0102, b"commit") == b"\x01\x02commit"
    assert payloads.split_transition(b"\x01\x02commit") == (0x0102, b"commit")
    assert payloads.server_frame(0x1_0003, payloads.WELCOME, b"w") == b"\x00\x03\x1ew"  # seq wraps at u16
    assert payloads.parse_client_frame(b"\x1ckp") == (payloads.COMMIT_WELCOME, b"kp")
    assert payloads.split_revoked_refs(payloads.proposals_revoke([ref, ref[:16]])[1:]) == [ref, ref[:16]]
