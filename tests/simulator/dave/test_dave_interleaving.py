"""Members joining, leaving, being re-keyed and hitting corrupted commits or welcomes while messages on
different websockets interleave arbitrarily: the gateway must still converge to one group that every connected
member is in, with audio flowing, and never send a member something it cannot process except the faults."""

from __future__ import annotations

import random

import pytest

USERS = list(range(3001, 3009))
INJECTED = ("InvalidMembershipTag", "DecryptionFailed")  # what corrupt_next_commit / corrupt_next_welcome cause


def run_random_session(channel, rng: random.Random, changes: int) -> tuple[list[int], list[str]]:
    present: list[int] = []
    errors: list[str] = []
    for _ in range(changes):
        absent = [u for u in USERS if u not in present]
        roll = rng.random()
        if absent and (len(present) < 2 or roll < 0.5):
            user = rng.choice(absent)
            channel.join(user).errors = errors
            present.append(user)
        elif roll < 0.55:
            member = channel.members[rng.choice(present)]
            if rng.random() < 0.5:
                member.corrupt_next_commit = True
            else:
                member.corrupt_next_welcome = True
        elif roll < 0.6 and channel.group.established:
            channel.from_gateway(channel.group.force_epoch_change(recreate=rng.random() < 0.3))
        else:
            user = rng.choice(present)
            channel.leave(user)
            present.remove(user)
        # Deliver only part of the traffic before the next change, so changes overlap rounds in flight.
        channel.pump(rng=rng, limit=rng.randrange(0, 15))
    for member in channel.members.values():  # no more faults: the session must now settle
        member.corrupt_next_commit = member.corrupt_next_welcome = False
    channel.pump(rng=rng)
    return present, errors


@pytest.mark.parametrize("seed", range(16))
def test_random_interleavings_converge_to_one_group(channel, opus_tone, seed):
    present, errors = run_random_session(channel, random.Random(seed), changes=20)

    assert [e for e in errors if not any(fault in e for fault in INJECTED)] == []
    group = channel.group
    assert group.settled, (group.members, present, group.rejected[-5:])
    if len(present) < 2:
        assert group.members == [] and group.epoch == 0  # a lone member holds no group (sole member reset)
        return
    assert sorted(group.members) == sorted(present)
    for user in present:
        member = channel.members[user]
        assert member.ready and member.epoch == group.epoch
        assert member.session.own_leaf_index == group.leaf_index(user)
    channel.assert_audio_flows(opus_tone)
