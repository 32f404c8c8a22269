"""A standard Ogg Opus file (RFC 7845): real Ogg CRCs, end-of-packet granules, several packets per page."""

from __future__ import annotations

import struct
from typing import BinaryIO

from pandora_recorder.raw.ogg import FLAG_BOS, FLAG_EOS, encode_page, lacing, ogg_crc

_PACKETS_PER_PAGE = 50  # one second of 20 ms packets; keeps pages well under the 255 lacing values


def pre_skip(opus_head: bytes) -> int:
    return struct.unpack_from("<H", opus_head, 10)[0]


class OggOpusWriter:
    """Writes one logical stream. The first `pre_skip` samples are discarded by players, so the caller writes
    that much silence first to keep sample 0 at the recording start."""

    def __init__(self, file: BinaryIO, serial: int, opus_head: bytes, opus_tags: bytes) -> None:
        self.file = file
        self.serial = serial
        self.granule = 0
        self._sequence = 0
        self._packets: list[bytes] = []
        self._lacing = 0
        self._page(opus_head, flags=FLAG_BOS, granule=0)
        self._page(opus_tags, flags=0, granule=0)

    def _page(self, *packets: bytes, flags: int, granule: int) -> None:
        self.file.write(
            encode_page(
                serial=self.serial, sequence=self._sequence, granule=granule, packets=packets, flags=flags,
                crc=ogg_crc,
            )
        )
        self._sequence += 1

    def write(self, packet: bytes, samples: int) -> None:
        needed = len(lacing(len(packet)))
        if self._packets and (self._lacing + needed > 255 or len(self._packets) >= _PACKETS_PER_PAGE):
            self._flush_page(flags=0)
        self._packets.append(packet)
        self._lacing += needed
        self.granule += samples

    def _flush_page(self, flags: int) -> None:
        self._page(*self._packets, flags=flags, granule=self.granule)
        self._packets.clear()
        self._lacing = 0

    def close(self) -> None:
        """Write the last page with the end-of-stream flag."""
        self._flush_page(flags=FLAG_EOS)
