"""Every discord.py and PyNaCl name Pandora relies on that is not their documented API, and only here.

Written against discord.py 2.7.1, PyNaCl 1.5.0 and davey 0.1.7 (the pins in ``pyproject.toml``). ``INTERNALS``
lists each such name with the reason Pandora needs it; ``tests/core/test_discordpy_compat.py`` looks every one up
on the installed classes, so an upgrade that renames or removes one fails that test instead of breaking a
recording silently. The rest of Pandora calls what is below by what it does:

- ``point_discord_py_at``: another REST base and gateway URL (the simulator, a proxy);
- ``fetch_session_start_limit``: ``GET /gateway/bot``'s ``session_start_limit`` through a logged-in client;
- ``libsodium_path``: the libsodium that PyNaCl bundles, for the recorder's GIL-holding XChaCha20 call;
- ``HookedVoiceClient``: a ``discord.VoiceClient`` that hands every voice-gateway message to
  ``on_voice_gateway_message``, feeds UDP datagrams to listeners, reads the connection's DAVE state, asks for a new
  DAVE key, and can send in AES-256-GCM; its connection state wakes discord.py's socket reader when a reconnect
  replaces the UDP socket (``ReaderWakingConnectionState``), identifies afresh at once when a voice RESUME is
  refused (``ResumeFallbackConnectionState``), waits less before a reconnect, starting over after a stable
  connection (``BackoffResettingConnectionState``), and misses no state change while it connects
  (``StateWaitingConnectionState``).

discord.py is imported at the top: only code that runs discord.py imports this module (``pandora.discord_connection``
does so inside ``apply()``, so the core stays importable without it). PyNaCl is imported where it is used: the
operator image has discord.py without its voice extras.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import select
import socket
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
import discord.gateway
import discord.http
import discord.voice_state
from discord.voice_state import ConnectionFlowState, VoiceConnectionState

from pandora.logging import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

log = get_logger(__name__)


@dataclass(frozen=True)
class Internal:
    """One name outside discord.py's or PyNaCl's documented API: ``owner`` is a dotted path to a module, a class or
    (for a keyword parameter) a function; ``name`` is looked up on it, or on an instance for instance attributes."""

    owner: str
    name: str
    reason: str


VOICE_CLIENT = "discord.voice_client.VoiceClient"
CONNECTION_STATE = "discord.voice_state.VoiceConnectionState"
VOICE_WEBSOCKET = "discord.gateway.DiscordVoiceWebSocket"

INTERNALS: tuple[Internal, ...] = (
    Internal("discord.http.Route", "BASE",
             "REST base URL; discord.py has no option for another one, every Route reads this class attribute"),
    Internal("discord.gateway.DiscordWebSocket", "DEFAULT_GATEWAY",
             "gateway URL discord.py connects to when it has no resume URL; no option either"),
    Internal("discord.client.Client", "http",
             "the client's REST session (rate limits, REST base); GET /gateway/bot goes through it"),
    Internal("discord.http.HTTPClient", "get_bot_gateway",
             "GET /gateway/bot with session_start_limit; public only as AutoShardedClient.fetch_session_start_limits,"
             " and the recorder is not sharded"),
    Internal(VOICE_CLIENT, "supported_modes",
             "transport modes discord.py may pick from the server's list; 2.7.1 lacks AES-256-GCM"),
    Internal(VOICE_CLIENT, "create_connection_state",
             "called inside VoiceClient.__init__: the only place to give the connection state a hook"),
    Internal(f"{CONNECTION_STATE}.__init__", "hook",
             "awaited after discord.py handled each JSON voice-gateway message: op 4 key, op 5 SSRC, DAVE ids"),
    Internal(VOICE_CLIENT, "_connection", "the VoiceConnectionState behind a voice client"),
    Internal(CONNECTION_STATE, "_create_socket",
             "makes the UDP socket of each connection: where ReaderWakingConnectionState wakes the socket reader"),
    Internal(CONNECTION_STATE, "socket", "the connection's UDP socket"),
    Internal(CONNECTION_STATE, "_connect_websocket",
             "opens each voice websocket with RESUME or IDENTIFY: where a refused resume turns into an IDENTIFY"),
    Internal(CONNECTION_STATE, "_handshake_websocket",
             "waits for the new websocket's key: where ResumeFallbackConnectionState sees a resume refused"),
    Internal(CONNECTION_STATE, "ws", "the connection's voice websocket, replaced by the fallback IDENTIFY's"),
    Internal(CONNECTION_STATE, "_poll_voice_ws",
             "the voice websocket poller (its own task), which reconnects: BackoffResettingConnectionState marks it"),
    Internal(CONNECTION_STATE, "_wait_for_state",
             "waits for the connection flow's states; StateWaitingConnectionState waits without missing a change"),
    Internal(CONNECTION_STATE, "_state_event", "set and cleared at each state change: what a wait waits on"),
    Internal("discord.voice_state", "ExponentialBackoff",
             "the name the poller builds its reconnect backoff with (only there); replaced by a factory that gives"
             " our connections' pollers a backoff that starts over"),
    Internal("discord.voice_state.ConnectionFlowState", "got_ip_discovery", "a reconnect past IP discovery"),
    Internal("discord.voice_state.ConnectionFlowState", "connected", "a connection fully up"),
    Internal(CONNECTION_STATE, "add_socket_listener",
             "every UDP datagram, on discord.py's socket reader thread: the only receive path discord.py has"),
    Internal(CONNECTION_STATE, "remove_socket_listener", "stop receiving before the final flush"),
    Internal(CONNECTION_STATE, "dave_session",
             "the davey session discord.py keeps in step with the voice gateway; it decrypts received frames too"),
    Internal(CONNECTION_STATE, "dave_protocol_version",
             "0 in a transport-only call: only then may a frame pass without DAVE"),
    Internal(CONNECTION_STATE, "dave_pending_transitions",
             "a DAVE transition under way: re-keying now would lose it"),
    Internal(CONNECTION_STATE, "_recover_from_invalid_commit",
             "discord.py's own DAVE recovery (op 31, fresh key package), for frames that keep failing"),
    Internal(VOICE_CLIENT, "ws", "the voice websocket of the current connection"),
    Internal(VOICE_WEBSOCKET, "seq_ack", "sequence of the last voice-gateway message: tells when it has gone quiet"),
    Internal(VOICE_CLIENT, "_encrypt_aead_xchacha20_poly1305_rtpsize",
             "discord.py sends through '_encrypt_' + mode; HookedVoiceClient adds the AES-256-GCM sibling"),
    Internal(VOICE_CLIENT, "_incr_nonce", "the rtpsize nonce counter the AES-256-GCM sender shares with discord.py"),
    Internal(VOICE_CLIENT, "checked_add", "wraps the nonce counter like discord.py's own senders"),
    Internal(VOICE_CLIENT, "secret_key", "the transport key of the session description"),
    Internal("nacl._sodium", "__file__",
             "the libsodium PyNaCl bundles, loaded with ctypes.PyDLL: PyNaCl's binding drops the GIL per call"),
)

# davey is public API, but 0.x: what the recorder calls on the session discord.py hands out, checked the same way.
DAVEY_API: tuple[Internal, ...] = (
    Internal("davey.DaveSession", "ready", "frames are only decrypted once our MLS group is established"),
    Internal("davey.DaveSession", "epoch", "a new epoch means new keys: frames that failed are tried again"),
    Internal("davey.DaveSession", "decrypt", "(user id, media type, frame) -> Opus; ValueError when it cannot"),
    Internal("davey.MediaType", "audio", "the media type of every frame the recorder decrypts"),
)


def point_discord_py_at(api_url: str, gateway_url: str) -> None:
    """Make every discord.py client in this process use ``api_url`` (with the version) and ``gateway_url``."""
    import yarl

    discord.http.Route.BASE = api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


async def fetch_session_start_limit(client: discord.Client) -> dict[str, Any]:
    """``session_start_limit`` of ``GET /gateway/bot`` (total, remaining, reset_after in ms, max_concurrency)."""
    _shards, _url, limit = await client.http.get_bot_gateway()
    return dict(limit)


def libsodium_path() -> str:
    """The file of the libsodium build that PyNaCl ships (a Python extension module that exports libsodium)."""
    import nacl._sodium

    return str(nacl._sodium.__file__)


class ReaderWakingConnectionState(VoiceConnectionState):
    """discord.py's socket reader thread waits in ``select()`` on the UDP socket, 30 s at a time. A reconnect that is
    no resume (voice close 4006, 1006, a TCP reset) closes that socket and makes a new one, but a ``select()`` already
    waiting listens to the old socket only: the reader missed the new socket's IP discovery reply for up to 30 s, the
    reconnect stalled after the voice READY, and the recording ended as voice_lost. So each socket is kept open by a
    duplicate of its descriptor until the next one exists; then datagrams to the old one (re-pointed at a local
    sender: a connected UDP socket takes datagrams from its peer only) wake the reader every 0.1 s, so that it looks
    at its descriptor again and finds the reply, until the new connection is past IP discovery."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._previous_socket: socket.socket | None = None
        self._waking: asyncio.Task[None] | None = None

    def _create_socket(self) -> None:
        super()._create_socket()
        previous, self._previous_socket = self._previous_socket, self.socket.dup()
        if previous is not None:
            self._waking = asyncio.get_running_loop().create_task(self._wake_reader(previous))

    async def disconnect(self, *, force: bool = True, cleanup: bool = True, wait: bool = False) -> None:
        try:
            await super().disconnect(force=force, cleanup=cleanup, wait=wait)
        finally:
            if cleanup and self._previous_socket is not None:
                self._previous_socket.close()
                self._previous_socket = None

    async def _wake_reader(self, previous: socket.socket) -> None:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
                waker.bind(("127.0.0.1", 0))
                previous.connect(waker.getsockname())
                old = ("127.0.0.1", previous.getsockname()[1])
                for _ in range(WAKE_TRIES):
                    if self.state in (ConnectionFlowState.got_ip_discovery, ConnectionFlowState.connected):
                        break
                    waker.sendto(b"\0", old)
                    await asyncio.sleep(WAKE_EVERY)
        except OSError as error:
            log.debug("could not wake the socket reader", error=str(error))
        finally:
            previous.close()


WAKE_EVERY = 0.1
WAKE_TRIES = 150  # 15 s: the session gives a voice connection up after 10 s without it (voice_lost)


class ResumeFallbackConnectionState(ReaderWakingConnectionState):
    """discord.py resumes (voice op 7) after a 4015 only, having sent op 4 and got both voice updates first. When the
    voice server refuses the resume (closes the new socket, 4006 when the session is gone), discord.py's connect
    loop leaves the channel (op 4 null, which ends the voice session for good), waits 1 s, joins again and sends
    RESUME again, which can only be refused again; with 3, 5 and 7 s between the next tries the recording lost its
    voice (voice_lost after 10 s). Discord's voice document: a resume that is unsuccessful closes the socket, "you
    should then follow the Connecting flow to reconnect". Of that flow only the IDENTIFY is left (session id, token
    and endpoint came with the updates just before the RESUME), so it is sent at once on a new websocket, over the
    same UDP socket; if that fails too, discord.py's own retries go on, as IDENTIFYs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resuming = False
        self._resume_refused = False

    async def _connect_websocket(self, resume: bool) -> discord.gateway.DiscordVoiceWebSocket:
        self._resuming = resume and not self._resume_refused
        return await super()._connect_websocket(self._resuming)

    async def _handshake_websocket(self) -> None:
        try:
            await super()._handshake_websocket()
        except discord.ConnectionClosed as refused:
            if not self._resuming or refused.code in REMOVED_FROM_CALL:
                raise
            log.info("voice resume refused; identifying afresh", code=refused.code)
            self._resume_refused = True
            await self.ws.close()  # stops its heartbeat thread; the server has closed it already
            self.ws = await self._connect_websocket(resume=False)
            await super()._handshake_websocket()
        self._resume_refused = False


REMOVED_FROM_CALL = (4014, 4022)  # disconnected, call terminated: discord.py does not reconnect after these


class BackoffResettingConnectionState(ResumeFallbackConnectionState):
    """Before each reconnect that is no resume (4006, 1006, a TCP reset) discord.py's websocket poller waits
    ``ExponentialBackoff().delay()``: a random 0-2 s, then 0-4, 0-8 ... 0-1024 s, and that backoff starts over only
    after 34 minutes without a reconnect (2^11 s). So a recording whose voice was closed now and then waited longer
    each time, whether or not the connections between had been fine: 0.3, 3.5, 6.3, 1.5, 11.7, then 43.5 s in a
    3-minute chaos run, and the recorder lost its voice. Here the poller of our connections gets a
    ``ReconnectBackoff`` instead, which starts over once a connection stayed up ``STABLE_AFTER`` seconds and
    begins lower: audio lost is lost for good, and a single recorder does not hammer a voice server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connected_at: float | None = None  # when the last handshake completed; taken by the next delay

    async def _handshake_websocket(self) -> None:
        await super()._handshake_websocket()
        self.connected_at = time.monotonic()

    async def _poll_voice_ws(self, reconnect: bool) -> None:
        # The poller runs as its own task: the variable is set in that task's context only.
        _POLLING.set(self)
        await super()._poll_voice_ws(reconnect)


class ReconnectBackoff:
    """What the poller asks before a reconnect: a random delay below ``FIRST_RETRY_WITHIN``, doubling with each
    reconnect that follows a connection up less than ``STABLE_AFTER`` s (or none), up to 2^9 times."""

    def __init__(self, connection: BackoffResettingConnectionState) -> None:
        self._connection = connection
        self._retries = 0

    def delay(self) -> float:
        connected_at, self._connection.connected_at = self._connection.connected_at, None
        if connected_at is not None and time.monotonic() - connected_at >= STABLE_AFTER:
            self._retries = 0
        self._retries = min(self._retries + 1, 10)
        return random.uniform(0, FIRST_RETRY_WITHIN * 2 ** (self._retries - 1))


FIRST_RETRY_WITHIN = 0.5
STABLE_AFTER = 10.0
_POLLING: contextvars.ContextVar[BackoffResettingConnectionState | None] = contextvars.ContextVar(
    "pandora_voice_poller", default=None)
_DISCORD_PY_BACKOFF = discord.voice_state.ExponentialBackoff


def _voice_reconnect_backoff(*args: Any, **kwargs: Any) -> Any:
    """What ``discord.voice_state`` builds its poller's backoff with: ours for our connections' pollers,
    discord.py's own for any other voice client in the process."""
    connection = _POLLING.get()
    return _DISCORD_PY_BACKOFF(*args, **kwargs) if connection is None else ReconnectBackoff(connection)


discord.voice_state.ExponentialBackoff = _voice_reconnect_backoff  # type: ignore[assignment,misc]


class StateWaitingConnectionState(BackoffResettingConnectionState):
    """discord.py's ``_wait_for_state`` checks the state, then waits on ``_state_event`` in a task of its own
    (``sane_wait_for``), and each state change sets that event and clears it at once. Changes made before that task
    first runs are missed: the gateway reader handles VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE in one go when
    both are buffered, and the connect then waited for "both voice updates" until its timeout (30 s, then the
    recorder gave up; seen on a loaded machine). Here the state is checked again in the same step that starts each
    wait, so no change falls between."""

    async def _wait_for_state(self, state: ConnectionFlowState, *other_states: ConnectionFlowState,
                              timeout: float | None = None) -> None:
        states = (state, *other_states)

        async def reached() -> None:
            while self.state not in states:
                await self._state_event.wait()

        await asyncio.wait_for(reached(), timeout)


class HookedVoiceClient(discord.VoiceClient):
    """``discord.VoiceClient`` with the voice internals a receiving client needs, under names that say what they do.

    Subclasses override ``on_voice_gateway_message``; ``transport_modes`` are the modes discord.py may choose from
    (it takes the first of the server's modes that is among them).
    """

    def __init__(self, client: discord.Client, channel: discord.abc.Connectable, *,
                 transport_modes: tuple[str, ...]) -> None:
        self.supported_modes = transport_modes  # type: ignore[assignment]
        super().__init__(client, channel)  # type: ignore[arg-type]

    def create_connection_state(self) -> VoiceConnectionState:
        return StateWaitingConnectionState(self, hook=self._voice_gateway_hook)

    async def _voice_gateway_hook(self, _ws: Any, message: dict[str, Any]) -> None:
        try:
            self.on_voice_gateway_message(int(message["op"]), message.get("d") or {})
        except Exception:  # an exception here would end discord.py's voice websocket loop
            log.exception("voice message not understood", op=message.get("op"))

    def on_voice_gateway_message(self, op: int, data: dict[str, Any]) -> None:
        """A JSON voice-gateway message, after discord.py handled it (event loop)."""

    # -- UDP ------------------------------------------------------------------------------------------------------

    def listen_to_datagrams(self, callback: Callable[[bytes], None]) -> None:
        """``callback`` gets every UDP datagram on discord.py's socket reader thread (register after voice op 2)."""
        self._connection.add_socket_listener(callback)

    def stop_listening_to_datagrams(self, callback: Callable[[bytes], None]) -> None:
        self._connection.remove_socket_listener(callback)

    def datagrams_waiting(self) -> bool:
        """Whether the UDP socket holds datagrams that the socket reader thread has not read yet."""
        try:
            readable, _, _ = select.select([self._connection.socket], [], [], 0)
        except (ValueError, TypeError, OSError):  # no socket (yet, or any more)
            return False
        return bool(readable)

    # -- DAVE -----------------------------------------------------------------------------------------------------

    def davey_session(self) -> Any:
        """The connection's current ``davey.DaveSession``, or None before the first DAVE session description."""
        return self._connection.dave_session

    def dave_version(self) -> int:
        """The call's DAVE protocol version; 0 when it is transport-only."""
        return self._connection.dave_protocol_version

    def dave_transition_pending(self) -> bool:
        return bool(self._connection.dave_pending_transitions)

    def voice_gateway_seq(self) -> int:
        """The sequence number of the last voice-gateway message (JSON or binary) discord.py received."""
        return int(getattr(self.ws, "seq_ack", -1))  # ws is discord.utils.MISSING before the first connect

    async def request_new_dave_key(self, transition_id: int) -> None:
        """Report our DAVE group state as broken (op 31) and send a fresh key package; the voice gateway then
        removes and re-adds us and sends a new welcome."""
        await self._connection._recover_from_invalid_commit(transition_id)

    # -- sending (the recorder never sends; this keeps ``play()`` working when AES-256-GCM was chosen) ----------

    def _encrypt_aead_aes256_gcm_rtpsize(self, header: bytes, data: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = struct.pack(">I", self._incr_nonce)
        self.checked_add("_incr_nonce", 1, 4294967295)
        return header + AESGCM(bytes(self.secret_key)).encrypt(nonce + bytes(8), bytes(data), bytes(header)) + nonce
