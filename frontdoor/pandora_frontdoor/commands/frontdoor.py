"""``pandora frontdoor``: the Discord command front door on Kubernetes.

Answers the same commands as ``pandora bot`` (same environment: ``PANDORA_TOKEN``, ``COMMAND_PREFIX``,
``DISABLE_INTERACTIONS``/``DISABLE_INTERACTION``, ``PANDORA_ACCESS*``, ``PANDORA_COMMAND_GUILDS``, the connection
contract) but records nothing itself: each ``/record`` becomes a ``Recording`` resource in its namespace, and the
replies follow the resources' status. It needs only create/get/list/watch/patch on ``recordings`` there; it never
joins voice and never talks to recorder pods.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping

from pandora.discord_connection import DiscordConnection
from pandora.identify.limits import FRONT_DOOR_RESERVE
from pandora.identify.pacer import IdentifyPacer
from pandora.identify.slots import MemoryIdentifySlots
from pandora.logging import configure_logging, get_logger
from pandora_frontdoor.bot.client import FrontDoorClient
from pandora_frontdoor.bot.lifecycle import answer_commands, exit_code, run_client, stop_on_signals
from pandora_frontdoor.bot.responders import ChannelNotices
from pandora_frontdoor.config import FrontDoorConfig
from pandora_frontdoor.desk import CommandDesk, Hints
from pandora_frontdoor.kube.api import RecordingsApi
from pandora_frontdoor.kube.connection import KubeConnection
from pandora_frontdoor.kube.recordings import KubernetesRecordings

log = get_logger(__name__)

SYNC_TIMEOUT = 30.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namespace", default=os.environ.get("PANDORA_NAMESPACE"),
                        help="where Recordings are created (default: $PANDORA_NAMESPACE, else the pod's own "
                             "namespace or the kubeconfig context's)")


def run(args: argparse.Namespace) -> int:
    configure_logging()
    env = dict(os.environ)
    if not env.get("PANDORA_TOKEN"):
        print("pandora frontdoor: PANDORA_TOKEN is not set", file=sys.stderr)
        return 2
    try:
        config = FrontDoorConfig.from_env(env)
        connection = KubeConnection.discover(env)
    except (ValueError, OSError) as error:
        print(f"pandora frontdoor: {error}", file=sys.stderr)
        return 2
    namespace = args.namespace or connection.namespace or "default"
    return exit_code(serve(env, config, connection, namespace, handle_signals=True))


async def serve(env: Mapping[str, str], config: FrontDoorConfig, connection: KubeConnection, namespace: str, *,
                stop: asyncio.Event | None = None, handle_signals: bool = False) -> None:
    """Watch the namespace's Recordings, then answer commands until ``stop`` (or SIGINT/SIGTERM)."""
    stop = stop or asyncio.Event()
    api = RecordingsApi(connection, namespace)
    recordings = KubernetesRecordings(api)
    watching = asyncio.create_task(recordings.watch())
    try:
        # Commands are answered only once the Recordings are known: a restarted front door must see the ones it
        # started before it tells anybody that nothing is recording.
        await asyncio.wait_for(recordings.synced.wait(), SYNC_TIMEOUT)
        log.info("watching Recordings", namespace=namespace, known=len(recordings.active()))
        pacer = IdentifyPacer(MemoryIdentifySlots(), reserve=FRONT_DOOR_RESERVE)  # a second login waits its turn

        async def nothing() -> None:
            return None

        desk: CommandDesk | None = None

        async def answer(config: FrontDoorConfig) -> None:
            nonlocal desk
            client = FrontDoorClient(config, pacer=pacer, **DiscordConnection.from_env(env).apply())
            if desk is None:
                desk = CommandDesk(recordings, config.policy, Hints(config.prefix, config.interactions),
                                   ChannelNotices(client))
            else:  # the same desk (it listens to the recordings' endings once), now on the new client
                desk.hints = Hints(config.prefix, config.interactions)
                desk.notices = ChannelNotices(client)
            client.desk = desk
            await run_client(client, env["PANDORA_TOKEN"], stop, when_ready=nothing, before_close=nothing)

        with stop_on_signals(stop, handle_signals):
            await answer_commands(config, answer)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await api.close()
