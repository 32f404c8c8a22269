from __future__ import annotations

import pytest

from pandora_frontdoor.access import AccessMode
from pandora_frontdoor.config import FrontDoorConfig


def test_the_original_pandoras_defaults() -> None:
    config = FrontDoorConfig.from_env({"PANDORA_TOKEN": "x"})
    assert config.prefix is None  # no COMMAND_PREFIX: no text commands
    assert config.interactions
    assert config.policy.mode is AccessMode.MANAGERS


@pytest.mark.parametrize("name", ["DISABLE_INTERACTIONS", "DISABLE_INTERACTION"])
@pytest.mark.parametrize("value", ["true", "false", ""])
def test_either_spelling_with_any_value_disables_slash_commands(name: str, value: str) -> None:
    assert not FrontDoorConfig.from_env({name: value}).interactions


def test_prefix_roles_guilds_and_mode() -> None:
    config = FrontDoorConfig.from_env({
        "COMMAND_PREFIX": "!", "PANDORA_ACCESS_ROLES": "111111111111111111, 222222222222222222",
        "PANDORA_COMMAND_GUILDS": "333333333333333333", "PANDORA_ACCESS": "Everyone",
    })
    assert config.prefix == "!"
    assert config.policy.roles == {111111111111111111, 222222222222222222}
    assert config.command_guilds == {333333333333333333}
    assert config.policy.mode is AccessMode.EVERYONE


@pytest.mark.parametrize(("env", "message"), [
    ({"PANDORA_ACCESS_ROLES": "admins"}, "PANDORA_ACCESS_ROLES"),
    ({"PANDORA_ACCESS": "mods"}, "PANDORA_ACCESS"),
])
def test_bad_values_are_refused_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FrontDoorConfig.from_env(env)
