"""SSRC -> Discord user, learned from voice op 5 (SPEAKING), with a bounded buffer for packets that come first.

A sender's first packets often arrive before the gateway's op 5 names their SSRC. They are held per SSRC (up to
``per_ssrc_limit`` packets, for at most ``max_pending_ssrcs`` SSRCs) and handed back for replay when op 5 maps
the SSRC. Mappings are kept after a user disconnects so packets still in flight are attributed; a later op 5
for the same SSRC simply remaps it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from pandora_recorder.receive.drops import Drop, DropCounters, DropReason

Held = TypeVar("Held")

DEFAULT_PER_SSRC_LIMIT = 250  # 5 s of 20 ms Opus frames
DEFAULT_MAX_PENDING_SSRCS = 16


class SpeakerMap(Generic[Held]):
    def __init__(
        self,
        counters: DropCounters,
        *,
        per_ssrc_limit: int = DEFAULT_PER_SSRC_LIMIT,
        max_pending_ssrcs: int = DEFAULT_MAX_PENDING_SSRCS,
    ) -> None:
        self._counters = counters
        self._per_ssrc_limit = per_ssrc_limit
        self._max_pending_ssrcs = max_pending_ssrcs
        self.users: dict[int, int] = {}  # ssrc -> user id; read on the hot path with .get
        self._pending: OrderedDict[int, list[Held]] = OrderedDict()  # oldest SSRC first

    def hold(self, ssrc: int, item: Held) -> None:
        """Keep a packet of an SSRC nobody has claimed yet; raises ``Drop`` when its buffer is full."""
        held = self._pending.get(ssrc)
        if held is None:
            if len(self._pending) >= self._max_pending_ssrcs:
                _, evicted = self._pending.popitem(last=False)
                self._counters[DropReason.EARLY_EXPIRED] += len(evicted)
            held = self._pending[ssrc] = []
        if len(held) >= self._per_ssrc_limit:
            raise Drop(DropReason.EARLY_OVERFLOW)
        held.append(item)

    def assign(self, ssrc: int, user_id: int) -> list[Held]:
        """Record that ``ssrc`` belongs to ``user_id``; returns the packets held for it, oldest first."""
        self.users[ssrc] = user_id
        return self._pending.pop(ssrc, [])

    def drop_pending(self) -> None:
        """Count every packet still waiting for an op 5 as dropped (the recording ends without one)."""
        for held in self._pending.values():
            self._counters[DropReason.EARLY_EXPIRED] += len(held)
        self._pending.clear()
