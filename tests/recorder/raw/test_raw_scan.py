"""Reading damaged raw files: checked pages, resync past damage, the same answer however the file is read."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from pandora_recorder.raw.ogg import encode_page, ogg_crc, raw_page
from pandora_recorder.raw.scan import (
    BAD_CHECKSUM,
    CUT_OFF,
    CUT_OFF_LINE,
    NOT_A_PAGE,
    PageScanner,
    scan_pages,
    scan_users,
)

PAGES = b"".join(raw_page(1 + n % 3, 2 + n, 1000 * n, bytes([0xFC]) + bytes(range(n % 200))) for n in range(60))


def offsets(content: bytes) -> list[int]:
    return [page.offset for page in scan_pages(content, "x")[0]]


def test_an_undamaged_file_is_all_pages_and_no_damage() -> None:
    pages, damage = scan_pages(PAGES, "1.ogg.data")
    assert len(pages) == 60 and damage == []
    assert [page.sequence for page in pages] == list(range(2, 62))


def test_a_flipped_byte_costs_its_page_only_and_names_where_it_starts() -> None:
    start = offsets(PAGES)[7]
    damaged = bytearray(PAGES)
    damaged[start + 28] ^= 0x10  # its first packet byte
    pages, damage = scan_pages(bytes(damaged), "1.ogg.data")
    assert [page.sequence for page in pages] == [s for s in range(2, 62) if s != 9]
    assert [(d.file, d.offset, d.reason) for d in damage] == [("1.ogg.data", start, BAD_CHECKSUM)]
    assert damage[0].length == offsets(PAGES)[8] - start
    assert damage[0].describe() == f"1.ogg.data: damaged at byte {start}: {BAD_CHECKSUM} ({damage[0].length} bytes)"


def test_junk_between_pages_and_a_cut_tail_are_named() -> None:
    middle = offsets(PAGES)[30]
    content = PAGES[:middle] + b"junk!" + PAGES[middle:-10]
    pages, damage = scan_pages(content, "f")
    assert len(pages) == 59
    assert [(d.offset, d.length, d.reason) for d in damage] == [
        (middle, 5, NOT_A_PAGE), (offsets(PAGES)[59] + 5, len(PAGES) - 10 - offsets(PAGES)[59], CUT_OFF)]


def test_pages_with_the_real_ogg_crc_are_accepted_too() -> None:
    page = encode_page(serial=1, sequence=2, granule=960, packets=(b"\xfc\x01",), crc=ogg_crc)
    assert len(scan_pages(page, "f")[0]) == 1


def test_users_lines_are_read_one_by_one() -> None:
    content = b'"0":{}\n,"1":{"id":"5","username":"alice"}\n,"2":{"id":"6",\xff"username":"bob"}\n,"3":{"id":"7"}\n,"4"'
    users, damage = scan_users(content, "1.ogg.users")
    assert users == {1: {"id": "5", "username": "alice"}, 3: {"id": "7"}}
    second = content.index(b',"2"')
    assert [(d.offset, d.reason) for d in damage] == [(second, "line 3 is not a track record"),
                                                      (len(content) - 4, CUT_OFF_LINE)]


damage = st.lists(st.tuples(st.integers(0, len(PAGES) - 1), st.integers(1, 255)), max_size=4)


@settings(max_examples=int(os.environ.get("PANDORA_FUZZ_EXAMPLES", "150")), deadline=None)
@given(flips=damage, cut=st.integers(0, 400), pieces=st.lists(st.integers(1, 3000), min_size=1, max_size=20))
def test_reading_in_pieces_finds_the_same_pages_and_damage_as_reading_whole(flips, cut, pieces) -> None:
    """`pandora cook` reads the data file in 4 MiB pieces: damage across a piece boundary is found once, the same."""
    content = bytearray(PAGES[: len(PAGES) - cut])
    for position, mask in flips:
        if position < len(content):
            content[position] ^= mask
    whole_pages, whole_damage = scan_pages(bytes(content), "f")
    scanner = PageScanner("f")
    pages, offset = [], 0
    for size in pieces:
        pages += scanner.feed(bytes(content[offset : offset + size]))
        offset += size
    pages += scanner.feed(bytes(content[offset:]))
    pages += scanner.feed(b"", final=True)
    assert pages == whole_pages
    assert scanner.damage == whole_damage
    covered = sum(page.size for page in pages) + sum(d.length for d in whole_damage)
    assert covered == len(content)  # every byte is either in a page or in a damaged stretch
