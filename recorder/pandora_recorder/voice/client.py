"""A discord.py ``VoiceClient`` that receives: the two extension points of discord.py 2.7.1, no monkeypatching.

- ``create_connection_state()`` returns a ``VoiceConnectionState`` with a hook that discord.py awaits after every
  JSON voice-gateway message (op 4 gives the key and mode, op 5 maps SSRC -> user, ops 21/22 carry DAVE
  transition ids);
- ``add_socket_listener`` hands every UDP datagram to the receive pipeline on discord.py's reader thread.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

import discord
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from discord.voice_state import VoiceConnectionState

from pandora.logging import get_logger
from pandora_recorder.frames import ReceivedFrame
from pandora_recorder.receive import SUPPORTED_MODES, DaveDecryptor, ReceivePipeline, transport_decryptor

log = get_logger(__name__)

OP_READY = 2
OP_SESSION_DESCRIPTION = 4
OP_SPEAKING = 5
OP_CLIENTS_CONNECT = 11
OP_CLIENT_CONNECT = 12
OP_CLIENT_DISCONNECT = 13
OP_DAVE_PREPARE_TRANSITION = 21
OP_DAVE_EXECUTE_TRANSITION = 22

# Before a DAVE recovery: how long the voice gateway must have been silent (a DAVE round's messages follow each
# other within a round trip or two), how often to look, and the longest we defer (a busy call still recovers).
DAVE_QUIET_SECONDS = 0.5
DAVE_QUIET_POLL = 0.05
DAVE_RECOVERY_MAX_DEFER = 5.0


class RecordingVoiceClient(discord.VoiceClient):
    """Joins like any discord.py voice client (DAVE handshake included) and feeds a ``ReceivePipeline``.

    discord.py builds voice clients as ``cls(client, channel)``; pass
    ``cls=RecordingVoiceClient.factory(submit)`` to ``VoiceChannel.connect``.
    """

    # discord.py 2.7.1 lists only xchacha among the current modes; we also accept AES-256-GCM, which Discord
    # prefers, and nothing deprecated. discord.py picks the first server-offered mode we support.
    supported_modes = SUPPORTED_MODES  # type: ignore[assignment]

    def __init__(
        self,
        client: discord.Client,
        channel: discord.abc.Connectable,
        submit: Callable[[ReceivedFrame], None],
        on_speaker: Callable[[int], None] | None = None,
        modes: tuple[str, ...] | None = None,
    ) -> None:
        # create_connection_state() runs inside VoiceClient.__init__, so everything it uses is set first.
        if modes is not None:  # narrower choice, e.g. to force one transport in tests
            self.supported_modes = modes  # type: ignore[assignment]
        self._listening = False
        self._dave_transition_id = 0
        self._dave_recovery: asyncio.Task[None] | None = None
        self._on_speaker = on_speaker
        self.connected_user_ids: set[int] = set()
        self.dave = DaveDecryptor(self._dave_session, self._dave_version, self._request_dave_recovery)
        self.pipeline = ReceivePipeline(submit, self.dave)
        super().__init__(client, channel)  # type: ignore[arg-type]

    @classmethod
    def factory(
        cls,
        submit: Callable[[ReceivedFrame], None],
        on_speaker: Callable[[int], None] | None = None,
        modes: tuple[str, ...] | None = None,
    ) -> Callable[[discord.Client, discord.abc.Connectable], RecordingVoiceClient]:
        return lambda client, channel: cls(client, channel, submit, on_speaker, modes)

    def create_connection_state(self) -> VoiceConnectionState:
        return VoiceConnectionState(self, hook=self._on_voice_message)

    # -- DAVE session access for the decryptor (reader thread) ------------------------------------------------

    def _dave_session(self) -> Any:
        return self._connection.dave_session

    def _dave_version(self) -> int:
        return self._connection.dave_protocol_version

    def _request_dave_recovery(self) -> None:
        """Called on the reader thread after repeated DAVE failures: re-key on the event loop."""
        self.loop.call_soon_threadsafe(self._start_dave_recovery)

    def _start_dave_recovery(self) -> None:
        if not self.is_connected() or (self._dave_recovery is not None and not self._dave_recovery.done()):
            return
        self._dave_recovery = self.loop.create_task(self._recover_dave_when_quiet())
        self._dave_recovery.add_done_callback(_log_task_failure)

    async def _recover_dave_when_quiet(self) -> None:
        """discord.py's own recovery: report op 31 (invalid commit/welcome) and send a fresh key package, after
        which the gateway removes and re-adds us and we get a new welcome.

        That resets our MLS session, so first wait until the voice gateway has sent nothing for a while and no
        transition is pending: proposals or a commit already on their way would reach the reset session, davey
        refuses them, and discord.py 2.7.1 lets a refused proposal end its voice websocket loop - we would never
        read our welcome and stay deaf. The gateway sends us nothing more once it has our op 31.
        """
        loop = self.loop
        deadline = loop.time() + DAVE_RECOVERY_MAX_DEFER
        last_seq, quiet_since = self._voice_seq(), loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(DAVE_QUIET_POLL)
            seq = self._voice_seq()
            if seq != last_seq or self._connection.dave_pending_transitions:
                last_seq, quiet_since = seq, loop.time()
            elif loop.time() - quiet_since >= DAVE_QUIET_SECONDS:
                break
        if not self.is_connected():
            return
        log.warning("dave decryption keeps failing, asking for a new key", transition_id=self._dave_transition_id)
        await self._connection._recover_from_invalid_commit(self._dave_transition_id)

    def _voice_seq(self) -> int:
        """The sequence number of the last voice-gateway message (JSON or binary DAVE) discord.py received."""
        ws = self._connection.ws
        return int(getattr(ws, "seq_ack", -1))

    # -- voice gateway hook (event loop) ----------------------------------------------------------------------

    async def _on_voice_message(self, _ws: Any, message: dict[str, Any]) -> None:
        try:
            self._handle_voice_message(message["op"], message.get("d") or {})
        except Exception:  # a bad payload must not break discord.py's websocket loop
            log.exception("voice message not understood", op=message.get("op"))

    def _handle_voice_message(self, op: int, data: dict[str, Any]) -> None:
        if op == OP_READY and not self._listening:
            # The UDP socket exists from here on; registering earlier would make the reader spin on no socket.
            self._connection.add_socket_listener(self.pipeline.on_datagram)
            self._listening = True
        elif op == OP_SESSION_DESCRIPTION:
            self.pipeline.set_transport(transport_decryptor(data["mode"], bytes(data["secret_key"])))
            log.info("voice session described", mode=data["mode"], dave=data.get("dave_protocol_version"))
        elif op == OP_SPEAKING:
            user_id, ssrc = int(data["user_id"]), int(data["ssrc"])
            self.connected_user_ids.add(user_id)
            self.pipeline.on_speaking(user_id, ssrc)
            if self._on_speaker is not None:
                self._on_speaker(user_id)
        elif op == OP_CLIENT_CONNECT and data.get("audio_ssrc"):
            self.pipeline.on_speaking(int(data["user_id"]), int(data["audio_ssrc"]))
        elif op == OP_CLIENTS_CONNECT:
            self.connected_user_ids.update(int(user) for user in data.get("user_ids", ()))
        elif op == OP_CLIENT_DISCONNECT:
            self.connected_user_ids.discard(int(data["user_id"]))
        elif op in (OP_DAVE_PREPARE_TRANSITION, OP_DAVE_EXECUTE_TRANSITION):
            self._dave_transition_id = int(data.get("transition_id", 0))

    def cleanup(self) -> None:
        if self._dave_recovery is not None:
            self._dave_recovery.cancel()  # a deferred recovery must not outlive the connection
        super().cleanup()

    def stop_listening(self) -> None:
        """Stop handing datagrams to the pipeline (before the final flush)."""
        if self._listening:
            self._connection.remove_socket_listener(self.pipeline.on_datagram)
            self._listening = False

    # The recorder never sends audio; this only keeps ``play()`` working if the AES mode was chosen.
    def _encrypt_aead_aes256_gcm_rtpsize(self, header: bytes, data: bytes) -> bytes:
        nonce = struct.pack(">I", self._incr_nonce)
        self.checked_add("_incr_nonce", 1, 4294967295)
        return header + AESGCM(bytes(self.secret_key)).encrypt(nonce + bytes(8), bytes(data), bytes(header)) + nonce


def _log_task_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("dave recovery failed", error=repr(task.exception()))
