"""A short per-SSRC reorder window by RTP timestamp (Craig keeps 16 packets).

A frame leaves the window when more than ``size`` frames of its SSRC wait behind it, or when it has waited
``max_hold`` seconds (so a speaker who stops talking is not held back, and a crash loses little). A frame that
arrives after later frames already left is still emitted: every delivered frame is kept exactly once.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from pandora_recorder.frames import ReceivedFrame

DEFAULT_WINDOW = 16
DEFAULT_MAX_HOLD = 0.2
_HALF = 1 << 31
_WRAP = 1 << 32


class _Queue:
    __slots__ = ("heap", "last")

    def __init__(self, timestamp: int) -> None:
        self.heap: list[tuple[int, int, ReceivedFrame]] = []
        self.last = timestamp  # extended (wrap-free) timestamp of the latest frame pushed


class ReorderWindow:
    def __init__(
        self,
        emit: Callable[[ReceivedFrame], None],
        *,
        size: int = DEFAULT_WINDOW,
        max_hold: float = DEFAULT_MAX_HOLD,
    ) -> None:
        self._emit = emit
        self._size = size
        self._max_hold = max_hold
        self._queues: dict[int, _Queue] = {}
        self._order = itertools.count()  # tie-break: equal timestamps leave in arrival order

    def push(self, frame: ReceivedFrame) -> None:
        queue = self._queues.get(frame.ssrc)
        if queue is None:
            queue = self._queues[frame.ssrc] = _Queue(frame.rtp_timestamp)
        # Unwrap the 32-bit RTP timestamp relative to the latest one seen on this SSRC.
        delta = (frame.rtp_timestamp - queue.last) % _WRAP
        if delta >= _HALF:
            delta -= _WRAP
        extended = queue.last + delta
        if delta > 0:
            queue.last = extended
        heap = queue.heap
        heapq.heappush(heap, (extended, next(self._order), frame))
        deadline = frame.arrival - self._max_hold
        while heap and (len(heap) > self._size or heap[0][2].arrival <= deadline):
            self._emit(heapq.heappop(heap)[2])

    def release_due(self, now: float) -> None:
        """Emit frames that waited at least ``max_hold`` (call periodically: quiet speakers push nothing)."""
        deadline = now - self._max_hold
        for queue in self._queues.values():
            heap = queue.heap
            while heap and heap[0][2].arrival <= deadline:
                self._emit(heapq.heappop(heap)[2])

    def release_all(self) -> None:
        for queue in self._queues.values():
            heap = queue.heap
            while heap:
                self._emit(heapq.heappop(heap)[2])
