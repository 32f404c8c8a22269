import random
import zlib

from pandora_recorder.raw.ogg import FLAG_BOS, complete_length, encode_page, ogg_crc, read_pages


def ogg_crc_bitwise(data: bytes) -> int:
    """The Ogg CRC straight from the spec: polynomial 0x04C11DB7, MSB first, init 0, no final xor."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def test_ogg_crc_matches_the_spec_polynomial():
    rng = random.Random(3)
    for size in (0, 1, 27, 255, 1000):
        data = bytes(rng.randrange(256) for _ in range(size))
        assert ogg_crc(data) == ogg_crc_bitwise(data)


def test_raw_pages_carry_zlib_crc_and_round_trip():
    packets = [b"", b"x", b"y" * 254, b"z" * 255, b"w" * 510, b"v" * 1200]
    for number, packet in enumerate(packets):
        page = encode_page(serial=3, sequence=number, granule=0xABCDEF0123, packets=(packet,), flags=FLAG_BOS)
        zeroed = page[:22] + b"\0\0\0\0" + page[26:]
        assert int.from_bytes(page[22:26], "little") == zlib.crc32(zeroed)
        assert page[12:14] == b"\0\0"  # 6-byte granule
        (parsed,) = read_pages(page)
        assert parsed.packets == (packet,)
        assert (parsed.serial, parsed.sequence, parsed.granule, parsed.flags) == (3, number, 0xABCDEF0123, 2)
        assert page[26] == len(packet) // 255 + 1  # standard lacing, a 0 ends multiples of 255


def test_torn_last_page_is_left_out():
    pages = b"".join(encode_page(serial=1, sequence=n, granule=n + 1, packets=(b"a" * 300,)) for n in range(3))
    whole = len(pages)
    for cut in (whole - 1, whole - 100, whole - 302, whole - 328):  # inside the 329-byte last page
        torn = pages[:cut]
        assert complete_length(torn) == whole // 3 * 2
        assert [p.sequence for p in read_pages(torn)] == [0, 1]
    assert complete_length(pages) == whole
