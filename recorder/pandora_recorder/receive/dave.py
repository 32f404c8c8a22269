"""DAVE (end-to-end) decryption of one sender's frame, with the protocol's passthrough rules.

Rules (DAVE protocol 1.1, "Passthrough Mode", "Protocol Frame Check", "Silence Packets"):
- the SFU's silence frame ``F8 FF FE`` always passes untransformed;
- while our MLS group is not ready, a plain frame passes only in a transport-only session (protocol version 0);
  an end-to-end encrypted frame cannot be read yet (``DAVE_NOT_READY``): the pipeline holds it for a retry once
  we are in the group (``retry.py``) and drops it if that does not come in time - never replaced by anything;
- otherwise davey decides (it applies passthrough itself during transitions) and raises ``ValueError`` on
  failure.
Recovery: like other DAVE receivers (discord.js voice counts consecutive failures), after ``failure_tolerance``
consecutive failures with a ready group - or when end-to-end encrypted frames keep arriving for
``not_ready_timeout`` seconds while we have no group at all - the decryptor calls the voice connection's
``on_dave_failure``, which re-keys: flag the group as broken (op 31) and send a fresh key package, which makes the
gateway remove and re-add us and deliver a new welcome. A cool-down keeps one broken sender from making us re-key
over and over.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Protocol

import davey

from pandora_recorder.receive.drops import Drop, DropReason

SILENCE_FRAME = b"\xf8\xff\xfe"
PROTOCOL_MAGIC = b"\xfa\xfa"  # every DAVE protocol frame ends with this marker
DEFAULT_FAILURE_TOLERANCE = 36
DEFAULT_RECOVERY_COOLDOWN = 10.0
DEFAULT_NOT_READY_TIMEOUT = 5.0  # joining takes well under a second; a group missing this long is not coming
_AUDIO = davey.MediaType.audio


def is_protocol_frame(frame: bytes) -> bool:
    return frame[-2:] == PROTOCOL_MAGIC


class DaveConnection(Protocol):
    """The voice connection's side of DAVE, as the decryptor sees it. Called on the socket reader thread (and under
    the pipeline's lock on the event loop): nothing here may block."""

    def davey_session(self) -> Any:
        """The current ``davey.DaveSession``, or None."""
        ...

    def dave_version(self) -> int:
        """0 in a transport-only call."""
        ...

    def on_dave_failure(self) -> None:
        """Decryption keeps failing: re-key."""
        ...


class _TransportOnly:
    """What the decryptor sees until a voice connection is attached: no DAVE in this call."""

    def davey_session(self) -> None:
        return None

    def dave_version(self) -> int:
        return 0

    def on_dave_failure(self) -> None:
        pass


class DaveDecryptor:
    """Decrypts frames with whatever DAVE session the attached voice connection currently holds."""

    def __init__(
        self,
        *,
        failure_tolerance: int = DEFAULT_FAILURE_TOLERANCE,
        recovery_cooldown: float = DEFAULT_RECOVERY_COOLDOWN,
        not_ready_timeout: float = DEFAULT_NOT_READY_TIMEOUT,
    ) -> None:
        self._failure_tolerance = failure_tolerance
        self._recovery_cooldown = recovery_cooldown
        self._not_ready_timeout = not_ready_timeout
        self._not_ready_since: float | None = None
        self._consecutive_failures = 0
        self._last_recovery = -float("inf")
        self.recoveries = 0
        self.failure_kinds: Counter[str] = Counter()  # davey's error messages, for logs and diagnosis
        self.attach(_TransportOnly())

    def attach(self, connection: DaveConnection) -> None:
        """Read DAVE state from ``connection`` and tell it when to re-key (bound methods: this is the hot path)."""
        self._session_of = connection.davey_session
        self._protocol_version_of = connection.dave_version
        self._on_failure = connection.on_dave_failure

    def decrypt(self, user_id: int, frame: bytes) -> bytes:
        if frame == SILENCE_FRAME:
            return frame
        session = self._session_of()
        if session is None or not session.ready:
            if is_protocol_frame(frame):
                self._not_ready()
                raise Drop(DropReason.DAVE_NOT_READY)
            if self._protocol_version_of() == 0:
                return frame
            raise Drop(DropReason.DAVE_PLAIN_REFUSED)
        try:
            plain: bytes = session.decrypt(user_id, _AUDIO, frame)
        except ValueError as error:
            self.failure_kinds[str(error).split(" {", 1)[0]] += 1  # the kind, without per-frame sizes
            self._failed()
            raise Drop(DropReason.DAVE_FAILED) from None
        self._consecutive_failures = 0
        self._not_ready_since = None
        return plain

    def epoch(self) -> int | None:
        """Our MLS epoch (None without a ready group): a change means new keys arrived."""
        session = self._session_of()
        return session.epoch if session is not None and session.ready else None

    def _not_ready(self) -> None:
        now = time.monotonic()
        if self._not_ready_since is None:
            self._not_ready_since = now
        elif now - self._not_ready_since >= self._not_ready_timeout:
            self._not_ready_since = None
            self._recover(now)

    def _failed(self) -> None:
        self._consecutive_failures += 1
        if self._consecutive_failures >= self._failure_tolerance:
            self._consecutive_failures = 0
            self._recover(time.monotonic())

    def _recover(self, now: float) -> None:
        if now - self._last_recovery < self._recovery_cooldown:
            return
        self._last_recovery = now
        self.recoveries += 1
        self._on_failure()
