"""``pandora frontdoor``: the Discord command front door on Kubernetes.

Answers the same commands as ``pandora bot`` (same environment: ``PANDORA_TOKEN``, ``COMMAND_PREFIX``,
``DISABLE_INTERACTIONS``/``DISABLE_INTERACTION``, ``PANDORA_ACCESS*``, ``PANDORA_COMMAND_GUILDS``, the connection
contract) but records nothing itself: each ``/record`` becomes a ``Recording`` resource in its namespace, and the
replies follow the resources' status. It needs only create/get/list/watch/patch on ``recordings`` there; it never
joins voice and never talks to recorder pods.

With a Dapr sidecar: ``PUBSUB_NAME`` runs the pub/sub bridge (``pandora_frontdoor.pubsub``) on the same
Recordings, and ``PANDORA_STATE_STORE`` names the state store whose IDENTIFY slots the recorder pods of the token
share (``pandora.identify.dapr_slots``), so the front door and the pods together keep to Discord's
``max_concurrency`` per 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping

from pandora.dapr_env import dapr_reachable
from pandora.discord_connection import DiscordConnection
from pandora.identify.limits import FRONT_DOOR_RESERVE
from pandora.identify.pacer import IdentifyPacer
from pandora.identify.slots import IdentifySlots, MemoryIdentifySlots
from pandora.logging import configure_logging, get_logger
from pandora.recording_api.recorder import ENV_STATE_STORE
from pandora_frontdoor.bot.client import FrontDoorClient
from pandora_frontdoor.bot.lifecycle import answer_commands, exit_code, run_client, stop_on_signals
from pandora_frontdoor.bot.responders import ChannelNotices
from pandora_frontdoor.config import FrontDoorConfig
from pandora_frontdoor.desk import CommandDesk, Hints
from pandora_frontdoor.kube.api import RecordingsApi
from pandora_frontdoor.kube.connection import KubeConnection
from pandora_frontdoor.kube.recordings import KubernetesRecordings
from pandora_frontdoor.pubsub.door import PubSubFrontDoor

log = get_logger(__name__)

SYNC_TIMEOUT = 30.0
DAPR_PROBE_SECONDS = 20.0  # a native sidecar is up first; give a slow one this long


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
        slots = await asyncio.to_thread(identify_slots, env)
        pacer = IdentifyPacer(slots, reserve=FRONT_DOOR_RESERVE)  # a second login waits its turn
        desk: CommandDesk | None = None
        pubsub: PubSubFrontDoor | None = None

        async def when_ready() -> None:
            if pubsub is not None:
                await pubsub.open()

        async def before_close() -> None:
            if pubsub is not None:
                await pubsub.close()

        async def answer(config: FrontDoorConfig) -> None:
            nonlocal desk, pubsub
            client = FrontDoorClient(config, pacer=pacer, **DiscordConnection.from_env(env).apply())
            if desk is None:
                desk = CommandDesk(recordings, config.policy, Hints(config.prefix, config.interactions),
                                   ChannelNotices(client))
            else:  # the same desk (it listens to the recordings' endings once), now on the new client
                desk.hints = Hints(config.prefix, config.interactions)
                desk.notices = ChannelNotices(client)
            client.desk = desk
            # One bridge too (it acks every ending once); it looks channels up with the current client.
            if config.pubsub and pubsub is None:
                pubsub = PubSubFrontDoor(config.pubsub, recordings, client)
            elif pubsub is not None:
                pubsub.use_client(client)
            await run_client(client, env["PANDORA_TOKEN"], stop, when_ready=when_ready, before_close=before_close)

        with stop_on_signals(stop, handle_signals):
            await answer_commands(config, answer)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await api.close()


def identify_slots(env: Mapping[str, str]) -> IdentifySlots:
    """The recorder pods' slots in the Dapr state store ``PANDORA_STATE_STORE`` when a sidecar answers; else this
    process's own (blocking: the sidecar is waited for)."""
    store = env.get(ENV_STATE_STORE)
    if not store:
        return MemoryIdentifySlots()
    if not dapr_reachable(DAPR_PROBE_SECONDS):
        log.warning("no Dapr sidecar answers: IDENTIFY slots are not shared with the recorder pods", store=store)
        return MemoryIdentifySlots()
    from dapr.clients import DaprClient

    from pandora.identify.dapr_slots import DaprIdentifySlots  # loads the Dapr SDK only when used

    log.info("IDENTIFY slots shared with the recorder pods", store=store)
    return DaprIdentifySlots(DaprClient(), store, env["PANDORA_TOKEN"])
