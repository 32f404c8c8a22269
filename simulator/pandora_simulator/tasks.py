"""Background tasks of the simulator's servers: spawned from callbacks, logged when they fail, cancelled at close."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from pandora_simulator.logs import log


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task failed", error=repr(task.exception()))

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
