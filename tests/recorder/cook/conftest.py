from __future__ import annotations

import pytest
from tone_recording import ALICE, BOB, Recording, record


@pytest.fixture(scope="module")
def two_speakers(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    return record(tmp_path_factory.mktemp("raw"), 872660674, (ALICE, BOB))
