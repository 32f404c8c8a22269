"""Drop repeated RTP packets: networks duplicate datagrams, and DAVE would refuse the second copy anyway."""

from __future__ import annotations

from collections import deque

DEFAULT_MEMORY = 1024  # sequences remembered per SSRC (about 20 s of audio; sequences repeat after 65536)


class DuplicateFilter:
    def __init__(self, memory: int = DEFAULT_MEMORY) -> None:
        self._memory = memory
        self._seen: dict[int, tuple[set[int], deque[int]]] = {}

    def is_repeat(self, ssrc: int, sequence: int) -> bool:
        """True when this (SSRC, sequence) was seen recently; otherwise remembers it and returns False."""
        entry = self._seen.get(ssrc)
        if entry is None:
            entry = self._seen[ssrc] = (set(), deque())
        seen, order = entry
        if sequence in seen:
            return True
        seen.add(sequence)
        order.append(sequence)
        if len(order) > self._memory:
            seen.discard(order.popleft())
        return False
