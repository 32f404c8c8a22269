"""The `Recording` contract: everything the operator, the recorder pod and a front door must agree on.

``resource``  where Recordings live in the API (``GROUP``, ``VERSION``, ``PLURAL``, ``KIND``), their ``Phase``s,
              and ``RecordingSpec``: what a Recording asks for (a front door writes it, the operator reads it)
``status``    ``RecordingStatus``: lifecycle fields (the operator writes them) and progress fields
              (``RECORDER_FIELDS``, the recorder pod writes them), as merge patches of the status subresource
``recorder``  the recorder pod's side: the environment it reads (``RecorderEnv``), its command line
              (``RecorderArgs``: the operator renders it, ``pandora record`` parses it, from one table of
              options) and where its files end up (``storage_location``)

Inside Python everything is snake_case and typed; camelCase exists only at the edge (``from_resource``,
``to_resource``, ``to_patch``). The CRD (``crds/recordings.pandora.dev.yaml``) is the schema the API server
enforces; a test keeps its field names and these in step. Only the standard library is imported here, so every
part of Pandora (and a third party) can use the contract without the operator's or the recorder's dependencies.
"""
