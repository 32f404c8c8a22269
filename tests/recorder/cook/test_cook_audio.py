"""Cook a real two-speaker recording and listen to the result."""

import json
import subprocess
import sys

import pytest
from listening import RATE, active_intervals, decode_pcm, expected_intervals, goertzel_power
from tone_recording import ALICE, BOB, Voice, record

from pandora_recorder.cook import cook_recording, output_name
from pandora_recorder.cook.source import Track
from pandora_recorder.frames import Speaker
from pandora_recorder.raw import RawRecordingWriter
from pandora_recorder.raw.ogg import encode_page, read_pages
from pandora_recorder.sinks import LocalFolderSink

TOLERANCE = 0.020


def assert_speaker_file(path, voice, others, duration):
    samples = decode_pcm(path)
    assert abs(len(samples) / RATE - duration) < 0.005
    heard = active_intervals(samples)
    wanted = expected_intervals(voice)
    assert len(heard) == len(wanted), f"{path.name}: heard {heard}, wanted {wanted}"
    for (got_start, got_end), (want_start, want_end, extra) in zip(heard, wanted, strict=True):
        assert abs(got_start - want_start) <= TOLERANCE, (path.name, heard, wanted)
        assert -TOLERANCE <= got_end - want_end <= TOLERANCE + extra, (path.name, heard, wanted)
    for start, end in heard:
        segment = samples[int(start * RATE) : int(end * RATE)]
        own = goertzel_power(segment, voice.tone)
        for other in others:
            assert own > 100 * goertzel_power(segment, other.tone), f"{path.name} has {other.username}'s tone"
    return samples


@pytest.mark.parametrize("audio_format", ["flac", "opus"])
def test_each_speaker_file_has_their_tone_at_the_right_times(two_speakers, tmp_path, audio_format):
    result = cook_recording(
        LocalFolderSink(two_speakers.folder), two_speakers.recording_id, tmp_path, audio_format=audio_format
    )
    alice, bob = two_speakers.voices
    rid = two_speakers.recording_id
    assert result.tracks == {
        1: tmp_path / f"{rid}-1-alice.{audio_format}",
        2: tmp_path / f"{rid}-2-bob.{audio_format}",
    }
    assert two_speakers.end <= result.duration <= two_speakers.end + 0.04
    assert_speaker_file(result.tracks[1], alice, [bob], result.duration)
    assert_speaker_file(result.tracks[2], bob, [alice], result.duration)
    assert result.invalid_packets == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in result.tracks.values())


OGG_TABLE = []
for _byte in range(256):
    _crc = _byte << 24
    for _ in range(8):
        _crc = ((_crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if _crc & 0x80000000 else (_crc << 1) & 0xFFFFFFFF
    OGG_TABLE.append(_crc)


def ogg_spec_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ OGG_TABLE[(crc >> 24) ^ byte]
    return crc


def test_cooked_ogg_opus_is_a_valid_stream(two_speakers, tmp_path):
    result = cook_recording(
        LocalFolderSink(two_speakers.folder), two_speakers.recording_id, tmp_path, audio_format="opus"
    )
    content = result.tracks[2].read_bytes()
    pages = list(read_pages(content))
    assert sum(p.size for p in pages) == len(content)
    for page in pages:
        raw = content[page.offset : page.offset + page.size]
        assert page.crc == ogg_spec_crc(raw[:22] + b"\0\0\0\0" + raw[26:]), f"bad CRC on page {page.sequence}"
    assert [p.sequence for p in pages] == list(range(len(pages)))
    assert pages[0].flags == 2 and pages[0].packets[0][:8] == b"OpusHead"
    assert pages[1].packets[0][:8] == b"OpusTags" and pages[-1].flags == 4
    granules = [p.granule for p in pages[2:]]
    assert granules == sorted(granules)
    assert granules[-1] == 3840 + round(result.duration * 48_000)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(result.tracks[2])],
        check=True, capture_output=True, text=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("opus", "48000", 2)
    # ffprobe's format duration counts the pre-skip; the decoded length is checked in the test above.
    assert float(json.loads(probe.stdout)["format"]["duration"]) == pytest.approx(granules[-1] / 48_000, abs=0.01)
    check = subprocess.run(
        ["ffmpeg", "-v", "error", "-err_detect", "crccheck", "-i", str(result.tracks[2]), "-f", "null", "-"],
        capture_output=True, text=True,
    )
    assert check.returncode == 0 and check.stderr == ""


def test_raw_files_concatenated_per_track_decode_with_ffmpeg(two_speakers, tmp_path):
    """Craig's pipeline: `cat header1 header2 data`, keep one serial's pages, drop the empty timestamp pages and
    give the rest real Ogg CRCs (what Craig's oggcorrect does; ffmpeg rejects the zlib CRCs), then ffmpeg."""
    rid = two_speakers.recording_id
    joined = b"".join(
        (two_speakers.folder / f"{rid}.ogg.{kind}").read_bytes() for kind in ("header1", "header2", "data")
    )
    for serial, voice, other in ((1, *two_speakers.voices), (2, *reversed(two_speakers.voices))):
        pages = [p for p in read_pages(joined) if p.serial == serial and p.packets[0]]
        track = b"".join(
            encode_page(serial=serial, sequence=number, granule=p.granule, packets=p.packets, flags=p.flags,
                        crc=ogg_spec_crc)
            for number, p in enumerate(pages)
        )
        path = tmp_path / f"track{serial}.opus"
        path.write_bytes(track)
        samples = decode_pcm(path)
        spoken = sum(end - start for start, end in voice.bursts) - 0.020 * len(voice.lost)
        # No gaps are filled here (that is the cooker's job), so the track is the packets back to back.
        assert abs(len(samples) / RATE - spoken) < 0.1
        assert goertzel_power(samples, voice.tone) > 100 * goertzel_power(samples, other.tone)


def test_cook_command_writes_files_mix_and_progress(two_speakers, tmp_path):
    rid = two_speakers.recording_id
    completed = subprocess.run(
        [sys.executable, "-m", "pandora.cli", "cook", str(rid), "--dir", str(two_speakers.folder),
         "--out", str(tmp_path), "--format", "wav", "--mix"],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    listed = completed.stdout.split()
    assert listed == [str(tmp_path / f"{rid}-1-alice.wav"), str(tmp_path / f"{rid}-2-bob.wav"),
                      str(tmp_path / f"{rid}-mix.wav")]
    assert "reading packets: 100%" in completed.stderr and "mixing 2 tracks" in completed.stderr
    alice, bob = two_speakers.voices
    mix = decode_pcm(tmp_path / f"{rid}-mix.wav")
    for voice, other in ((alice, bob), (bob, alice)):
        for start, end in voice.bursts:
            only_voice = [
                (s, e) for s, e in [(start + 0.03, end - 0.03)]
                if not any(o_s < e and s < o_e for o_s, o_e in other.bursts)
            ]
            for s, e in only_voice:
                segment = mix[int(s * RATE) : int(e * RATE)]
                assert goertzel_power(segment, voice.tone) > 100 * goertzel_power(segment, other.tone)
    both = mix[int(0.9 * RATE) : int(1.1 * RATE)]  # alice and bob talk at once here
    assert goertzel_power(both, alice.tone) > 0 and goertzel_power(both, bob.tone) > 0
    ratio = goertzel_power(both, alice.tone) / goertzel_power(both, bob.tone)
    assert 0.3 < ratio < 3


def test_cook_command_reports_a_missing_recording(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "pandora.cli", "cook", "123", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 1 and "no raw recording 123" in completed.stderr


def test_a_resumed_recording_cooks_with_both_sessions_in_place(tmp_path):
    """The recorder restarts between alice's two bursts; the second session's audio lands at its true time."""
    first = Voice(ALICE.user_id, "alice", ALICE.tone, ALICE.bursts[:1])
    second = Voice(ALICE.user_id, "alice", ALICE.tone, ALICE.bursts[1:])
    record(tmp_path / "raw", 555000111, (first,))
    recording = record(tmp_path / "raw", 555000111, (second, BOB))
    result = cook_recording(LocalFolderSink(recording.folder), 555000111, tmp_path / "out")
    assert sorted(p.name for p in result.tracks.values()) == ["555000111-1-alice.flac", "555000111-2-bob.flac"]
    assert_speaker_file(result.tracks[1], ALICE, [BOB], result.duration)
    assert_speaker_file(result.tracks[2], BOB, [ALICE], result.duration)


def test_output_names_are_safe_file_names():
    track = Track(3, {"username": "../we ird/név", "name": "x"}, b"", b"")
    assert output_name(7, track, "flac") == "7-3-we_ird_név.flac"
    assert output_name(7, Track(4, {}, b"", b""), "wav") == "7-4-track4.wav"
    assert output_name(7, Track(5, {"username": "///"}, b"", b""), "wav") == "7-5-track5.wav"


@pytest.mark.parametrize(("audio_format", "codec"), [("ogg", "vorbis"), ("mp3", "mp3"), ("wav", "pcm_s16le")])
def test_every_format_holds_the_speaker(two_speakers, tmp_path, audio_format, codec):
    result = cook_recording(
        LocalFolderSink(two_speakers.folder), two_speakers.recording_id, tmp_path, audio_format=audio_format
    )
    alice, bob = two_speakers.voices
    path = result.tracks[1]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    )
    assert json.loads(probe.stdout)["streams"][0]["codec_name"] == codec
    samples = decode_pcm(path)
    assert abs(len(samples) / RATE - result.duration) < 0.06  # mp3 pads a frame
    speech = samples[int(0.4 * RATE) : int(1.2 * RATE)]
    assert goertzel_power(speech, alice.tone) > 100 * goertzel_power(speech, bob.tone)
    assert max(abs(v) for v in samples[: int(0.25 * RATE)]) < 300  # silence before alice starts


def test_cook_command_on_a_recording_without_speakers(tmp_path):
    with RawRecordingWriter(LocalFolderSink(tmp_path), lambda u: Speaker(u, "x", "x"), recording_id=987654321):
        pass
    completed = subprocess.run(
        [sys.executable, "-m", "pandora.cli", "cook", "987654321", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0 and completed.stdout == ""
    assert "has no speakers yet" in completed.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "pandora.cli", "cook", "1", "--dir", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=60,
    )
    assert missing.returncode == 1 and "is not a folder" in missing.stderr and not (tmp_path / "nope").exists()
