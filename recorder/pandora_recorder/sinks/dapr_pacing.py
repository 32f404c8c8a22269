"""A recording's start history (``pandora.identify.restarts``) in the Dapr state store, beside its resume record.

The IDENTIFY slots every process of a token shares there are ``pandora.identify.dapr_slots``.
"""

from __future__ import annotations

from dapr.clients import DaprClient

from pandora.identify.restarts import StartHistory


class DaprStartHistory:
    def __init__(self, client: DaprClient, store: str, location: str, recording_id: int) -> None:
        self.client = client
        self.store = store
        self.key = f"pandora-starts|{location}{recording_id}"

    def load(self) -> StartHistory | None:
        state = self.client.get_state(self.store, self.key)
        return StartHistory.from_json(state.data) if state.data else None

    def save(self, history: StartHistory) -> None:
        self.client.save_state(self.store, self.key, history.to_json())
