"""Waiting helpers for in-process asyncio tests: a deadline on every wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def until(condition: Callable[[], Any], timeout: float = 10, what: str = "") -> Any:
    """Poll `condition` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)  # bounded: polling a condition with a deadline
    return value


async def turns(n: int = 20) -> None:
    """Let the loop run `n` turns of what is ready, no time passing: for showing that something
    scheduled (call_soon) did not happen, where only a timer far in the future could do it."""
    loop = asyncio.get_running_loop()
    for _ in range(n):  # bounded
        turned: asyncio.Future[None] = loop.create_future()
        loop.call_soon(turned.set_result, None)  # runs after what is ready now
        await turned


async def next_event(queue: asyncio.Queue[dict[str, Any] | None], kind: str,
                     timeout: float = 20) -> dict[str, Any]:
    """The next node event of type `kind` from a subscription queue."""

    async def wait() -> dict[str, Any]:
        while True:
            event = await queue.get()
            assert event is not None, "the subscription lagged"
            if event["type"] == kind:
                return event

    return await asyncio.wait_for(wait(), timeout)
