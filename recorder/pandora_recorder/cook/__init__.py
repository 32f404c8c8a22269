"""Cooking: raw recordings into per-speaker audio files aligned to the recording start, and a mix."""

from pandora_recorder.cook.cooker import FORMATS, CookResult, cook_recording, output_name

__all__ = ["FORMATS", "CookResult", "cook_recording", "output_name"]
