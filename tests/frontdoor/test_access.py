from __future__ import annotations

from pandora_frontdoor.access import AccessMode, AccessPolicy, Member
from pandora_frontdoor.recordings import ActiveRecording, Requester, Source

ROLE = 555555555555555555
alice = Member(user_id=1, name="alice")
manager = Member(user_id=2, name="mo", manage_guild=True)
with_role = Member(user_id=3, name="rita", role_ids=frozenset({ROLE}))
started_by_alice = ActiveRecording("100", "message:1", 10, 20, Requester(Source.TEXT_COMMAND, alice.user_id, "alice"))


def test_by_default_starting_needs_manage_server_or_an_access_role() -> None:
    policy = AccessPolicy(roles=frozenset({ROLE}))
    assert not policy.may_start(alice)
    assert policy.may_start(manager)
    assert policy.may_start(with_role)
    assert not AccessPolicy().may_start(with_role)  # the role counts only when configured


def test_the_starter_may_always_end_and_managers_may_end_any() -> None:
    policy = AccessPolicy(roles=frozenset({ROLE}))
    assert policy.may_end(alice, started_by_alice)
    assert policy.may_end(manager, started_by_alice)
    assert policy.may_end(with_role, started_by_alice)
    assert not policy.may_end(Member(user_id=4, name="eve"), started_by_alice)


def test_everyone_mode_lets_anyone_start_but_not_end_someone_elses() -> None:
    policy = AccessPolicy(AccessMode.EVERYONE)
    eve = Member(user_id=4, name="eve")
    assert policy.may_start(eve)
    assert not policy.may_end(eve, started_by_alice)
    assert policy.may_end(alice, started_by_alice)
