"""The discord.py, PyNaCl and davey names Pandora relies on still exist in the installed versions.

Each name is looked up on the real class (or, for what discord.py only sets in ``__init__``, on a real instance),
so upgrading one of the pinned libraries past a rename or removal fails here first.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord.gateway import DiscordVoiceWebSocket
from discord.voice_state import VoiceConnectionState

import pandora.discordpy_compat
from pandora.discordpy_compat import DAVEY_API, INTERNALS, HookedVoiceClient, Internal

PRODUCT = [Path(__file__).parents[2] / part for part in ("core/pandora", "recorder/pandora_recorder",
                                                           "operator/pandora_operator")]


def resolve(path: str) -> Any:
    """The module, class or function at a dotted path (the longest importable prefix, then attributes)."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for part in parts[split:]:
            found = getattr(found, part)
        return found
    raise LookupError(path)


@pytest.fixture(scope="module")
def instances() -> Iterator[dict[type, object]]:
    """Real, unconnected instances of the classes whose internals are instance attributes."""
    client = discord.Client(intents=discord.Intents.none())
    voice = discord.VoiceClient(client, SimpleNamespace(id=1, guild=None))  # type: ignore[arg-type]
    yield {
        discord.Client: client,
        discord.VoiceClient: voice,
        VoiceConnectionState: voice._connection,
        DiscordVoiceWebSocket: DiscordVoiceWebSocket(None, loop=None),  # type: ignore[arg-type]
    }
    voice._connection._socket_reader.stop()


@pytest.mark.parametrize("internal", INTERNALS + DAVEY_API, ids=lambda internal: f"{internal.owner}:{internal.name}")
def test_each_name_exists_in_the_installed_library(internal: Internal, instances: dict[type, object]) -> None:
    owner = resolve(internal.owner)
    if inspect.isfunction(owner):  # a keyword parameter
        assert internal.name in inspect.signature(owner).parameters
    else:
        assert hasattr(instances.get(owner, owner), internal.name), f"{internal.owner} has no {internal.name}"


def test_hooked_voice_client_adds_only_names_discord_py_does_not_use() -> None:
    """A name discord.py later adds to VoiceClient would be silently overridden by ours: rename ours then."""
    overrides = {"__init__", "create_connection_state"}  # meant to override (INTERNALS says why)
    added = {name for name in vars(HookedVoiceClient) if not name.startswith("__")} - overrides
    assert added and not {name for name in added if hasattr(discord.VoiceClient, name)}



def internal_names() -> set[str]:
    """What a use of an internal looks like in source: the attribute's name, or the private module's."""
    names = set()
    for internal in INTERNALS:
        owner = resolve(internal.owner)
        if inspect.ismodule(owner):
            names.add(internal.owner.rsplit(".", 1)[-1])
        elif not inspect.isfunction(owner):  # a keyword parameter is only passed where the class is built
            names.add(internal.name)
    return names


def uses_in(path: Path, names: set[str]) -> list[str]:
    uses = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in names:
            uses.append(f"{path}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom) and node.module:
                modules.append(node.module)
            uses.extend(f"{path}:{node.lineno}: import {module}" for module in modules
                        if names & set(module.split(".")))
    return uses


def test_no_other_product_module_uses_an_internal() -> None:
    names = internal_names()
    compat = Path(pandora.discordpy_compat.__file__).resolve()
    sources = [path for root in PRODUCT for path in sorted(root.rglob("*.py")) if path.resolve() != compat]
    assert sources and names
    assert [use for path in sources for use in uses_in(path, names)] == []
