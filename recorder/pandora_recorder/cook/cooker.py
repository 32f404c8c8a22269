"""`pandora cook`: a raw recording in, one aligned audio file per speaker (and a mix) out."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from pandora_recorder.cook import ffmpeg
from pandora_recorder.cook.oggopus import OggOpusWriter, pre_skip
from pandora_recorder.cook.opus_packet import SILENCE_STEP, packet_samples, silence
from pandora_recorder.cook.source import RawRecordingReader, Track
from pandora_recorder.cook.timeline import TrackTimeline
from pandora_recorder.raw.format import OPUS_HEAD, OPUS_TAGS, SAMPLE_RATE
from pandora_recorder.raw.scan import Damage
from pandora_recorder.sinks.base import Sink

FORMATS = tuple(ffmpeg.CODECS)

Progress = Callable[[str], None]


@dataclass
class CookResult:
    recording_id: int
    duration: float  # seconds, the same for every track file
    tracks: dict[int, Path] = field(default_factory=dict)  # track number -> file
    mix: Path | None = None
    invalid_packets: int = 0
    damage: list[Damage] = field(default_factory=list)  # what of the raw files could not be read, and was skipped


def output_name(recording_id: int, track: Track, extension: str) -> str:
    """`<id>-<track>-<speaker>.<ext>`, with the speaker reduced to characters every file system accepts."""
    label = re.sub(r"[^\w.-]+", "_", track.label).strip("._") or f"track{track.number}"
    return f"{recording_id}-{track.number}-{label}.{extension}"


class _CookedTrack:
    """One track's Ogg Opus stream being built: the timeline decides placement, the writer does pages."""

    def __init__(self, track: Track, path: Path, stack: ExitStack) -> None:
        self.track = track
        self.path = path
        self.timeline = TrackTimeline()
        file = stack.enter_context(path.open("wb"))
        self.writer = OggOpusWriter(file, track.number, track.opus_head, track.opus_tags)
        # Players drop the first pre-skip samples; give them silence to drop so sample 0 is the recording start.
        for frame in silence(-(-pre_skip(track.opus_head) // SILENCE_STEP) * SILENCE_STEP):
            self.writer.write(frame, packet_samples(frame))

    def add(self, opus: bytes, arrival: int, rtp: int | None) -> None:
        for packet, samples in self.timeline.place(opus, arrival, rtp):
            self.writer.write(packet, samples)

    def drain(self) -> None:
        for packet, samples in self.timeline.finish():
            self.writer.write(packet, samples)

    def finish(self, end: int) -> None:
        for packet, samples in self.timeline.finish(max(end, SILENCE_STEP)):
            self.writer.write(packet, samples)
        self.writer.close()


class _PercentReporter:
    def __init__(self, progress: Progress, total: int, what: str) -> None:
        self.progress, self.total, self.what = progress, total, what
        self.reported = -1

    def __call__(self, done: int) -> None:
        percent = 100 * done // self.total if self.total else 100
        if percent // 10 > self.reported // 10 or (percent == 100 and self.reported != 100):
            self.reported = percent
            self.progress(f"{self.what}: {percent}% of {self.total / 1e6:.1f} MB")


def cook_recording(
    sink: Sink,
    recording_id: int,
    out_dir: Path,
    *,
    audio_format: str = "flac",
    mix: bool = False,
    progress: Progress = lambda _message: None,
) -> CookResult:
    """Write `<id>-<track>-<speaker>.<format>` per track into `out_dir`, every file starting at the recording
    start and lasting until its end, plus `<id>-mix.<format>` when `mix` is set."""
    if audio_format not in FORMATS:
        raise ValueError(f"unknown format {audio_format!r}; choose one of {', '.join(FORMATS)}")
    reader = RawRecordingReader(sink, recording_id)
    tracks = reader.tracks()
    out_dir.mkdir(parents=True, exist_ok=True)
    extension = ffmpeg.EXTENSIONS[audio_format]
    with tempfile.TemporaryDirectory(prefix=f".cook-{recording_id}-", dir=out_dir) as work, ExitStack() as stack:
        cooked: dict[int, _CookedTrack] = {}

        def cooked_track(number: int) -> _CookedTrack:
            if number not in cooked:  # a track missing from the headers still gets cooked
                track = tracks.get(number) or Track(number, {}, OPUS_HEAD, OPUS_TAGS)
                cooked[number] = _CookedTrack(track, Path(work) / f"{number}.opus", stack)
            return cooked[number]

        for number in tracks:
            cooked_track(number)
        report = _PercentReporter(progress, reader.data_size, f"cook {recording_id}: reading packets")
        for packet in reader.packets(report):
            cooked_track(packet.track).add(packet.opus, packet.arrival, packet.rtp)
        for track in cooked.values():
            track.drain()
        end = max((c.timeline.position for c in cooked.values()), default=0)
        for track in cooked.values():
            track.finish(end)
        stack.close()

        result = CookResult(recording_id, max(end, SILENCE_STEP) / SAMPLE_RATE)
        result.invalid_packets = sum(c.timeline.invalid_packets for c in cooked.values())
        result.damage = reader.damage
        targets = {number: out_dir / output_name(recording_id, c.track, extension) for number, c in cooked.items()}
        # One ffmpeg per core: each is single-threaded for audio.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            jobs = {
                pool.submit(ffmpeg.transcode, cooked[number].path, target, audio_format): number
                for number, target in targets.items()
            }
            for done, job in enumerate(as_completed(jobs), start=1):
                job.result()
                progress(f"cook {recording_id}: encoded {done}/{len(jobs)} {targets[jobs[job]].name}")
        result.tracks = dict(sorted(targets.items()))
        if mix and cooked:
            target = out_dir / f"{recording_id}-mix.{extension}"
            progress(f"cook {recording_id}: mixing {len(cooked)} tracks into {target.name}")
            ffmpeg.mix([c.path for c in cooked.values()], target, audio_format)
            result.mix = target
    return result
