"""Waiting for an asyncio.Event with a deadline: the one way every loop here does it.

`asyncio.wait_for(event.wait(), t)` is not used: on Python 3.11 it loses a cancel that arrives
as the event is set (the inner wait finished, so wait_for returns), and a loop that goes on
after it is never stopped; a chat screen's stop waited for one for ever (session 34)."""

from __future__ import annotations

import asyncio
import contextlib


async def woken(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` seconds pass; whether it was set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
    return event.is_set()
