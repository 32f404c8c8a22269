"""IDENTIFY slots (``pandora.identify.slots``) in a Dapr state store, shared by every process of a token that has a
sidecar on it: the recorder pods and the Kubernetes front door. Filed under the token's hash.

The state store must not prefix keys with the app id (``keyPrefix: name``, as the chart's and ``components/``'s
``pandora-statestore``): the front door and the recorder pods have different app ids, and must see one key.
Slots are reserved read-modify-write with the etag of the read (first-write concurrency): of two processes
reserving at once, one gets ABORTED, reads again and takes the slot after the other's.
"""

from __future__ import annotations

import json

import grpc
from dapr.clients import DaprClient
from dapr.clients.grpc._state import Concurrency, Consistency, StateOptions

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
