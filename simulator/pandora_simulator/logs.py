"""The simulator's logger (structured, tokens redacted by :mod:`pandora.logging`)."""

from __future__ import annotations

from pandora.logging import get_logger

log = get_logger("pandora.simulator")
