"""The audio path: one voice channel's speakers into raw multi-track files, and those files into audio.

A datagram travels one way through these packages:

``voice``    the discord.py ``VoiceClient`` subclass (connection-state hook + socket listener) and the recorder
             session's explicit state machine: join, record, stop, flush, leave
``receive``  UDP datagram -> RTP parse -> transport decrypt -> dedup -> strip extension/padding -> SSRC to user
             (op 5) -> DAVE decrypt -> per-speaker reorder window -> ``ReceivedFrame`` (see ``receive.pipeline``)
``frames``   ``ReceivedFrame`` and ``Speaker``: what crosses from the pipeline to the writer
``raw``      the writer thread: frames -> Ogg pages per speaker track in Craig's raw format (header1, header2,
             data, users, info), resume of an interrupted recording
``sinks``    where the bytes go: a local folder, or numbered chunk objects through a Dapr binding with the resume
             record in a Dapr state store
``report``   progress (speakers, bytes, duration) onto the recording's Kubernetes status, when run in a pod
``cook``     raw files -> aligned per-speaker audio files and a mix (ffmpeg)
``commands`` ``pandora record``, ``cook``, ``fetch`` and ``demo``

The UDP reader thread only runs ``receive`` and a non-blocking hand-off to ``raw``; disk and network I/O happen on
the writer thread.
"""
