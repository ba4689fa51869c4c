"""The node's event stream: every UI and script sees the same events, each at its own pace."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

# One event (p2pchat/event_types.py says what each holds); None tells a subscriber it lagged.
Event = Mapping[str, Any]
EventQueue = asyncio.Queue[Event | None]
WriteNow = Callable[[Event], bool]


class EventBus:
    """Fan-out of node events to subscribers, each with a bounded queue.

    A subscriber that falls too far behind is dropped (it gets None) rather than letting memory
    grow: a UI reconnects and re-reads the log. A subscriber may also hand in `write_now`,
    tried for an event while its queue is empty (so the order holds); it returns False when the
    event must queue after all.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._queues: dict[EventQueue, WriteNow | None] = {}
        self._limit = limit

    def subscribe(self, write_now: WriteNow | None = None) -> EventQueue:
        queue: EventQueue = asyncio.Queue(self._limit)
        self._queues[queue] = write_now
        return queue

    def unsubscribe(self, queue: EventQueue) -> None:
        self._queues.pop(queue, None)

    @property
    def wanted(self) -> bool:
        """Whether anyone subscribes: an event nobody reads need not be built."""
        return bool(self._queues)

    def emit(self, event: Event) -> None:
        """Hand `event` to every subscriber (one that fell too far behind is dropped)."""
        for queue, write_now in list(self._queues.items()):
            if write_now is not None and queue.empty() and write_now(event):
                continue
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._queues.pop(queue, None)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)
