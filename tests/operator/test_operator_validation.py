"""`kubectl apply` of Recordings a user got wrong: rejected by the API server with a message saying what to fix."""

from __future__ import annotations

import pytest
import yaml
from recording_helpers import apply, channel_id, recording_manifest

pytestmark = pytest.mark.timeout(60)


def _rejected(kube_cluster, namespace, manifest) -> str:
    result = apply(kube_cluster, namespace, manifest)
    assert result.returncode != 0, f"accepted: {result.stdout}"
    return result.stderr


def test_bad_discord_id_is_rejected_with_how_to_find_the_id(kube_cluster, namespace, recording_crd):
    message = _rejected(kube_cluster, namespace, recording_manifest("bad-id", "12345"))
    assert "spec.voiceChannelId" in message
    assert "voiceChannelId must be a Discord id of 17 to 20 digits" in message
    assert "Copy Channel ID" in message


def test_negative_duration_is_rejected_with_the_allowed_range(kube_cluster, namespace, recording_crd):
    message = _rejected(kube_cluster, namespace, recording_manifest("negative", channel_id(1), maxDuration=-5))
    assert "spec.maxDuration" in message
    assert "maxDuration is a number of seconds and must be between 1 and 86400 (24 hours)" in message


def test_changing_the_channel_is_rejected_and_says_to_create_a_new_recording(
    kube_cluster, namespace, recording_crd
):
    assert apply(kube_cluster, namespace, recording_manifest("fixed", channel_id(1))).returncode == 0
    message = _rejected(kube_cluster, namespace, recording_manifest("fixed", channel_id(2)))
    assert "voiceChannelId cannot be changed once set" in message
    assert "create a new one for the other channel" in message
    still = kube_cluster.kubectl("get", "-n", namespace, "recording", "fixed", "-o", "jsonpath={.spec.voiceChannelId}")
    assert still.stdout == channel_id(1)


def test_unknown_field_is_rejected_naming_the_field(kube_cluster, namespace, recording_crd):
    manifest = recording_manifest("typo", channel_id(1))
    manifest["spec"]["maxDurationSeconds"] = 60
    message = _rejected(kube_cluster, namespace, manifest)
    assert 'unknown field "spec.maxDurationSeconds"' in message


def test_missing_channel_and_bad_source_are_rejected(kube_cluster, namespace, recording_crd):
    manifest = recording_manifest("incomplete", channel_id(1), requestedBy={"source": "carrier-pigeon"})
    del manifest["spec"]["voiceChannelId"]
    message = _rejected(kube_cluster, namespace, yaml.safe_dump(manifest))
    assert 'spec.voiceChannelId: Required value' in message
    assert 'spec.requestedBy.source: Unsupported value: "carrier-pigeon"' in message
    assert '"slash-command"' in message


def test_too_long_name_is_rejected_with_the_limit(kube_cluster, namespace, recording_crd):
    message = _rejected(kube_cluster, namespace, recording_manifest("x" * 51, channel_id(1)))
    assert "metadata.name must be at most 50 characters" in message
