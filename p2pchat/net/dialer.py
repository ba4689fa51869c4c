"""Keeps trying to reach the peers we want links with: capped, jittered exponential backoff.

Nothing here waits on a long fixed timer while a link could come up: a lost link, a new address
or a new contact retries at once, and only repeated failures back off (to `cap`, a few seconds:
dialling a LAN address that refuses costs nothing). A requester, whose contact request is with
the peer and who waits to be accepted, keeps knocking (the accepter may be unable to dial back: a
one-way firewall, an address seen through NAT): EAGER_KNOCKS knocks every `patient_interval`,
then each knock the peer closed unanswered doubles the wait before the next, up to `patience`
(a contact who removed us would otherwise see our link come and go every second or two, for
ever); after `eager_window` it knocks once per `patience`.

A `fallback` (a relay) races the direct dials, as happy eyeballs (RFC 8305) races IPv6 and
IPv4: it starts `fallback_after` seconds (a quarter of a second) after a round of direct dials
began, or at once when there is no address to dial, and whichever links first carries the
link. The fallback returns None when it has no way to try: then, with no address either, the
task waits to be woken, as without one. While a relay carries the link, direct addresses are
still tried at the backoff's pace, so a direct path that appears takes over (the link table
keeps a direct link over a relayed one).

A link counts as a success only once it has carried a record (`ended(key, carried)`): a link
that dies right after its handshake (a relay that mangles frames, a peer that crashes on
greeting) leaves the backoff growing, so such a path is retried a few times a second at most,
never in a loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from p2pchat.net.addresses import Address
from p2pchat.waits import woken

log = logging.getLogger(__name__)

# Knocks at `patient_interval` before each next one waits twice as long: an acceptance in the
# first seconds (the user was waiting for the request) still links at once.
EAGER_KNOCKS = 4


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
        cap: float = 4.0,
        patient_interval: float = 2.0,
        eager_window: float = 600.0,
        patience: float = 60.0,
        fallback: Callable[[bytes], Awaitable[bool | None]] | None = None,
        fallback_after: float = 0.25,
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
        self._patient_interval = patient_interval
        self._eager_window = eager_window
        self._patience = patience
        self._fallback = fallback
        self._fallback_after = fallback_after
        self._patient: dict[bytes, float] = {}  # peer -> when we first found it had our request
        self._knocks: dict[bytes, int] = {}  # peer -> knocks it closed unanswered so far
        self._failures: dict[bytes, int] = {}  # attempts since a link last carried a record
        self._not_before: dict[bytes, float] = {}  # after a link that carried nothing

    def want(self, key: bytes, patient: bool = False) -> None:
        """Dial `key`; `patient`: its node has our request (set_patient), as it said before
        our restart (trial 14c, B6)."""
        if patient:
            self.set_patient(key, True)
        if self._stopped:
            return
        if key in self._tasks:
            self.wake(key)
            return
        self._wakes[key] = asyncio.Event()
        self._tasks[key] = asyncio.create_task(self._run(key), name=f"dial-{key.hex()[:8]}")

    def set_patient(self, key: bytes, patient: bool) -> None:
        """`key` has our contact request and we wait for its answer (or it answered).

        While they decide we knock again after `patient_interval`, after EAGER_KNOCKS knocks
        doubling with each knock up to `patience`: they may accept at any moment and be
        unable to dial us back, and the acceptance reaches us on our next knock. After
        `eager_window` without an answer we knock once per `patience` only. Asking again on a
        later link does not restart the window or the doubling.
        """
        if patient:
            self._patient.setdefault(key, asyncio.get_running_loop().time())
        else:
            self._patient.pop(key, None)
            self._knocks.pop(key, None)

    def patient_delay(self, key: bytes, now: float) -> float | None:
        """How long to wait before knocking on a requested peer again; None if not patient."""
        since = self._patient.get(key)
        if since is None:
            return None
        if now - since < self._eager_window:
            doublings = min(max(0, self._knocks.get(key, 0) - EAGER_KNOCKS + 1), 16)
            delay = min(self._patience, self._patient_interval * 2.0 ** doublings)
            return delay * (0.5 + self._rng.random() / 2.0)
        return self._patience

    def failures(self, key: bytes) -> int:
        """Dials (direct and relayed rounds) since a link to `key` last carried a record."""
        return self._failures.get(key, 0)

    def waits_for_answer(self, key: bytes) -> bool:
        """Whether `key`'s node has our contact request and has not added us (yet)."""
        return key in self._patient

    def wake(self, key: bytes) -> None:
        if key in self._wakes:
            self._wakes[key].set()

    def wake_all(self) -> None:
        for event in self._wakes.values():
            event.set()

    def ended(self, key: bytes, *, carried: bool) -> None:
        """The peer's link ended. One that carried a record resets the backoff and the next
        dial goes at once; one that carried nothing is a failure like a refused dial: the next
        dial waits for the backoff, whatever else wakes the task meanwhile. Peers we do not
        dial (strangers who came to us) leave nothing behind."""
        if key not in self._tasks:
            return
        if carried:
            self._failures[key] = 0
            self._not_before.pop(key, None)
        else:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
            self._not_before[key] = asyncio.get_running_loop().time() + self.backoff(failures)
        self.wake(key)

    def forget(self, key: bytes) -> None:
        self._patient.pop(key, None)
        self._knocks.pop(key, None)
        self._failures.pop(key, None)
        self._not_before.pop(key, None)
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
        loop = asyncio.get_running_loop()
        while not self._stopped:
            wake.clear()
            if self._is_linked(key):
                await wake.wait()
                continue
            hold = self._not_before.get(key, 0.0) - loop.time()
            if hold > 0:  # the last link carried nothing: no dial before the backoff is over
                await asyncio.sleep(hold)
                continue
            patient = self.patient_delay(key, loop.time())
            if patient is not None:
                await woken(wake, patient)
                if self._is_linked(key) or self._stopped:
                    continue
            addresses = self._addresses(key)
            if not addresses and self._fallback is None:
                await wake.wait()  # nowhere to dial yet: discovery or the user will wake us
                continue
            relay = None
            if self._fallback is not None:
                relay = loop.create_task(
                    self._relayed(key, self._fallback, self._fallback_after if addresses else 0.0))
            relayed: bool | None = False
            try:
                linked = await self._direct(key, addresses)
                if relay is not None and not linked:
                    relayed = await relay
            finally:
                if relay is not None and not relay.done():
                    # Direct won (a relayed link that still comes up gives way to it), or the
                    # dialer stops.
                    relay.cancel()
            if linked or relayed:
                # Until the link has carried a record (ended() says), it counts as a try.
                self._failures[key] = self._failures.get(key, 0) + 1
                if key in self._patient:  # a knock that got through: the next waits longer
                    self._knocks[key] = self._knocks.get(key, 0) + 1
                if linked and self._is_linked(key):
                    continue
            elif relayed is None and not addresses:  # no relay either: wait to be woken
                await wake.wait()
                continue
            else:
                self._failures[key] = self._failures.get(key, 0) + 1
            await woken(wake, self.backoff(self._failures[key] - 1))

    async def _direct(self, key: bytes, addresses: list[Address]) -> bool:
        for address in addresses:
            try:
                if await self._connect(key, address):
                    return True
            except Exception as exc:  # one bad address must not end the peer's dialing
                log.debug("dial %s failed: %s", address, exc)
        return False

    async def _relayed(self, key: bytes, fallback: Callable[[bytes], Awaitable[bool | None]],
                       head_start: float) -> bool | None:
        """The relayed attempt of one round, after the direct dials' head start."""
        if head_start > 0:
            await asyncio.sleep(head_start)
        try:
            return await fallback(key)
        except Exception as exc:
            log.debug("relayed dial failed: %s", exc)
            return False
