"""What one group member may make every other member store: a rate and a cap, per author.

Every member charges a group envelope to its author before storing or forwarding it: a token
bucket of bytes (``rate`` a second, ``burst`` at most) and a cap on what that author has stored
in that group. Over either, the envelope is refused, so a flood stops at the first honest member
it reaches, whichever member it was sent to. The defaults never bother a person typing (a long
catch-up of a chatty member fits the burst; beyond it, sync simply fetches the rest as the bucket
refills). docs/protocol.md section 8.6, "Per-member budgets".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "MEMBER_BURST",
    "MEMBER_RATE",
    "MEMBER_STORED_CAP",
    "MemberBudgets",
]

MEMBER_RATE = 64 * 1024  # bytes a second, per author per group
MEMBER_BURST = 4 * 1024 * 1024  # bytes at once (a full bucket)
MEMBER_STORED_CAP = 256 * 1024 * 1024  # bytes stored per author per group


@dataclass
class _Bucket:
    tokens: float
    last: float


class MemberBudgets:
    """Per (group, author): a token bucket and the bytes stored. ``stored(group)`` gives what
    the store already holds per author, asked once per group."""

    def __init__(
        self,
        stored: Callable[[bytes], Mapping[bytes, int]],
        *,
        rate: float = MEMBER_RATE,
        burst: float = MEMBER_BURST,
        cap: int = MEMBER_STORED_CAP,
    ) -> None:
        if rate <= 0 or burst <= 0 or cap <= 0:
            raise ValueError("rate, burst and cap must be > 0")
        self._load = stored
        self.rate, self.burst, self.cap = rate, burst, cap
        self._buckets: dict[tuple[bytes, bytes], _Bucket] = {}
        self._stored: dict[bytes, dict[bytes, int]] = {}

    def charge(self, group: bytes, author: bytes, size: int, now: float) -> str | None:
        """Charge ``size`` bytes of ``author``'s to ``group``; None if it fits, else why not
        (and nothing is charged)."""
        stored = self._stored.get(group)
        if stored is None:
            stored = self._stored[group] = dict(self._load(group))
        if stored.get(author, 0) + size > self.cap:
            return f"over its cap of {self.cap // (1024 * 1024)} MiB stored in this group"
        bucket = self._buckets.get((group, author))
        if bucket is None:
            bucket = self._buckets[(group, author)] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.last) * self.rate)
        bucket.last = now
        if size > bucket.tokens:
            return (f"over its rate of {self.rate // 1024:.0f} KiB/s"
                    f" (burst {self.burst / (1024 * 1024):.0f} MiB)")
        bucket.tokens -= size
        stored[author] = stored.get(author, 0) + size
        return None

    def forget(self, group: bytes) -> None:
        """The group's stored bytes changed behind our back (a cut, a forget): ask again."""
        self._stored.pop(group, None)
