"""Fuzzing the Recording schema on the real API server: generated mistakes, each sent the way `kubectl apply`
sends it (strict field validation) through the official client.

Every invalid Recording - a wrong type, an id that is not 17 to 20 digits, an unknown field, a maxDuration out of
range or with a decimal point, a name too long, a field that may not change changed - is rejected, and the message
names the field and says what to fix. Valid variations and the changes that are allowed (stop, maxDuration,
requestedBy) still go through, so the schema is not simply refusing everything.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.rest import ApiException
from recording_helpers import GUILD, channel_id, recording_manifest

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

FUZZ = settings(max_examples=int(os.environ.get("PANDORA_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
GROUP, VERSION, PLURAL = "pandora.dev", "v1alpha1", "recordings"
_names = itertools.count()


@dataclass(frozen=True)
class Mistake:
    """One thing a user got wrong: where it is, what was written there, and words the message must contain."""

    field: str  # dotted path from the object, e.g. "spec.maxDuration"
    value: Any  # what is written there; REMOVE deletes the field
    says: tuple[str, ...]  # the message must contain each of these (it says what to fix)
    change: bool = False  # the mistake is an update of a valid Recording, not a create


REMOVE = object()
IDS = ("spec.guildId", "spec.voiceChannelId", "spec.textChannelId", "spec.requestedBy.userId")
ID_HINT = {"spec.guildId": "guildId must be a Discord id of 17 to 20 digits",
           "spec.voiceChannelId": "voiceChannelId must be a Discord id of 17 to 20 digits",
           "spec.textChannelId": "textChannelId must be a Discord id of 17 to 20 digits",
           "spec.requestedBy.userId": "requestedBy.userId must be a Discord user id of 17 to 20 digits"}
TYPES = {"spec.guildId": "string", "spec.voiceChannelId": "string", "spec.textChannelId": "string",
         "spec.maxDuration": "integer", "spec.stop": "boolean", "spec.requestedBy": "object", "spec.bot": "object",
         "spec.storage": "object", "spec.requestedBy.name": "string", "spec.bot.name": "string",
         "spec.storage.binding": "string", "spec": "object"}
VALUES_OF_TYPE = {"string": st.text(max_size=5), "integer": st.integers(-5, 10**6), "boolean": st.booleans(),
                  "object": st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=1),
                  "array": st.lists(st.integers(), max_size=2), "number": st.floats(0.5, 9.5)}
JSON_TYPE = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "array", float: "number"}


def _wrong_type(field: str) -> st.SearchStrategy[Mistake]:
    wanted = TYPES[field]
    others = [kind for kind in VALUES_OF_TYPE if kind != wanted and not (wanted == "integer" and kind == "number")]

    def mistake(value: Any) -> Mistake:
        if isinstance(value, dict) and value:
            # The server's strict decoding sees the keys before the schema sees the type: it names the first key
            # as unknown under the field (a CRD cannot change that), which still points at the field.
            return Mistake(field, value, (f'unknown field "{field}.',))
        return Mistake(field, value, (f"must be of type {wanted}",))

    return st.sampled_from(others).flatmap(lambda kind: VALUES_OF_TYPE[kind].map(mistake))


def _bad_id(field: str) -> st.SearchStrategy[Mistake]:
    digits = st.text("0123456789", min_size=1, max_size=16)
    not_digits = st.text(min_size=1, max_size=6).filter(lambda text: not text.isascii() or not text.isdigit())
    short_or_wrong = st.one_of(st.just(""), digits, not_digits, digits.map(lambda d: f" {d.zfill(18)}"))
    too_long = st.text("0123456789", min_size=21, max_size=40)
    return st.one_of(short_or_wrong.map(lambda value: Mistake(field, value, (ID_HINT[field],))),
                     too_long.map(lambda value: Mistake(field, value, ("may not be more than 20",))))


def _set_once(field: str, first: Any, then: Any, says: str) -> Mistake:
    return Mistake(field, (first, then), (says, "create a new Recording"), change=True)


mistakes = st.one_of(
    *(_bad_id(field) for field in IDS),
    *(_wrong_type(field) for field in TYPES),
    st.integers(-10**6, 0).map(lambda value: Mistake("spec.maxDuration", value, ("between 1 and 86400",))),
    st.integers(86401, 10**9).map(lambda value: Mistake("spec.maxDuration", value, ("between 1 and 86400",))),
    st.integers(1, 86400).map(lambda value: Mistake("spec.maxDuration", float(value), ("without a decimal point",))),
    st.sampled_from(["spec.guildId", "spec.voiceChannelId", "spec.requestedBy.source"]).map(
        lambda field: Mistake(field, REMOVE, ("Required value",))),
    st.text(min_size=1, max_size=12).filter(lambda text: text not in ("kubectl", "pubsub", "text-command",
                                                                      "slash-command")).map(
        lambda value: Mistake("spec.requestedBy.source", value, ("Unsupported value", '"slash-command"'))),
    st.tuples(st.sampled_from(["spec", "spec.requestedBy", "spec.bot", "spec.storage"]),
              st.sampled_from(["maxDurationSeconds", "channel", "Stop", "guild_id", "extra"])).map(
        lambda where: Mistake(f"{where[0]}.{where[1]}", 1, (f'unknown field "{where[0]}.{where[1]}"',))),
    st.text(min_size=1, max_size=8).filter(lambda text: not all(c.isascii() and (c.isalnum() or c in "-_.")
                                                               for c in text)).map(
        lambda value: Mistake("spec.bot.name", value, ("bot.name must be a key of the bot pool Secret",))),
    st.sampled_from(["", "Recordings", "my binding", "s3/bucket", "-x"]).map(
        lambda value: Mistake("spec.storage.binding", value, ("storage.binding must be the name of a Dapr",))),
    st.integers(51, 63).map(lambda size: Mistake("metadata.name", "r" * size, ("at most 50 characters",))),
    st.sampled_from(["spec.guildId", "spec.voiceChannelId"]).map(
        lambda field: Mistake(field, ("100000000000000001", "100000000000000002"), ("cannot be changed",),
                              change=True)),
    st.sampled_from([("300000000000000001", "300000000000000002"), (REMOVE, "300000000000000002"),
                     ("300000000000000001", REMOVE)]).map(
        lambda values: _set_once("spec.textChannelId", *values, "textChannelId cannot be changed")),
    st.sampled_from([({"name": "alpha"}, {"name": "beta"}), (REMOVE, {"name": "beta"}),
                     ({"name": "alpha"}, REMOVE)]).map(
        lambda values: _set_once("spec.bot", *values, "bot cannot be changed")),
    st.sampled_from([({"binding": "a"}, {"binding": "b"}), (REMOVE, {"prefix": "elsewhere/"}),
                     ({"prefix": "p/"}, REMOVE)]).map(
        lambda values: _set_once("spec.storage", *values, "storage cannot be changed")),
)


def with_value(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, last = field.split(".")
    target = changed
    for part in parents:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    if value is REMOVE:
        target.pop(last, None)
    else:
        target[last] = value
    return changed


def valid_recording() -> dict[str, Any]:
    body = recording_manifest(f"fuzz-{next(_names)}", channel_id(next(_names)))
    body["spec"]["requestedBy"] = {"source": "kubectl", "userId": "400000000000000001", "name": "alice"}
    return body


@pytest.fixture
def recordings(kube_cluster, namespace, recording_crd) -> Iterator[tuple[client.CustomObjectsApi, str]]:
    with kube_cluster.api_client() as api:
        yield client.CustomObjectsApi(api), namespace


def create(api: client.CustomObjectsApi, namespace: str, body: dict[str, Any]) -> None:
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body, field_validation="Strict")


def replace(api: client.CustomObjectsApi, namespace: str, body: dict[str, Any]) -> None:
    current = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body["metadata"]["name"])
    body = copy.deepcopy(body)
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    api.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body["metadata"]["name"], body,
                                         field_validation="Strict")


def refusal(call, *args) -> str:
    try:
        call(*args)
    except ApiException as error:
        assert error.status in (400, 422), error
        return str(json.loads(error.body)["message"])
    raise AssertionError(f"accepted: {json.dumps(args[-1])}")


@FUZZ
@given(mistake=mistakes)
def test_every_invalid_recording_is_refused_with_what_to_fix(recordings, mistake: Mistake) -> None:
    api, namespace = recordings
    body = valid_recording()
    if mistake.change:
        first, then = mistake.value
        create(api, namespace, with_value(body, mistake.field, first))
        message = refusal(replace, api, namespace, with_value(body, mistake.field, then))
    else:
        message = refusal(create, api, namespace, with_value(body, mistake.field, mistake.value))
    assert mistake.field in message, message
    for words in mistake.says:
        assert words in message, message


allowed_changes = st.fixed_dictionaries({}, optional={
    "stop": st.booleans(),
    "maxDuration": st.integers(1, 86400),
    "requestedBy": st.fixed_dictionaries({"source": st.sampled_from(["kubectl", "pubsub", "text-command",
                                                                     "slash-command"])},
                                         optional={"userId": st.text("0123456789", min_size=17, max_size=20),
                                                   "name": st.text(max_size=128)}),
})
valid_extras = st.fixed_dictionaries({}, optional={
    "textChannelId": st.text("0123456789", min_size=17, max_size=20),
    "bot": st.fixed_dictionaries({}, optional={"name": st.from_regex(r"\A[A-Za-z0-9_.-]{1,63}\Z")}),
    "storage": st.fixed_dictionaries({}, optional={"binding": st.from_regex(r"\A[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?\Z"),
                                                   "prefix": st.text(max_size=200)}),
})


@settings(FUZZ, max_examples=max(FUZZ.max_examples // 2, 1))
@given(extras=valid_extras, later=allowed_changes)
def test_valid_recordings_and_allowed_changes_go_through(recordings, extras, later) -> None:
    api, namespace = recordings
    body = valid_recording()
    body["spec"].update(extras)
    create(api, namespace, body)
    changed = copy.deepcopy(body)
    changed["spec"].update(later)
    replace(api, namespace, changed)
    stored = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body["metadata"]["name"])["spec"]
    assert stored == {"stop": False, **changed["spec"]}
    assert stored["guildId"] == GUILD


# -- what the fuzz found (each was accepted, or refused with a misleading message, before the CRD fix) ---------------


@pytest.mark.parametrize(("field", "first", "then", "says"), [
    ("spec.textChannelId", "300000000000000001", "300000000000000002", "textChannelId cannot be changed"),
    ("spec.textChannelId", "300000000000000001", REMOVE, "textChannelId cannot be changed"),
    ("spec.bot", REMOVE, {"name": "beta"}, "bot cannot be changed"),
    ("spec.storage", {"binding": "pandora-recordings"}, {"binding": "other-bucket"}, "storage cannot be changed"),
    ("spec.storage", REMOVE, {"prefix": "elsewhere/"}, "storage cannot be changed"),
])
def test_fields_fixed_at_creation_cannot_be_changed_later(recordings, field, first, then, says) -> None:
    """The CRD says only stop, maxDuration and requestedBy may change; text channel, bot and storage could, and
    a restarted recorder would then have written the same recording id into another bucket."""
    api, namespace = recordings
    body = valid_recording()
    create(api, namespace, with_value(body, field, first))
    message = refusal(replace, api, namespace, with_value(body, field, then))
    assert f"{field}: " in message and says in message and "create a new Recording" in message


@pytest.mark.parametrize("binding", ["", "My Binding", "s3/bucket"])
def test_a_binding_that_cannot_be_a_dapr_component_is_refused(recordings, binding) -> None:
    """Accepted before; the recorder pod then failed at start ("Dapr binding ... is not loaded")."""
    api, namespace = recordings
    message = refusal(create, api, namespace, with_value(valid_recording(), "spec.storage.binding", binding))
    assert "spec.storage.binding: " in message and "must be the name of a Dapr binding component" in message


def test_a_max_duration_with_a_decimal_point_is_refused_saying_so(recordings) -> None:
    """`maxDuration: 60.0` was refused with "must be between 1 and 86400", which 60 is."""
    api, namespace = recordings
    message = refusal(create, api, namespace, with_value(valid_recording(), "spec.maxDuration", 60.0))
    assert "spec.maxDuration: " in message and "written without a decimal point" in message
