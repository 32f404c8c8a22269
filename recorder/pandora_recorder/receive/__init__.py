"""The receive half of the recorder: UDP datagrams from discord.py's socket reader -> ``ReceivedFrame``s."""

from pandora_recorder.receive.dave import DaveDecryptor
from pandora_recorder.receive.drops import DropCounters, DropReason
from pandora_recorder.receive.pipeline import ReceivePipeline
from pandora_recorder.receive.transport import SUPPORTED_MODES, transport_decryptor

__all__ = [
    "SUPPORTED_MODES",
    "DaveDecryptor",
    "DropCounters",
    "DropReason",
    "ReceivePipeline",
    "transport_decryptor",
]
