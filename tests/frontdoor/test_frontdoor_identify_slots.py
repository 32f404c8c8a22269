"""The Kubernetes front door reserves its IDENTIFY slots in the recorder pods' Dapr state store (real daprd and
Redis), under its own app id: together they keep to one IDENTIFY per bucket per 5 s."""

from __future__ import annotations

import uuid

import pytest
from dapr.clients import DaprClient

from pandora.identify.dapr_slots import DaprIdentifySlots
from pandora.identify.slots import SLOT_SPACING
from pandora.recording_api.recorder import ENV_STATE_STORE
from pandora_frontdoor.commands.frontdoor import identify_slots
from pandora_testenv.services import STATE_STORE

pytestmark = [pytest.mark.timeout(90), pytest.mark.dapr]


def test_front_door_and_recorder_pods_with_other_app_ids_take_turns(daprd_factory, monkeypatch) -> None:
    token = f"token-{uuid.uuid4().hex}"
    door_sidecar = daprd_factory(f"pandora-frontdoor-{uuid.uuid4().hex[:6]}")
    pod_sidecar = daprd_factory(f"pandora-recorder-{uuid.uuid4().hex[:6]}")
    for key, value in door_sidecar.env().items():  # the front door's process environment
        monkeypatch.setenv(key, value)
    door = identify_slots({ENV_STATE_STORE: STATE_STORE, "PANDORA_TOKEN": token})
    assert isinstance(door, DaprIdentifySlots)
    with DaprClient(address=f"127.0.0.1:{pod_sidecar.grpc_port}") as pod_client:
        pod = DaprIdentifySlots(pod_client, STATE_STORE, token)
        taken = [pod.reserve(0, 1000.0), door.reserve(0, 1000.0), pod.reserve(0, 1000.0)]
        other_bucket = door.reserve(1, 1000.0)
    assert taken == [1000.0, 1000.0 + SLOT_SPACING, 1000.0 + 2 * SLOT_SPACING]
    assert other_bucket == 1000.0  # buckets (max_concurrency > 1) do not wait for each other


def test_without_a_state_store_the_slots_are_the_front_doors_own() -> None:
    slots = identify_slots({"PANDORA_TOKEN": "t"})
    assert slots.reserve(0, 50.0) == 50.0 and slots.reserve(0, 50.0) == 50.0 + SLOT_SPACING
    assert not isinstance(slots, DaprIdentifySlots)
