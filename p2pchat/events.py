"""The node's event stream: every UI and script sees the same events, each at its own pace."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class EventBus:
    """Fan-out of node events to subscribers, each with a bounded queue.

    A subscriber that falls too far behind is dropped (it gets None) rather than letting memory
    grow: a UI reconnects and re-reads the log.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._limit = limit

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self._limit)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._queues.discard(queue)

    @property
    def wanted(self) -> bool:
        """Whether anyone subscribes: an event nobody reads need not be built."""
        return bool(self._queues)

    def emit(self, event: dict[str, Any]) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._queues.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)
