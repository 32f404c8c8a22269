"""``pandora record``: record one voice channel until a signal, a time limit or an empty channel."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import discord

from pandora.dapr_env import dapr_reachable
from pandora.discord_connection import DiscordConnection
from pandora.identify.client import PacedClient
from pandora.identify.pacer import IdentifyPacer
from pandora.identify.restarts import HEALTHY_AFTER
from pandora.logging import configure_logging, get_logger
from pandora.recording_api.recorder import (
    ENV_STORAGE_BINDING,
    ENV_TOKEN,
    EXIT_UNSAVED,
    RecorderArgs,
    RecorderEnv,
)
from pandora_recorder.pacing import recorder_pacer
from pandora_recorder.raw import new_recording_id
from pandora_recorder.raw.resume import recording_exists
from pandora_recorder.raw.writer import DEFAULT_FLUSH_INTERVAL
from pandora_recorder.report import StatusReporter
from pandora_recorder.sinks.base import Sink
from pandora_recorder.sinks.chunked import ChunkedObjectSink, Unsaved
from pandora_recorder.sinks.local import LocalFolderSink
from pandora_recorder.sinks.spill import spill_folder_from_env
from pandora_recorder.sinks.whole_files import write_whole_files
from pandora_recorder.voice import RecorderSession, SessionOptions, SessionState, StopReason
from pandora_recorder.voice.login import log_in

log = get_logger(__name__)

# Stop reasons that exit 1: the recording should go on, in a new process.
FAILURES = (StopReason.CONNECT_FAILED, StopReason.STORAGE_FAILED)
# A native sidecar is normally up before the recorder starts; give a slow one this long before falling back.
DAPR_PROBE_SECONDS = 20.0
# Every flush to an object store is a new chunk object per grown file: two a second there, not ten.
OBJECT_STORE_FLUSH_INTERVAL = 0.5


def configure(parser: argparse.ArgumentParser) -> None:
    # The options are the contract with the operator, which renders them for recorder pods.
    RecorderArgs.add_arguments(parser)


def run(namespace: argparse.Namespace) -> int:
    configure_logging()
    args = RecorderArgs.from_namespace(namespace)
    token = os.environ.get(ENV_TOKEN)
    if not token:
        print(f"pandora record: {ENV_TOKEN} is not set", file=sys.stderr)
        return 2
    try:
        sink, where = open_storage(args.storage, args.out)
    except (OSError, TimeoutError, ValueError) as error:
        log.error("storage unavailable", storage=args.storage, error=str(error))
        return 1
    recording_id = args.recording_id if args.recording_id is not None else _fresh_id(sink)
    print(recording_id, flush=True)  # the first line of output: operators and scripts read it
    log.info("recording storage", storage=type(sink).__name__, location=where(recording_id))
    options = SessionOptions(
        guild_id=args.guild, channel_id=args.channel, recording_id=recording_id,
        max_duration=args.max_duration, empty_timeout=args.empty_timeout,
        requester_id=args.requester, text_channel_id=args.text_channel,
        flush_interval=OBJECT_STORE_FLUSH_INTERVAL if isinstance(sink, ChunkedObjectSink) else DEFAULT_FLUSH_INTERVAL,
    )
    reason: StopReason | None = None
    try:
        reason = asyncio.run(record(token, sink, options))
    except discord.LoginFailure as error:
        log.error("Discord refused the bot token", error=str(error))
        return 1
    finally:
        if reason is not None and reason not in FAILURES:  # ended: a failure is resumed by the next pod instead
            write_whole_files(sink, recording_id)
        unsaved = close_storage(sink, args.store_wait)
    print(f"recording {recording_id} stopped ({reason.value}); files in {where(recording_id)}", file=sys.stderr)
    if unsaved:
        for item in unsaved:
            kept = f"kept in {item.spilled_to}" if item.spilled_to else "LOST (no spill space)"
            print(f"recording {recording_id}: {item.size} bytes of {item.name} not in the store; {kept}",
                  file=sys.stderr)
        return EXIT_UNSAVED
    # A non-zero exit makes the operator start a new recorder pod, which resumes the same recording id.
    return 1 if reason in FAILURES else 0


CUT_WAIT = 1.0  # after a second signal: the last upload under way may still finish, then the uploader stops


class _WaitCut(Exception):
    """A second SIGINT or SIGTERM while the recorder saves what is left."""


@contextlib.contextmanager
def _second_signal_cuts_the_wait() -> Iterator[None]:
    """The event loop and its signal handlers are gone once the session ended: a second signal would kill the
    process with unsaved bytes still in memory. Instead, the first one raises ``_WaitCut`` (the wait for the store
    ends, and what it has not taken goes to the spill folder, as when the wait runs out); later ones are ignored."""
    cut = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal cut
        if not cut:
            cut = True
            raise _WaitCut(signal.Signals(signum).name)
        log.warning("still saving what is left", signal=signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def close_storage(sink: Sink, store_wait: float) -> list[Unsaved]:
    """Close the sink, waiting up to `store_wait` s for an object store (a second signal ends the wait); what it
    could not save."""
    if not isinstance(sink, ChunkedObjectSink):
        sink.close()
        return []
    with _second_signal_cuts_the_wait():
        try:
            log.info("saving what is left to the store", wait_seconds=store_wait)
            sink.wait_stored(store_wait)
        except _WaitCut as signalled:
            log.warning("stopped waiting for the store: keeping what it has not taken", signal=str(signalled))
        sink.close(CUT_WAIT)
    return sink.unsaved


def open_storage(choice: str, out: Path) -> tuple[Sink, Callable[[int], str]]:
    """The sink for `--storage` and how to name a recording's location in it."""
    env = RecorderEnv.from_environ(os.environ)
    if choice == "auto":
        choice = "dapr" if env.storage_binding and dapr_reachable(DAPR_PROBE_SECONDS) else "local"
        if env.storage_binding and choice == "local":
            log.warning(f"{ENV_STORAGE_BINDING} is set but no Dapr sidecar answers: recording to a local folder",
                        binding=env.storage_binding, out=str(out))
    if choice == "dapr":
        from pandora_recorder.sinks.dapr import open_dapr_sink  # loads the Dapr SDK only when used

        sink = open_dapr_sink(env.binding, env.storage_prefix, env.state_store, spill=spill_folder_from_env())
        return sink, sink.location
    return LocalFolderSink(out), lambda _recording_id: str(out.resolve())


def _fresh_id(sink: Sink) -> int:
    recording_id = new_recording_id()
    while recording_exists(sink, recording_id):
        recording_id = new_recording_id()
    return recording_id


def recorder_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.voice_states = True
    return intents


async def record(
    token: str,
    sink: Sink,
    options: SessionOptions,
    *,
    connection: DiscordConnection | None = None,
    on_session: Callable[[RecorderSession], None] | None = None,
    handle_signals: bool = True,
    reporter: StatusReporter | None = None,
    pacer: IdentifyPacer | None = None,
) -> StopReason:
    """Log in, record with a ``RecorderSession``, log out. SIGINT and SIGTERM stop the recording cleanly.

    Progress goes to ``reporter`` (by default the Recording's status when running in a recorder pod). The IDENTIFY
    goes through ``pacer`` (by default one on the recording's storage: see ``pandora_recorder.pacing``).
    """
    connection = connection or DiscordConnection.from_env()
    pacer = pacer or recorder_pacer(sink, token, options.recording_id)
    client = PacedClient(pacer, intents=recorder_intents(), **connection.apply())
    session = RecorderSession(client, sink, options, reporter=reporter or StatusReporter.from_env())
    if on_session is not None:
        on_session(session)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
    for signum in signals:
        loop.add_signal_handler(signum, session.request_stop, StopReason.SIGNAL)
    try:
        async with client:
            if not await log_in(client, token, session):
                return session.stop_reason or StopReason.CONNECT_FAILED
            healthy = asyncio.create_task(_healthy_after(session, pacer))
            reason = await session.run()
            healthy.cancel()
            if reason not in FAILURES:
                pacer.healthy()  # ended on purpose: a later start of this id is no crash restart
            return reason
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _healthy_after(session: RecorderSession, pacer: IdentifyPacer) -> None:
    """Clear the crash-restart count once the session has recorded for ``HEALTHY_AFTER`` seconds."""
    while session.state is not SessionState.RECORDING:
        await asyncio.sleep(1.0)
    await asyncio.sleep(HEALTHY_AFTER)
    if session.state is SessionState.RECORDING:
        pacer.healthy()
