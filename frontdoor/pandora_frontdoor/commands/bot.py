"""``pandora bot``: one process that answers Discord commands and records, the original Pandora's way.

Reads the original's environment unchanged (``PANDORA_TOKEN``, ``COMMAND_PREFIX``, ``DISABLE_INTERACTIONS`` /
``DISABLE_INTERACTION``, ``STORE_NAME``, ``OBJECT_STORE_NAME``, ``PUBSUB_NAME``, ``DAPR_SERVER_PORT``; see
``pandora_frontdoor.config`` and ``pandora_frontdoor.pubsub.topics``) plus the
connection contract (``PANDORA_DISCORD_*``). Records to ``--out`` (default ``recordings/``), or through Dapr
when ``OBJECT_STORE_NAME`` names a binding and a sidecar answers; keeps the list of running recordings in
``--out`` (or the Dapr state store ``STORE_NAME``) so a restart continues them under the same ids.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from pandora.dapr_env import dapr_http_endpoint, dapr_reachable
from pandora.discord_connection import DiscordConnection
from pandora.identify.limits import FRONT_DOOR_RESERVE
from pandora.identify.pacer import IdentifyPacer
from pandora.identify.slots import FileIdentifySlots
from pandora.logging import configure_logging, get_logger
from pandora.recording_api.recorder import DEFAULT_STORAGE_PREFIX, ENV_STORAGE_PREFIX
from pandora_frontdoor.bot.client import FrontDoorClient
from pandora_frontdoor.bot.lifecycle import answer_commands, exit_code, run_client, stop_on_signals
from pandora_frontdoor.bot.responders import ChannelNotices
from pandora_frontdoor.config import FrontDoorConfig
from pandora_frontdoor.desk import CommandDesk, Hints
from pandora_frontdoor.local.recordings import LocalRecordings
from pandora_frontdoor.local.state import DaprStateStore, FileStateStore, StateStore
from pandora_frontdoor.local.storage import Storage
from pandora_frontdoor.pubsub.door import PubSubFrontDoor

log = get_logger(__name__)

DAPR_PROBE_SECONDS = 10.0
ORIGINAL_DAPR_HTTP_PORT = "3503"  # the original Pandora's default sidecar port


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("recordings"),
                        help="folder for the raw files and the bot's state (default: recordings/)")


def run(args: argparse.Namespace) -> int:
    configure_logging()
    env = dict(os.environ)
    if not env.get("PANDORA_TOKEN"):
        print("pandora bot: PANDORA_TOKEN is not set", file=sys.stderr)
        return 2
    try:
        config = FrontDoorConfig.from_env(env)
    except ValueError as error:
        print(f"pandora bot: {error}", file=sys.stderr)
        return 2
    if (env.get("OBJECT_STORE_NAME") or env.get("STORE_NAME")) and not env.get("DAPR_HTTP_PORT"):
        os.environ["DAPR_HTTP_PORT"] = ORIGINAL_DAPR_HTTP_PORT  # the Dapr SDK reads it from the process
    return exit_code(serve(env, config, args.out, handle_signals=True))


def storage_from_env(env: Mapping[str, str], out: Path) -> tuple[Storage, StateStore]:
    """The original's Dapr components when named and a sidecar answers; otherwise the ``out`` folder."""
    binding, store = env.get("OBJECT_STORE_NAME"), env.get("STORE_NAME")
    endpoint = None
    if binding or store:
        # The sidecar as the Dapr SDK finds it: from the process environment.
        endpoint = dapr_http_endpoint() if dapr_reachable(DAPR_PROBE_SECONDS) else None
        if endpoint is None:
            log.warning("Dapr components named but no sidecar answers: using the local folder", out=str(out),
                        object_store=binding, state_store=store)
    storage = Storage(out, binding if endpoint else None, env.get(ENV_STORAGE_PREFIX, DEFAULT_STORAGE_PREFIX),
                      store if endpoint else None)
    state: StateStore = DaprStateStore(store, endpoint) if store and endpoint else FileStateStore(out)
    log.info("bot storage", recordings=f"dapr:{binding}" if storage.binding else str(out.resolve()),
             state=f"dapr:{store}" if isinstance(state, DaprStateStore) else str(FileStateStore(out).path))
    return storage, state


async def serve(
    env: Mapping[str, str],
    config: FrontDoorConfig,
    out: Path,
    *,
    stop: asyncio.Event | None = None,
    handle_signals: bool = False,
    on_ready: Callable[[LocalRecordings], None] | None = None,
) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM): recordings in progress are closed cleanly and continue,
    under the same ids, when the bot starts again."""
    stop = stop or asyncio.Event()
    storage, state = await asyncio.to_thread(storage_from_env, env, out)
    # Slots shared with the `pandora record` processes of the same folder (pandora_recorder.pacing).
    pacer = IdentifyPacer(FileIdentifySlots(out, env["PANDORA_TOKEN"]), reserve=FRONT_DOOR_RESERVE)
    if not config.prefix and not config.interactions and not config.pubsub:
        log.warning("no COMMAND_PREFIX, no PUBSUB_NAME and interactions disabled: nothing will be answered")

    async def answer(config: FrontDoorConfig) -> None:
        client = FrontDoorClient(config, pacer=pacer, **DiscordConnection.from_env(env).apply())
        recordings = LocalRecordings(client, storage, state)
        desk = CommandDesk(recordings, config.policy, Hints(config.prefix, config.interactions),
                           ChannelNotices(client))
        client.desk = desk
        # With these recordings: a login Discord refused (before ready) leaves a bridge that never opened.
        pubsub = PubSubFrontDoor(config.pubsub, recordings, client) if config.pubsub else None

        async def when_ready() -> None:
            continued, lost = await recordings.resume()
            await desk.announce_resumed(continued, lost)
            if pubsub is not None:
                await pubsub.open()
            if on_ready is not None:
                on_ready(recordings)

        async def before_close() -> None:
            if pubsub is not None:
                await pubsub.close()
            await recordings.close()

        await run_client(client, env["PANDORA_TOKEN"], stop, when_ready=when_ready, before_close=before_close)

    with stop_on_signals(stop, handle_signals):
        await answer_commands(config, answer)
