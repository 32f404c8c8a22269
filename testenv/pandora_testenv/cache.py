"""Where built binaries live: `~/.cache/pandora-testenv/<component>-<version>/bin/`, outside the checkout."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pandora_testenv.versions import BINARY_COMPONENT, COMPONENTS, GoComponent

CACHE_ENV = "PANDORA_TESTENV_CACHE"
STAMP_NAME = "build.json"


def cache_root() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path("~/.cache/pandora-testenv").expanduser()


def component_dir(component: GoComponent) -> Path:
    return cache_root() / component.key


def stamp_path(component: GoComponent) -> Path:
    return component_dir(component) / STAMP_NAME


def is_built(component: GoComponent) -> bool:
    """True when the stamp (written last, after every binary) and every binary are present."""
    bin_dir = component_dir(component) / "bin"
    return stamp_path(component).is_file() and all((bin_dir / name).is_file() for name in component.binaries)


def read_stamp(component: GoComponent) -> dict | None:
    try:
        return json.loads(stamp_path(component).read_text())
    except (OSError, ValueError):
        return None


def binary_path(binary: str) -> Path:
    """Path of a cached binary (which may not exist yet)."""
    component = COMPONENTS[BINARY_COMPONENT[binary]]
    return component_dir(component) / "bin" / binary


def missing_binaries(binaries: list[str] | None = None) -> list[str]:
    names = binaries if binaries is not None else list(BINARY_COMPONENT)
    return [name for name in names if not is_built(COMPONENTS[BINARY_COMPONENT[name]])]
