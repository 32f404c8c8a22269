"""IDENTIFY slots and start histories (``pandora.identify``) in the Dapr state store, which every recorder pod of
a token shares: slots under the token's hash, a recording's start history beside its resume record.

Slots are reserved read-modify-write with the etag of the read (first-write concurrency): of two pods reserving
at once, one gets ABORTED, reads again and takes the slot after the other's.
"""

from __future__ import annotations

import json

import grpc
from dapr.clients import DaprClient
from dapr.clients.grpc._state import Concurrency, Consistency, StateOptions

from pandora.identify.restarts import StartHistory
from pandora.identify.slots import next_slot, token_key

_GUARDED = StateOptions(concurrency=Concurrency.first_write, consistency=Consistency.strong)
RESERVE_ATTEMPTS = 20


class DaprIdentifySlots:
    def __init__(self, client: DaprClient, store: str, token: str) -> None:
        self.client = client
        self.store = store
        self.key = f"pandora-identify|{token_key(token)}"

    def reserve(self, bucket: int, now: float) -> float:
        for attempt in range(RESERVE_ATTEMPTS):
            state = self.client.get_state(self.store, self.key)
            slots: dict[str, float] = json.loads(state.data) if state.data else {}
            slot = next_slot(slots.get(str(bucket)), now)
            slots[str(bucket)] = slot
            try:
                self.client.save_state(self.store, self.key, json.dumps(slots), etag=state.etag or None,
                                       options=_GUARDED)
                return slot
            except grpc.RpcError:  # another pod wrote in between (stale etag, or created the key first)
                if attempt == RESERVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")


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
