"""The voice side of the recorder: the session that builds and runs the audio path, and the voice client feeding it.

``login``     onto the gateway: paced IDENTIFY, then as soon as the recording's guild has arrived
``session``   ``RecorderSession``: builds writer -> pipeline -> voice client, watches the recording, shuts down in order
``states``    its lifecycle (``SessionState``) and why it stopped (``StopReason``)
``watch``     the limits that end a recording on their own, and when progress is due
``client``    ``RecordingVoiceClient``: discord.py's voice events -> pipeline calls
``rekey``     DAVE re-keying when decryption keeps failing
``speakers``  the speakers' names, for the writer's tracks
``nickname``  the bot's "[RECORDING]" nickname
"""

from pandora_recorder.voice.client import RecordingVoiceClient
from pandora_recorder.voice.session import RecorderSession, SessionOptions
from pandora_recorder.voice.states import SessionState, StopReason

__all__ = ["RecorderSession", "RecordingVoiceClient", "SessionOptions", "SessionState", "StopReason"]
