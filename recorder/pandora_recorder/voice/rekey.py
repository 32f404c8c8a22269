"""Re-keying a voice connection whose DAVE decryption keeps failing, once its voice gateway has gone quiet.

Re-keying is discord.py's own recovery: report op 31 (invalid commit/welcome) and send a fresh key package, after
which the gateway removes and re-adds us and we get a new welcome. That resets our MLS session, so it waits until
the voice gateway has sent nothing for a while and no transition is pending: proposals or a commit already on
their way would reach the reset session, davey refuses them, and discord.py 2.7.1 lets a refused proposal end its
voice websocket loop - we would never read our welcome and stay deaf. The gateway sends us nothing more once it
has our op 31.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pandora.discordpy_compat import HookedVoiceClient
from pandora.logging import get_logger

log = get_logger(__name__)

# A DAVE round's messages follow each other within a round trip or two: this much silence means it is over. How
# often to look, and the longest we defer (a busy call still recovers).
DAVE_QUIET_SECONDS = 0.5
DAVE_QUIET_POLL = 0.05
DAVE_RECOVERY_MAX_DEFER = 5.0


class DaveRekey:
    """At most one deferred re-key of ``voice`` at a time (event loop)."""

    def __init__(self, voice: HookedVoiceClient) -> None:
        self._voice = voice
        self._transition_id = 0  # the latest DAVE transition the gateway announced (ops 21, 22)
        self._task: asyncio.Task[None] | None = None

    def transition_seen(self, transition_id: int) -> None:
        self._transition_id = transition_id

    def start(self) -> None:
        if not self._voice.is_connected() or (self._task is not None and not self._task.done()):
            return
        self._task = self._voice.loop.create_task(self._when_quiet())
        self._task.add_done_callback(_log_failure)

    def cancel(self) -> None:
        """A deferred re-key must not outlive the connection."""
        if self._task is not None:
            self._task.cancel()

    async def _when_quiet(self) -> None:
        voice, loop = self._voice, self._voice.loop
        deadline = loop.time() + DAVE_RECOVERY_MAX_DEFER
        last_seq, quiet_since = voice.voice_gateway_seq(), loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(DAVE_QUIET_POLL)
            seq = voice.voice_gateway_seq()
            if seq != last_seq or voice.dave_transition_pending():
                last_seq, quiet_since = seq, loop.time()
            elif loop.time() - quiet_since >= DAVE_QUIET_SECONDS:
                break
        if not voice.is_connected():
            return
        log.warning("dave decryption keeps failing, asking for a new key", transition_id=self._transition_id)
        await voice.request_new_dave_key(self._transition_id)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("dave recovery failed", error=repr(task.exception()))
