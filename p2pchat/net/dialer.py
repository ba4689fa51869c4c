"""Keeps trying to reach the peers we want links with: capped, jittered exponential backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from p2pchat.net.addresses import Address

log = logging.getLogger(__name__)



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
        patience: float = 60.0,
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
        self._stopped = False
        self._patience = patience
        self._patient: set[bytes] = set()

    def want(self, key: bytes) -> None:
        if self._stopped:
            return
        if key in self._tasks:
            self.wake(key)
            return
        self._wakes[key] = asyncio.Event()
        self._tasks[key] = asyncio.create_task(self._run(key), name=f"dial-{key.hex()[:8]}")

    def set_patient(self, key: bytes, patient: bool) -> None:
        """Dial `key` only rarely: it has our contact request and we wait for its answer.

        Once accepted, they dial us, so redialling often would only knock on a closed door.
        """
        if patient:
            self._patient.add(key)
        else:
            self._patient.discard(key)

    def wake(self, key: bytes) -> None:
        if key in self._wakes:
            self._wakes[key].set()

    def wake_all(self) -> None:
        for event in self._wakes.values():
            event.set()

    def forget(self, key: bytes) -> None:
        self._patient.discard(key)
        task = self._tasks.pop(key, None)
        self._wakes.pop(key, None)
        if task:
            task.cancel()

    async def stop(self) -> None:
        # The flag, not only cancel(): on Python 3.11 wait_for() can swallow a cancellation
        # that races with completion, and the loop must still end.
        self._stopped = True
        tasks = list(self._tasks.values())
        for event in self._wakes.values():
            event.set()
        self._tasks.clear()
        self._wakes.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def backoff(self, attempt: int) -> float:
        """Full delay for the n-th failure: doubling up to the cap, then jittered to 50-100%."""
        delay: float = min(self._cap, self._base * 2.0 ** min(attempt, 16))
        return delay * (0.5 + self._rng.random() / 2.0)

    async def _run(self, key: bytes) -> None:
        wake = self._wakes[key]
        failures = 0
        while not self._stopped:
            wake.clear()
            if self._is_linked(key):
                failures = 0
                await wake.wait()
                continue
            if key in self._patient:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), self._patience)
                if self._is_linked(key) or self._stopped:
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
