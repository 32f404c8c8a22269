"""The recorder pod's side of the contract: its environment, its command line, and where its files end up.

The operator renders both (``RecorderEnv.to_environ``, ``RecorderArgs.to_argv``); ``pandora record`` reads them
back with ``RecorderEnv.from_environ`` and the parser ``RecorderArgs.add_arguments`` builds. Each option and each
variable is written once, below.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_STORAGE_BINDING = "pandora-recordings"
DEFAULT_STORAGE_PREFIX = "recordings/"
DEFAULT_STATE_STORE = "pandora-statestore"

# The bot token. In a recorder pod it is always a secretKeyRef into the bot pool Secret, never a value.
ENV_TOKEN = "PANDORA_TOKEN"
ENV_RECORDING_NAME = "PANDORA_RECORDING_NAME"
ENV_RECORDING_NAMESPACE = "PANDORA_RECORDING_NAMESPACE"
ENV_STORAGE_BINDING = "PANDORA_STORAGE_BINDING"
ENV_STORAGE_PREFIX = "PANDORA_STORAGE_PREFIX"
ENV_STATE_STORE = "PANDORA_STATE_STORE"


def storage_location(binding: str, prefix: str, recording_id: int | str) -> str:
    """Where a recording's chunks are, as ``status.location`` and the recorder's own messages say it."""
    return f"dapr://{binding}/{prefix}{recording_id}/"


@dataclass(frozen=True, slots=True)
class RecorderEnv:
    """What a recorder reads from its environment, besides the token (``ENV_TOKEN``)."""

    # The pod's own Recording, whose status it reports progress to.
    recording_name: str | None = field(default=None, metadata={"env": ENV_RECORDING_NAME})
    recording_namespace: str | None = field(default=None, metadata={"env": ENV_RECORDING_NAMESPACE})
    # Set in a recorder pod; without it, ``--storage auto`` records to a local folder.
    storage_binding: str | None = field(default=None, metadata={"env": ENV_STORAGE_BINDING})
    storage_prefix: str = field(default=DEFAULT_STORAGE_PREFIX, metadata={"env": ENV_STORAGE_PREFIX})
    state_store: str = field(default=DEFAULT_STATE_STORE, metadata={"env": ENV_STATE_STORE})

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RecorderEnv:
        return cls(**{item.name: environ[item.metadata["env"]] for item in fields(cls)
                      if item.metadata["env"] in environ})

    def to_environ(self) -> dict[str, str]:
        return {item.metadata["env"]: value for item in fields(self) if (value := getattr(self, item.name)) is not None}

    @property
    def binding(self) -> str:
        return self.storage_binding or DEFAULT_STORAGE_BINDING


# The subcommand a recorder pod runs (the image's entrypoint is ``pandora``).
RECORD_COMMAND = "record"
STORAGE_CHOICES = ("auto", "local", "dapr")
# How long a stopping recorder waits for an object store that is away: under the pod's 60 s grace period
# (the operator's stop_grace_seconds), leaving time to leave voice before and for the sidecar after.
STORE_WAIT_SECONDS = 40.0
# Exit code of a recorder that stopped with bytes the store never took (they are in the spill folder, or lost).
EXIT_UNSAVED = 3


def _option(flag: str, **argparse_options: Any) -> dict[str, Any]:
    return {"flag": flag, "argparse": argparse_options}


@dataclass(frozen=True, slots=True)
class RecorderArgs:
    """``pandora record``'s options."""

    guild: int = field(metadata=_option("--guild", type=int, required=True, help="guild (server) id"))
    channel: int = field(metadata=_option("--channel", type=int, required=True, help="voice channel id"))
    recording_id: int | None = field(default=None, metadata=_option(
        "--id", type=int, help="recording id; an existing recording in the storage is resumed"))
    storage: str = field(default="auto", metadata=_option(
        "--storage", choices=STORAGE_CHOICES,
        help=f"local: the --out folder; dapr: chunks through the Dapr binding {ENV_STORAGE_BINDING} (prefix "
             f"{ENV_STORAGE_PREFIX}) and resume records in the Dapr state store; auto (default): dapr when "
             f"{ENV_STORAGE_BINDING} is set and a Dapr sidecar answers"))
    out: Path = field(default=Path("recordings"), metadata=_option(
        "--out", type=Path, help="folder for the raw files (local storage)"))
    max_duration: float | None = field(default=None, metadata=_option(
        "--max-duration", type=float, metavar="S", help="stop after S seconds"))
    empty_timeout: float | None = field(default=None, metadata=_option(
        "--empty-timeout", type=float, metavar="S", help="stop when nobody else has been in the channel for S seconds"))
    requester: int | None = field(default=None, metadata=_option(
        "--requester", type=int, metavar="USER_ID", help="who asked for the recording"))
    text_channel: int | None = field(default=None, metadata=_option(
        "--text-channel", type=int, metavar="ID", help="where to post a summary at the end"))
    store_wait: float = field(default=STORE_WAIT_SECONDS, metadata=_option(
        "--store-wait", type=float, metavar="S",
        help=f"when stopping, wait up to S seconds for an object store that is away (default {STORE_WAIT_SECONDS:g});"
             f" then exit {EXIT_UNSAVED}, naming what was not saved"))

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        for item in fields(RecorderArgs):
            default = None if item.default is dataclasses.MISSING else item.default
            parser.add_argument(item.metadata["flag"], dest=item.name, default=default, **item.metadata["argparse"])

    @classmethod
    def from_namespace(cls, namespace: argparse.Namespace) -> RecorderArgs:
        return cls(**{item.name: getattr(namespace, item.name) for item in fields(cls)})

    def to_argv(self) -> list[str]:
        """A container's args: the subcommand, then each option that is set and differs from its default."""
        argv = [RECORD_COMMAND]
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None and value != item.default:
                argv += [item.metadata["flag"], _argument(value)]
        return argv


def _argument(value: Any) -> str:
    # 60.0 -> "60": what a person would type, and what argparse reads back as the same float.
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
