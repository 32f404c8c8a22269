from __future__ import annotations

import pytest

from pandora_frontdoor.parsing import Command, Verb, parse_text_command

CHANNEL = 123456789012345678


@pytest.mark.parametrize(("content", "expected"), [
    ("!record", Command(Verb.RECORD)),
    ("!RECORD", Command(Verb.RECORD)),
    ("!end", Command(Verb.END)),
    ("!end now please", Command(Verb.END)),
    ("!status", Command(Verb.STATUS)),
    (f"!record <#{CHANNEL}>", Command(Verb.RECORD, channel_id=CHANNEL)),
    (f"!record {CHANNEL}", Command(Verb.RECORD, channel_id=CHANNEL)),
    ("!record general", Command(Verb.RECORD, bad_channel="general")),
    ("!record <@123456789012345678>", Command(Verb.RECORD, bad_channel="<@123456789012345678>")),
])
def test_commands_after_the_prefix(content: str, expected: Command) -> None:
    assert parse_text_command(content, "!") == expected


@pytest.mark.parametrize("content", ["record", "! record", "!", "!recording", "?record", "hello !record", ""])
def test_other_messages_are_not_commands(content: str) -> None:
    assert parse_text_command(content, "!") is None


def test_a_longer_prefix() -> None:
    assert parse_text_command("pandora:record", "pandora:") == Command(Verb.RECORD)
    assert parse_text_command("!record", "pandora:") is None


def test_no_prefix_means_no_text_commands() -> None:
    assert parse_text_command("!record", "") is None
