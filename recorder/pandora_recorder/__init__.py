"""The audio path: one voice channel's speakers into raw multi-track files, and those files into audio.

A datagram travels one way:

    discord.py's socket reader -> ReceivePipeline (transport decrypt -> DAVE -> SSRC to speaker -> reorder)
    -> RawRecordingWriter (writer thread: one Ogg track per speaker) -> Sink

``voice.RecorderSession`` builds it from the end - writer, pipeline, then the ``RecordingVoiceClient`` it joins
with - and owns its order: join, record, stop, flush, leave. The voice client only turns discord.py's voice events
into pipeline calls (op 2: datagrams to ``on_datagram``; op 4: ``set_transport``; ops 5/12: ``on_speaking``).
Back up the path there are two named callbacks: ``on_speaker_identified`` (voice client -> session, which learns
the speaker's name for the writer) and ``on_dave_failure`` (DAVE decryptor -> voice client, which re-keys).
discord.py's and PyNaCl's internals are reached only through ``pandora.discordpy_compat``.

``voice``    the gateway login, the session, its lifecycle states and stop limits, the voice client, DAVE
             re-keying, speaker names, the recording nickname
``pacing``   the IDENTIFY pacer (``pandora.identify``) on the recording's storage: slots and start history
``receive``  UDP datagram -> RTP parse -> transport decrypt -> dedup -> strip extension/padding -> SSRC to user
             (op 5) -> DAVE decrypt (with the voice connection's davey session) -> per-speaker reorder window
             -> ``ReceivedFrame`` (see ``receive.pipeline``)
``frames``   ``ReceivedFrame`` and ``Speaker``: what crosses from the pipeline to the writer
``raw``      the writer thread: frames -> Ogg pages per speaker track in Craig's raw format (header1, header2,
             data, users, info), resume of an interrupted recording, and reading back files that may be damaged
             (``raw.scan``: checked pages, each unreadable stretch named by file and byte offset)
``sinks``    where the bytes go: a local folder, or numbered chunk objects through a Dapr binding with the resume
             record in a Dapr state store; ``sinks.joined`` puts a recording's chunks back together for fetch
``report``   progress (speakers, bytes, duration) onto the recording's Kubernetes status, when run in a pod
``cook``     raw files -> aligned per-speaker audio files and a mix (ffmpeg)
``commands`` ``pandora record``, ``cook``, ``fetch`` and ``demo``

The UDP reader thread only runs ``receive`` and a non-blocking hand-off to ``raw``; disk and network I/O happen on
the writer thread.
"""
