"""The dialer never waits on a long fixed timer while a link could come up."""

from __future__ import annotations

import asyncio
import random

from p2pchat.net.addresses import Address
from p2pchat.net.dialer import Dialer
from tests.aio import until

KEY = b"k" * 32
ADDRESS: Address = ("127.0.0.1", 9)


def make(connect_results: list[bool], **kwargs: float) -> tuple[Dialer, list[float]]:
    attempts: list[float] = []

    async def connect(key: bytes, address: Address) -> bool:
        attempts.append(asyncio.get_running_loop().time())
        return connect_results.pop(0) if connect_results else False

    dialer = Dialer(connect, lambda key: [ADDRESS], lambda key: False,
                    rng=random.Random(1), **kwargs)
    return dialer, attempts


async def test_backoff_grows_only_on_repeated_failure_and_stays_short() -> None:
    dialer, _ = make([])
    delays = [dialer.backoff(n) for n in range(20)]
    assert delays[0] <= 0.25
    assert max(delays) <= 4.0  # a LAN dial that fails costs nothing: never wait long
    assert delays[3] > delays[0]


async def test_a_requester_keeps_knocking_then_slows_down() -> None:
    dialer, _ = make([], patient_interval=2.0, eager_window=600.0, patience=60.0)
    dialer.set_patient(KEY, True)
    now = asyncio.get_running_loop().time()
    assert all(1.0 <= (dialer.patient_delay(KEY, now + t) or 0) <= 2.0 for t in (0, 300, 599))
    assert dialer.patient_delay(KEY, now + 601) == 60.0
    dialer.set_patient(KEY, True)  # asking again on a later link does not restart the window
    assert dialer.patient_delay(KEY, now + 601) == 60.0
    dialer.set_patient(KEY, False)
    assert dialer.patient_delay(KEY, now + 601) is None


async def test_a_patient_peer_is_redialled_within_the_interval() -> None:
    # With the old fixed patience (60 s) the second knock would come long after the deadline.
    dialer, attempts = make([], patient_interval=0.1, eager_window=60.0, patience=60.0)
    dialer.set_patient(KEY, True)
    dialer.want(KEY)
    try:
        await until(lambda: len(attempts) >= 4, 5, "four knocks")
    finally:
        await dialer.stop()


async def test_a_wake_retries_at_once_after_failures() -> None:
    # The backoff after the failure is 15-30 s: only the wake can bring the second dial in time.
    dialer, attempts = make([], base=30.0, cap=30.0)
    dialer.want(KEY)
    try:
        await until(lambda: len(attempts) >= 1, 5, "the first dial")
        dialer.wake(KEY)  # a new address, a lost link, an acceptance
        await until(lambda: len(attempts) >= 2, 5, "the dial after the wake")
    finally:
        await dialer.stop()
