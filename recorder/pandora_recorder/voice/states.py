"""The recorder session's lifecycle as an explicit state machine."""

from __future__ import annotations

from enum import Enum


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
    SessionState.CREATED: {SessionState.CONNECTING, SessionState.FAILED},
    SessionState.CONNECTING: {SessionState.RECORDING, SessionState.STOPPING, SessionState.FAILED},
    SessionState.RECORDING: {SessionState.STOPPING, SessionState.FAILED},
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
        """Go to ``target``; raises ``RuntimeError`` for a transition the lifecycle does not allow."""
        if target not in ALLOWED[self.state]:
            raise RuntimeError(f"recorder session cannot go from {self.state.value} to {target.value}")
        previous, self.state = self.state, target
        self.history.append(target)
        return previous
