"""The front door's settings, from the original Pandora's environment plus ours.

The original's variables keep their meaning:

``PANDORA_TOKEN``                               the bot token
``COMMAND_PREFIX``                              text commands (``<prefix>record``, ``<prefix>end``) when set
``DISABLE_INTERACTIONS``, ``DISABLE_INTERACTION``  either one, with any value (even empty): no slash commands,
                                                and the bot's registered ones are removed (the original's code
                                                reads the singular, its README documents the plural)

Ours:

``PANDORA_ACCESS_ROLES``    comma-separated role ids whose members may start and end recordings, besides members
                            with Manage Server
``PANDORA_ACCESS``          ``managers`` (default: Manage Server or an access role) or ``everyone`` (the original
                            Pandora's: any member may start; the starter or a manager may end)
``PANDORA_COMMAND_GUILDS``  comma-separated guild ids: register slash commands in these guilds only (they update
                            instantly) instead of globally

The pub/sub bridge's (``PUBSUB_NAME``, ``DAPR_SERVER_PORT``, ...) are in ``pandora_frontdoor.pubsub.topics``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from pandora_frontdoor.access import AccessMode, AccessPolicy
from pandora_frontdoor.pubsub.topics import PubSubConfig

DISABLE_VARIABLES = ("DISABLE_INTERACTIONS", "DISABLE_INTERACTION")


def _ids(text: str | None, variable: str) -> frozenset[int]:
    values = [part.strip() for part in (text or "").split(",") if part.strip()]
    for value in values:
        if not value.isdigit():
            raise ValueError(f"{variable} must be comma-separated Discord ids, got {value!r}")
    return frozenset(int(value) for value in values)


@dataclass(frozen=True)
class FrontDoorConfig:
    prefix: str | None = None
    interactions: bool = True
    policy: AccessPolicy = field(default_factory=AccessPolicy)
    command_guilds: frozenset[int] = frozenset()
    pubsub: PubSubConfig | None = None  # the pub/sub bridge, when PUBSUB_NAME is set

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FrontDoorConfig:
        env = os.environ if env is None else env
        mode_text = (env.get("PANDORA_ACCESS") or AccessMode.MANAGERS.value).strip().lower()
        try:
            mode = AccessMode(mode_text)
        except ValueError:
            raise ValueError(f"PANDORA_ACCESS must be 'managers' or 'everyone', got {mode_text!r}") from None
        return cls(
            prefix=env.get("COMMAND_PREFIX") or None,
            interactions=not any(name in env for name in DISABLE_VARIABLES),
            policy=AccessPolicy(mode, _ids(env.get("PANDORA_ACCESS_ROLES"), "PANDORA_ACCESS_ROLES")),
            command_guilds=_ids(env.get("PANDORA_COMMAND_GUILDS"), "PANDORA_COMMAND_GUILDS"),
            pubsub=PubSubConfig.from_env(env),
        )
