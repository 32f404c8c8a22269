"""Every text a user reads from the front door, in one place.

The first line of a successful start is the original Pandora's, exactly: ``Recording started with id <ID>``
(scripts and people look for it). Everything else says what happened and what to do next.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pandora_frontdoor.recordings import ActiveRecording, Summary

STARTED = "Recording started with id {id}"
DAPR_LOCATION = re.compile(r"^dapr://(?P<binding>[^/]+)/(?P<prefix>.*?)(?P<id>\d+)/?$")


def channel(channel_id: int) -> str:
    return f"<#{channel_id}>"


def user(user_id: int) -> str:
    return f"<@{user_id}>"


def duration(seconds: float) -> str:
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def speakers(names: Sequence[str]) -> str:
    if not names:
        return "nobody spoke"
    label = "speaker" if len(names) == 1 else "speakers"
    return f"{len(names)} {label}: {', '.join(names)}"


def started(recording: ActiveRecording, end_hint: str) -> str:
    return (STARTED.format(id=recording.recording_id)
            + f"\nRecording {channel(recording.voice_channel_id)}. {end_hint} stops it.")


def resumed(recording: ActiveRecording, end_hint: str) -> str:
    return (f"Recording {recording.recording_id} continues in {channel(recording.voice_channel_id)} after a restart "
            f"of the bot (same id, same files). {end_hint} stops it.")


def not_resumed(recording: ActiveRecording, reason: str) -> str:
    return (f"Recording {recording.recording_id} of {channel(recording.voice_channel_id)} could not continue after a "
            f"restart of the bot: {reason or 'the recorder stopped'}. What it recorded before is kept.")


def where_files_are(recording_id: str, location: str) -> str:
    """How to get the audio: ``pandora cook`` for a folder, ``pandora fetch`` then cook for the object store."""
    found = DAPR_LOCATION.match(location)
    if found:
        prefix = found["prefix"] or '""'
        return (f"Files: `{location}`. Get them with `pandora fetch {recording_id} --binding {found['binding']} "
                f"--prefix {prefix} --out {recording_id}`, then `pandora cook {recording_id} --dir {recording_id}`.")
    return f"Files: `{location}`. Cook them with `pandora cook {recording_id} --dir {location}`."


def summary(result: Summary) -> str:
    recording = result.recording
    if not result.completed:
        head = f"Recording {recording.recording_id} failed ({result.message or 'the recorder stopped'})"
    elif result.message:
        head = f"Recording {recording.recording_id} ended ({result.message})"
    else:
        head = f"Recording {recording.recording_id} ended"
    lines = [f"{head} after {duration(result.duration_seconds)}, {speakers(result.speakers)}."]
    if result.location:
        lines.append(where_files_are(recording.recording_id, result.location))
    return "\n".join(lines)


def status_line(recording: ActiveRecording, now: float) -> str:
    since = f" for {duration(now - recording.started_at)}" if recording.started_at else " (starting)"
    who = f", started by {user(recording.requested_by.user_id)}" if recording.requested_by.user_id else ""
    return f"Recording {channel(recording.voice_channel_id)}{since}, id {recording.recording_id}{who}."


def status(recordings: Sequence[ActiveRecording], now: float) -> str:
    if not recordings:
        return "Nothing is being recorded in this server."
    return "\n".join(status_line(recording, now) for recording in recordings)


# -- refusals: each says why and what to do -----------------------------------------------------------------

def not_in_voice(record_hint: str) -> str:
    return (f"Join a voice channel first, or name the channel to record: {record_hint}.")


def not_a_voice_channel(channel_id: int, kind: str) -> str:
    return f"{channel(channel_id)} is a {kind} channel; I can only record voice channels. Name a voice channel."


def unknown_channel(argument: str) -> str:
    return (f"I can't find a voice channel `{argument}` in this server. Mention it as #channel or give its id "
            "(Developer Mode, right-click the channel, Copy Channel ID).")


def bot_missing(channel_id: int, missing: Sequence[str]) -> str:
    listed = " and ".join(f"**{name}**" for name in missing)
    label = "permission" if len(missing) == 1 else "permissions"
    return (f"I can't record {channel(channel_id)}: I am missing the {listed} {label} there. "
            "Ask a server admin to give them to me (channel settings, Permissions).")


def cannot_post(channel_id: int, missing: Sequence[str]) -> str:
    listed = " and ".join(f"**{name}**" for name in missing)
    return (f"I need the {listed} permission in {channel(channel_id)} to post about the recording there. "
            "Ask a server admin to give it to me, or use the command in another channel.")


def already_recording(recording: ActiveRecording) -> str:
    return (f"{channel(recording.voice_channel_id)} is already being recorded, id {recording.recording_id}.")


def guild_busy(recording: ActiveRecording, end_hint: str) -> str:
    return (f"I am already recording {channel(recording.voice_channel_id)} in this server "
            f"(id {recording.recording_id}), and I can be in only one voice channel per server. "
            f"End that recording first with {end_hint}.")


def start_failed(reason: str) -> str:
    return f"I could not start recording: {reason or 'the recorder stopped without saying why'}."


def nothing_to_end() -> str:
    return "There is no recording to end in this server."


def not_allowed_to_start(roles: Sequence[int]) -> str:
    return f"You need the **Manage Server** permission{_or_roles(roles)} to start a recording."


def not_allowed_to_end(recording: ActiveRecording, roles: Sequence[int]) -> str:
    starter = recording.requested_by.user_id
    by = f"{user(starter)}, who started it, or " if starter else ""
    return (f"Only {by}a member with the **Manage Server** permission{_or_roles(roles)} can end recording "
            f"{recording.recording_id}.")


def which_to_end(recordings: Sequence[ActiveRecording]) -> str:
    listed = ", ".join(f"{channel(r.voice_channel_id)} (id {r.recording_id})" for r in recordings)
    return f"Several channels are being recorded here: {listed}. Join the one you want to end, then end it."


def _or_roles(roles: Sequence[int]) -> str:
    if not roles:
        return ""
    return " or the " + " or ".join(f"<@&{role}>" for role in roles) + (" role" if len(roles) == 1 else " roles")
