"""The recorder's discord.py voice client: it turns discord.py's voice events into calls on the session's pipeline.

- voice op 2 (READY): the UDP socket exists, so every datagram from now on goes to ``ReceivePipeline.on_datagram``
  (discord.py's socket reader thread);
- op 4 (SESSION_DESCRIPTION): the transport mode and key, ``ReceivePipeline.set_transport``;
- op 5 (SPEAKING) and op 12 (CLIENT_CONNECT with an audio SSRC): SSRC -> user, ``ReceivePipeline.on_speaking``;
  op 5 also tells the session through ``on_speaker_identified`` so it can learn the speaker's name;
- ops 21/22 (DAVE transitions): the transition id a re-key reports;
- DAVE state: the pipeline's decryptor reads the connection's session through ``davey_session`` and
  ``dave_version``, and calls ``on_dave_failure`` (reader thread) when decryption keeps failing.

The client builds nothing of the pipeline and knows nothing of the session; the discord.py internals it uses are
behind ``pandora.discordpy_compat.HookedVoiceClient``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import discord

from pandora.discordpy_compat import HookedVoiceClient
from pandora.logging import get_logger
from pandora_recorder.receive import SUPPORTED_MODES, ReceivePipeline, transport_decryptor
from pandora_recorder.voice.rekey import DaveRekey

log = get_logger(__name__)

OP_READY = 2
OP_SESSION_DESCRIPTION = 4
OP_SPEAKING = 5
OP_CLIENT_CONNECT = 12
OP_DAVE_PREPARE_TRANSITION = 21
OP_DAVE_EXECUTE_TRANSITION = 22
# At a stop, how long to wait for the reader to read what the socket holds (a backlog of a few hundred datagrams
# takes it milliseconds once it has the CPU), and how often to look.
DRAIN_TIMEOUT = 0.5
DRAIN_POLL = 0.005


class RecordingVoiceClient(HookedVoiceClient):
    """Joins like any discord.py voice client (DAVE handshake included) and feeds a ``ReceivePipeline``.

    discord.py builds voice clients as ``cls(client, channel)``: pass ``VoiceChannel.connect`` a function that
    builds this one with its pipeline.
    """

    def __init__(
        self,
        client: discord.Client,
        channel: discord.abc.Connectable,
        pipeline: ReceivePipeline,
        *,
        on_speaker_identified: Callable[[int], None] | None = None,
        transport_modes: tuple[str, ...] = SUPPORTED_MODES,
    ) -> None:
        self._pipeline = pipeline
        self._on_speaker_identified = on_speaker_identified
        self._listening = False
        self._rekey = DaveRekey(self)
        # discord.py 2.7.1 lists only xchacha among the current modes; Pandora also accepts AES-256-GCM, which
        # Discord prefers, and nothing deprecated. A narrower choice forces one transport (tests).
        super().__init__(client, channel, transport_modes=transport_modes)

    # -- voice gateway (event loop) ----------------------------------------------------------------------------

    def on_voice_gateway_message(self, op: int, data: dict[str, Any]) -> None:
        if op == OP_READY and not self._listening:
            # The UDP socket exists from here on; registering earlier would make the reader spin on no socket.
            self.listen_to_datagrams(self._pipeline.on_datagram)
            self._listening = True
        elif op == OP_SESSION_DESCRIPTION:
            self._pipeline.set_transport(transport_decryptor(data["mode"], bytes(data["secret_key"])))
            log.info("voice session described", mode=data["mode"], dave=data.get("dave_protocol_version"))
        elif op == OP_SPEAKING:
            user_id = int(data["user_id"])
            self._pipeline.on_speaking(user_id, int(data["ssrc"]))
            if self._on_speaker_identified is not None:
                self._on_speaker_identified(user_id)
        elif op == OP_CLIENT_CONNECT and data.get("audio_ssrc"):
            self._pipeline.on_speaking(int(data["user_id"]), int(data["audio_ssrc"]))
        elif op in (OP_DAVE_PREPARE_TRANSITION, OP_DAVE_EXECUTE_TRANSITION):
            self._rekey.transition_seen(int(data.get("transition_id", 0)))

    # -- DAVE (the rest of receive.DaveConnection comes from HookedVoiceClient) ----------------------------------

    def on_dave_failure(self) -> None:
        """Called on the reader thread after repeated DAVE failures: re-key on the event loop."""
        self.loop.call_soon_threadsafe(self._rekey.start)

    # -- leaving -------------------------------------------------------------------------------------------------

    async def read_what_arrived(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait until the reader thread has read what the socket already holds: datagrams delivered before a stop
        are recorded. On a busy machine the reader can be off the CPU for a while when the stop comes."""
        if not self._listening:
            return
        deadline = self.loop.time() + timeout
        while self.datagrams_waiting() and self.loop.time() < deadline:
            await asyncio.sleep(DRAIN_POLL)
        await asyncio.sleep(DRAIN_POLL)  # the GIL for the reader, to hand on the datagram it took last

    def stop_listening(self) -> None:
        """Stop handing datagrams to the pipeline (before the final flush)."""
        if self._listening:
            self.stop_listening_to_datagrams(self._pipeline.on_datagram)
            self._listening = False

    def cleanup(self) -> None:
        self._rekey.cancel()
        super().cleanup()
