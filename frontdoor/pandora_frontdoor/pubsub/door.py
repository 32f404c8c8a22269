"""The bridge as a front door of a running bot: created with the bot (so it hears every recording that ends),
listening for deliveries only once the bot is ready, and closed before the bot disconnects."""

from __future__ import annotations

import contextlib

import discord

from pandora_frontdoor.pubsub.app import serving
from pandora_frontdoor.pubsub.bridge import PubSubBridge
from pandora_frontdoor.pubsub.lookup import DiscordChannelLookup
from pandora_frontdoor.pubsub.publisher import DaprHttpPublisher
from pandora_frontdoor.pubsub.topics import PubSubConfig
from pandora_frontdoor.recordings import Recordings


class PubSubFrontDoor:
    def __init__(self, config: PubSubConfig, recordings: Recordings, client: discord.Client) -> None:
        self.config = config
        self.publisher = DaprHttpPublisher(config.dapr_endpoint, config.pubsub)
        self.bridge = PubSubBridge(recordings, DiscordChannelLookup(client), self.publisher,
                                   max_age=config.max_age)
        self.port: int | None = None
        self._stack = contextlib.AsyncExitStack()

    def use_client(self, client: discord.Client) -> None:
        """Look channels up with this client from now on (the front door logged in again, e.g. without the
        Message Content intent Discord refused)."""
        self.bridge.lookup = DiscordChannelLookup(client)

    async def open(self) -> None:
        """Take deliveries from now on (the sidecar finds the app port open and subscribes)."""
        self.port = await self._stack.enter_async_context(serving(self.bridge, self.config))

    async def close(self) -> None:
        await self._stack.aclose()
        await self.bridge.close()
        await self.publisher.close()
