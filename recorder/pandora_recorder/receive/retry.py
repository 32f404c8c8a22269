"""Frames DAVE could not decrypt yet, kept briefly to try again once the sender's new keys are known.

davey (used by discord.py bots) switches a sender to the new epoch's key as soon as it processes a commit, so a
sender can be a few frames ahead of us while our copy of the commit is still on its way; the same happens with
a new member's first frames. And while our own group is being (re)established - a welcome after a re-key, a
restarted recorder joining - no frame can be read at all. Those frames are held per sender, with the epoch we
were in (None: no ready group), and tried again once we are in another epoch - before any newer frame of that
sender, because DAVE refuses a nonce older than the newest it has decrypted under a key. Whatever still fails,
overflows or waits longer than ``max_wait`` is dropped and counted under the reason it was held for - never
replaced.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

from pandora_recorder.receive.drops import DropCounters, DropReason

Held = TypeVar("Held")

DEFAULT_PER_USER = 50  # one second of 20 ms frames
DEFAULT_MAX_WAIT = 1.0


class RetryQueue(Generic[Held]):
    def __init__(self, counters: DropCounters, *, per_user: int = DEFAULT_PER_USER,
                 max_wait: float = DEFAULT_MAX_WAIT) -> None:
        self._counters = counters
        self._per_user = per_user
        self._max_wait = max_wait
        # user id -> (arrival, item, why it could not be decrypted), oldest first
        self.waiting: dict[int, deque[tuple[float, Held, str]]] = {}
        self.epochs: dict[int, int | None] = {}  # user id -> our epoch when their frames failed

    def hold(self, user_id: int, arrival: float, item: Held, epoch: int | None,
             reason: str = DropReason.DAVE_FAILED) -> None:
        self.epochs[user_id] = epoch
        queue = self.waiting.get(user_id)
        if queue is None:
            queue = self.waiting[user_id] = deque()
        if len(queue) >= self._per_user:
            self._counters[queue.popleft()[2]] += 1
        queue.append((arrival, item, reason))

    def take(self, user_id: int) -> list[tuple[float, Held]]:
        """(arrival, item) of everything held for ``user_id``, oldest first; the caller tries each once more."""
        self.epochs.pop(user_id, None)
        queue = self.waiting.pop(user_id, None)
        return [(arrival, item) for arrival, item, _ in queue] if queue else []

    def worth_retrying(self, epoch: int | None) -> list[int]:
        """Users whose frames failed in an epoch other than ``epoch`` (none without a ready group)."""
        if epoch is None:
            return []
        return [user_id for user_id, held_epoch in self.epochs.items() if held_epoch != epoch]

    def expire(self, now: float) -> None:
        deadline = now - self._max_wait
        for user_id in list(self.waiting):
            queue = self.waiting[user_id]
            while queue and queue[0][0] <= deadline:
                self._counters[queue.popleft()[2]] += 1
            if not queue:
                del self.waiting[user_id]
                del self.epochs[user_id]

    def drop_all(self) -> None:
        for queue in self.waiting.values():
            for _, _, reason in queue:
                self._counters[reason] += 1
        self.waiting.clear()
        self.epochs.clear()
