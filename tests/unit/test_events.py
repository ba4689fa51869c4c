"""The node's event bus: bounded queues, and a subscriber's `write_now` tried only where it
keeps the order."""

from __future__ import annotations

from typing import Any

from p2pchat.events import EventBus


class Screen:
    """A subscriber's writing side that takes events at once until told not to."""

    def __init__(self) -> None:
        self.written: list[Any] = []
        self.open = True

    def write_now(self, event: dict[str, Any]) -> bool:
        if self.open:
            self.written.append(event["n"])
        return self.open


async def test_events_go_out_at_once_while_nothing_waits() -> None:
    bus, screen = EventBus(), Screen()
    queue = bus.subscribe(write_now=screen.write_now)
    for n in range(3):
        bus.emit({"n": n})
    assert screen.written == [0, 1, 2] and queue.empty()


async def test_once_one_event_queues_the_later_ones_queue_behind_it() -> None:
    bus, screen = EventBus(), Screen()
    queue = bus.subscribe(write_now=screen.write_now)
    bus.emit({"n": 0})
    screen.open = False  # say, the socket's buffer is not empty
    bus.emit({"n": 1})
    screen.open = True
    bus.emit({"n": 2})  # may not overtake 1
    assert screen.written == [0]
    assert [queue.get_nowait()["n"] for _ in range(2)] == [1, 2]  # type: ignore[index]
    bus.emit({"n": 3})  # the queue is empty again
    assert screen.written == [0, 3]


async def test_a_subscriber_that_falls_behind_is_dropped_with_a_marker() -> None:
    bus = EventBus(limit=3)
    plain = bus.subscribe()
    for n in range(5):
        bus.emit({"n": n})
    assert not bus.wanted
    assert [plain.get_nowait() for _ in range(3)] == [{"n": 1}, {"n": 2}, None]
