"""The dialer never waits on a long fixed timer while a link could come up."""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import pytest

from p2pchat.net.addresses import Address
from p2pchat.net.dialer import Dialer
from tests.aio import until

KEY = b"k" * 32
ADDRESS: Address = ("127.0.0.1", 9)


def make(connect_results: list[bool], **kwargs: Any) -> tuple[Dialer, list[float]]:
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
    # each knock the peer closed unanswered doubles the next wait, up to `patience` (trial1 B5)
    dialer._knocks[KEY] = 3  # the first few knocks stay eager
    assert 1.0 <= (dialer.patient_delay(KEY, now + 10) or 0) <= 2.0
    dialer._knocks[KEY] = 6
    assert 8.0 <= (dialer.patient_delay(KEY, now + 10) or 0) <= 16.0
    dialer._knocks[KEY] = 10
    assert 30.0 <= (dialer.patient_delay(KEY, now + 10) or 0) <= 60.0
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


async def test_the_relay_races_a_slow_direct_dial_after_its_head_start() -> None:
    relayed: list[float] = []
    direct_done = asyncio.Event()

    async def fallback(key: bytes) -> bool | None:
        relayed.append(asyncio.get_running_loop().time())
        return True  # a relay carries the link; direct dials go on

    async def connect(key: bytes, address: Address) -> bool:
        await asyncio.sleep(2)  # bounded: an address that neither answers nor refuses
        direct_done.set()
        return False

    dialer = Dialer(connect, lambda key: [ADDRESS], lambda key: False, fallback=fallback,
                    fallback_after=0.25, base=0.05, cap=0.1, rng=random.Random(1))
    start = asyncio.get_running_loop().time()
    dialer.want(KEY)
    try:
        await until(lambda: relayed, 5, "the relay tried")
        # Happy eyeballs: the relay did not wait for the direct dial to give up (2 s).
        assert 0.25 <= relayed[0] - start < 1.0
        assert not direct_done.is_set()
        await until(lambda: len(relayed) >= 2, 10, "direct dials go on while relayed")
    finally:
        await dialer.stop()


async def test_with_no_address_the_relay_is_tried_at_once() -> None:
    relayed: list[float] = []

    async def fallback(key: bytes) -> bool | None:
        relayed.append(asyncio.get_running_loop().time())
        return True

    async def connect(key: bytes, address: Address) -> bool:
        raise AssertionError("nothing to dial")

    dialer = Dialer(connect, lambda key: [], lambda key: False, fallback=fallback,
                    fallback_after=5.0, rng=random.Random(1))
    start = asyncio.get_running_loop().time()
    dialer.want(KEY)
    try:
        await until(lambda: relayed, 5, "the relay tried")
        assert relayed[0] - start < 0.1  # not after the 5 s head start
    finally:
        await dialer.stop()


async def test_a_link_that_carried_nothing_does_not_reset_the_backoff() -> None:
    # Every dial links, and every link dies before carrying a record (a relay that doubles
    # frames): the dials must space out as failures do, not follow each wake at once.
    attempts: list[float] = []
    up = False

    async def connect(key: bytes, address: Address) -> bool:
        nonlocal up
        attempts.append(asyncio.get_running_loop().time())
        up = True
        return True

    dialer = Dialer(connect, lambda key: [ADDRESS], lambda key: up, base=0.1, cap=0.8,
                    rng=random.Random(1))
    dialer.want(KEY)
    try:
        for n in range(1, 6):
            await until(lambda n=n: len(attempts) >= n, 5, f"dial {n}")
            up = False
            dialer.ended(KEY, carried=False)
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert gaps[-1] >= 0.2  # 0.8 s backoff, jittered to 50-100 %
        assert sum(gaps) >= 0.6
        # A link that carried something resets it: the next dial goes at once.
        await until(lambda: len(attempts) >= 6, 5, "dial 6")
        up = False
        dialer.ended(KEY, carried=True)
        count = len(attempts)
        await until(lambda: len(attempts) > count, 0.15, "the dial right after a good link")
    finally:
        await dialer.stop()


async def test_no_address_and_no_relay_waits_to_be_woken() -> None:
    calls: list[bytes] = []

    async def fallback(key: bytes) -> bool | None:
        calls.append(key)
        return None  # no relay attached

    async def connect(key: bytes, address: Address) -> bool:
        raise AssertionError("nothing to dial")

    # A backoff of 10 ms: a task that retried instead of parking would call again at once.
    dialer = Dialer(connect, lambda key: [], lambda key: False, fallback=fallback,
                    fallback_after=0.0, base=0.01, cap=0.01, rng=random.Random(1))
    dialer.want(KEY)
    try:
        await until(lambda: calls, 5, "the first try")
        with pytest.raises(AssertionError):
            await until(lambda: len(calls) > 1, 0.3, "a retry that must not come")
        assert len(calls) == 1
        dialer.wake(KEY)  # a relay attached
        await until(lambda: len(calls) == 2, 5, "a try once woken")
    finally:
        await dialer.stop()


async def test_links_of_peers_we_do_not_dial_leave_nothing_behind() -> None:
    dialer, _ = make([])
    for n in range(1000):  # strangers who came to us, each with a fresh key
        dialer.ended(n.to_bytes(32, "big"), carried=False)
    assert dialer._failures == {} and dialer._not_before == {}
