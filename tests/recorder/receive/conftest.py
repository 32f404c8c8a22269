import os

import pytest


@pytest.fixture
def key() -> bytes:
    """A fresh 32-byte transport key (both rtpsize modes use 256-bit keys)."""
    return os.urandom(32)
