"""IK timestamps we send keep rising across clock steps and restarts, with few writes."""

from __future__ import annotations

import time

from p2pchat.node.ik_stamps import LEASE_NS, IkStamps

A, B = b"a" * 32, b"b" * 32


def test_rising_per_peer_and_above_the_stored_floor_after_a_restart() -> None:
    stored: list[int] = []
    stamps = IkStamps(0, stored.append)
    first = stamps.next(A)
    assert first >= time.time_ns() - 10**9 and stamps.next(A) > first
    assert stored == [first + LEASE_NS]  # one write, a lease ahead
    sent = [stamps.next(B) for _ in range(100)]
    assert len(stored) == 1  # no write per dial
    # After a restart (whatever the clock says now) everything is above what was sent before.
    restarted = IkStamps(stored[-1], stored.append)
    assert restarted.next(A) > stored[0] > max(sent)


def test_the_floor_moves_on_when_the_lease_runs_out() -> None:
    stored: list[int] = []
    stamps = IkStamps(0, stored.append, lease_ns=1)
    sent = [stamps.next(A) for _ in range(3)]
    assert sent == sorted(set(sent)) and len(stored) == 3
    assert all(floor > stamp for floor, stamp in zip(stored, sent, strict=True))
