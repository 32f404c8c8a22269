from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from recorder_testkit import Scene, simulated_scene


@pytest.fixture
async def scene() -> AsyncIterator[Scene]:
    async with simulated_scene() as created:
        yield created
