"""The connection contract: where every Discord client Pandora runs connects to.

Environment variables, read once per client, so the recorder and the command bot can be pointed at the local
simulator (or any Discord-compatible server) without patching discord.py's code paths:

``PANDORA_DISCORD_API_URL``      REST base including the version (default ``https://discord.com/api/v10``)
``PANDORA_DISCORD_GATEWAY_URL``  gateway websocket URL (default: Discord's)
``PANDORA_DISCORD_CA_FILE``      PEM bundle trusted in addition to the system store (the voice websocket is
                                 always ``wss://``, so a local voice server needs its CA trusted)
``PANDORA_DISCORD_CA_PEM``       the same bundle as text, for a pod whose environment is all it is given (a
                                 recorder pod gets the contract through the chart's ``recorder.env``)
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_API_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"


@dataclass(frozen=True)
class DiscordConnection:
    api_url: str = DEFAULT_API_URL
    gateway_url: str = DEFAULT_GATEWAY_URL
    ca_file: str | None = None
    ca_pem: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DiscordConnection:
        env = os.environ if env is None else env
        return cls(
            api_url=env.get("PANDORA_DISCORD_API_URL") or DEFAULT_API_URL,
            gateway_url=env.get("PANDORA_DISCORD_GATEWAY_URL") or DEFAULT_GATEWAY_URL,
            ca_file=env.get("PANDORA_DISCORD_CA_FILE") or None,
            ca_pem=env.get("PANDORA_DISCORD_CA_PEM") or None,
        )

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        if self.ca_pem:
            context.load_verify_locations(cadata=self.ca_pem)
        return context

    def apply(self) -> dict[str, Any]:
        """Point discord.py at this connection; returns keyword arguments for ``discord.Client(...)``.

        discord.py keeps its REST base and gateway URL in class attributes, so this affects every client in the
        process; Pandora runs one Discord connection target per process.
        """
        import aiohttp

        from pandora.discordpy_compat import point_discord_py_at  # imports discord.py: only clients call apply()

        point_discord_py_at(self.api_url, self.gateway_url)
        return {"connector": aiohttp.TCPConnector(ssl=self.ssl_context())}
