"""The IK timestamps we send: always rising, even when the wall clock steps back or we restart.

A peer keeps the newest IK timestamp it accepted from us and refuses anything not newer (replay
protection, docs/protocol.md 3.5); a peer in private presence then has no XX to fall back to. So
after our clock steps back and we restart, wall-clock timestamps alone would lock us out of it
until the clock caught up again. We keep a floor in the store, a lease ahead of every timestamp
we have sent, and send nothing at or below it after a restart. The lease means one write per
`lease` of sending, not one per dial.
"""

from __future__ import annotations

from collections.abc import Callable

from p2pchat.clock import wall_ns

LEASE_NS = 600 * 10**9  # how far ahead of what we sent the stored floor is moved
MAX_STAMP = 2**63 - 1  # what the store (SQLite INTEGER) holds; far beyond any clock


class IkStamps:
    def __init__(self, floor: int = 0, persist: Callable[[int], None] | None = None, *,
                 lease_ns: int = LEASE_NS) -> None:
        """`floor`: the stored floor (0 if none); `persist(floor)` stores a new one."""
        self._floor = max(0, floor)
        self._lease = self._floor
        self._persist = persist
        self._lease_ns = lease_ns
        self._sent: dict[bytes, int] = {}  # last timestamp sent, per peer (contacts only)

    def next(self, key: bytes) -> int:
        """The timestamp for our next IK first message to `key`."""
        stamp = min(MAX_STAMP, max(wall_ns(), self._floor + 1, self._sent.get(key, 0) + 1))
        self._sent[key] = stamp
        if self._persist is not None and stamp >= self._lease:
            self._lease = min(MAX_STAMP, stamp + self._lease_ns)
            self._persist(self._lease)
        return stamp
