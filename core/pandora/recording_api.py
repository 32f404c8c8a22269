"""The `Recording` custom resource's API coordinates: the one thing the operator and the recorder pod share.

The operator creates and watches Recordings under these coordinates; the recorder pod patches progress onto
its own Recording's status subresource under the same ones.
"""

GROUP = "pandora.dev"
VERSION = "v1alpha1"
PLURAL = "recordings"
KIND = "Recording"
API_VERSION = f"{GROUP}/{VERSION}"

# Environment the operator gives a recorder pod so it can find its own Recording.
ENV_RECORDING_NAME = "PANDORA_RECORDING_NAME"
ENV_RECORDING_NAMESPACE = "PANDORA_RECORDING_NAMESPACE"
