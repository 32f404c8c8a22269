"""The Dapr pub/sub front door: the original Pandora's topics and acks, on any ``Recordings``.

A delivery travels one way through these modules:

``app``        the HTTP app daprd delivers to: ``GET /dapr/subscribe`` (programmatic subscription), one route per
               topic, each CloudEvent unwrapped into (message id, payload), each answer SUCCESS / RETRY / DROP
``payloads``   the start and stop payloads, checked field by field (what is wrong said in words)
``lookup``     the channel's server and kind, from the client's cache or Discord's REST API
``bridge``     the logic: one recording per message, acks (``startedRecordingDiscord``,
               ``stoppedRecordingDiscord`` for every recording that ends), ``recordingDiscordInfo`` for every text
``publisher``  publishing through the sidecar's HTTP API
``topics``     the topic names and the bridge's environment (``PUBSUB_NAME``, ``DAPR_SERVER_PORT``,
               ``DAPR_HTTP_PORT``)

It runs inside ``pandora bot`` (``LocalRecordings``) and ``pandora frontdoor`` (``KubernetesRecordings``) when
``PUBSUB_NAME`` is set, and imports neither the recorder nor the operator.
"""
