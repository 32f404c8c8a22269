"""The recorder's IDENTIFY pacer (``pandora.identify``), on the storage its recording uses.

Its IDENTIFY slots and its start history are kept where every recorder of the token, and the next start of this
recording, find them: in the recording folder beside the resume records (standalone, ``LocalFolderSink``), or in
the Dapr state store beside the resume record (a pod, ``DaprSink``). Any other sink shares nothing: the slots
are this process's own and starts are not counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from pandora.identify.pacer import IdentifyPacer
from pandora.identify.restarts import FileStartHistory, StartHistoryStore
from pandora.identify.slots import FileIdentifySlots, IdentifySlots, MemoryIdentifySlots
from pandora_recorder.sinks.base import Sink
from pandora_recorder.sinks.local import LocalFolderSink


def recorder_pacer(sink: Sink, token: str, recording_id: int | None, *, clock: Callable[[], float] = time.time,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> IdentifyPacer:
    slots: IdentifySlots = MemoryIdentifySlots()
    starts: StartHistoryStore | None = None
    if isinstance(sink, LocalFolderSink):
        slots = FileIdentifySlots(sink.directory, token)
        if recording_id is not None:
            starts = FileStartHistory(sink.directory, str(recording_id))
    else:
        from pandora_recorder.sinks.dapr import DaprSink  # already loaded when the recording goes through Dapr

        if isinstance(sink, DaprSink):
            from pandora.identify.dapr_slots import DaprIdentifySlots
            from pandora_recorder.sinks.dapr_pacing import DaprStartHistory

            slots = DaprIdentifySlots(sink.client, sink.resume.store, token)
            if recording_id is not None:
                starts = DaprStartHistory(sink.client, sink.resume.store, sink.resume.location, recording_id)
    return IdentifyPacer(slots, starts=starts, clock=clock, sleep=sleep)
