"""The command logic, with every refusal's text: what a member reads for each case."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from desk_fakes import FakeGuild, FakeNotices, FakeRecordings, FakeResponder

from pandora_frontdoor.access import CONNECT, SEND_MESSAGES, VIEW_CHANNEL, AccessPolicy, Member
from pandora_frontdoor.desk import ChannelFacts, ChannelKind, CommandDesk, Hints, Invocation
from pandora_frontdoor.parsing import Command, Verb
from pandora_frontdoor.recordings import ActiveRecording, Requester, Source, StartOutcome, StartResult

GUILD, TEXT, VOICE, OTHER_VOICE, STAGE = 10**17 + 1, 10**17 + 2, 10**17 + 3, 10**17 + 4, 10**17 + 5
ROLE = 10**17 + 9
ALICE, BOB, MOD = 10**17 + 11, 10**17 + 12, 10**17 + 13


def guild() -> FakeGuild:
    return FakeGuild({
        VOICE: ChannelFacts(VOICE, ChannelKind.VOICE, "voice"),
        OTHER_VOICE: ChannelFacts(OTHER_VOICE, ChannelKind.VOICE, "voice"),
        STAGE: ChannelFacts(STAGE, ChannelKind.STAGE, "stage"),
        TEXT: ChannelFacts(TEXT, ChannelKind.TEXT, "text"),
    })


def alice(**changes: object) -> Member:
    return replace(Member(ALICE, "alice", manage_guild=True, voice_channel_id=VOICE), **changes)  # type: ignore[arg-type]


class Scene:
    def __init__(self, policy: AccessPolicy | None = None) -> None:
        self.recordings = FakeRecordings()
        self.notices = FakeNotices()
        self.guild = guild()
        self.desk = CommandDesk(self.recordings, policy or AccessPolicy(roles=frozenset({ROLE})),
                                Hints(prefix="!", slash=True), self.notices, clock=lambda: 125.0)
        self.count = 0

    async def say(self, command: Command, member: Member | None = None, *, source: Source = Source.TEXT_COMMAND,
                  key: str | None = None, text_missing: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        self.count += 1
        responder = FakeResponder()
        invocation = Invocation(key or f"message:{self.count}", source, GUILD, TEXT, member or alice(), command,
                                text_missing)
        await self.desk.handle(invocation, self.guild, responder)
        return responder.said


RECORD, END, STATUS = Command(Verb.RECORD), Command(Verb.END), Command(Verb.STATUS)


async def test_record_answers_the_original_text_first_with_the_id() -> None:
    scene = Scene()
    said = await scene.say(RECORD)
    assert said[0] == ("working", "")
    kind, text = said[1]
    assert kind == "answer"
    assert text.splitlines()[0] == "Recording started with id 1001"
    assert text.splitlines()[1] == f"Recording <#{VOICE}>. `!end` stops it."
    request = scene.recordings.requests[0]
    assert (request.guild_id, request.voice_channel_id, request.text_channel_id) == (GUILD, VOICE, TEXT)
    assert request.requested_by == Requester(Source.TEXT_COMMAND, ALICE, "alice")


async def test_slash_replies_name_the_slash_commands() -> None:
    scene = Scene()
    said = await scene.say(RECORD, source=Source.SLASH_COMMAND, key="interaction:1")
    assert said[1][1].endswith("`/end` stops it.")
    said = await scene.say(RECORD, alice(voice_channel_id=None), source=Source.SLASH_COMMAND)
    assert said == [("refuse", "Join a voice channel first, or name the channel to record: `/record channel:`.")]


async def test_a_named_channel_is_recorded_instead_of_the_members() -> None:
    scene = Scene()
    await scene.say(Command(Verb.RECORD, channel_id=OTHER_VOICE), alice(voice_channel_id=None))
    assert scene.recordings.requests[0].voice_channel_id == OTHER_VOICE


@pytest.mark.parametrize(("command", "member", "expected"), [
    (RECORD, alice(manage_guild=False),
     f"You need the **Manage Server** permission or the <@&{ROLE}> role to start a recording."),
    (RECORD, alice(voice_channel_id=None),
     "Join a voice channel first, or name the channel to record: `!record #channel`."),
    (Command(Verb.RECORD, channel_id=STAGE), alice(),
     f"<#{STAGE}> is a stage channel; I can only record voice channels. Name a voice channel."),
    (Command(Verb.RECORD, channel_id=TEXT), alice(),
     f"<#{TEXT}> is a text channel; I can only record voice channels. Name a voice channel."),
    (Command(Verb.RECORD, bad_channel="general"), alice(),
     "I can't find a voice channel `general` in this server. Mention it as #channel or give its id "
     "(Developer Mode, right-click the channel, Copy Channel ID)."),
    (Command(Verb.RECORD, channel_id=999999999999999999), alice(),
     "I can't find a voice channel `999999999999999999` in this server. Mention it as #channel or give its id "
     "(Developer Mode, right-click the channel, Copy Channel ID)."),
    (END, alice(), "There is no recording to end in this server."),
])
async def test_refusals_are_answered_at_once_and_start_nothing(command: Command, member: Member,
                                                               expected: str) -> None:
    scene = Scene()
    assert await scene.say(command, member) == [("refuse", expected)]
    assert scene.recordings.requests == []


async def test_a_member_with_the_access_role_may_record() -> None:
    scene = Scene()
    said = await scene.say(RECORD, alice(manage_guild=False, role_ids=frozenset({ROLE})))
    assert said[1][1].startswith("Recording started with id ")


async def test_the_bot_says_which_of_its_permissions_is_missing() -> None:
    scene = Scene()
    scene.guild.channels[VOICE] = ChannelFacts(VOICE, ChannelKind.VOICE, "voice", (VIEW_CHANNEL, CONNECT))
    assert await scene.say(RECORD) == [("refuse", (
        f"I can't record <#{VOICE}>: I am missing the **View Channel** and **Connect** permissions there. "
        "Ask a server admin to give them to me (channel settings, Permissions)."))]
    scene.guild.channels[VOICE] = ChannelFacts(VOICE, ChannelKind.VOICE, "voice")
    assert await scene.say(RECORD, source=Source.SLASH_COMMAND, text_missing=(SEND_MESSAGES,)) == [("refuse", (
        f"I need the **Send Messages** permission in <#{TEXT}> to post about the recording there. "
        "Ask a server admin to give it to me, or use the command in another channel."))]
    assert scene.recordings.requests == []


async def test_a_second_record_of_the_same_channel_names_the_running_recording() -> None:
    scene = Scene()
    await scene.say(RECORD)
    assert await scene.say(RECORD) == [("refuse", f"<#{VOICE}> is already being recorded, id 1001.")]
    assert len(scene.recordings.requests) == 1


async def test_the_same_event_delivered_twice_is_one_recording_and_one_answer() -> None:
    scene = Scene()
    first = await scene.say(RECORD, key="interaction:77", source=Source.SLASH_COMMAND)
    second = await scene.say(RECORD, key="interaction:77", source=Source.SLASH_COMMAND)
    assert first[1][0] == "answer"
    assert second == []
    assert len(scene.recordings.requests) == 1


async def test_two_commands_at_once_start_one_recording() -> None:
    scene = Scene()
    scene.recordings.start_delay = 0.05
    first, second = await asyncio.gather(scene.say(RECORD), scene.say(RECORD))
    answers = [said[-1] for said in (first, second)]
    assert ("answer", f"Recording started with id 1001\nRecording <#{VOICE}>. `!end` stops it.") in answers
    assert ("fail", f"<#{VOICE}> is already being recorded, id 1001.") in answers


@pytest.mark.parametrize(("outcome", "expected"), [
    (StartOutcome(StartResult.GUILD_BUSY, ActiveRecording("7", "k", GUILD, OTHER_VOICE,
                                                          Requester(Source.PUBSUB))),
     f"I am already recording <#{OTHER_VOICE}> in this server (id 7), and I can be in only one voice channel per "
     "server. End that recording first with `!end`."),
    (StartOutcome(StartResult.FAILED, reason="no bot of the pool is free"),
     "I could not start recording: no bot of the pool is free."),
])
async def test_a_start_that_does_not_happen_says_why(outcome: StartOutcome, expected: str) -> None:
    scene = Scene()
    scene.recordings.next_outcome = outcome
    assert await scene.say(RECORD) == [("working", ""), ("fail", expected)]


async def test_end_answers_with_duration_speakers_and_where_the_files_are() -> None:
    scene = Scene()
    await scene.say(RECORD)
    said = await scene.say(END)
    assert said == [("working", ""), ("answer", (
        "Recording 1001 ended after 1 min 23 s, 2 speakers: alice, bob.\n"
        "Files: `/data/recordings`. Cook them with `pandora cook 1001 --dir /data/recordings`."))]
    assert scene.recordings.stopped == ["1001"]
    assert scene.notices.posted == []  # the answer is the summary; no second notice


async def test_only_the_starter_or_a_manager_may_end() -> None:
    scene = Scene()
    await scene.say(RECORD)
    bob = Member(BOB, "bob", voice_channel_id=VOICE)
    assert await scene.say(END, bob) == [("refuse", (
        f"Only <@{ALICE}>, who started it, or a member with the **Manage Server** permission or the <@&{ROLE}> "
        "role can end recording 1001."))]
    assert scene.recordings.stopped == []
    mod = Member(MOD, "mo", role_ids=frozenset({ROLE}))
    assert (await scene.say(END, mod))[1][1].startswith("Recording 1001 ended")


async def test_the_starter_may_end_without_being_a_manager() -> None:
    from pandora_frontdoor.access import AccessMode

    scene = Scene(AccessPolicy(AccessMode.EVERYONE))
    bob = Member(BOB, "bob", voice_channel_id=VOICE)
    await scene.say(RECORD, bob)
    assert (await scene.say(END, bob))[1][1].startswith("Recording 1001 ended")


async def test_a_recording_that_ends_by_itself_is_announced_in_its_text_channel() -> None:
    scene = Scene()
    await scene.say(RECORD)
    await scene.recordings.end(scene.recordings.recordings[0], message="everybody left the channel")
    assert scene.notices.posted == [(TEXT, (
        "Recording 1001 ended (everybody left the channel) after 1 min 23 s, 2 speakers: alice, bob.\n"
        "Files: `/data/recordings`. Cook them with `pandora cook 1001 --dir /data/recordings`."))]


async def test_status_lists_the_guilds_recordings() -> None:
    scene = Scene()
    assert await scene.say(STATUS) == [("answer", "Nothing is being recorded in this server.")]
    await scene.say(RECORD)
    assert await scene.say(STATUS) == [("answer", f"Recording <#{VOICE}> for 2 min 04 s, id 1001, started by "
                                                  f"<@{ALICE}>.")]


async def test_end_with_several_recordings_ends_the_members_channel() -> None:
    scene = Scene()
    await scene.say(RECORD)
    await scene.say(Command(Verb.RECORD, channel_id=OTHER_VOICE), Member(BOB, "bob", manage_guild=True))
    assert (await scene.say(END, alice(voice_channel_id=OTHER_VOICE)))[1][1].startswith("Recording 1002 ended")
    await scene.say(Command(Verb.RECORD, channel_id=OTHER_VOICE), Member(BOB, "bob", manage_guild=True))
    said = await scene.say(END, Member(MOD, "mo", manage_guild=True))
    assert said == [("refuse", (f"Several channels are being recorded here: <#{VOICE}> (id 1001), <#{OTHER_VOICE}> "
                                "(id 1003). Join the one you want to end, then end it."))]
