"""Keeps trying to reach the peers we want links with: capped, jittered exponential backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Address = tuple[str, int]


class Dialer:
    """One task per wanted peer. `connect(key, address)` returns True once a link is established.

    While a peer is linked its task waits; `wake(key)` (link lost, new address, contact added)
    makes it try again at once instead of at the end of its backoff.
    """

    def __init__(
        self,
        connect: Callable[[bytes, Address], Awaitable[bool]],
        addresses: Callable[[bytes], list[Address]],
        is_linked: Callable[[bytes], bool],
        *,
        base: float = 0.25,
        cap: float = 8.0,
        rng: random.Random | None = None,
    ) -> None:
        self._connect = connect
        self._addresses = addresses
        self._is_linked = is_linked
        self._base = base
        self._cap = cap
        self._rng = rng or random.Random()
        self._tasks: dict[bytes, asyncio.Task[None]] = {}
        self._wakes: dict[bytes, asyncio.Event] = {}

    def want(self, key: bytes) -> None:
        if key in self._tasks:
            self.wake(key)
            return
        self._wakes[key] = asyncio.Event()
        self._tasks[key] = asyncio.create_task(self._run(key), name=f"dial-{key.hex()[:8]}")

    def wake(self, key: bytes) -> None:
        if key in self._wakes:
            self._wakes[key].set()

    def wake_all(self) -> None:
        for event in self._wakes.values():
            event.set()

    def forget(self, key: bytes) -> None:
        task = self._tasks.pop(key, None)
        self._wakes.pop(key, None)
        if task:
            task.cancel()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._wakes.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def backoff(self, attempt: int) -> float:
        """Full delay for the n-th failure: doubling up to the cap, then jittered to 50-100%."""
        delay: float = min(self._cap, self._base * 2.0 ** min(attempt, 16))
        return delay * (0.5 + self._rng.random() / 2.0)

    async def _run(self, key: bytes) -> None:
        wake = self._wakes[key]
        failures = 0
        while True:
            wake.clear()
            if self._is_linked(key):
                failures = 0
                await wake.wait()
                continue
            addresses = self._addresses(key)
            if not addresses:  # nowhere to dial yet: discovery or the user will wake us
                await wake.wait()
                continue
            linked = False
            for address in addresses:
                try:
                    linked = await self._connect(key, address)
                except Exception as exc:  # one bad address must not end the peer's dialing
                    log.debug("dial %s failed: %s", address, exc)
                if linked:
                    break
            if linked:
                failures = 0
                continue
            delay = self.backoff(failures)
            failures += 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), delay)
