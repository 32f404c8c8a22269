"""Who each speaker is, for their track's entry in the ``.users`` file.

Names are learned on the event loop when voice op 5 identifies a speaker (from the member cache, else over REST),
so that the writer thread, which asks when a user's first frame opens their track, only reads caches.
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord

from pandora.logging import get_logger
from pandora_recorder.frames import Speaker

log = get_logger(__name__)


def speaker_from(user: discord.abc.User) -> Speaker:
    avatar = user.display_avatar
    return Speaker(
        id=user.id,
        name=user.display_name,
        username=user.name,
        discriminator=user.discriminator or "0",
        global_name=user.global_name,
        bot=user.bot,
        avatar_url=str(avatar.url) if avatar else None,
    )


def unknown_speaker(user_id: int) -> Speaker:
    return Speaker(id=user_id, name=str(user_id), username=str(user_id))


class SpeakerNames:
    def __init__(self, client: discord.Client) -> None:
        self._client = client
        self._guild: discord.Guild | None = None
        self._known: dict[int, Speaker] = {}
        self._fetches: set[asyncio.Task[Any]] = set()

    def use_guild(self, guild: discord.Guild) -> None:
        self._guild = guild

    def speaker_of(self, user_id: int) -> Speaker:
        """Any thread (the writer's, when a user's first frame opens their track): cache reads only."""
        known = self._known.get(user_id)
        if known is not None:
            return known
        guild = self._guild
        user = (guild.get_member(user_id) if guild else None) or self._client.get_user(user_id)
        return speaker_from(user) if user is not None else unknown_speaker(user_id)

    def learn(self, user_id: int) -> None:
        """Event loop: remember the user's names before their first frame reaches the writer."""
        if user_id in self._known or self._guild is None:
            return
        member = self._guild.get_member(user_id)
        if member is not None:
            self._known[user_id] = speaker_from(member)
            return
        task = asyncio.get_running_loop().create_task(self._fetch(self._guild, user_id))
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    async def _fetch(self, guild: discord.Guild, user_id: int) -> None:
        try:
            self._known[user_id] = speaker_from(await guild.fetch_member(user_id))
        except discord.HTTPException:
            try:
                self._known[user_id] = speaker_from(await self._client.fetch_user(user_id))
            except discord.HTTPException as error:
                log.warning("speaker name unknown", user_id=user_id, error=str(error))

    async def requester(self, guild: discord.Guild, user_id: int) -> Speaker:
        """Who asked for the recording, for the ``.info`` file (REST when not cached)."""
        user = guild.get_member(user_id) or self._client.get_user(user_id)
        if user is None:
            try:
                user = await self._client.fetch_user(user_id)
            except discord.HTTPException:
                user = None
        return speaker_from(user) if user is not None else unknown_speaker(user_id)
