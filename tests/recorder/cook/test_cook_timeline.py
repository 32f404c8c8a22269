import discord.opus

from pandora_recorder.cook.opus_packet import concealment, packet_samples, silence
from pandora_recorder.cook.timeline import TrackTimeline

SPEECH = b"\x7c" + b"\x55" * 100  # hybrid fullband 20 ms, one frame


def placed(timeline, packet, arrival, rtp):
    return [(p, n) for p, n in timeline.place(packet, arrival, rtp)]


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
    timeline = TrackTimeline()
    out = placed(timeline, SPEECH, 48_000, 5000)
    assert [n for _, n in out if _ != SPEECH] and sum(n for _, n in out) == 48_960  # silence up to 1 s, then speech
    for index, jitter in enumerate((900, 0, 3000, 4700, 100), start=1):
        out = placed(timeline, SPEECH, 48_000 + index * 960 + jitter, 5000 + index * 960)
        assert out == [(SPEECH, 960)]
    assert timeline.position == 48_000 + 6 * 960


def test_lost_packets_are_concealed_and_later_speech_keeps_its_time():
    timeline = TrackTimeline()
    placed(timeline, SPEECH, 960, 0)
    out = placed(timeline, SPEECH, 960 * 5 + 2000, 960 * 4)  # three packets lost, this one arrives late
    assert out == [(concealment(SPEECH[0]), 960)] * 3 + [(SPEECH, 960)]
    assert timeline.position == 960 * 6


def test_new_burst_with_back_to_back_rtp_starts_at_its_arrival():
    """discord.py's sender does not advance RTP over a pause; arrival says where the next burst starts."""
    timeline = TrackTimeline()
    placed(timeline, SPEECH, 960, 0)
    out = placed(timeline, SPEECH, 48_000, 960)
    assert out[-1] == (SPEECH, 960)
    assert sum(n for p, n in out[:-1]) == 48_000 - 1920 and all(p[:1] in (b"\xf8", b"\xf0", b"\xe8", b"\xe0")
                                                               for p, _ in out[:-1])
    assert timeline.position == 48_960


def test_rtp_jump_after_reconnect_trusts_arrival_and_never_drops():
    timeline = TrackTimeline()
    placed(timeline, SPEECH, 96_000, 123)
    assert placed(timeline, SPEECH, 20_000, 4_000_000_000) == [(SPEECH, 960)]  # late: right after, not dropped
    assert timeline.position == 96_000 + 1920
    assert placed(timeline, b"", 200_000, None) == [] and timeline.invalid_packets == 1
