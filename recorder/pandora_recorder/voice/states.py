"""The recorder session's lifecycle as an explicit state machine (like discord.py's ``ConnectionFlowState``).

Every session, failed or not, leaves through STOPPING and LEAVING: what reached the pipeline is written, voice is
left and the nickname restored. FAILED ends a session whose start or shutdown went wrong.
"""

from __future__ import annotations

from enum import Enum

from pandora.logging import get_logger

log = get_logger(__name__)


class SessionState(Enum):
    CREATED = "created"
    CONNECTING = "connecting"  # writer open, nickname set, joining voice
    RECORDING = "recording"  # datagrams flow into the pipeline
    STOPPING = "stopping"  # no more datagrams; reorder window and writer drain to the sink
    LEAVING = "leaving"  # leave voice, restore the nickname
    FINISHED = "finished"
    FAILED = "failed"


class StopReason(Enum):
    SIGNAL = "signal"
    MAX_DURATION = "max_duration"
    EMPTY_CHANNEL = "empty_channel"
    VOICE_LOST = "voice_lost"
    REQUESTED = "requested"
    CONNECT_FAILED = "connect_failed"
    STORAGE_FAILED = "storage_failed"  # the writer could not keep writing (sink failure, recording taken over)


ALLOWED = {
    SessionState.CREATED: {SessionState.CONNECTING},
    SessionState.CONNECTING: {SessionState.RECORDING, SessionState.STOPPING},  # stopping: failed, or asked to
    SessionState.RECORDING: {SessionState.STOPPING},
    SessionState.STOPPING: {SessionState.LEAVING, SessionState.FAILED},
    SessionState.LEAVING: {SessionState.FINISHED, SessionState.FAILED},
    SessionState.FINISHED: set(),
    SessionState.FAILED: set(),
}


class StateMachine:
    def __init__(self) -> None:
        self.state = SessionState.CREATED
        self.history: list[SessionState] = [self.state]

    def move(self, target: SessionState) -> SessionState:
        """Go to ``target`` and log it; raises ``RuntimeError`` for a transition the lifecycle does not allow."""
        if target not in ALLOWED[self.state]:
            raise RuntimeError(f"recorder session cannot go from {self.state.value} to {target.value}")
        previous, self.state = self.state, target
        self.history.append(target)
        log.info("recorder session state", previous=previous.value, state=target.value)
        return previous
