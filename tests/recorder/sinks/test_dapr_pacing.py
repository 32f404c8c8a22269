"""IDENTIFY slots and start histories in the Dapr state store (real daprd and Redis), shared by recorder pods."""

from __future__ import annotations

import itertools
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pandora.identify.dapr_slots import DaprIdentifySlots
from pandora.identify.limits import SessionStartLimit
from pandora.identify.slots import IDENTIFY_WINDOW, SLOT_SPACING
from pandora_recorder.pacing import recorder_pacer

sys.path.insert(0, str(Path(__file__).parents[2] / "core" / "identify"))
from fake_time import FakeTime

pytestmark = pytest.mark.timeout(90)


async def plenty() -> SessionStartLimit:
    return SessionStartLimit(total=1000, remaining=900, reset_after=3600.0, max_concurrency=1)


def test_pods_reserving_at_once_get_slots_a_window_apart(dapr_sink_factory) -> None:
    token = f"token-{uuid.uuid4().hex}"
    pods = [dapr_sink_factory() for _ in range(5)]  # each its own Dapr client, as in its own pod
    slots = [DaprIdentifySlots(pod.client, pod.resume.store, token) for pod in pods]
    with ThreadPoolExecutor(len(slots)) as pool:
        reserved = sorted(pool.map(lambda pod_slots: pod_slots.reserve(0, 1000.0), slots))
    assert reserved[0] == 1000.0
    assert all(later - earlier >= IDENTIFY_WINDOW for earlier, later in itertools.pairwise(reserved))
    assert reserved[-1] == 1000.0 + 4 * SLOT_SPACING


async def test_a_pod_restarted_after_failures_backs_off_from_the_history_its_predecessor_left(
        dapr_sink_factory) -> None:
    token, recording_id, clock = f"token-{uuid.uuid4().hex}", 8080, FakeTime()
    starts = []
    for _ in range(6):  # every pod fails at once; the next one is a new pod with a new Dapr client
        await recorder_pacer(dapr_sink_factory(), token, recording_id, clock=clock.time,
                             sleep=clock.sleep).first_identify(plenty)
        starts.append(clock.now)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps == [SLOT_SPACING, SLOT_SPACING, SLOT_SPACING, 8.0, 16.0]
