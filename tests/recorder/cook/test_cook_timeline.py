import discord.opus

from pandora_recorder.cook.opus_packet import concealment, packet_samples, silence
from pandora_recorder.cook.timeline import TrackTimeline

SPEECH = b"\x7c" + b"\x55" * 100  # hybrid fullband 20 ms, one frame


def timeline_of(packets, end=None):
    """Run (packet, arrival, rtp) through a timeline; return (packet, start sample) of everything it placed."""
    timeline = TrackTimeline()
    out, position = [], 0
    placed = [item for packet in packets for item in timeline.place(*packet)] + list(timeline.finish(end))
    for packet, samples in placed:
        out.append((packet, position))
        position += samples
    assert position == timeline.position
    return out, timeline


def speech_starts(out):
    return [start for packet, start in out if packet == SPEECH]


def is_silence(packet):
    return packet[0] in (0xF8, 0xF0, 0xE8, 0xE0) and packet[1:] == b"\xff\xfe"


def test_packet_lengths_follow_the_toc():
    assert packet_samples(b"\xf8\xff\xfe") == 960
    assert packet_samples(b"\x78" + b"x" * 50) == 960  # SILK wideband 20 ms
    assert packet_samples(b"\x08xx") == 960  # SILK NB 20 ms
    assert packet_samples(b"\x1b\x02" + b"x" * 30) == 2 * 2880  # 60 ms frames, code 3 with 2 frames
    assert packet_samples(b"\xf9xx") == 1920  # code 1: two 20 ms frames
    assert packet_samples(b"\x1b\x05" + b"x" * 30) == 0  # 300 ms: not a valid packet
    assert packet_samples(b"") == 0 and packet_samples(b"\x03") == 0


def test_silence_and_concealment_decode_to_the_promised_length():
    decoder = discord.opus.Decoder()
    for samples in (120, 240, 360, 960, 1080, 3000):
        frames = silence(samples)
        decoded = sum(len(decoder.decode(frame)) // 4 for frame in frames)
        assert decoded == samples // 120 * 120
        assert all(set(decoder.decode(frame)) <= {0} for frame in frames)
    lost = concealment(SPEECH[0])
    assert len(lost) == 1 and len(decoder.decode(lost)) // 4 == packet_samples(lost) == 960


def test_back_to_back_rtp_ignores_arrival_jitter():
    # The first packet arrives 900 samples late; the burst still starts where the least delayed packet says.
    jitter = (900, 0, 3000, 4700, 100, 2000)
    out, _ = timeline_of([(SPEECH, 48_000 + k * 960 + j, 5000 + k * 960) for k, j in enumerate(jitter)])
    assert speech_starts(out) == [48_000 + k * 960 for k in range(6)]
    assert all(is_silence(packet) for packet, start in out if start < 48_000)


def test_lost_packets_are_concealed_and_later_speech_keeps_its_time():
    out, _ = timeline_of([(SPEECH, 960, 0), (SPEECH, 960 * 5 + 2000, 960 * 4)])  # three lost, the next one late
    assert [packet for packet, _ in out[-5:]] == [SPEECH] + [concealment(SPEECH[0])] * 3 + [SPEECH]
    assert speech_starts(out) == [960, 960 * 5]


def test_long_hole_inside_a_burst_is_silence_at_the_right_length():
    out, _ = timeline_of([(SPEECH, 0, 0), (SPEECH, 960 * 20, 960 * 20)])  # 380 ms lost, RTP consistent
    assert speech_starts(out) == [0, 960 * 20]
    assert all(is_silence(packet) for packet, start in out if 0 < start < 960 * 20)


def test_new_burst_with_back_to_back_rtp_starts_at_its_arrival():
    """discord.py's sender does not advance RTP over a pause; arrival says where the next burst starts."""
    out, _ = timeline_of([(SPEECH, 960, 0), (SPEECH, 48_000, 960), (SPEECH, 48_960, 1920)])
    assert speech_starts(out) == [960, 48_000, 48_960]
    assert all(is_silence(packet) for packet, start in out if 1920 <= start < 48_000)


def test_late_packets_after_an_rtp_jump_are_kept_and_the_end_is_padded():
    out, timeline = timeline_of(
        [(SPEECH, 96_000, 123), (SPEECH, 20_000, 4_000_000_000), (b"", 200_000, None)], end=144_000
    )
    assert speech_starts(out) == [96_000, 96_960]  # late: right after the audio already placed, not dropped
    assert timeline.invalid_packets == 1
    assert timeline.position == 144_000 and is_silence(out[-1][0])
