"""The Recording contract: in step with the CRD, lossless at the camelCase edge, and written in one place."""

from __future__ import annotations

import argparse
import ast
import datetime
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import yaml

from pandora.recording_api import recorder, resource, status
from pandora.recording_api.recorder import RecorderArgs, RecorderEnv, storage_location
from pandora.recording_api.resource import Phase, RecordingSpec, Requester, recording_resource
from pandora.recording_api.status import Condition, RecordingStatus, Speaker, camel_case

REPO = Path(__file__).resolve().parents[2]
CRD = yaml.safe_load((REPO / "crds" / "recordings.pandora.dev.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
MOMENT = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

FULL_SPEC = RecordingSpec(
    guild_id="100000000000000001", voice_channel_id="200000000000000001", text_channel_id="300000000000000001",
    requested_by=Requester("slash-command", "400000000000000001", "alice"), max_duration=3600, stop=True,
    bot="alpha", storage_binding="archive", storage_prefix="guild-a/",
)
FULL_STATUS = RecordingStatus(
    phase=Phase.RECORDING, recording_id="123", pod="standup-rec-1", bot="alpha", restarts=1,
    location="dapr://archive/guild-a/123/", started_at=MOMENT, ended_at=MOMENT, message="recording",
    observed_generation=2,
    conditions=(Condition("Recording", "True", "Recording", "recording", MOMENT, 2),),
    duration=12, bytes=40960, speakers=(Speaker("500000000000000001", "bob", 1),), speaker_count=1,
    progress_at=MOMENT,
)


def shape(value):
    """The field names of a JSON value, nested (lists by their first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def schema_shape(node):
    if node.get("type") == "object" and "properties" in node:
        return {key: schema_shape(item) for key, item in node["properties"].items()}
    if node.get("type") == "array":
        return [schema_shape(node["items"])]
    return None


def test_the_crd_serves_the_contracts_coordinates():
    assert CRD["spec"]["group"] == resource.GROUP
    assert CRD["spec"]["names"]["plural"] == resource.PLURAL
    assert CRD["spec"]["names"]["kind"] == resource.KIND
    assert [version["name"] for version in CRD["spec"]["versions"]] == [resource.VERSION]


def test_the_crd_and_the_contract_name_the_same_spec_and_status_fields():
    assert shape(FULL_SPEC.to_resource()) == schema_shape(SCHEMA["spec"])
    assert shape(FULL_STATUS.to_resource()) == schema_shape(SCHEMA["status"])
    assert SCHEMA["status"]["properties"]["phase"]["enum"] == [phase.value for phase in Phase]
    assert SCHEMA["spec"]["properties"]["requestedBy"]["properties"]["source"]["enum"] == list(
        resource.REQUEST_SOURCES
    )


def test_spec_and_status_survive_the_camel_case_edge():
    assert RecordingSpec.from_resource(FULL_SPEC.to_resource()) == FULL_SPEC
    assert RecordingStatus.from_resource(FULL_STATUS.to_resource()) == FULL_STATUS
    assert FULL_STATUS.to_patch()["status"]["progressAt"] == "2026-01-02T03:04:05Z"
    assert FULL_STATUS.to_patch()["status"]["speakers"] == [{"id": "500000000000000001", "name": "bob", "track": 1}]


def test_a_minimal_recording_is_what_a_front_door_creates():
    spec = RecordingSpec("100000000000000001", "200000000000000001", requested_by=Requester("pubsub"))
    assert recording_resource("standup", spec, "rec") == {
        "apiVersion": "pandora.dev/v1alpha1",
        "kind": "Recording",
        "metadata": {"name": "standup", "namespace": "rec"},
        "spec": {"guildId": "100000000000000001", "voiceChannelId": "200000000000000001",
                 "requestedBy": {"source": "pubsub"}},
    }


def test_an_absent_field_differs_from_any_value_so_a_writer_still_writes_it():
    written = RecordingStatus(phase=Phase.STARTING, restarts=0)
    assert RecordingStatus.from_resource({}).restarts is None
    assert written.changes_from(RecordingStatus()) == written
    assert written.changes_from(RecordingStatus(phase=Phase.STARTING, restarts=0)).is_empty()
    assert RecordingStatus(pod="a", bot="x").updated(RecordingStatus(pod="b")) == RecordingStatus(pod="b", bot="x")


def test_recorder_fields_are_status_fields():
    assert {field.name for field in fields(RecordingStatus)} >= status.RECORDER_FIELDS
    assert camel_case("speaker_count") == "speakerCount"


def test_the_recorder_environment_round_trips_and_has_defaults():
    env = RecorderEnv(recording_name="standup", recording_namespace="rec", storage_binding="archive")
    assert RecorderEnv.from_environ(env.to_environ()) == env
    assert RecorderEnv.from_environ({"UNRELATED": "1"}) == RecorderEnv()
    assert RecorderEnv().binding == "pandora-recordings"
    assert RecorderEnv().to_environ() == {"PANDORA_STORAGE_PREFIX": "recordings/",
                                          "PANDORA_STATE_STORE": "pandora-statestore"}


def test_recorder_args_render_what_is_set_and_parse_back():
    parser = argparse.ArgumentParser()
    RecorderArgs.add_arguments(parser)
    minimal = RecorderArgs(guild=1, channel=2)
    assert minimal.to_argv() == ["record", "--guild", "1", "--channel", "2"]
    full = RecorderArgs(guild=1, channel=2, recording_id=3, storage="dapr", out=Path("/tmp/x"), max_duration=90.0,
                        empty_timeout=2.5, requester=4, text_channel=5)
    for args in (minimal, full):
        assert RecorderArgs.from_namespace(parser.parse_args(args.to_argv()[1:])) == args
    assert "--max-duration" in full.to_argv() and "90" in full.to_argv()


def test_the_storage_location_format():
    assert storage_location("archive", "guild-a/", 42) == "dapr://archive/guild-a/42/"


def test_the_contract_needs_only_the_standard_library():
    probe = (
        "import sys; before = set(sys.modules); "
        "import pandora.recording_api.recorder, pandora.recording_api.resource, pandora.recording_api.status; "
        "print(sorted({name.split('.')[0] for name in set(sys.modules) - before} - set(sys.stdlib_module_names) "
        "- {'pandora'}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- written once -------------------------------------------------------------------------------------------

ENV_NAMES = {item.metadata["env"] for item in fields(RecorderEnv)}
FLAGS = {item.metadata["flag"] for item in fields(RecorderArgs)}
# What the operator must take from the contract rather than write: everything it renders for the recorder.
OPERATOR_MUST_IMPORT = ENV_NAMES | FLAGS | {recorder.ENV_TOKEN, resource.API_VERSION}
# The recorder's other commands may have flags of the same names (`fetch --out`); its environment and location
# it must read through the contract.
RECORDER_MUST_IMPORT = ENV_NAMES | {resource.API_VERSION}
PACKAGES = {
    "operator/pandora_operator": OPERATOR_MUST_IMPORT,
    "recorder/pandora_recorder": RECORDER_MUST_IMPORT,
    "core/pandora": RECORDER_MUST_IMPORT,
}


def written_again(package: str, literals: set[str]) -> list[str]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        if "recording_api" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                node.value in literals or node.value.startswith("dapr://")
            ):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    return found


def test_no_product_module_writes_a_contract_literal_of_its_own():
    """A flag, variable name or location written by hand drifts silently: import it from pandora.recording_api."""
    assert [hit for package, literals in PACKAGES.items() for hit in written_again(package, literals)] == []
