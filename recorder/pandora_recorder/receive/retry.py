"""Frames DAVE could not decrypt yet, kept briefly to try again once the sender's new keys are known.

davey (used by discord.py bots) switches a sender to the new epoch's key as soon as it processes a commit, so a
sender can be a few frames ahead of us while our copy of the commit is still on its way; the same happens with
a new member's first frames. Those frames are held per sender, with the epoch we were in, and tried again once
our epoch has changed - before any newer frame of that sender, because DAVE refuses a nonce older than the newest
it has decrypted under a key. Whatever still fails, overflows or waits longer than ``max_wait`` is dropped and
counted - never replaced.
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
        self.waiting: dict[int, deque[tuple[float, Held]]] = {}  # user id -> (arrival, item), oldest first
        self.epochs: dict[int, int | None] = {}  # user id -> our epoch when their frames failed

    def hold(self, user_id: int, arrival: float, item: Held, epoch: int | None) -> None:
        self.epochs[user_id] = epoch
        queue = self.waiting.get(user_id)
        if queue is None:
            queue = self.waiting[user_id] = deque()
        if len(queue) >= self._per_user:
            queue.popleft()
            self._counters[DropReason.DAVE_FAILED] += 1
        queue.append((arrival, item))

    def take(self, user_id: int) -> list[Held]:
        """Everything held for ``user_id``, oldest first; the caller tries each once more."""
        self.epochs.pop(user_id, None)
        queue = self.waiting.pop(user_id, None)
        return [item for _, item in queue] if queue else []

    def worth_retrying(self, epoch: int | None) -> list[int]:
        """Users whose frames failed in an epoch other than ``epoch``."""
        return [user_id for user_id, held_epoch in self.epochs.items() if held_epoch != epoch]

    def expire(self, now: float) -> None:
        deadline = now - self._max_wait
        for user_id in list(self.waiting):
            queue = self.waiting[user_id]
            while queue and queue[0][0] <= deadline:
                queue.popleft()
                self._counters[DropReason.DAVE_FAILED] += 1
            if not queue:
                del self.waiting[user_id]
                del self.epochs[user_id]

    def drop_all(self) -> None:
        for queue in self.waiting.values():
            self._counters[DropReason.DAVE_FAILED] += len(queue)
        self.waiting.clear()
        self.epochs.clear()
