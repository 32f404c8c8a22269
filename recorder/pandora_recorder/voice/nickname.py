"""The bot's nickname shows that it records, and gets its old value back afterwards.

Best effort: a missing permission must not stop a recording.
"""

from __future__ import annotations

import discord

from pandora.logging import get_logger

log = get_logger(__name__)

NICKNAME_PREFIX = "[RECORDING] "
NICKNAME_LIMIT = 32  # Discord's maximum nickname length


def recording_nickname(current: str) -> str:
    return (NICKNAME_PREFIX + current)[:NICKNAME_LIMIT]


def nickname_before_recording(nick: str | None, name: str) -> str | None:
    """The nickname to restore: a recorder killed before it could restore left its prefix, which is not kept."""
    if nick is None or not nick.startswith(NICKNAME_PREFIX):
        return nick
    before = nick.removeprefix(NICKNAME_PREFIX)
    return None if before == name else before


class RecordingNickname:
    def __init__(self) -> None:
        self._guild: discord.Guild | None = None
        self._previous: str | None = None
        self._changed = False

    async def show(self, guild: discord.Guild) -> None:
        me = guild.me
        self._guild, self._previous = guild, nickname_before_recording(me.nick, me.name)
        wanted = recording_nickname(self._previous or me.name)
        if me.nick == wanted:  # restarted after a crash: it already shows
            self._changed = True
            return
        try:
            await me.edit(nick=wanted)
            self._changed = True
        except discord.HTTPException as error:
            log.warning("could not show recording in nickname", error=str(error))

    async def restore(self) -> None:
        if not self._changed or self._guild is None:
            return
        try:
            await self._guild.me.edit(nick=self._previous)
            self._changed = False
        except discord.HTTPException as error:
            log.warning("could not restore nickname", error=str(error))
