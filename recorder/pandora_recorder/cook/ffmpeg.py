"""ffmpeg (from Debian) turns the cooked Ogg Opus tracks into the requested format and mixes them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# Output container/codec arguments per --format; "opus" keeps the cooked stream as it is.
CODECS: dict[str, list[str]] = {
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "6"],
    "opus": ["-c:a", "libopus", "-b:a", "128k"],
    "wav": ["-c:a", "pcm_s16le"],
    "mp3": ["-c:a", "libmp3lame", "-q:a", "2"],
}
# Decode the cooked tracks with libopus, the reference decoder: ffmpeg's own Opus decoder mutes hybrid-mode audio
# for ~300 ms after a lost packet, where libopus conceals it.
DECODER = ["-c:a", "libopus"]
EXTENSIONS = {"flac": "flac", "ogg": "ogg", "opus": "opus", "wav": "wav", "mp3": "mp3"}


class FfmpegError(RuntimeError):
    pass


def ffmpeg_path() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise FfmpegError("ffmpeg is not installed (Debian: apt-get install ffmpeg)")
    return path


def _run(arguments: list[str]) -> None:
    command = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise FfmpegError(f"ffmpeg failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def transcode(source: Path, target: Path, audio_format: str) -> None:
    if audio_format == "opus":
        shutil.copyfile(source, target)  # already a valid Ogg Opus file, no need to re-encode
        return
    _run([*DECODER, "-i", str(source), *CODECS[audio_format], str(target)])


def mix(sources: list[Path], target: Path, audio_format: str) -> None:
    """All tracks summed (no level normalisation, so a speaker is as loud in the mix as alone)."""
    inputs = [argument for source in sources for argument in (*DECODER, "-i", str(source))]
    mixer = f"amix=inputs={len(sources)}:duration=longest:normalize=0" if len(sources) > 1 else "anull"
    _run([*inputs, "-filter_complex", mixer, *CODECS[audio_format], str(target)])
