"""The voice side of the recorder: a receiving discord.py voice client and the recording session around it."""

from pandora_recorder.voice.client import RecordingVoiceClient
from pandora_recorder.voice.session import RecorderSession, SessionOptions
from pandora_recorder.voice.states import SessionState, StopReason

__all__ = ["RecorderSession", "RecordingVoiceClient", "SessionOptions", "SessionState", "StopReason"]
