"""The recorder pod the operator renders, read back the way the recorder reads it.

The operator's own ``build_recorder_pod`` renders the pod; ``pandora``'s own command-line parsing and the
recorder's own readers of its environment read it back. A flag or variable the two sides spell differently fails
here, not in a cluster.
"""

from __future__ import annotations

from typing import Any

import pytest

from pandora.cli import parse_command
from pandora.recording_api.recorder import ENV_TOKEN, RecorderArgs, RecorderEnv
from pandora.recording_api.resource import RecordingSpec, Requester
from pandora_operator.config import OperatorConfig
from pandora_operator.podspec import build_recorder_pod
from pandora_recorder.commands import record as record_command
from pandora_recorder.report import KubernetesStatusReporter, StatusReporter
from pandora_recorder.report import reporter as reporter_module

GUILD, CHANNEL, TEXT, USER = "100000000000000001", "200000000000000001", "300000000000000001", "400000000000000001"
SECRETS = {("pandora-bots", "alpha"): "token-of-alpha"}


def container_env(pod: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet resolves it (values and Secret references only)."""
    resolved = {}
    for entry in pod["spec"]["containers"][0]["env"]:
        if "value" in entry:
            resolved[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            resolved[entry["name"]] = SECRETS[(ref["name"], ref["key"])]
    return resolved


def render(spec: RecordingSpec, config: OperatorConfig | None = None) -> dict[str, Any]:
    return build_recorder_pod(recording="standup", namespace="rec", spec=spec, recording_id="872660673",
                              attempt=2, bot="alpha", config=config or OperatorConfig())


def recorder_reads(pod: dict[str, Any]) -> tuple[RecorderArgs, RecorderEnv]:
    container = pod["spec"]["containers"][0]
    assert "command" not in container  # the image's entrypoint, `pandora`, runs the args
    module, namespace = parse_command(container["args"])
    assert module is record_command
    return RecorderArgs.from_namespace(namespace), RecorderEnv.from_environ(container_env(pod))


def test_every_field_of_the_spec_reaches_the_recorder():
    spec = RecordingSpec(GUILD, CHANNEL, text_channel_id=TEXT, requested_by=Requester("kubectl", USER),
                         max_duration=90, storage_binding="archive", storage_prefix="guild-a/")
    args, env = recorder_reads(render(spec))
    assert args == RecorderArgs(guild=int(GUILD), channel=int(CHANNEL), recording_id=872660673, storage="dapr",
                                max_duration=90.0, requester=int(USER), text_channel=int(TEXT))
    assert env == RecorderEnv(recording_name="standup", recording_namespace="rec", storage_binding="archive",
                              storage_prefix="guild-a/")


@pytest.mark.parametrize("source", ["slash-command", "text-command"])
def test_a_recording_asked_for_by_a_discord_command_leaves_the_end_message_to_the_front_door(source: str):
    spec = RecordingSpec(GUILD, CHANNEL, text_channel_id=TEXT, requested_by=Requester(source, USER))
    args, _ = recorder_reads(render(spec))
    assert args.text_channel is None  # the front door posts the one end summary in TEXT
    assert args.requester == int(USER)


def test_a_minimal_spec_gets_the_operators_storage_and_nothing_else():
    config = OperatorConfig(storage_binding="store", storage_prefix="rec/")
    args, env = recorder_reads(render(RecordingSpec(GUILD, CHANNEL, requested_by=Requester("kubectl")), config))
    assert args == RecorderArgs(guild=int(GUILD), channel=int(CHANNEL), recording_id=872660673, storage="dapr")
    assert (env.binding, env.storage_prefix) == ("store", "rec/")
    # Where the recorder will write is where the operator says the files are.
    assert config.location(None, None, "872660673") == "dapr://store/rec/872660673/"


def test_the_token_comes_only_from_the_bot_pool_secret():
    config = OperatorConfig(recorder_env={"PANDORA_DISCORD_API_URL": "http://127.0.0.1:1/api/v10"})
    pod = render(RecordingSpec(GUILD, CHANNEL), config)
    token = next(entry for entry in pod["spec"]["containers"][0]["env"] if entry["name"] == ENV_TOKEN)
    assert token == {"name": ENV_TOKEN, "valueFrom": {"secretKeyRef": {"name": "pandora-bots", "key": "alpha"}}}
    env = container_env(pod)
    assert env[ENV_TOKEN] == "token-of-alpha"
    assert env["PANDORA_DISCORD_API_URL"] == "http://127.0.0.1:1/api/v10"
    assert env["PANDORA_ENV"] == "production"  # ECS JSON logs


def test_the_recorder_reports_progress_to_its_own_recording(tmp_path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "token").write_text("service-account-token")
    monkeypatch.setattr(reporter_module, "SERVICE_ACCOUNT_DIR", tmp_path)  # what the kubelet mounts
    env = {**container_env(render(RecordingSpec(GUILD, CHANNEL))), "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    reporter = StatusReporter.from_env(env)
    assert isinstance(reporter, KubernetesStatusReporter)
    assert reporter.url == "https://10.0.0.1:443/apis/pandora.dev/v1alpha1/namespaces/rec/recordings/standup/status"


def test_the_pod_is_restricted_and_labelled_with_its_attempt():
    pod = render(RecordingSpec(GUILD, CHANNEL))
    container = pod["spec"]["containers"][0]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["metadata"]["labels"]["pandora.dev/attempt"] == "2"
    assert pod["metadata"]["name"] == "standup-rec-2"
