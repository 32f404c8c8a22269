from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The voice tests' helpers (scene, readers) live next door, outside any package.
sys.path.insert(0, str(Path(__file__).parent.parent / "voice"))
from recorder_testkit import Scene, simulated_scene


@pytest.fixture
async def scene() -> AsyncIterator[Scene]:
    async with simulated_scene() as created:
        yield created
