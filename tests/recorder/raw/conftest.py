from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from pandora_recorder.frames import ReceivedFrame, Speaker

# A copy of shared/fixtures/pandora-872660673 (files written by the original Pandora), kept in the repository.
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pandora-872660673"

NAMES = {101: "alice", 202: "bob", 303: "carol"}


def _speaker_of(user_id: int) -> Speaker:
    name = NAMES.get(user_id, f"user{user_id}")
    return Speaker(id=user_id, name=name.title(), username=name, global_name=name.upper())


@pytest.fixture
def speaker_of() -> Callable[[int], Speaker]:
    return _speaker_of


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def make_frame() -> Callable[..., ReceivedFrame]:
    sequences: dict[int, itertools.count[int]] = {}

    def make(user_id: int, arrival: float, rtp: int = 0, opus: bytes | None = None) -> ReceivedFrame:
        counter = sequences.setdefault(user_id, itertools.count())
        number = next(counter)
        payload = opus if opus is not None else bytes([0x78, user_id % 256, number % 256]) * 10
        return ReceivedFrame(user_id, user_id * 7, number, rtp, payload, arrival)

    return make
